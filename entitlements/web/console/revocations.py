"""Bulk revocation in the console: name what to revoke, see how many live tokens that is,
then revoke them as a job whose progress the page shows live."""

from __future__ import annotations

from flask import Response, redirect, request, url_for

from ...admins.roles import Permission
from ...operations import tokens
from ...policy.schemas import RevocationFiltersSchema, RevokeTokensSchema
from ..admin.tokens import revocation_job
from ..authority import actor
from ..services import services
from .forms import form
from .pages import render
from .session import console, console_blueprint

blueprint = console_blueprint("console_revocations", __name__)
FILTERS = ("organization_id", "client_id", "person_id", "tier")


@blueprint.get("/revocations", endpoint="revocations")
@console(Permission.REVOKE_TOKENS)
def revocation_form() -> Response:
    return render("console/revocations.html", asked=request.args, live=None)


@blueprint.post("/revocations/preview")
@console(Permission.REVOKE_TOKENS, once=False)
def preview() -> Response:
    body = form(RevocationFiltersSchema())
    with services().db.sessions() as session:
        live = tokens.preview(session, actor(), **body)
    return render("console/revocations.html", asked=request.form, live=live)


@blueprint.post("/revocations")
@console(Permission.REVOKE_TOKENS)
def start() -> Response:
    job = revocation_job(form(RevokeTokensSchema()))
    return redirect(url_for("console_jobs.job", job_id=job["id"]))
