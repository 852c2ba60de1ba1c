"""The issued-token record and the status lists its revocation bits live in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ..base.db import Base


class IssuedToken(Base):
    """The record of one access token; the JWT itself is never stored."""

    __tablename__ = "issued_tokens"
    #: A status list is built from its revoked tokens alone: a partial index holds just
    #: those (an index-only read as long as the revocations; nothing to write on issuance).
    __table_args__ = (Index("ix_issued_tokens_expires_at", "expires_at"),
                      Index("ix_issued_tokens_revoked", "status_list_id", "status_idx",
                            postgresql_where=text("revoked_at IS NOT NULL"),
                            sqlite_where=text("revoked_at IS NOT NULL")))

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oauth_clients.client_id"), index=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    audience: Mapped[str] = mapped_column(String(500))
    scope: Mapped[str] = mapped_column(String(1000))
    kid: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    #: Where the token's revocation bit lives (IETF Token Status List).
    status_list_id: Mapped[int | None]
    status_idx: Mapped[int | None]
    policy_version: Mapped[int | None]
    #: The DPoP key thumbprint (RFC 9449 ``cnf.jkt``) a bound token is bound to.
    cnf_jkt: Mapped[str | None] = mapped_column(String(64))


class StatusListRecord(Base):
    """One status list: ``size`` indexes, handed out in blocks from ``next_index``."""

    __tablename__ = "status_lists"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(Integer)
    next_index: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
