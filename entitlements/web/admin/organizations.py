"""/admin/organizations: applications, lifecycle moves, trust requests, tier grants."""

from __future__ import annotations

from flask import Response, jsonify, request
from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session

from ...base.fields import StrictBoolean
from ...operations import organizations as operations
from ...organizations import service as organizations
from ...organizations.lifecycle import TRANSITIONS
from ...organizations.models import Organization
from ...organizations.schemas import OrganizationChangeSchema, TrustRequestSchema, dump_organization
from ...policy import service as policy
from ...policy.schemas import ON_PENDING
from ..services import services
from .auth import actor, admin_blueprint, admin_required, database, json_body, transaction

blueprint = admin_blueprint("admin_organizations", __name__)
REASON = fields.String(required=True, validate=validate.Length(1, 500))


class OrganizationCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    country = fields.String(load_default=None, validate=validate.Regexp(r"^[A-Z]{2}$"))
    onboard = StrictBoolean(load_default=False, metadata={
        "description": "true: verified at once by this admin; false: an application"})


class LifecycleActionSchema(Schema):
    reason = REASON
    evidence = fields.Dict(keys=fields.String(), load_default=dict)


class TrustRequestCreateSchema(Schema):
    level = fields.String(required=True,
                          validate=validate.OneOf(["trusted", "government_partner"]))
    reason = REASON


class LowerTrustSchema(Schema):
    level = fields.String(required=True,
                          validate=validate.OneOf(["unverified", "verified", "trusted"]))
    reason = REASON


class DecisionSchema(Schema):
    reason = REASON
    evidence = fields.Dict(keys=fields.String(), load_default=dict)


class TierRevokeSchema(Schema):
    on_pending = ON_PENDING


class TierGrantSchema(TierRevokeSchema):
    tier = fields.String(required=True, validate=validate.Length(1, 64))


@blueprint.get("/organizations")
@admin_required
def list_organizations() -> Response:
    with database().sessions() as session:
        listed = policy.allowlisted_tiers(session, actor().now)
        return jsonify([dump_organization(o, listed.get(o.id, []))
                        for o in organizations.list_all(session)])


@blueprint.post("/organizations")
@admin_required
def create_organization() -> tuple[Response, int]:
    body = json_body(OrganizationCreateSchema())
    with transaction() as session:
        make = organizations.create if body["onboard"] else organizations.apply
        org = make(session, actor(), body["name"], country=body["country"])
        data = _dump(session, org)
    return jsonify(data), 201


@blueprint.get("/organizations/<org_id>")
@admin_required
def get_organization(org_id: str) -> Response:
    with database().sessions() as session:
        return jsonify(_dump(session, organizations.get(session, org_id)))


@blueprint.get("/organizations/<org_id>/history")
@admin_required
def organization_history(org_id: str) -> Response:
    with database().sessions() as session:
        changes = organizations.history(session, org_id)
        return jsonify(OrganizationChangeSchema(many=True).dump(changes))


@blueprint.post("/organizations/<org_id>/<any(" + ", ".join(TRANSITIONS) + "):action>")
@admin_required
def move_organization(org_id: str, action: str) -> Response:
    body = json_body(LifecycleActionSchema())
    with transaction() as session:
        org = operations.move(session, actor(), org_id, action, body["reason"],
                                 body["evidence"], required=_required("verified"))
        return jsonify(_dump(session, org))


@blueprint.post("/organizations/<org_id>/trust-requests")
@admin_required
def request_trust(org_id: str) -> tuple[Response, int]:
    body = json_body(TrustRequestCreateSchema())
    with transaction() as session:
        request = organizations.request_trust(session, actor(), org_id, body["level"],
                                              body["reason"])
        return jsonify(TrustRequestSchema().dump(request)), 201


@blueprint.post("/organizations/<org_id>/lower-trust")
@admin_required
def lower_trust(org_id: str) -> Response:
    """One admin may lower trust; the organization's live tokens are revoked."""
    body = json_body(LowerTrustSchema())
    with transaction() as session:
        org = operations.lower_trust(session, actor(), org_id, body["level"],
                                     body["reason"])
        return jsonify(_dump(session, org))


@blueprint.get("/trust-requests")
@admin_required
def list_trust_requests() -> Response:
    with database().sessions() as session:
        return jsonify(TrustRequestSchema(many=True).dump(organizations.trust_requests(session)))


@blueprint.post("/trust-requests/<request_id>/approve")
@admin_required
def approve_trust(request_id: str) -> Response:
    body = json_body(DecisionSchema())
    with transaction() as session:
        level = organizations.get_trust_request(session, request_id).level
        org = organizations.approve_trust(session, actor(), request_id, body["reason"],
                                          body["evidence"], required=_required(level))
        return jsonify(_dump(session, org))


@blueprint.post("/trust-requests/<request_id>/reject")
@admin_required
def reject_trust(request_id: str) -> Response:
    body = json_body(DecisionSchema())
    with transaction() as session:
        request = organizations.reject_trust(session, actor(), request_id, body["reason"])
        return jsonify(TrustRequestSchema().dump(request))


@blueprint.post("/organizations/<org_id>/tiers")
@admin_required
def grant_tier(org_id: str) -> tuple[Response, int]:
    body = json_body(TierGrantSchema())
    with transaction() as session:
        policy.grant_tier(session, actor(), org_id, body["tier"], body["on_pending"])
        return jsonify(_dump(session, organizations.get(session, org_id))), 201


@blueprint.delete("/organizations/<org_id>/tiers/<tier>")
@admin_required
def revoke_tier(org_id: str, tier: str) -> Response:
    """``?on_pending=keep|cancel`` when activations are scheduled (see the policy API)."""
    query = TierRevokeSchema().load(request.args.to_dict())
    with transaction() as session:
        policy.revoke_tier(session, actor(), org_id, tier, query["on_pending"])
        return jsonify(_dump(session, organizations.get(session, org_id)))


def _required(level: str) -> frozenset[str]:
    return services().settings.evidence_required(level)


def _dump(session: Session, org: Organization) -> dict:
    session.flush()
    return dump_organization(org, policy.allowlisted_tiers(session, actor().now).get(org.id, []))
