"""/admin/organizations/<id>/identity-providers and /admin/identity-providers/<id>."""

from __future__ import annotations

from flask import Response, jsonify

from ...admins.roles import Permission
from ...base.discovery import discover
from ...identity_providers import service as idps
from ...identity_providers.schemas import (
    IdentityProviderCreateSchema,
    IdentityProviderSchema,
    IdentityProviderStatusSchema,
    SignInSchema,
)
from ...operations.registry import set_idp_status
from ..authority import actor
from ..services import services
from .auth import admin_blueprint, database, json_body, requires, transaction
from .described import described
from .listing import PageQuerySchema, page_response, query_args

blueprint = admin_blueprint("admin_identity_providers", __name__)


@blueprint.post("/organizations/<org_id>/identity-providers")
@described("Register an organization's identity provider (for token exchange)",
           body=IdentityProviderCreateSchema, status=201, answer=IdentityProviderSchema)
@requires(Permission.ONBOARD)
def register_idp(org_id: str) -> tuple[Response, int]:
    body = json_body(IdentityProviderCreateSchema())
    with transaction() as session:
        row = idps.register(session, actor(), org_id, **body)
        session.flush()
        return jsonify(IdentityProviderSchema().dump(row)), 201


@blueprint.get("/organizations/<org_id>/identity-providers")
@described("List an organization's identity providers",
           query=PageQuerySchema, answer=IdentityProviderSchema, page=True)
@requires(Permission.READ)
def list_idps(org_id: str) -> Response:
    page = query_args(PageQuerySchema())
    with database().sessions() as session:
        return page_response(idps.list_for(session, org_id, **page), IdentityProviderSchema())


@blueprint.get("/identity-providers/<idp_id>")
@described("Show an identity provider", answer=IdentityProviderSchema)
@requires(Permission.READ)
def get_idp(idp_id: str) -> Response:
    with database().sessions() as session:
        return jsonify(IdentityProviderSchema().dump(idps.get(session, idp_id)))


@blueprint.post("/identity-providers/<idp_id>/<any(suspend, reinstate):action>")
@described("Suspend or reinstate an identity provider (its ID tokens stop being exchanged at once)",
           body=IdentityProviderStatusSchema, answer=IdentityProviderSchema)
@requires(Permission.ONBOARD)
def change_idp_status(idp_id: str, action: str) -> Response:
    body = json_body(IdentityProviderStatusSchema())
    status = "suspended" if action == "suspend" else "active"
    with transaction() as session:
        row = set_idp_status(session, actor(), idp_id, status, body["reason"])
        return jsonify(IdentityProviderSchema().dump(row))


@blueprint.put("/identity-providers/<idp_id>/sign-in")
@described("Let the organization's people sign in through this provider (our client there; the "
           "secret is sealed and never shown)",
           body=SignInSchema, answer=IdentityProviderSchema)
@requires(Permission.ONBOARD)
def enable_sign_in(idp_id: str) -> Response:
    """People of the organization sign in through this provider: our client there, and
    the endpoints its discovery document names (fetched now, before anything is written)."""
    body = json_body(SignInSchema())
    with database().sessions() as session:
        issuer = idps.get(session, idp_id).issuer
    endpoints = discover(issuer)
    with transaction() as session:
        row = idps.enable_sign_in(session, actor(), idp_id, client_id=body["client_id"],
                                  client_secret=body["client_secret"], endpoints=endpoints,
                                  sealer=services().sealer)
        return jsonify(IdentityProviderSchema().dump(row))
