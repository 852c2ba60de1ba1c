"""/admin/organizations/{id}/evidence: domain challenges, LEI checks, agreements."""

from __future__ import annotations

from flask import Response, jsonify

from ...admins.roles import Permission
from ...organizations import evidence
from ...organizations.schemas import (
    AgreementSchema,
    CitizenshipAttestationSchema,
    DomainChallengeSchema,
    EvidenceSchema,
    LeiCheckSchema,
)
from ..authority import actor
from ..services import services
from .auth import admin_blueprint, database, json_body, requires, transaction
from .described import described
from .listing import PageQuerySchema, page_response, query_args

blueprint = admin_blueprint("admin_evidence", __name__)










@blueprint.get("/organizations/<org_id>/evidence")
@described("List an organization's evidence",
           query=PageQuerySchema, answer=EvidenceSchema, page=True)
@requires(Permission.READ)
def list_evidence(org_id: str) -> Response:
    page = query_args(PageQuerySchema())
    with database().sessions() as session:
        return page_response(evidence.list_evidence(session, org_id, **page), EvidenceSchema())


@blueprint.post("/organizations/<org_id>/evidence/domain")
@described("Issue a DNS TXT domain-control challenge",
           body=DomainChallengeSchema, status=201, answer=EvidenceSchema)
@requires(Permission.ONBOARD)
def start_domain_challenge(org_id: str) -> tuple[Response, int]:
    body = json_body(DomainChallengeSchema())
    with transaction() as session:
        found = evidence.start_domain_challenge(session, actor(), org_id, body["domain"])
        return jsonify(EvidenceSchema().dump(found)), 201


@blueprint.post("/evidence/<evidence_id>/check")
@described("Check a domain challenge's TXT record", answer=EvidenceSchema)
@requires(Permission.ONBOARD)
def check_domain(evidence_id: str) -> Response:
    resolver = services().dns
    with transaction() as session:
        found = evidence.check_domain(session, actor(), evidence_id, resolver)
        return jsonify(EvidenceSchema().dump(found))


@blueprint.post("/organizations/<org_id>/evidence/lei")
@described("Check an LEI (check digits, then the GLEIF registry)",
           body=LeiCheckSchema, status=201, answer=EvidenceSchema)
@requires(Permission.ONBOARD)
def check_lei(org_id: str) -> tuple[Response, int]:
    body = json_body(LeiCheckSchema())
    registry = services().lei_registry
    with transaction() as session:
        found = evidence.check_lei(session, actor(), org_id, body["lei"], registry)
        return jsonify(EvidenceSchema().dump(found)), 201


@blueprint.post("/organizations/<org_id>/evidence/citizenship")
@described("Record the organization's attestation that all its users are citizens",
           body=CitizenshipAttestationSchema, status=201, answer=EvidenceSchema)
@requires(Permission.ONBOARD)
def record_citizenship(org_id: str) -> tuple[Response, int]:
    body = json_body(CitizenshipAttestationSchema())
    with transaction() as session:
        found = evidence.record_citizenship(session, actor(), org_id, body["reference"],
                                            nationalities=body["nationalities"],
                                            level=body["level"], expires_at=body["expires_at"])
        return jsonify(EvidenceSchema().dump(found)), 201


@blueprint.post("/organizations/<org_id>/evidence/agreement")
@described("Record the signed partner agreement",
           body=AgreementSchema, status=201, answer=EvidenceSchema)
@requires(Permission.ONBOARD)
def record_agreement(org_id: str) -> tuple[Response, int]:
    body = json_body(AgreementSchema())
    with transaction() as session:
        found = evidence.record_agreement(session, actor(), org_id, body["reference"])
        return jsonify(EvidenceSchema().dump(found)), 201
