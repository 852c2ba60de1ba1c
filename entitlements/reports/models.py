from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..base.db import Base


class ReportExport(Base):
    """An exported report: its interval, the job that wrote it, the file and its signed
    manifest."""

    __tablename__ = "report_exports"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    requested_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(index=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"))
    file_name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str | None] = mapped_column(String(64))
    events: Mapped[int | None]
    manifest: Mapped[str | None] = mapped_column(Text)


class AbuseReport(Base):
    """Malicious activity an admin flagged, with evidence; a second admin approves it, and
    the report (a fixed, documented schema, signed) goes to the configured recipient."""

    __tablename__ = "abuse_reports"
    __table_args__ = (
        CheckConstraint("subject_kind IN ('organization', 'client', 'person')",
                        name="subject_kind"),
        CheckConstraint("state IN ('pending', 'approved', 'rejected', 'withdrawn')",
                        name="state"),
        Index("ix_abuse_reports_state", "state", "flagged_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(64))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    category: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(2000))
    observed_from: Mapped[datetime | None]
    observed_until: Mapped[datetime | None]
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    flagged_by: Mapped[str] = mapped_column(String(200))
    flagged_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(String(500))
    #: The signed report (a JWS of the documented schema), once approved.
    signed: Mapped[str | None] = mapped_column(Text)
