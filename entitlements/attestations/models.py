from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base

FORMATS = ("jwt", "sd-jwt-vc")
ASSURANCE_LEVELS = ("low", "substantial", "high")


class AttestationIssuer(Base):
    """A trusted identity-verification provider, and the limits of what it may attest."""

    __tablename__ = "attestation_issuers"
    __table_args__ = (CheckConstraint("status IN ('active', 'suspended')", name="status"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(300), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    jwks_uri: Mapped[str | None] = mapped_column(String(500))
    formats: Mapped[list[str]] = mapped_column(JSON)
    nationalities: Mapped[list[str]] = mapped_column(JSON)
    assurance_levels: Mapped[list[str]] = mapped_column(JSON)
    max_age_days: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
