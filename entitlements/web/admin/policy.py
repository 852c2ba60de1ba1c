"""/admin/policy: versions (whole documents or merge patches, optimistic concurrency),
activation now or later, rollback, cancellation, dry runs, re-imposition and explain.

Activation, scheduling, rollback and re-imposition are policy changes under two-person
control: when the rule covers one, it answers 202 with the request a second admin approves
(``approvals``); otherwise 201 with what was done."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, jsonify, url_for
from sqlalchemy.orm import Session

from ...admins.roles import Permission
from ...base.pages import Page
from ...operations import policy_changes
from ...operations.policy_changes import Outcome
from ...policy import impact, service
from ...policy.explain import SubjectRef, explain
from ...policy.schemas import (
    ActivateSchema,
    ActivationSchema,
    CancelSchema,
    DryRunSchema,
    ExplainSchema,
    PolicyChangeRequestSchema,
    PolicyStateSchema,
    PolicyVersionSchema,
    PolicyVersionSummarySchema,
    RollbackSchema,
    TierSchema,
    VersionCreatedSchema,
    VersionCreateSchema,
)
from ..authority import actor
from ..services import services
from .auth import admin_blueprint, database, json_body, requires, transaction
from .described import described
from .listing import PageQuerySchema, page_response, query_args

blueprint = admin_blueprint("admin_policy", __name__)


@blueprint.get("/policy")
@described("The active and latest policy versions, and recent activations",
           answer=PolicyStateSchema, conflicts=False)
@requires(Permission.READ)
def policy_state() -> Response:
    now = actor().now
    with database().sessions() as session:
        return jsonify(PolicyStateSchema().dump({
            "active_version": service.active_version(session, now),
            "latest_version": service.latest(session).version,
            "activations": service.activations(session)[-50:]}))


@blueprint.get("/tiers")
@described("The active version's tiers and their rules",
           answer=TierSchema, page=True, conflicts=False)
@requires(Permission.READ)
def list_tiers() -> Response:
    """The active version's tiers and their rules."""
    with database().sessions() as session:
        tiers = service.list_tiers(session, actor().now)
    return page_response(Page([{"name": name, **rule} for name, rule in tiers], None),
                         TierSchema())


@blueprint.get("/policy/versions")
@described("List policy versions",
           query=PageQuerySchema, answer=PolicyVersionSummarySchema, page=True)
@requires(Permission.READ)
def list_versions() -> Response:
    page = query_args(PageQuerySchema())
    with database().sessions() as session:
        return page_response(service.list_versions(session, **page),
                             PolicyVersionSummarySchema())


@blueprint.get("/policy/versions/<int:number>")
@described("Show a policy version with its diff", answer=PolicyVersionSchema)
@requires(Permission.READ)
def get_version(number: int) -> Response:
    with database().sessions() as session:
        return jsonify(PolicyVersionSchema().dump(service.get_version(session, number)))


@blueprint.post("/policy/versions")
@described("Create a version (whole document or merge patch against the latest; 409 if stale), "
           "optionally asking to activate it now or at a time",
           body=VersionCreateSchema, status=201, answer=VersionCreatedSchema)
@requires(Permission.EDIT_POLICY)
def create_version() -> tuple[Response, int]:
    body = json_body(VersionCreateSchema())
    with transaction() as session:
        row, outcome = policy_changes.new_version(session, actor(), services().approval_rule,
                                                  **body)
        data = VersionCreatedSchema().dump({"version": row, "activation": None,
                                            "approval": outcome and outcome.request})
        data["activation"] = outcome and outcome.result and outcome.result["activation"]
        return jsonify(data), 201


@blueprint.post("/policy/versions/<int:number>/activate")
@described("Activate a version now or at a time; with revoke_disallowed, re-impose it and revoke "
           "the live tokens it no longer allows (202 when a second admin must approve)",
           body=ActivateSchema, status=201, answer=ActivationSchema,
           accepted=PolicyChangeRequestSchema)
@requires(Permission.EDIT_POLICY)
def activate(number: int) -> tuple[Response, int]:
    body = json_body(ActivateSchema())
    action, params = policy_changes.activation(number, at=body["at"],
                                               on_pending=body["on_pending"],
                                               reimpose=body["revoke_disallowed"])
    with transaction() as session:
        outcome = policy_changes.change(session, actor(), services().approval_rule, action,
                                        params, body["reason"])
        return answer(session, outcome, lambda result: result if action == "reimpose"
                      else result["activation"])


@blueprint.post("/policy/versions/<int:number>/dry-run")
@described("Which organizations and persons would gain or lose which tiers",
           body=DryRunSchema, conflicts=False)
@requires(Permission.READ)
def dry_run(number: int) -> Response:
    body = json_body(DryRunSchema())
    with database().sessions() as session:
        return jsonify(impact.dry_run(session, number, body["at"] or actor().now))


@blueprint.post("/policy/rollback")
@described("Reactivate an earlier version's policy now, as a new version (202 when a second admin "
           "must approve)",
           body=RollbackSchema, status=201, answer=VersionCreatedSchema,
           accepted=PolicyChangeRequestSchema)
@requires(Permission.EDIT_POLICY)
def rollback() -> tuple[Response, int]:
    body = json_body(RollbackSchema())
    params = {"version": body["version"], "on_pending": body["on_pending"]}
    with transaction() as session:
        outcome = policy_changes.change(session, actor(), services().approval_rule,
                                        "rollback", params, body["reason"])
        return answer(session, outcome, lambda result: {
            **VersionCreatedSchema().dump({
                "version": service.get_version(session, result["version"])}),
            "activation": result["activation"]})


@blueprint.post("/policy/activations/<int:activation_id>/cancel")
@described("Cancel a scheduled activation", body=CancelSchema, answer=ActivationSchema)
@requires(Permission.EDIT_POLICY)
def cancel(activation_id: int) -> Response:
    body = json_body(CancelSchema())
    with transaction() as session:
        return jsonify(ActivationSchema().dump(
            service.cancel(session, actor(), activation_id, body["reason"])))


@blueprint.post("/policy/explain")
@described("May this organization, client or person use this model or these tiers; why not; the "
           "fallback",
           body=ExplainSchema, conflicts=False)
@requires(Permission.READ)
def explain_decision() -> Response:
    body = json_body(ExplainSchema())
    at = body["at"] or actor().now
    policy = services().policies.active(at)
    ref = SubjectRef(body["organization_id"], body["client_id"], body["person_id"])
    with database().sessions() as session:
        return jsonify(explain(session, policy, ref, at, model=body["model"],
                               tiers=body["tiers"], dpop_bound=body["dpop_bound"]))


def answer(session: Session, outcome: Outcome, applied: Callable[[dict[str, Any]], Any], *,
           status: int = 201) -> tuple[Response, int]:
    """``status`` with what was done, or 202 with the request waiting for a second admin
    (and its address in ``Location``)."""
    if outcome.pending:
        assert outcome.request is not None
        response = jsonify(PolicyChangeRequestSchema().dump(outcome.request))
        response.headers["Location"] = url_for("admin_approvals.get_change",
                                               request_id=outcome.request.id)
        return response, 202
    assert outcome.result is not None
    session.flush()
    return jsonify(applied(outcome.result)), status
