"""/admin/organizations/{id}/evidence: domain challenges, LEI checks, agreements."""

from __future__ import annotations

from flask import Response, jsonify
from marshmallow import Schema, fields, validate

from ...base.fields import AwareDateTime
from ...kernel.assurance import ASSURANCE_LEVELS
from ...organizations import evidence
from ...organizations.schemas import EvidenceSchema
from ..services import services
from .auth import actor, admin_blueprint, admin_required, database, json_body, transaction

blueprint = admin_blueprint("admin_evidence", __name__)


class DomainChallengeSchema(Schema):
    domain = fields.String(required=True, validate=validate.Length(1, 253))


class LeiCheckSchema(Schema):
    lei = fields.String(required=True, validate=validate.Length(1, 40))


class CitizenshipAttestationSchema(Schema):
    reference = fields.String(required=True, validate=validate.Length(1, 300))
    nationalities = fields.List(fields.String(validate=validate.Regexp(r"^[A-Z]{2}$")),
                                required=True, validate=validate.Length(1, 50))
    level = fields.String(required=True, validate=validate.OneOf(ASSURANCE_LEVELS))
    expires_at = AwareDateTime(required=True)


class AgreementSchema(Schema):
    reference = fields.String(required=True, validate=validate.Length(1, 300))


@blueprint.get("/organizations/<org_id>/evidence")
@admin_required
def list_evidence(org_id: str) -> Response:
    with database().sessions() as session:
        return jsonify(EvidenceSchema(many=True).dump(evidence.list_evidence(session, org_id)))


@blueprint.post("/organizations/<org_id>/evidence/domain")
@admin_required
def start_domain_challenge(org_id: str) -> tuple[Response, int]:
    body = json_body(DomainChallengeSchema())
    with transaction() as session:
        found = evidence.start_domain_challenge(session, actor(), org_id, body["domain"])
        return jsonify(EvidenceSchema().dump(found)), 201


@blueprint.post("/evidence/<evidence_id>/check")
@admin_required
def check_domain(evidence_id: str) -> Response:
    resolver = services().dns
    with transaction() as session:
        found = evidence.check_domain(session, actor(), evidence_id, resolver)
        return jsonify(EvidenceSchema().dump(found))


@blueprint.post("/organizations/<org_id>/evidence/lei")
@admin_required
def check_lei(org_id: str) -> tuple[Response, int]:
    body = json_body(LeiCheckSchema())
    registry = services().lei_registry
    with transaction() as session:
        found = evidence.check_lei(session, actor(), org_id, body["lei"], registry)
        return jsonify(EvidenceSchema().dump(found)), 201


@blueprint.post("/organizations/<org_id>/evidence/citizenship")
@admin_required
def record_citizenship(org_id: str) -> tuple[Response, int]:
    body = json_body(CitizenshipAttestationSchema())
    with transaction() as session:
        found = evidence.record_citizenship(session, actor(), org_id, body["reference"],
                                            nationalities=body["nationalities"],
                                            level=body["level"], expires_at=body["expires_at"])
        return jsonify(EvidenceSchema().dump(found)), 201


@blueprint.post("/organizations/<org_id>/evidence/agreement")
@admin_required
def record_agreement(org_id: str) -> tuple[Response, int]:
    body = json_body(AgreementSchema())
    with transaction() as session:
        found = evidence.record_agreement(session, actor(), org_id, body["reference"])
        return jsonify(EvidenceSchema().dump(found)), 201
