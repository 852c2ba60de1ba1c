"""The console's first page: what waits for an admin (reviews, trust requests, policy
changes, break-glass confirmations), the policy in force and what is scheduled, recent
refusals by reason, and when gateways last fetched the policy and the status lists."""

from __future__ import annotations

from datetime import timedelta

from flask import Response

from ...admins.roles import Permission
from ...audit import service as audit
from ...jobs import service as jobs
from ...notices import service as notices
from ...operations import break_glass
from ...organizations import service as organizations
from ...policy import approvals
from ...policy import service as policy
from ..authority import actor
from ..services import services
from .pages import render
from .session import console, console_blueprint

blueprint = console_blueprint("console_dashboard", __name__)
QUEUE = ("applied", "under_review")
#: How far back the refusals summary looks.
REFUSALS_SINCE = timedelta(hours=24)


@blueprint.get("")
@console(Permission.READ)
def dashboard() -> Response:
    now, found = actor().now, services()
    with found.db.sessions() as session:
        active = policy.active_version(session, now)
        trust_requests = organizations.trust_requests(session, state="pending", limit=20)
        return render(
            "console/dashboard.html",
            reviews=organizations.list_all(session, statuses=QUEUE, limit=20),
            trust_requests=trust_requests, names=organizations.names(
                session, (r.organization_id for r in trust_requests.items)),
            changes=approvals.list_requests(session, now=now, states=["pending"], limit=20),
            glass=break_glass.open_ones(session, now),
            active=active, active_row=policy.get_version(session, active) if active else None,
            scheduled=policy.pending_after(session, now),
            refusals=audit.refusals_by_reason(session, now - REFUSALS_SINCE),
            polls={kind: now - at for kind, at in found.polls.items()},
            undelivered=notices.undelivered(session),
            running=[j for j in jobs.list_jobs(session, limit=10).items
                     if jobs.state(j, now) in ("queued", "running")])
