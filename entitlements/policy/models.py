from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class Tier(Base):
    """A class of models (public, restricted, early-access, ...). Data, not code."""

    __tablename__ = "tiers"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]


class OrganizationTier(Base):
    """A plain per-organization grant of one tier (policy rules replace this later)."""

    __tablename__ = "organization_tiers"

    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    tier: Mapped[str] = mapped_column(ForeignKey("tiers.name"), primary_key=True)
    granted_at: Mapped[datetime]
    granted_by: Mapped[str] = mapped_column(String(200))
