from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..base.db import Base


class IdentityProvider(Base):
    """An organization's OpenID provider: its issuer belongs to exactly one organization,
    so an ID token names the organization its subject acts for."""

    __tablename__ = "identity_providers"
    __table_args__ = (CheckConstraint("status IN ('active', 'suspended')", name="status"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    issuer: Mapped[str] = mapped_column(String(300), unique=True)
    audiences: Mapped[list[str]] = mapped_column(JSON)
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    jwks_uri: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16), default="active")
    #: For people's sign-in, brokered to this provider: our client there (its secret sealed,
    #: see ``base.sealing``) and its endpoints, from its discovery document.
    client_id: Mapped[str | None] = mapped_column(String(255))
    client_secret_sealed: Mapped[str | None] = mapped_column(Text)
    authorization_endpoint: Mapped[str | None] = mapped_column(String(500))
    token_endpoint: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class UsedSubjectToken(Base):
    """An exchanged ID token (by digest), kept until it expires: each is used once."""

    __tablename__ = "used_subject_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
