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
        CheckConstraint("kind IN ('activate', 'rollback', 'reimpose')", name="kind"),
        Index("ix_policy_activations_due", "activate_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(ForeignKey("policy_versions.version"))
    kind: Mapped[str] = mapped_column(String(16))
    activate_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
