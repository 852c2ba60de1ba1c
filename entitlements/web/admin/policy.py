"""/admin/policy: versions (whole documents or merge patches, optimistic concurrency),
activation now or later, rollback, cancellation, dry runs, re-imposition, explain, and
/admin/tokens/revoke for bulk revocation."""

from __future__ import annotations

from flask import Response, jsonify

from ...operations import policy as operations
from ...operations import tokens
from ...policy import impact, service
from ...policy.explain import SubjectRef, explain
from ...policy.schemas import (
    ActivateSchema,
    ActivationSchema,
    CancelSchema,
    DryRunSchema,
    ExplainSchema,
    PolicyStateSchema,
    PolicyVersionSchema,
    PolicyVersionSummarySchema,
    RevokeTokensSchema,
    RollbackSchema,
    VersionCreatedSchema,
    VersionCreateSchema,
)
from ..services import services
from .auth import actor, admin_blueprint, admin_required, database, json_body, transaction

blueprint = admin_blueprint("admin_policy", __name__)


@blueprint.get("/policy")
@admin_required
def policy_state() -> Response:
    now = actor().now
    with database().sessions() as session:
        return jsonify(PolicyStateSchema().dump({
            "active_version": service.active_version(session, now),
            "latest_version": service.latest(session).version,
            "activations": service.activations(session)[-50:]}))


@blueprint.get("/policy/versions")
@admin_required
def list_versions() -> Response:
    with database().sessions() as session:
        return jsonify(PolicyVersionSummarySchema(many=True).dump(service.list_versions(session)))


@blueprint.get("/policy/versions/<int:number>")
@admin_required
def get_version(number: int) -> Response:
    with database().sessions() as session:
        return jsonify(PolicyVersionSchema().dump(service.get_version(session, number)))


@blueprint.post("/policy/versions")
@admin_required
def create_version() -> tuple[Response, int]:
    body = json_body(VersionCreateSchema())
    who = actor()
    with transaction() as session:
        row, activation = operations.new_version(session, who, **body)
        return jsonify(VersionCreatedSchema().dump(
            {"version": row, "activation": activation})), 201


@blueprint.post("/policy/versions/<int:number>/activate")
@admin_required
def activate(number: int) -> tuple[Response, int]:
    body = json_body(ActivateSchema())
    with transaction() as session:
        if body["revoke_disallowed"]:
            return jsonify(operations.reimpose(session, actor(), number, reason=body["reason"],
                                               on_pending=body["on_pending"])), 201
        row = service.activate(session, actor(), number, reason=body["reason"], at=body["at"],
                               on_pending=body["on_pending"])
        return jsonify(ActivationSchema().dump(row)), 201


@blueprint.post("/policy/versions/<int:number>/dry-run")
@admin_required
def dry_run(number: int) -> Response:
    body = json_body(DryRunSchema())
    with database().sessions() as session:
        return jsonify(impact.dry_run(session, number, body["at"] or actor().now))


@blueprint.post("/policy/rollback")
@admin_required
def rollback() -> tuple[Response, int]:
    body = json_body(RollbackSchema())
    with transaction() as session:
        row, activation = service.rollback(session, actor(), body["version"], body["reason"],
                                           on_pending=body["on_pending"])
        return jsonify(VersionCreatedSchema().dump(
            {"version": row, "activation": activation})), 201


@blueprint.post("/policy/activations/<int:activation_id>/cancel")
@admin_required
def cancel(activation_id: int) -> Response:
    body = json_body(CancelSchema())
    with transaction() as session:
        return jsonify(ActivationSchema().dump(
            service.cancel(session, actor(), activation_id, body["reason"])))


@blueprint.post("/policy/explain")
@admin_required
def explain_decision() -> Response:
    body = json_body(ExplainSchema())
    at = body["at"] or actor().now
    policy = services().policies.active(at)
    ref = SubjectRef(body["organization_id"], body["client_id"], body["person_id"])
    with database().sessions() as session:
        return jsonify(explain(session, policy, ref, at, model=body["model"],
                               tiers=body["tiers"], dpop_bound=body["dpop_bound"]))


@blueprint.post("/tokens/revoke")
@admin_required
def revoke_tokens() -> Response:
    body = json_body(RevokeTokensSchema())
    with transaction() as session:
        count = tokens.revoke_matching(session, actor(), reason=body["reason"],
                                       organization_id=body["organization_id"],
                                       client_id=body["client_id"],
                                       person_id=body["person_id"], tier=body["tier"])
    return jsonify(revoked=count)
