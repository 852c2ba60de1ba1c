"""/admin/attestation-issuers: the verifiers whose citizenship statements we accept."""

from __future__ import annotations

from flask import Response, jsonify

from ...admins.roles import Permission
from ...attestations import issuers
from ...attestations.schemas import (
    AttestationIssuerCreateSchema,
    AttestationIssuerSchema,
    IssuerStatusSchema,
)
from ...operations.registry import set_issuer_status
from ..authority import actor
from .auth import admin_blueprint, database, json_body, requires, transaction
from .described import described
from .listing import PageQuerySchema, page_response, query_args

blueprint = admin_blueprint("admin_attestation_issuers", __name__)


@blueprint.post("/attestation-issuers")
@described("Register an attestation issuer and its limits",
           body=AttestationIssuerCreateSchema, status=201, answer=AttestationIssuerSchema)
@requires(Permission.APPROVE_TRUST)
def register_issuer() -> tuple[Response, int]:
    body = json_body(AttestationIssuerCreateSchema())
    with transaction() as session:
        row = issuers.register(session, actor(), **body)
        session.flush()
        return jsonify(AttestationIssuerSchema().dump(row)), 201


@blueprint.get("/attestation-issuers")
@described("List attestation issuers",
           query=PageQuerySchema, answer=AttestationIssuerSchema, page=True)
@requires(Permission.READ)
def list_issuers() -> Response:
    page = query_args(PageQuerySchema())
    with database().sessions() as session:
        return page_response(issuers.list_all(session, **page), AttestationIssuerSchema())


@blueprint.get("/attestation-issuers/<issuer_id>")
@described("Show an attestation issuer", answer=AttestationIssuerSchema)
@requires(Permission.READ)
def get_issuer(issuer_id: str) -> Response:
    with database().sessions() as session:
        return jsonify(AttestationIssuerSchema().dump(issuers.get(session, issuer_id)))


@blueprint.post("/attestation-issuers/<issuer_id>/<any(suspend, reinstate):action>")
@described("Suspend or reinstate an issuer (its verifications stop counting at once)",
           body=IssuerStatusSchema, answer=AttestationIssuerSchema)
@requires(Permission.APPROVE_TRUST)
def change_issuer_status(issuer_id: str, action: str) -> Response:
    body = json_body(IssuerStatusSchema())
    status = "suspended" if action == "suspend" else "active"
    with transaction() as session:
        row = set_issuer_status(session, actor(), issuer_id, status, body["reason"])
        return jsonify(AttestationIssuerSchema().dump(row))
