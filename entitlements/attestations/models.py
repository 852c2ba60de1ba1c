from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..base.db import Base

FORMATS = ("jwt", "sd-jwt-vc")


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


class AttestationNonce(Base):
    """A single-use nonce issued to one client; only its SHA-256 is kept."""

    __tablename__ = "attestation_nonces"

    nonce_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]


class VerifiedAttestation(Base):
    """The verified fact only: who, which nationalities, how sure, from whom, until when,
    and the SHA-256 of the evidence. Never the credential itself."""

    __tablename__ = "verified_attestations"
    __table_args__ = (UniqueConstraint("issuer_id", "credential_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"),
                                           index=True)
    issuer_id: Mapped[str] = mapped_column(ForeignKey("attestation_issuers.id"))
    credential_id: Mapped[str] = mapped_column(String(200))
    nationalities: Mapped[list[str]] = mapped_column(JSON)
    assurance_level: Mapped[str] = mapped_column(String(16))
    verified_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    evidence_sha256: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime]
