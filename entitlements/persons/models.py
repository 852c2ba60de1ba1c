from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..base.db import Base


class Person(Base):
    """Someone acting for an organization: our id, and optionally the (issuer, subject) by
    which the organization's own identity provider knows them. No other personal data."""

    __tablename__ = "persons"
    __table_args__ = (UniqueConstraint("organization_id", "idp_issuer", "idp_subject"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    idp_issuer: Mapped[str | None] = mapped_column(String(300))
    idp_subject: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime]
