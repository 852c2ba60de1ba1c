"""/admin/jobs: long work (bulk revocations, report exports, rebuilds) and how far it got;
and what every endpoint that starts one shares."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, url_for

from ...admins.roles import Permission
from ...jobs import service as jobs
from ...jobs.models import Job
from ...jobs.runner import Work
from ...jobs.schemas import JobSchema
from ..authority import actor
from ..services import services
from .auth import admin_blueprint, database, requires
from .described import described
from .listing import PageQuerySchema, page_response, query_args

blueprint = admin_blueprint("admin_jobs", __name__)


@blueprint.get("/jobs")
@described("List jobs (long work), newest first",
           query=PageQuerySchema, answer=JobSchema, page=True)
@requires(Permission.READ)
def list_jobs() -> Response:
    page = query_args(PageQuerySchema())
    with database().sessions() as session:
        return page_response(jobs.list_jobs(session, **page), JobSchema(), dump=describe)


@blueprint.get("/jobs/<job_id>")
@described("Show a job and how far it got", answer=JobSchema)
@requires(Permission.READ)
def get_job(job_id: str) -> Response:
    with database().sessions() as session:
        return jsonify(JobSchema().dump(describe(jobs.get(session, job_id))))


def start(kind: str, params: dict[str, Any], work: Work) -> tuple[Response, int]:
    """Launch a job, and answer 202 with it and its address (``Location``) to follow it."""
    return accepted(launch(kind, params, work))


def launch(kind: str, params: dict[str, Any], work: Work) -> dict[str, Any]:
    """Record a job and hand ``work`` to the background runner; the job."""
    who = actor()
    with database().transaction() as session:
        data = describe(jobs.create(session, kind=kind, requested_by=who.name, params=params,
                                    now=who.now))
    services().jobs.submit(data["id"], work)
    return data


def accepted(job: dict[str, Any]) -> tuple[Response, int]:
    """202 with the job, and ``Location`` where to follow it."""
    response = jsonify(JobSchema().dump(job))
    response.headers["Location"] = url_for("admin_jobs.get_job", job_id=job["id"])
    return response, 202


def describe(job: Job) -> dict[str, Any]:
    data = {column: getattr(job, column) for column in JobSchema().fields}
    data["state"] = jobs.state(job, services().clock.now())
    return data
