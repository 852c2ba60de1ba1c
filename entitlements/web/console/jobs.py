"""A job's live status in the console: the page reloads itself every two seconds (no
script) until the job has ended, then shows its result."""

from __future__ import annotations

from flask import Response

from ...admins.roles import Permission
from ...jobs import service as jobs
from ..authority import actor
from ..services import services
from .pages import render
from .session import console, console_blueprint

blueprint = console_blueprint("console_jobs", __name__)
RELOAD_SECONDS = 2


@blueprint.get("/jobs/<job_id>")
@console(Permission.READ)
def job(job_id: str) -> Response:
    with services().db.sessions() as session:
        row = jobs.get(session, job_id)
        state = jobs.state(row, actor().now)
        return render("console/job.html", job=row, state=state,
                      reload=RELOAD_SECONDS if state in ("queued", "running") else None,
                      percent=int(100 * row.done / row.total) if row.total else None)
