"""Policy versions (immutable documents) and their activations (immediate, scheduled,
rollbacks). The active version at any time is the latest activation due by then: a
scheduled change takes effect with no job to run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..base.db import Base


class PolicyVersion(Base):
    __tablename__ = "policy_versions"

    version: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    base_version: Mapped[int | None]
    author: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(500))
    diff: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class PolicyActivation(Base):
    __tablename__ = "policy_activations"
    __table_args__ = (
        CheckConstraint("kind IN ('activate', 'rollback', 'reimpose', 'break_glass', 'lapse')",
                        name="kind"),
        Index("ix_policy_activations_due", "activate_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(ForeignKey("policy_versions.version"))
    kind: Mapped[str] = mapped_column(String(16))
    activate_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    #: The second admin who approved it (two-person control), if it needed one.
    approved_by: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]


class PolicyChangeRequest(Base):
    """A policy change one admin asked for and a second must approve (two-person control):
    what to do (``action``, ``params``), and what became of it."""

    __tablename__ = "policy_change_requests"
    __table_args__ = (
        CheckConstraint("action IN ('activate', 'schedule', 'rollback', 'reimpose', "
                        "'allowlist')", name="action"),
        CheckConstraint("state IN ('pending', 'approved', 'rejected', 'withdrawn')",
                        name="state"),
        Index("ix_policy_change_requests_state", "state", "requested_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    action: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(500))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    def state_at(self, now: datetime) -> str:
        """pending, approved, rejected, withdrawn, or expired (pending, but too old to
        decide)."""
        return "expired" if self.state == "pending" and self.expires_at <= now else self.state


class BreakGlass(Base):
    """An emergency kill switch one admin applied at once: the tiers it suspended, the
    version it made and the one before, and the activation of that earlier version
    scheduled at ``deadline``, which a second admin's confirmation cancels (it lapses
    otherwise) and a revert brings forward. A kill switch broken while another waits for
    confirmation supersedes it: it suspends both's tiers and lapses to the policy before the
    first."""

    __tablename__ = "break_glass"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'confirmed', 'reverted', 'superseded')",
                        name="state"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tiers: Mapped[list[str]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(500))
    broken_by: Mapped[str] = mapped_column(String(200))
    broken_at: Mapped[datetime]
    previous_version: Mapped[int] = mapped_column(ForeignKey("policy_versions.version"))
    version: Mapped[int] = mapped_column(ForeignKey("policy_versions.version"))
    lapse_activation_id: Mapped[int] = mapped_column(ForeignKey("policy_activations.id"))
    deadline: Mapped[datetime] = mapped_column(index=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(String(500))

    def state_at(self, now: datetime) -> str:
        """pending, confirmed, reverted, superseded, or lapsed (the deadline passed
        undecided)."""
        return "lapsed" if self.state == "pending" and self.deadline <= now else self.state
