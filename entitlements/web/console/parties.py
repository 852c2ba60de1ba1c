"""The parties person tokens rest on, in the console: attestation issuers (citizenship
verifiers) and organizations' identity providers, suspended and reinstated here."""

from __future__ import annotations

from flask import Response, redirect, url_for

from ...admins.roles import Permission
from ...attestations import issuers
from ...identity_providers import service as idps
from ...operations.registry import set_idp_status, set_issuer_status
from ...organizations.schemas import DecisionSchema
from ..admin.auth import transaction
from ..authority import actor
from ..services import services
from .forms import form
from .pages import render
from .session import console, console_blueprint

blueprint = console_blueprint("console_parties", __name__)
LISTED = 500


@blueprint.get("/parties")
@console(Permission.READ)
def parties() -> Response:
    with services().db.sessions() as session:
        return render("console/parties.html",
                      issuers=issuers.list_all(session, limit=LISTED).items,
                      providers=idps.list_all(session, limit=LISTED).items)


@blueprint.post("/issuers/<issuer_id>/<any(suspend, reinstate):move>")
@console(Permission.APPROVE_TRUST)
def issuer_status(issuer_id: str, move: str) -> Response:
    body = form(DecisionSchema())
    with transaction() as session:
        set_issuer_status(session, actor(), issuer_id, _status(move), body["reason"])
    return redirect(url_for(".parties", ok=f"Issuer {move}d."))


@blueprint.post("/identity-providers/<idp_id>/<any(suspend, reinstate):move>")
@console(Permission.ONBOARD)
def provider_status(idp_id: str, move: str) -> Response:
    body = form(DecisionSchema())
    with transaction() as session:
        set_idp_status(session, actor(), idp_id, _status(move), body["reason"])
    return redirect(url_for(".parties", ok=f"Identity provider {move}d."))


def _status(move: str) -> str:
    return "suspended" if move == "suspend" else "active"
