"""/admin/keys: the signing keys (list, rotate, revoke) and /admin/resources: the model
gateways tokens may name as their audience."""

from __future__ import annotations

from datetime import timedelta

from flask import Response, jsonify
from marshmallow import Schema, fields, validate

from ...admins.roles import Permission
from ...base.fields import StrictBoolean
from ...base.pages import Page
from ...kernel.claims import SIGNING_ALGORITHMS
from ...resources import service as resources
from ...resources.schemas import ResourceServerSchema
from ...signing import service as signing
from ...signing.keyring import KeyInfo
from ...signing.schemas import SigningKeySchema
from ..authority import actor
from ..services import services
from .auth import admin_blueprint, database, json_body, requires, transaction
from .described import described
from .listing import PageQuerySchema, page_response, query_args

blueprint = admin_blueprint("admin_keys", __name__)


class RotateSchema(Schema):
    alg = fields.String(load_default=None, validate=validate.OneOf(SIGNING_ALGORITHMS),
                        metadata={"description": "default: the access-token key's (RS256 for "
                                                 "ID tokens)"})
    now = StrictBoolean(load_default=False, metadata={
        "description": "sign with the new key at once, skipping pre-publication "
                       "(emergencies only: gateways may not know it yet)"})


class KeyRevokeSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(1, 500))


class KeyRevokedSchema(Schema):
    revoked = fields.String()
    replacement = fields.String(allow_none=True, metadata={
        "description": "the key that signs from now, when the revoked one was signing"})


class ResourceCreateSchema(Schema):
    identifier = fields.String(required=True, validate=validate.Length(1, 500))
    name = fields.String(load_default="", validate=validate.Length(0, 200))
    default = StrictBoolean(load_default=False, metadata={
        "description": "used when a token request names no resource"})


@blueprint.get("/keys")
@described("List signing keys with their state",
           answer=SigningKeySchema, page=True, conflicts=False)
@requires(Permission.READ)
def list_keys() -> Response:
    with database().sessions() as session:
        keys = signing.described(session, actor().now, services().settings.max_token_ttl)
    return page_response(Page(keys, None), SigningKeySchema())


@blueprint.post("/keys/rotate")
@described("Publish a new signing key; it signs after the pre-publication window",
           body=RotateSchema, status=201, answer=SigningKeySchema)
@requires(Permission.MANAGE_KEYS)
def rotate_key() -> tuple[Response, int]:
    body = json_body(RotateSchema())
    info = rotated(body["alg"], now=body["now"])
    return jsonify(SigningKeySchema().dump({**info.__dict__, "state": (
        "active" if body["now"] else "pending")})), 201


@blueprint.post("/keys/<kid>/revoke")
@described("Withdraw a (compromised) signing key from the JWKS at once",
           body=KeyRevokeSchema, answer=KeyRevokedSchema)
@requires(Permission.MANAGE_KEYS)
def revoke_key(kid: str) -> Response:
    body = json_body(KeyRevokeSchema())
    replacement = revoked(kid, body["reason"])
    return jsonify(KeyRevokedSchema().dump({"revoked": kid, "replacement": (
        replacement.kid if replacement else None)}))


def rotated(alg: str | None, *, now: bool) -> KeyInfo:
    """A new signing key (of the service's algorithm unless ``alg``), signing after the
    pre-publication window or, with ``now``, at once; this process's ring sees it."""
    settings = services().settings
    prepublish = timedelta(seconds=0 if now else settings.key_prepublish_seconds)
    with transaction() as session:
        info = signing.rotate(session, services().key_store, actor(),
                              alg or settings.signing_alg, prepublish)
    services().keys.invalidate()
    return info


def revoked(kid: str, reason: str) -> KeyInfo | None:
    """The key withdrawn; the key that signs in its place, if it was signing."""
    with transaction() as session:
        replacement = signing.revoke(session, services().key_store, actor(), kid, reason,
                                     services().settings.max_token_ttl)
    services().keys.invalidate()
    return replacement


@blueprint.get("/resources")
@described("List the model gateways tokens may name",
           query=PageQuerySchema, answer=ResourceServerSchema, page=True)
@requires(Permission.READ)
def list_resources() -> Response:
    page = query_args(PageQuerySchema())
    with database().sessions() as session:
        return page_response(resources.list_all(session, **page), ResourceServerSchema())


@blueprint.post("/resources")
@described("Register a model gateway by its absolute URI",
           body=ResourceCreateSchema, status=201, answer=ResourceServerSchema)
@requires(Permission.MANAGE_KEYS)
def add_resource() -> tuple[Response, int]:
    body = json_body(ResourceCreateSchema())
    with transaction() as session:
        row = resources.register(session, actor(), body["identifier"],
                                 body["name"] or body["identifier"], default=body["default"])
        session.flush()
        return jsonify(ResourceServerSchema().dump(row)), 201
