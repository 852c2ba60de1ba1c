"""/admin/consents: what persons have allowed which clients, and withdrawing it."""

from __future__ import annotations

from flask import Response, jsonify, request

from ...signin import consents
from ...signin.schemas import ConsentSchema, WithdrawSchema
from .auth import actor, admin_blueprint, admin_required, database, json_body, transaction

blueprint = admin_blueprint("admin_consents", __name__)


@blueprint.get("/consents")
@admin_required
def list_consents() -> Response:
    with database().sessions() as session:
        found = consents.list_consents(session, person_id=request.args.get("person_id"),
                                       client_id=request.args.get("client_id"))
        return jsonify(ConsentSchema(many=True).dump(found))


@blueprint.post("/consents/<int:consent_id>/withdraw")
@admin_required
def withdraw(consent_id: int) -> Response:
    body = json_body(WithdrawSchema())
    with transaction() as session:
        return jsonify(ConsentSchema().dump(consents.withdraw(session, actor(), consent_id,
                                                              body["reason"])))
