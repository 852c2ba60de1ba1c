"""Register, read, revoke OAuth clients and rotate their secrets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit import targets
from ..base.actor import Actor
from ..base.db import fetch
from ..base.errors import Conflict, InvalidInput, NotFound
from ..base.ids import new_id
from ..base.pages import Page, paginate
from ..base.remote_jwks import validate_key_source
from ..base.secrets import generate_secret, hash_secret
from ..organizations import service as organizations
from .models import PUBLIC_GRANT_TYPES, AuthMethod, ClientStatus, GrantType, OAuthClient
from .redirects import validate_redirect_uris


@dataclass(frozen=True)
class Registration:
    """A new client and, for secret-based methods, its secret: shown this once."""

    client: OAuthClient
    client_secret: str | None


def register(
    session: Session,
    actor: Actor,
    org_id: str,
    *,
    name: str,
    auth_method: str = AuthMethod.CLIENT_SECRET_BASIC,
    jwks: dict[str, Any] | None = None,
    jwks_uri: str | None = None,
    default_tiers: list[str] | None = None,
    may_introspect: bool = False,
    grant_types: list[str] | None = None,
    redirect_uris: list[str] | None = None,
    require_par: bool = False,
    dpop_bound_access_tokens: bool = False,
) -> Registration:
    org = organizations.get(session, org_id)
    method = _auth_method(auth_method)
    _validate_keys(method, jwks, jwks_uri)
    grant_types = _grant_types(method, grant_types)
    redirect_uris = _redirect_uris(grant_types, redirect_uris, require_par)
    secret = generate_secret() if method.uses_secret else None
    client = OAuthClient(
        client_id=new_id("cli"),
        organization_id=org.id,
        name=name or org.name,
        auth_method=method,
        secret_hash=hash_secret(secret) if secret else None,
        jwks=jwks,
        jwks_uri=jwks_uri,
        default_tiers=default_tiers,
        may_introspect=may_introspect,
        grant_types=grant_types,
        redirect_uris=redirect_uris,
        require_par=require_par,
        dpop_bound_access_tokens=dpop_bound_access_tokens,
        status=ClientStatus.ACTIVE,
        created_at=actor.now,
    )
    session.add(client)
    audit.record(
        session, actor, "client.created", target=targets.client(client.client_id, org.id),
        details={"organization_id": org.id, "auth_method": method.value,
                 "may_introspect": may_introspect, "grant_types": grant_types,
                 "redirect_uris": redirect_uris, "require_par": require_par,
                 "dpop_bound_access_tokens": dpop_bound_access_tokens},
    )
    return Registration(client, secret)


def get(session: Session, client_id: str, *, lock: bool = False) -> OAuthClient:
    """With ``lock``, locked for a transition (``base.db.locked``)."""
    client = fetch(session, OAuthClient, client_id, lock=lock)
    if client is None:
        raise NotFound(f"no client with id {client_id!r}")
    return client


def list_all(session: Session, org_id: str | None = None, *, cursor: str | None = None,
             limit: int = 100) -> Page[OAuthClient]:
    query = select(OAuthClient)
    if org_id:
        query = query.where(OAuthClient.organization_id == org_id)
    return paginate(session, query, (OAuthClient.created_at, OAuthClient.client_id),
                    cursor=cursor, limit=limit)


def revoke(session: Session, actor: Actor, client_id: str, reason: str) -> OAuthClient:
    client = get(session, client_id, lock=True)
    if client.status == ClientStatus.REVOKED:
        raise Conflict(f"client {client_id} is already revoked")
    client.status, client.revoked_at = ClientStatus.REVOKED, actor.now
    audit.record(session, actor, "client.revoked",
                 target=targets.client(client_id, client.organization_id), reason=reason)
    return client


def rotate_secret(session: Session, actor: Actor, client_id: str) -> Registration:
    client = get(session, client_id, lock=True)
    if not AuthMethod(client.auth_method).uses_secret:
        raise InvalidInput(f"this client authenticates with {client.auth_method} and has no "
                           "secret")
    if client.status != ClientStatus.ACTIVE:
        raise Conflict(f"client {client_id} is revoked")
    secret = generate_secret()
    client.secret_hash = hash_secret(secret)
    audit.record(session, actor, "client.secret_rotated",
                 target=targets.client(client_id, client.organization_id))
    return Registration(client, secret)


def load_jwks_file(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise InvalidInput("the JWKS file is not valid JSON") from None
    if not isinstance(value, dict):
        raise InvalidInput("the JWKS must be a JSON object with a 'keys' array")
    return value


def _auth_method(value: str) -> AuthMethod:
    try:
        return AuthMethod(value)
    except ValueError:
        allowed = ", ".join(m.value for m in AuthMethod)
        raise InvalidInput(f"auth method must be one of: {allowed}") from None


def _grant_types(method: AuthMethod, requested: list[str] | None) -> list[str] | None:
    """None (a backend's defaults) unless asked; a public client has no backend grant."""
    if requested is None:
        if method is AuthMethod.NONE:
            return [GrantType.AUTHORIZATION_CODE.value]
        return None
    allowed = {g.value for g in GrantType}
    unknown = sorted(set(requested) - allowed)
    if unknown or not requested:
        raise InvalidInput(f"grant types must be among: {', '.join(sorted(allowed))}")
    if method is AuthMethod.NONE and set(requested) - set(PUBLIC_GRANT_TYPES):
        raise InvalidInput("a public client (auth method none) may use only: "
                           + ", ".join(PUBLIC_GRANT_TYPES))
    if GrantType.REFRESH_TOKEN in requested and not {
            GrantType.AUTHORIZATION_CODE, GrantType.DEVICE_CODE} & set(requested):
        raise InvalidInput("refresh_token comes with authorization_code or device_code "
                           "(people's sign-in)")
    return list(dict.fromkeys(requested))


def _redirect_uris(grant_types: list[str] | None, uris: list[str] | None,
                   require_par: bool) -> list[str] | None:
    browser = grant_types is not None and GrantType.AUTHORIZATION_CODE in grant_types
    if not browser:
        if uris or require_par:
            raise InvalidInput("redirect URIs and require_par are for clients of the "
                               "authorization_code grant")
        return None
    if not uris:
        raise InvalidInput("an authorization_code client needs at least one redirect URI")
    return validate_redirect_uris(uris)


def _validate_keys(method: AuthMethod, jwks: dict[str, Any] | None, jwks_uri: str | None) -> None:
    if method is AuthMethod.NONE:
        if jwks is not None or jwks_uri is not None:
            raise InvalidInput("a public client (auth method none) has no keys")
        return
    if method.uses_secret:
        if jwks is not None or jwks_uri is not None:
            raise InvalidInput("a JWKS or jwks_uri is only for private_key_jwt clients")
        return
    validate_key_source(jwks, jwks_uri, "private_key_jwt")
