"""/admin/tokens/revoke: bulk revocation in one statement; its preview (how many it would
revoke now); and /admin/revocations, the same as a job that shows its progress."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from ...admins.roles import Permission
from ...jobs.schemas import JobSchema
from ...jobs.service import Progress
from ...operations import tokens
from ...policy.schemas import (
    PreviewSchema,
    RevocationFiltersSchema,
    RevokedSchema,
    RevokeTokensSchema,
)
from ..authority import actor
from ..services import services
from . import jobs
from .auth import admin_blueprint, database, json_body, requires, transaction
from .described import described

blueprint = admin_blueprint("admin_tokens", __name__)


@blueprint.post("/tokens/revoke")
@described("Revoke every live token of an organization, client, person or tier, in one statement",
           body=RevokeTokensSchema, answer=RevokedSchema, conflicts=False)
@requires(Permission.REVOKE_TOKENS)
def revoke_tokens() -> Response:
    body = json_body(RevokeTokensSchema())
    with transaction() as session:
        count = tokens.revoke_matching(session, actor(), **body)
    return jsonify(revoked=count)


@blueprint.post("/tokens/revoke/preview")
@described("How many live tokens a bulk revocation would revoke now",
           body=RevocationFiltersSchema, answer=PreviewSchema, conflicts=False)
@requires(Permission.REVOKE_TOKENS)
def preview() -> Response:
    body = json_body(RevocationFiltersSchema())
    with database().sessions() as session:
        return jsonify(live=tokens.preview(session, actor(), **body))


@blueprint.post("/revocations")
@described("Revoke in bulk as a job that shows its progress",
           body=RevokeTokensSchema, status=202, answer=JobSchema, conflicts=False)
@requires(Permission.REVOKE_TOKENS)
def start_revocation() -> tuple[Response, int]:
    """The revocation as a job: ``GET /admin/jobs/{id}`` follows its progress."""
    return jobs.accepted(revocation_job(json_body(RevokeTokensSchema())))


def revocation_job(body: dict[str, Any]) -> dict[str, Any]:
    """A bulk revocation launched as a job, once its filters are checked (the API's and the
    console's); the job."""
    who, db = actor(), services().db
    with database().sessions() as session:
        tokens.filters(session, **{k: v for k, v in body.items() if k != "reason"})

    def work(progress: Progress) -> dict[str, int]:
        return tokens.revoke_tracked(db, who, tracker=progress, job=progress.job_id, **body)

    return jobs.launch("revocation", body, work)
