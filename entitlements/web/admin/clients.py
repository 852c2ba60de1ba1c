"""/admin/clients: register, read, revoke clients and rotate their secrets."""

from __future__ import annotations

from flask import Response, jsonify
from marshmallow import fields, validate

from ...admins.roles import Permission
from ...clients import service as clients
from ...clients.schemas import (
    ClientCreateSchema,
    ClientRegistrationSchema,
    ClientSchema,
    RevokeSchema,
    client_columns,
)
from ...operations import clients as operations
from ..authority import actor
from .auth import admin_blueprint, database, json_body, requires, transaction
from .described import described
from .listing import PageQuerySchema, page_response, query_args

blueprint = admin_blueprint("admin_clients", __name__)




class ClientQuerySchema(PageQuerySchema):
    org_id = fields.String(load_default=None, data_key="organization_id",
                           validate=validate.Length(1, 64))




@blueprint.post("/clients")
@described("Register a client (the secret is shown once)",
           body=ClientCreateSchema, status=201, answer=ClientRegistrationSchema)
@requires(Permission.ONBOARD)
def create_client() -> tuple[Response, int]:
    body = json_body(ClientCreateSchema())
    org_id = body.pop("organization_id")
    with transaction() as session:
        registration = operations.register(session, actor(), org_id, **body)
        session.flush()
        data = ClientRegistrationSchema().dump(
            {**client_columns(registration.client), "client_secret": registration.client_secret})
    return jsonify(data), 201


@blueprint.get("/clients")
@described("List clients", query=ClientQuerySchema, answer=ClientSchema, page=True)
@requires(Permission.READ)
def list_clients() -> Response:
    args = query_args(ClientQuerySchema())
    with database().sessions() as session:
        return page_response(clients.list_all(session, **args), ClientSchema(),
                             dump=client_columns)


@blueprint.get("/clients/<client_id>")
@described("Show a client", answer=ClientSchema)
@requires(Permission.READ)
def get_client(client_id: str) -> Response:
    with database().sessions() as session:
        return jsonify(ClientSchema().dump(client_columns(clients.get(session, client_id))))


@blueprint.post("/clients/<client_id>/revoke")
@described("Revoke a client and its live tokens", body=RevokeSchema, answer=ClientSchema)
@requires(Permission.ONBOARD)
def revoke_client(client_id: str) -> Response:
    body = json_body(RevokeSchema())
    with transaction() as session:
        client = operations.revoke(session, actor(), client_id, body["reason"])
        return jsonify(ClientSchema().dump(client_columns(client)))


@blueprint.post("/clients/<client_id>/secret")
@described("Rotate a client's secret (shown once)", answer=ClientRegistrationSchema)
@requires(Permission.ONBOARD)
def rotate_secret(client_id: str) -> Response:
    with transaction() as session:
        registration = clients.rotate_secret(session, actor(), client_id)
        return jsonify(ClientRegistrationSchema().dump(
            {**client_columns(registration.client), "client_secret": registration.client_secret}))
