"""Register an organization's identity provider, list, suspend and reinstate it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit.targets import Target
from ..base import transitions
from ..base.actor import Actor
from ..base.db import fetch
from ..base.discovery import Endpoints
from ..base.errors import Conflict, InvalidInput, NotFound
from ..base.ids import new_id
from ..base.pages import Page, paginate
from ..base.remote_jwks import validate_key_source
from ..base.sealing import Sealer
from ..base.urls import is_secure_url
from ..organizations import service as organizations
from ..persons.models import Person
from .models import IdentityProvider

MAX_AUDIENCES = 10


def register(session: Session, actor: Actor, org_id: str, *, issuer: str,
             audiences: Sequence[str], jwks: dict[str, Any] | None = None,
             jwks_uri: str | None = None) -> IdentityProvider:
    org = organizations.get(session, org_id)
    if not is_secure_url(issuer) or issuer.endswith("/") or "?" in issuer:
        raise InvalidInput("the identity provider's issuer must be an https URL without a "
                           "query or a trailing slash")
    if find_by_issuer(session, issuer) is not None:
        raise Conflict(f"identity provider {issuer!r} is already registered")
    _validate(audiences, jwks, jwks_uri)
    row = IdentityProvider(
        id=new_id("idp"), organization_id=org.id, issuer=issuer,
        audiences=sorted(set(audiences)), jwks=jwks, jwks_uri=jwks_uri, status="active",
        created_at=actor.now, updated_at=actor.now)
    session.add(row)
    audit.record(session, actor, "idp.registered",
                 target=Target("identity_provider", row.id, org.id),
                 details={"organization_id": org.id, "issuer": issuer,
                          "audiences": row.audiences, "jwks_uri": jwks_uri})
    return row


def get(session: Session, idp_id: str, *, lock: bool = False) -> IdentityProvider:
    """With ``lock``, locked for a transition (``base.db.locked``)."""
    row = fetch(session, IdentityProvider, idp_id, lock=lock)
    if row is None:
        raise NotFound(f"no identity provider with id {idp_id!r}")
    return row


def find_by_issuer(session: Session, issuer: str) -> IdentityProvider | None:
    return session.scalar(select(IdentityProvider).where(IdentityProvider.issuer == issuer))


def list_all(session: Session, *, cursor: str | None = None, limit: int = 100
             ) -> Page[IdentityProvider]:
    return paginate(session, select(IdentityProvider),
                    (IdentityProvider.created_at, IdentityProvider.id), cursor=cursor,
                    limit=limit)


def list_for(session: Session, org_id: str, *, cursor: str | None = None, limit: int = 100
             ) -> Page[IdentityProvider]:
    organizations.get(session, org_id)
    return paginate(session, select(IdentityProvider).where(
        IdentityProvider.organization_id == org_id),
        (IdentityProvider.created_at, IdentityProvider.id), cursor=cursor, limit=limit)


def set_status(session: Session, actor: Actor, idp_id: str, status: str, reason: str
               ) -> IdentityProvider:
    """Suspend or reinstate an identity provider: its ID tokens stop (or start again) being
    exchanged at once. (``operations`` also revokes the live tokens of the persons it signed
    in: who they are rests on its word.)"""
    idp = get(session, idp_id, lock=True)
    verb = transitions.set_status(actor, idp, status, label="identity provider")
    audit.record(session, actor, f"idp.{verb}",
                 target=Target("identity_provider", idp.id, idp.organization_id), reason=reason)
    return idp


def signed_in(idp: IdentityProvider) -> Select:
    """The persons an identity provider names."""
    return select(Person.id).where(Person.organization_id == idp.organization_id,
                                   Person.idp_issuer == idp.issuer)


def _validate(audiences: Sequence[str], jwks: dict[str, Any] | None,
              jwks_uri: str | None) -> None:
    if not audiences or len(audiences) > MAX_AUDIENCES or not all(
            isinstance(a, str) and 0 < len(a) <= 300 for a in audiences):
        raise InvalidInput(f"audiences: 1 to {MAX_AUDIENCES} client ids the provider puts "
                           "in its ID tokens' aud")
    validate_key_source(jwks, jwks_uri, "an identity provider")


def enable_sign_in(session: Session, actor: Actor, idp_id: str, *, client_id: str,
                   client_secret: str | None, endpoints: Endpoints, sealer: Sealer
                   ) -> IdentityProvider:
    """Let people sign in through this provider, as our ``client_id`` there. The secret is
    sealed; without one we are a public client there, protected by PKCE alone."""
    row = get(session, idp_id, lock=True)
    if client_id not in row.audiences:
        row.audiences = sorted({*row.audiences, client_id})  # its ID tokens name us so
    row.client_id = client_id
    row.client_secret_sealed = sealer.seal(client_secret) if client_secret else None
    row.authorization_endpoint = endpoints.authorization_endpoint
    row.token_endpoint = endpoints.token_endpoint
    row.updated_at = actor.now
    audit.record(session, actor, "idp.sign_in_enabled",
                 target=Target("identity_provider", row.id, row.organization_id),
                 details={"client_id": client_id,
                          "client_secret": "sealed" if client_secret else None,
                          "authorization_endpoint": row.authorization_endpoint})
    return row


def sign_in_providers(session: Session, org_id: str) -> list[IdentityProvider]:
    """The organization's active providers that people can sign in through."""
    return list(session.scalars(select(IdentityProvider).where(
        IdentityProvider.organization_id == org_id, IdentityProvider.status == "active",
        IdentityProvider.authorization_endpoint.is_not(None)).order_by(
        IdentityProvider.created_at)))


def sign_in_endpoints(session: Session, limit: int = 200) -> list[str]:
    """The distinct authorization endpoints people may be sent to (a page's form-action)."""
    return list(session.scalars(select(IdentityProvider.authorization_endpoint).distinct()
                                .where(IdentityProvider.authorization_endpoint.is_not(None),
                                       IdentityProvider.status == "active").limit(limit)))
