from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..base.db import Base
from ..clients.models import OAuthClient
from ..persons.models import Person


class AuthorizationRequest(Base):
    """An authorization request between its arrival and its code: what the client asked
    (validated), the browser it belongs to, and how far the person has come."""

    __tablename__ = "authorization_requests"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    #: The validated parameters: redirect_uri, scope, state, nonce, code_challenge, ...
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: SHA-256 of the browser's binding cookie, and the token its forms must carry.
    browser_hash: Mapped[str] = mapped_column(String(64))
    csrf_token: Mapped[str] = mapped_column(String(64))
    #: The sign-in at the organization's provider: SHA-256 of our ``state`` there, the
    #: ``nonce`` and the PKCE verifier.
    upstream_state_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    upstream_nonce: Mapped[str | None] = mapped_column(String(64))
    upstream_verifier: Mapped[str | None] = mapped_column(String(128))
    identity_provider_id: Mapped[str | None] = mapped_column(String(64))
    #: Set once the person has signed in.
    session_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SignInSession(Base):
    """A person signed in at this service through their organization's provider."""

    __tablename__ = "signin_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey(Person.id, ondelete="CASCADE"),
                                           index=True)
    organization_id: Mapped[str] = mapped_column(String(64))
    identity_provider_id: Mapped[str] = mapped_column(String(64))
    auth_time: Mapped[datetime]
    acr: Mapped[str | None] = mapped_column(String(200))
    amr: Mapped[list[str] | None] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]


class AuthorizationCode(Base):
    """A code handed to the client's redirect URI: single use, short-lived, bound to the
    client, the redirect URI and the PKCE challenge. Kept after use (``used_at``) until it
    expires, so a replay is recognized and what it issued revoked."""

    __tablename__ = "authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[str] = mapped_column(ForeignKey(Person.id, ondelete="CASCADE"))
    #: redirect_uri, scope, nonce, code_challenge(_method), resource, auth_time, acr, amr,
    #: identity_provider_id: all the token request needs.
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
    #: The access tokens issued from it (their jti), revoked if the code is replayed.
    issued_jtis: Mapped[list[str] | None] = mapped_column(JSON)


class Consent(Base):
    """A person's consent to a client for a set of scopes, until withdrawn."""

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("person_id", "client_id", "scope"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    person_id: Mapped[str] = mapped_column(ForeignKey(Person.id, ondelete="CASCADE"),
                                           index=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey(OAuthClient.client_id, ondelete="CASCADE"))
    #: The scopes consented to, sorted and space-separated.
    scope: Mapped[str] = mapped_column(String(2000))
    granted_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]


class RefreshToken(Base):
    """One refresh token (only its digest). Each use rotates it: the next of its family is
    issued and this one marked used; a used one presented again revokes the family."""

    __tablename__ = "refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[str] = mapped_column(
        ForeignKey(OAuthClient.client_id, ondelete="CASCADE"))
    person_id: Mapped[str] = mapped_column(ForeignKey(Person.id, ondelete="CASCADE"),
                                           index=True)
    #: What the family was consented to (openid and tiers), the gateway, the sign-in.
    scope: Mapped[str] = mapped_column(String(2000))
    resource: Mapped[str | None] = mapped_column(String(500))
    identity_provider_id: Mapped[str] = mapped_column(String(64))
    auth_time: Mapped[datetime]
    created_at: Mapped[datetime]
    #: The family's end: its absolute lifetime, or the person's verification's expiry.
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    #: The access token issued beside it, revoked with the family.
    access_jti: Mapped[str | None] = mapped_column(String(64))
    #: A public client's family is bound to the DPoP key of its first token request: each
    #: refresh must carry a proof by that key (RFC 9449 5).
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))


class DeviceAuthorization(Base):
    """A device's authorization (RFC 8628): the device polls with its code (only a digest
    is kept) while the person confirms the user code in a browser and signs in."""

    __tablename__ = "device_authorizations"
    __table_args__ = (UniqueConstraint("user_code"),)

    device_code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_code: Mapped[str] = mapped_column(String(16))
    client_id: Mapped[str] = mapped_column(
        ForeignKey(OAuthClient.client_id, ondelete="CASCADE"))
    #: scope and resource as asked; once approved, the sign-in's too (auth_time, acr, ...).
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    person_id: Mapped[str | None] = mapped_column(ForeignKey(Person.id, ondelete="CASCADE"))
    interval: Mapped[int]
    last_polled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class PresentationRequest(Base):
    """A request to the person's wallet for a citizenship credential (OpenID4VP 1.0)."""

    __tablename__ = "presentation_requests"

    #: Not a credential: an answer must also carry a holder-signed presentation bound to
    #: ``nonce``. Kept so the waiting page can show the same request while it refreshes.
    state: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    nonce: Mapped[str] = mapped_column(String(64))
    #: pending, verified or refused (with the reason)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
