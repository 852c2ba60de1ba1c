"""/admin/admins: admins, their roles and API keys (owners only), and /admin/me: who the
caller is and what their roles allow."""

from __future__ import annotations

from flask import Response, g, jsonify
from marshmallow import Schema, fields, validate

from ...admins import service as admins
from ...admins import sessions
from ...admins.roles import Permission, permissions
from ...admins.schemas import (
    AdminCreateSchema,
    AdminKeyCreateSchema,
    AdminKeySchema,
    AdminSchema,
    AdminUpdateSchema,
    IssuedAdminKeySchema,
)
from ..authority import actor
from ..services import services
from .auth import admin_blueprint, database, json_body, requires, transaction
from .described import described
from .listing import PageQuerySchema, page_response, query_args

blueprint = admin_blueprint("admin_admins", __name__)


class MeSchema(Schema):
    name = fields.String()
    roles = fields.List(fields.String())
    permissions = fields.List(fields.String())


class AdminKeyQuerySchema(PageQuerySchema):
    admin = fields.String(load_default=None, validate=validate.Length(1, 100))


class LoginLinkSchema(Schema):
    url = fields.String(metadata={"description": "signs the admin in once"})
    expires_in = fields.Integer()


@blueprint.get("/me")
@described("Who the caller is, and what their roles allow", answer=MeSchema, conflicts=False)
@requires(Permission.READ)
def me() -> Response:
    principal = g.principal
    return jsonify(MeSchema().dump({"name": principal.name, "roles": sorted(principal.roles),
                                    "permissions": sorted(permissions(principal.roles))}))


@blueprint.get("/admins")
@described("List admins and their roles", query=PageQuerySchema, answer=AdminSchema, page=True)
@requires(Permission.MANAGE_ADMINS)
def list_admins() -> Response:
    page = query_args(PageQuerySchema())
    with database().sessions() as session:
        return page_response(admins.list_admins(session, **page), AdminSchema())


@blueprint.post("/admins")
@described("Add an admin with roles", body=AdminCreateSchema, status=201, answer=AdminSchema)
@requires(Permission.MANAGE_ADMINS)
def add_admin() -> tuple[Response, int]:
    body = json_body(AdminCreateSchema())
    with transaction() as session:
        row = admins.add(session, actor(), body.pop("name"), body.pop("roles"), **body)
        return jsonify(AdminSchema().dump(row)), 201


@blueprint.get("/admins/<name>")
@described("Show an admin", answer=AdminSchema)
@requires(Permission.MANAGE_ADMINS)
def get_admin(name: str) -> Response:
    with database().sessions() as session:
        return jsonify(AdminSchema().dump(admins.get(session, name)))


@blueprint.patch("/admins/<name>")
@described("Change an admin's roles, status or single sign-on identity",
           body=AdminUpdateSchema, answer=AdminSchema)
@requires(Permission.MANAGE_ADMINS)
def update_admin(name: str) -> Response:
    body = json_body(AdminUpdateSchema())
    with transaction() as session:
        return jsonify(AdminSchema().dump(admins.update(session, actor(), name, **body)))


@blueprint.post("/admins/<name>/keys")
@described("Issue an API key for an admin (shown once)",
           body=AdminKeyCreateSchema, status=201, answer=IssuedAdminKeySchema)
@requires(Permission.MANAGE_ADMINS)
def issue_key(name: str) -> tuple[Response, int]:
    body = json_body(AdminKeyCreateSchema())
    with transaction() as session:
        issued = admins.issue(session, actor(), name, body["roles"])
        data = {**AdminKeySchema().dump(issued.key), "key": issued.secret}
    return jsonify(data), 201


@blueprint.post("/admins/<name>/login-link")
@described("A single-use console sign-in link for an admin (when login links are on)",
           status=201, answer=LoginLinkSchema)
@requires(Permission.MANAGE_ADMINS)
def login_link(name: str) -> tuple[Response, int]:
    settings = services().settings
    with transaction() as session:
        token = sessions.issue_login_link(session, actor(), name,
                                          enabled=settings.login_links_enabled)
    return jsonify(LoginLinkSchema().dump({
        "url": sessions.link_url(settings.issuer, token),
        "expires_in": int(sessions.LINK_LIFETIME.total_seconds())})), 201


@blueprint.get("/admin-keys")
@described("List admin API keys (never the keys themselves)",
           query=AdminKeyQuerySchema, answer=AdminKeySchema, page=True)
@requires(Permission.MANAGE_ADMINS)
def list_admin_keys() -> Response:
    args = query_args(AdminKeyQuerySchema())
    with database().sessions() as session:
        return page_response(admins.list_keys(session, **args), AdminKeySchema())


@blueprint.post("/admin-keys/<key_id>/revoke")
@described("Revoke an admin API key at once", answer=AdminKeySchema)
@requires(Permission.MANAGE_ADMINS)
def revoke_admin_key(key_id: str) -> Response:
    with transaction() as session:
        return jsonify(AdminKeySchema().dump(admins.revoke(session, actor(), key_id)))
