"""/admin/consents: what persons have allowed which clients, and withdrawing it."""

from __future__ import annotations

from flask import Response, jsonify
from marshmallow import fields, validate

from ...admins.roles import Permission
from ...signin import consents
from ...signin.schemas import ConsentSchema, WithdrawSchema
from ..authority import actor
from .auth import admin_blueprint, database, json_body, requires, transaction
from .described import described
from .listing import PageQuerySchema, page_response, query_args

blueprint = admin_blueprint("admin_consents", __name__)


class ConsentQuerySchema(PageQuerySchema):
    person_id = fields.String(load_default=None, validate=validate.Length(1, 64))
    client_id = fields.String(load_default=None, validate=validate.Length(1, 64))


@blueprint.get("/consents")
@described("List consents persons have given clients",
           query=ConsentQuerySchema, answer=ConsentSchema, page=True)
@requires(Permission.READ)
def list_consents() -> Response:
    args = query_args(ConsentQuerySchema())
    with database().sessions() as session:
        return page_response(consents.list_consents(session, **args), ConsentSchema())





@blueprint.post("/consents/<int:consent_id>/withdraw")
@described("Withdraw a consent", body=WithdrawSchema, answer=ConsentSchema)
@requires(Permission.ONBOARD)
def withdraw(consent_id: int) -> Response:
    body = json_body(WithdrawSchema())
    with transaction() as session:
        return jsonify(ConsentSchema().dump(consents.withdraw(session, actor(), consent_id,
                                                              body["reason"])))
