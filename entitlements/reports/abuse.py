"""Reports of malicious activity, the lab's commitment to the government: an admin flags an
organization, client or person with evidence; a second admin approves; the report, in a
fixed schema (``entitlements-abuse-report/1``, docs/reports.md), is signed and delivered to
the configured recipient as a notice. Nothing is sent until two admins agree."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit.targets import Target
from ..base.actor import Actor
from ..base.db import fetch
from ..base.errors import Conflict, Forbidden, InvalidInput, NotFound
from ..base.ids import new_id
from ..base.pages import Page, paginate
from ..clients.models import OAuthClient
from ..notices import service as notices
from ..organizations.models import Organization
from ..persons.models import Person
from ..signing.documents import ABUSE_REPORT_TYP, sign_document
from ..signing.keyring import KeyRing
from .models import AbuseReport

SCHEMA = "entitlements-abuse-report/1"
CATEGORIES = ("malicious_cyber_activity", "vulnerability_exploitation",
              "export_control_evasion", "credential_sharing", "fraud", "other")
SUBJECTS = ("organization", "client", "person")
MAX_EVIDENCE = 20


def flag(session: Session, actor: Actor, *, subject_kind: str, subject_id: str, category: str,
         description: str, evidence: list[dict[str, Any]],
         observed_from: datetime | None = None, observed_until: datetime | None = None
         ) -> AbuseReport:
    """A flag waiting for a second admin; the subject must exist."""
    if category not in CATEGORIES:
        raise InvalidInput(f"category must be one of: {', '.join(CATEGORIES)}")
    if not evidence or len(evidence) > MAX_EVIDENCE:
        raise InvalidInput(f"give 1 to {MAX_EVIDENCE} pieces of evidence", code="no_evidence")
    if observed_from and observed_until and observed_until < observed_from:
        raise InvalidInput("observed_until is before observed_from")
    row = AbuseReport(id=new_id("abr"), subject_kind=subject_kind, subject_id=subject_id,
                      organization_id=organization_of(session, subject_kind, subject_id),
                      category=category, description=description, evidence=evidence,
                      observed_from=observed_from, observed_until=observed_until,
                      flagged_by=actor.name, flagged_at=actor.now, state="pending")
    session.add(row)
    session.flush()
    audit.record(session, actor, "abuse.flagged", target=target(row),
                 details={"subject": {"kind": subject_kind, "id": subject_id},
                          "category": category, "evidence": len(evidence)})
    return row


def approve(session: Session, actor: Actor, report_id: str, reason: str, *, ring: KeyRing,
            issuer: str, recipient: str) -> AbuseReport:
    """The second admin's approval: the report is signed and its notice is queued."""
    row = _pending(session, report_id)
    if actor.name == row.flagged_by:
        raise Forbidden("two-person rule: the admin who flagged the activity cannot approve "
                        "the report", code="two_person_rule")
    _decide(session, actor, row, "approved", reason)
    row.signed = sign_document(ring, actor.now, issuer=issuer, typ=ABUSE_REPORT_TYP,
                               claims={"report": document(session, row, issuer)})
    notice = notices.enqueue(session, kind="abuse_report", subject_id=row.id,
                             recipient=recipient, now=actor.now,
                             payload={"report": row.id, "jws": row.signed})
    audit.record(session, actor, "abuse.reported", target=target(row),
                 details={"recipient": bool(recipient),
                          "notice": notice.id if notice else None})
    return row


def reject(session: Session, actor: Actor, report_id: str, reason: str) -> AbuseReport:
    """Another admin rejects the flag, or the admin who raised it withdraws it."""
    row = _pending(session, report_id)
    _decide(session, actor, row, "withdrawn" if actor.name == row.flagged_by else "rejected",
            reason)
    return row


def document(session: Session, row: AbuseReport, issuer: str) -> dict[str, Any]:
    """The report in its fixed schema."""
    org = session.get(Organization, row.organization_id)
    return {
        "schema": SCHEMA, "report_id": row.id, "issuer": issuer,
        "subject": {"kind": row.subject_kind, "id": row.subject_id,
                    "organization": {"id": row.organization_id,
                                     "name": org.name if org else None,
                                     "country": org.country if org else None}},
        "activity": {"category": row.category, "description": row.description,
                     "observed_from": _iso(row.observed_from),
                     "observed_until": _iso(row.observed_until)},
        "evidence": row.evidence,
        "flagged": {"by": row.flagged_by, "at": row.flagged_at.isoformat()},
        "approved": {"by": row.decided_by, "at": _iso(row.decided_at),
                     "reason": row.decision_reason},
    }


def get(session: Session, report_id: str, *, lock: bool = False) -> AbuseReport:
    row = fetch(session, AbuseReport, report_id, lock=lock)
    if row is None:
        raise NotFound(f"no abuse report {report_id!r}")
    return row


def list_reports(session: Session, *, state: str | None = None, cursor: str | None = None,
                 limit: int = 100) -> Page[AbuseReport]:
    query = select(AbuseReport) if state is None else select(AbuseReport).where(
        AbuseReport.state == state)
    return paginate(session, query, (AbuseReport.flagged_at, AbuseReport.id), cursor=cursor,
                    limit=limit, descending=True)


def organization_of(session: Session, kind: str, subject_id: str) -> str:
    """The organization a flagged subject belongs to (404 for an unknown subject)."""
    model = {"organization": Organization, "client": OAuthClient, "person": Person}.get(kind)
    if model is None:
        raise InvalidInput(f"subject_kind must be one of: {', '.join(SUBJECTS)}")
    found = session.get(model, subject_id)
    if found is None:
        raise NotFound(f"no {kind} with id {subject_id!r}")
    return found.id if kind == "organization" else found.organization_id


def target(row: AbuseReport) -> Target:
    return Target("abuse_report", row.id, row.organization_id)


def _pending(session: Session, report_id: str) -> AbuseReport:
    row = get(session, report_id, lock=True)
    if row.state != "pending":
        raise Conflict(f"abuse report {report_id} is already {row.state}", code="not_pending")
    return row


def _decide(session: Session, actor: Actor, row: AbuseReport, state: str, reason: str) -> None:
    row.state, row.decided_by, row.decided_at, row.decision_reason = (
        state, actor.name, actor.now, reason)
    audit.record(session, actor, f"abuse.{state}", target=target(row), reason=reason,
                 details={"flagged_by": row.flagged_by, "decided_by": actor.name})


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
