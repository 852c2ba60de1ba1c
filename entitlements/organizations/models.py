from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..base.db import Base


class OrganizationStatus(StrEnum):
    """applied -> under_review -> verified <-> suspended; revoked is final."""

    APPLIED = "applied"
    UNDER_REVIEW = "under_review"
    VERIFIED = "verified"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class TrustLevel(StrEnum):
    """Ordered from least to most trusted."""

    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    TRUSTED = "trusted"
    GOVERNMENT_PARTNER = "government_partner"

    @property
    def rank(self) -> int:
        return list(TrustLevel).index(self)


#: Raising trust to these levels takes a second, different admin's approval.
TWO_PERSON_LEVELS = frozenset({TrustLevel.TRUSTED, TrustLevel.GOVERNMENT_PARTNER})


def _in(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Organization(Base):
    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint(_in("status", OrganizationStatus), name="status"),
        CheckConstraint(_in("trust_level", TrustLevel), name="trust_level"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=OrganizationStatus.APPLIED)
    trust_level: Mapped[str] = mapped_column(String(32), default=TrustLevel.UNVERIFIED)
    country: Mapped[str | None] = mapped_column(String(2))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @property
    def may_obtain_tokens(self) -> bool:
        return self.status == OrganizationStatus.VERIFIED


class OrganizationChange(Base):
    """One lifecycle or trust change: who, when, why, and the evidence considered."""

    __tablename__ = "organization_changes"
    __table_args__ = (Index("ix_organization_changes_org_at", "organization_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    from_trust: Mapped[str] = mapped_column(String(32))
    to_trust: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(500))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    approved_by: Mapped[str | None] = mapped_column(String(200))


class TrustRequest(Base):
    """A request to raise an organization's trust, waiting for a second admin."""

    __tablename__ = "trust_requests"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'approved', 'rejected')", name="state"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(String(32))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(String(500))


class EvidenceKind(StrEnum):
    DOMAIN = "domain"
    LEI = "lei"
    AGREEMENT = "agreement"
    #: The organization's attestation that all its users are citizens of given countries.
    CITIZENSHIP = "citizenship"


class Evidence(Base):
    """One piece of evidence about an organization and whether it has been checked."""

    __tablename__ = "organization_evidence"
    __table_args__ = (
        CheckConstraint("kind IN ('domain', 'lei', 'agreement', 'citizenship')", name="kind"),
        CheckConstraint("status IN ('pending', 'verified', 'failed')", name="status"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    challenge: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    checked_at: Mapped[datetime | None]
    checked_by: Mapped[str | None] = mapped_column(String(200))
