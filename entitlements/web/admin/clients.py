"""/admin/clients: register, read, revoke clients and rotate their secrets."""

from __future__ import annotations

from flask import Response, jsonify, request
from marshmallow import Schema, fields, validate

from ...base.fields import StrictBoolean
from ...clients import service as clients
from ...clients.models import AuthMethod, GrantType
from ...clients.schemas import ClientRegistrationSchema, ClientSchema, client_columns
from ...operations import clients as operations
from .auth import actor, admin_blueprint, admin_required, database, json_body, transaction

blueprint = admin_blueprint("admin_clients", __name__)


class ClientCreateSchema(Schema):
    organization_id = fields.String(required=True, validate=validate.Length(1, 64))
    name = fields.String(load_default="", validate=validate.Length(0, 200))
    auth_method = fields.String(load_default=AuthMethod.CLIENT_SECRET_BASIC.value,
                                validate=validate.OneOf([m.value for m in AuthMethod]))
    jwks = fields.Dict(load_default=None)
    jwks_uri = fields.String(load_default=None, validate=validate.Length(1, 500))
    default_tiers = fields.List(fields.String(validate=validate.Length(1, 64)),
                                load_default=None, validate=validate.Length(max=50))
    may_introspect = StrictBoolean(load_default=False)
    grant_types = fields.List(fields.String(validate=validate.OneOf([g.value for g in GrantType])),
                              load_default=None, validate=validate.Length(1, len(GrantType)))
    redirect_uris = fields.List(fields.String(validate=validate.Length(1, 500)),
                                load_default=None, validate=validate.Length(max=10))
    require_par = StrictBoolean(load_default=False)
    dpop_bound_access_tokens = StrictBoolean(load_default=False, metadata={
        "description": "Every token request must carry a DPoP proof (RFC 9449 5.2)"})


class RevokeSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(1, 500))


@blueprint.post("/clients")
@admin_required
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
@admin_required
def list_clients() -> Response:
    with database().sessions() as session:
        found = clients.list_all(session, request.args.get("organization_id"))
        return jsonify([ClientSchema().dump(client_columns(c)) for c in found])


@blueprint.get("/clients/<client_id>")
@admin_required
def get_client(client_id: str) -> Response:
    with database().sessions() as session:
        return jsonify(ClientSchema().dump(client_columns(clients.get(session, client_id))))


@blueprint.post("/clients/<client_id>/revoke")
@admin_required
def revoke_client(client_id: str) -> Response:
    body = json_body(RevokeSchema())
    with transaction() as session:
        client = operations.revoke(session, actor(), client_id, body["reason"])
        return jsonify(ClientSchema().dump(client_columns(client)))


@blueprint.post("/clients/<client_id>/secret")
@admin_required
def rotate_secret(client_id: str) -> Response:
    with transaction() as session:
        registration = clients.rotate_secret(session, actor(), client_id)
        return jsonify(ClientRegistrationSchema().dump(
            {**client_columns(registration.client), "client_secret": registration.client_secret}))
