from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class OrganizationStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class TrustLevel(StrEnum):
    """Ordered from least to most trusted."""

    UNVERIFIED = "unverified"
    VERIFIED = "verified"
    TRUSTED = "trusted"
    GOVERNMENT_PARTNER = "government_partner"


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
    status: Mapped[str] = mapped_column(String(16), default=OrganizationStatus.ACTIVE)
    trust_level: Mapped[str] = mapped_column(String(32), default=TrustLevel.UNVERIFIED)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @property
    def is_active(self) -> bool:
        return self.status == OrganizationStatus.ACTIVE
