"""The facts a decision needs about a caller, read from the database: an organization
(its trust level and its citizenship attestation about all its users) or a person (their
organization's trust level and their own verified citizenship)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..attestations.citizenship import CitizenshipSummary, citizenship_summary
from ..kernel.assurance import rank
from ..kernel.policy import Citizenship, Subject
from ..organizations.models import Evidence, EvidenceKind, Organization


def organization_subject(session: Session, org: Organization, now: datetime) -> Subject:
    return Subject(org.id, org.trust_level, False, organization_citizenship(session, org.id,
                                                                            now))


def person_subject(org_id: str, trust_level: str, summary: CitizenshipSummary) -> Subject:
    return Subject(org_id, trust_level, True, summary.held)


def person_subject_from_db(session: Session, org: Organization, person_id: str,
                           now: datetime, min_remaining: timedelta) -> Subject:
    return person_subject(org.id, org.trust_level,
                          citizenship_summary(session, person_id, now, min_remaining))


def organization_citizenship(session: Session, org_id: str, now: datetime | None = None
                             ) -> tuple[Citizenship, ...]:
    """The organization's verified attestations that all its users are citizens (those
    unexpired at ``now`` when given; the decision checks expiry anyway)."""
    return citizenship_by_organization(session, now, org_id).get(org_id, ())


def citizenship_by_organization(session: Session, now: datetime | None = None,
                                org_id: str | None = None, *, as_of: datetime | None = None
                                ) -> dict[str, tuple[Citizenship, ...]]:
    """Every organization's (or one's) citizenship attestations, in one query: unexpired at
    ``now`` when given, and with ``as_of`` those already verified then (history)."""
    query = select(Evidence).where(Evidence.kind == EvidenceKind.CITIZENSHIP,
                                   Evidence.status == "verified")
    if org_id is not None:
        query = query.where(Evidence.organization_id == org_id)
    if as_of is not None:
        query = query.where(Evidence.checked_at <= as_of)
    held: dict[str, list[Citizenship]] = {}
    for row in session.scalars(query):
        expires_at = datetime.fromisoformat(row.details["expires_at"])
        if now is None or expires_at > now:
            level = rank(row.details["level"])
            held.setdefault(row.organization_id, []).extend(
                Citizenship(n, level, expires_at) for n in row.details["nationalities"])
    return {org: tuple(items) for org, items in held.items()}
