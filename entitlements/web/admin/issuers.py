"""/admin/attestation-issuers: the verifiers whose citizenship statements we accept."""

from __future__ import annotations

from flask import Response, jsonify

from ...attestations import issuers
from ...attestations.schemas import (
    AttestationIssuerCreateSchema,
    AttestationIssuerSchema,
    IssuerStatusSchema,
)
from ...operations.registry import set_issuer_status
from .auth import actor, admin_blueprint, admin_required, database, json_body, transaction

blueprint = admin_blueprint("admin_attestation_issuers", __name__)


@blueprint.post("/attestation-issuers")
@admin_required
def register_issuer() -> tuple[Response, int]:
    body = json_body(AttestationIssuerCreateSchema())
    with transaction() as session:
        row = issuers.register(session, actor(), **body)
        session.flush()
        return jsonify(AttestationIssuerSchema().dump(row)), 201


@blueprint.get("/attestation-issuers")
@admin_required
def list_issuers() -> Response:
    with database().sessions() as session:
        return jsonify(AttestationIssuerSchema(many=True).dump(issuers.list_all(session)))


@blueprint.get("/attestation-issuers/<issuer_id>")
@admin_required
def get_issuer(issuer_id: str) -> Response:
    with database().sessions() as session:
        return jsonify(AttestationIssuerSchema().dump(issuers.get(session, issuer_id)))


@blueprint.post("/attestation-issuers/<issuer_id>/<any(suspend, reinstate):action>")
@admin_required
def change_issuer_status(issuer_id: str, action: str) -> Response:
    body = json_body(IssuerStatusSchema())
    status = "suspended" if action == "suspend" else "active"
    with transaction() as session:
        row = set_issuer_status(session, actor(), issuer_id, status, body["reason"])
        return jsonify(AttestationIssuerSchema().dump(row))
