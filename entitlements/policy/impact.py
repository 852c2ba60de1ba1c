"""What a policy change does to people: the dry run (who gains or loses which tiers), and the
decision subjects it and re-imposition (``operations.reimposition``) judge with the same pure
``decide``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..attestations.citizenship import CitizenshipSummary, summaries_by_person
from ..kernel.policy import Subject, decide
from ..organizations.models import Organization, OrganizationStatus
from ..persons.models import Person
from . import service
from .document import Policy, compile_policy
from .subjects import citizenship_by_organization, person_subject

MAX_LISTED = 1000


class Subjects:
    """Decision subjects for every verified organization and its persons, read in a few
    queries and reused across both policies."""

    def __init__(self, session: Session, now: datetime) -> None:
        self.orgs = {o.id: o for o in session.scalars(
            select(Organization).where(Organization.status == OrganizationStatus.VERIFIED))}
        self.citizenship = summaries_by_person(session, now)
        self.persons = [(p.id, p.organization_id) for p in session.scalars(
            select(Person).where(Person.organization_id.in_(list(self.orgs))))]
        attested = citizenship_by_organization(session, now)
        self._org_subjects = {
            org.id: Subject(org.id, org.trust_level, False, attested.get(org.id, ()))
            for org in self.orgs.values()}

    def organization(self, org_id: str) -> Subject | None:
        return self._org_subjects.get(org_id)

    def person(self, person_id: str, org_id: str) -> Subject | None:
        org = self.orgs.get(org_id)
        if org is None:
            return None
        held = self.citizenship.get(person_id, CitizenshipSummary())
        return person_subject(org.id, org.trust_level, held)


def dry_run(session: Session, candidate: int, now: datetime) -> dict[str, Any]:
    """Who gains and who loses which tiers if ``candidate`` became active at ``now``."""
    current = service.active_policy(session, now)
    proposed = compile_policy(candidate, service.get_version(session, candidate).document)
    subjects = Subjects(session, now)
    orgs = [_change(org_id, subjects.organization(org_id), current, proposed, now)
            for org_id in sorted(subjects.orgs)]
    persons = [_change(pid, subjects.person(pid, oid), current, proposed, now)
               for pid, oid in sorted(subjects.persons)]
    orgs, persons = [c for c in orgs if c], [c for c in persons if c]
    later = [{"activation": r.id, "version": r.version, "activate_at": r.activate_at.isoformat()}
             for r in service.pending_after(session, now)]
    return {"from_version": current.version, "to_version": candidate, "at": now.isoformat(),
            "replaced_later_by": later,
            "counts": {"organizations": len(orgs), "persons": len(persons)},
            "organizations": orgs[:MAX_LISTED], "persons": persons[:MAX_LISTED],
            "truncated": len(orgs) > MAX_LISTED or len(persons) > MAX_LISTED}


def _change(subject_id: str, subject: Subject | None, current: Policy, proposed: Policy,
            now: datetime) -> dict[str, Any] | None:
    """What the subject gains and loses in bearer tokens and, where that differs (a sender
    constraint), in DPoP-bound ones."""
    if subject is None:
        return None
    bearer = _gains_and_losses(subject, current, proposed, now)
    bound = _gains_and_losses(subject._replace(dpop_bound=True), current, proposed, now)
    if not any(bearer.values()) and not any(bound.values()):
        return None
    return {"id": subject_id, **bearer, **({"dpop_bound": bound} if bound != bearer else {})}


def _gains_and_losses(subject: Subject, current: Policy, proposed: Policy, now: datetime
                      ) -> dict[str, list[str]]:
    before = set(decide(current, subject, None, now).granted)
    after = set(decide(proposed, subject, None, now).granted)
    return {"gains": sorted(after - before), "loses": sorted(before - after)}
