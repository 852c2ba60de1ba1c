from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..base.db import Base


class AuditStream(Base):
    """One hash chain and its tip.

    The ``main`` stream takes admin changes and refusals; its writers lock this row
    for the length of their transaction. Each token-issuing process owns a stream
    of its own (announced in ``main`` when opened), so issuance never waits on
    another process for the chain.
    """

    __tablename__ = "audit_streams"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int]
    hash: Mapped[str] = mapped_column(String(64))
    opened_at: Mapped[datetime]


class AuditEvent(Base):
    """One grant, refusal or admin change. Never updated, never deleted.

    ``hash`` covers this event's content and ``prev_hash``, so editing or removing
    any event breaks every link after it in its stream (``audit.service.verify_chain``).
    """

    __tablename__ = "audit_events"
    #: Time order (reports, searches) is (at, stream, seq): one index reads it in pages.
    __table_args__ = (Index("ix_audit_events_at_stream_seq", "at", "stream", "seq"),
                      Index("ix_audit_events_target_at", "target", "at"),
                      Index("ix_audit_events_organization_at", "organization_id", "at"),
                      Index("ix_audit_events_actor_at", "actor", "at"),
                      Index("ix_audit_events_action_at", "action", "at"))

    stream: Mapped[str] = mapped_column(ForeignKey("audit_streams.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    #: The admin role the change was allowed under, for an admin's change.
    actor_role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    #: The plain id of what the event acts on, its kind, and the organization it concerns.
    target: Mapped[str | None] = mapped_column(String(200))
    target_kind: Mapped[str | None] = mapped_column(String(32))
    organization_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(500))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A signed statement of every stream's tip at a time (a JWS), one per period: kept
    here, published, and written outside the database when configured, so a rewrite of the
    database after it is found out."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    #: The period it was made in (its time in seconds, divided by the interval): one each.
    period: Mapped[int] = mapped_column(unique=True)
    at: Mapped[datetime] = mapped_column(index=True)
    tips: Mapped[dict[str, Any]] = mapped_column(JSON)
    jws: Mapped[str] = mapped_column(Text)
