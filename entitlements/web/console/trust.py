"""Trust requests in the console: a second admin approves or rejects another's request to
raise an organization's trust (never their own)."""

from __future__ import annotations

from flask import Response, g, redirect, url_for

from ...admins.roles import Permission
from ...organizations import service as organizations
from ...organizations.schemas import DecisionSchema
from ..admin.auth import transaction
from ..authority import actor
from ..services import services
from .forms import form
from .pages import render
from .session import console, console_blueprint

blueprint = console_blueprint("console_trust", __name__)


@blueprint.get("/trust-requests")
@console(Permission.READ)
def trust_requests() -> Response:
    with services().db.sessions() as session:
        pending = organizations.trust_requests(session, state="pending", limit=200).items
        decided = organizations.trust_requests(session, decided=True, newest_first=True,
                                               limit=20).items
        names = organizations.names(session, (r.organization_id for r in [*pending,
                                                                              *decided]))
        return render("console/trust.html", pending=pending, decided=decided, names=names)


@blueprint.post("/trust-requests/<request_id>/approve")
@console(Permission.APPROVE_TRUST)
def approve(request_id: str) -> Response:
    body = form(DecisionSchema())
    with transaction() as session:
        organizations.approve_trust(session, actor(), request_id, body["reason"],
                                    required=services().settings.evidence_required)
    return redirect(url_for(".trust_requests", ok="Trust request approved."))


@blueprint.post("/trust-requests/<request_id>/reject")
@console(Permission.APPROVE_TRUST, Permission.ONBOARD)
def reject(request_id: str) -> Response:
    """A trust approver rejects the request; the admin who asked withdraws it."""
    body = form(DecisionSchema())
    with transaction() as session:
        request = organizations.reject_trust(
            session, actor(), request_id, body["reason"],
            may_reject_others=g.principal.role_for(Permission.APPROVE_TRUST) is not None)
        own = request.requested_by == request.decided_by
    return redirect(url_for(".trust_requests",
                            ok="Trust request withdrawn." if own else "Trust request rejected."))
