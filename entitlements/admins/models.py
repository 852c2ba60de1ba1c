"""Admins, their API keys, their console sessions and their single-use sign-in links."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..base.db import Base


class Admin(Base):
    """A person who administers the service: their roles, and how the lab's single sign-on
    names them (a verified e-mail address, or the provider's subject)."""

    __tablename__ = "admins"
    __table_args__ = (CheckConstraint("status IN ('active', 'disabled')", name="status"),)

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    sso_subject: Mapped[str | None] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class AdminKey(Base):
    """An admin's API key, stored only as its SHA-256 digest; the name is the actor. It acts
    with ``roles``, as far as its admin still holds them."""

    __tablename__ = "admin_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(ForeignKey("admins.name"), index=True)
    roles: Mapped[list[str]] = mapped_column(JSON)
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class ConsoleSession(Base):
    """A signed-in admin's console session: only the digest of its cookie is kept. It ends
    when idle too long, at its absolute expiry, at sign-out, or when the admin is disabled."""

    __tablename__ = "console_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    admin: Mapped[str] = mapped_column(ForeignKey("admins.name"), index=True)
    method: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]


class ConsoleFormUse(Base):
    """A console form sent, by its one-time nonce: the same form sent twice (a double click,
    a resubmission after Back) does its work once. Gone with its session."""

    __tablename__ = "console_form_uses"

    session_hash: Mapped[str] = mapped_column(
        ForeignKey("console_sessions.id_hash", ondelete="CASCADE"), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    used_at: Mapped[datetime]


class LoginLink(Base):
    """A single-use console sign-in link, valid for minutes; only its digest is kept."""

    __tablename__ = "login_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    admin: Mapped[str] = mapped_column(ForeignKey("admins.name"))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]
