"""What the token endpoint knows of a client: a read-only snapshot, cached briefly.

The snapshot joins the client, its organization and the organization's citizenship
attestations, so the token path needs no other query. Changes reach it within
``client_cache_ttl`` seconds (at once in the process that made them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..base.cache import TTLCache
from ..base.db import Database
from ..base.secrets import check_secret
from ..clients.models import ClientStatus, OAuthClient
from ..clients.redirects import matches
from ..kernel.policy import Subject
from ..organizations.models import Organization, OrganizationStatus
from ..policy.subjects import organization_citizenship
from .supported import AUTHORIZATION_CODE, PUBLIC

ORGANIZATION_NOT_VERIFIED = {
    OrganizationStatus.SUSPENDED: "The client's organization is suspended.",
    OrganizationStatus.REVOKED: "The client's organization is revoked.",
    OrganizationStatus.APPLIED: "The client's organization is not verified yet.",
    OrganizationStatus.UNDER_REVIEW: "The client's organization is not verified yet.",
}


@dataclass(frozen=True)
class ClientRecord(ClientMixin):
    client_id: str
    auth_method: str
    secret_hash: str | None
    jwks: dict[str, Any] | None
    jwks_uri: str | None
    default_tiers: tuple[str, ...] | None
    may_introspect: bool
    grant_types: tuple[str, ...]
    redirect_uris: tuple[str, ...]
    require_par: bool
    dpop_bound_access_tokens: bool
    client_active: bool
    organization_id: str
    organization_status: str
    trust_level: str
    #: The organization as a decision subject (trust, its citizenship attestations).
    subject: Subject

    @property
    def inactive_reason(self) -> str | None:
        if not self.client_active:
            return "The client is revoked."
        if self.organization_status != OrganizationStatus.VERIFIED:
            return ORGANIZATION_NOT_VERIFIED.get(self.organization_status,
                                                 "The client's organization is not verified.")
        return None

    def get_client_id(self) -> str:
        return self.client_id

    @property
    def is_public(self) -> bool:
        return self.auth_method == PUBLIC

    def get_default_redirect_uri(self) -> None:
        """None: every authorization request names its redirect URI (OIDC Core 3.1.2.1),
        so an error never goes to a URI the request did not name."""
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return scope

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return matches(list(self.redirect_uris), redirect_uri)

    def check_client_secret(self, client_secret: str) -> bool:
        return check_secret(client_secret, self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and AUTHORIZATION_CODE in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


def load_client_record(session: Session, client_id: str) -> ClientRecord | None:
    row = session.execute(
        select(OAuthClient, Organization)
        .join(Organization, Organization.id == OAuthClient.organization_id)
        .where(OAuthClient.client_id == client_id)
    ).first()
    if row is None:
        return None
    client, org = row
    return ClientRecord(
        client_id=client.client_id,
        auth_method=client.auth_method,
        secret_hash=client.secret_hash,
        jwks=client.jwks,
        jwks_uri=client.jwks_uri,
        default_tiers=tuple(client.default_tiers) if client.default_tiers is not None else None,
        may_introspect=client.may_introspect,
        grant_types=client.allowed_grant_types,
        redirect_uris=tuple(client.redirect_uris or ()),
        require_par=client.require_par,
        dpop_bound_access_tokens=client.dpop_bound_access_tokens,
        client_active=client.status == ClientStatus.ACTIVE,
        organization_id=org.id,
        organization_status=org.status,
        trust_level=org.trust_level,
        subject=Subject(org.id, org.trust_level, False,
                        organization_citizenship(session, org.id)),
    )


class ClientDirectory:
    MAX_CLIENT_ID = 64

    def __init__(self, db: Database, ttl: float, maxsize: int = 10_000) -> None:
        self._db = db
        self._cache: TTLCache[str, ClientRecord | None] = TTLCache(maxsize, ttl)

    def find(self, client_id: str) -> ClientRecord | None:
        if not client_id or len(client_id) > self.MAX_CLIENT_ID:
            return None
        return self._cache.get_or_load(client_id, self._load)

    def invalidate(self) -> None:
        self._cache.invalidate()

    def _load(self, client_id: str) -> ClientRecord | None:
        with self._db.sessions() as session:
            return load_client_record(session, client_id)
