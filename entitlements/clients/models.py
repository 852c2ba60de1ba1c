from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..base.db import Base


class AuthMethod(StrEnum):
    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"
    PRIVATE_KEY_JWT = "private_key_jwt"
    #: A public client (a native app, a CLI): it holds no credential (RFC 8252).
    NONE = "none"

    @property
    def uses_secret(self) -> bool:
        return self in (AuthMethod.CLIENT_SECRET_BASIC, AuthMethod.CLIENT_SECRET_POST)


class GrantType(StrEnum):
    CLIENT_CREDENTIALS = "client_credentials"
    TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # RFC 8693
    AUTHORIZATION_CODE = "authorization_code"
    REFRESH_TOKEN = "refresh_token"
    DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"  # RFC 8628


#: What a client registered without ``grant_types`` may use: a partner's backend.
BACKEND_GRANT_TYPES = (GrantType.CLIENT_CREDENTIALS, GrantType.TOKEN_EXCHANGE)
#: What a public client may use: nothing that trusts the client alone.
PUBLIC_GRANT_TYPES = (GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN,
                      GrantType.DEVICE_CODE)


class ClientStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"


class OAuthClient(Base):
    __tablename__ = "oauth_clients"
    __table_args__ = (
        CheckConstraint(
            "auth_method IN ('client_secret_basic', 'client_secret_post', 'private_key_jwt', "
            "'none')",
            name="auth_method",
        ),
        CheckConstraint("status IN ('active', 'revoked')", name="status"),
    )

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    auth_method: Mapped[str] = mapped_column(String(32))
    secret_hash: Mapped[str | None] = mapped_column(String(128))
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    jwks_uri: Mapped[str | None] = mapped_column(String(500))
    default_tiers: Mapped[list[str] | None] = mapped_column(JSON)
    may_introspect: Mapped[bool] = mapped_column(default=False)
    #: The grant types it may use; NULL is a backend's: client credentials and token exchange.
    grant_types: Mapped[list[str] | None] = mapped_column(JSON)
    #: Where the authorization endpoint may send its browser, matched exactly (RFC 6749 3.1.2).
    redirect_uris: Mapped[list[str] | None] = mapped_column(JSON)
    #: Authorization requests must be pushed first (RFC 9126).
    require_par: Mapped[bool] = mapped_column(default=False)
    #: Every token request must carry a DPoP proof (RFC 9449 5.2): its tokens are all bound.
    dpop_bound_access_tokens: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default=ClientStatus.ACTIVE)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    @property
    def allowed_grant_types(self) -> tuple[str, ...]:
        """The grant types it may use (a backend's when none are named)."""
        return tuple(self.grant_types or BACKEND_GRANT_TYPES)


class UsedAssertion(Base):
    """A private_key_jwt assertion's jti, kept until the assertion expires (single use)."""

    __tablename__ = "used_assertions"
    __table_args__ = (UniqueConstraint("client_id", "jti"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(64))
    jti: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(index=True)
