"""What a policy change does to people: the dry run (who gains or loses which tiers) and
re-imposition (apply a prepared version and revoke every live token it no longer allows,
as one audited event with its effects). Both call the same pure ``decide``."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..attestations.service import summaries_by_person
from ..audit import service as audit
from ..gateway.claims import tiers_from_scope
from ..oauth.models import IssuedToken
from ..organizations.models import Organization, OrganizationStatus
from ..organizations.service import Actor
from ..persons.models import Person
from ..token_status.revocation import live_tokens
from . import service
from .decision import Subject, decide
from .document import Policy, compile_policy
from .subjects import citizenship_by_organization, person_subject

MAX_LISTED = 1000
REVOKE_CHUNK = 500


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
        return person_subject(org.id, org.trust_level, self.citizenship.get(person_id, ()))


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


def reimpose(session: Session, actor: Actor, version: int, *, reason: str,
             on_pending: str | None = None) -> dict[str, Any]:
    """Activate ``version`` now and revoke every live token it no longer allows; one audit
    event records the activation and its effects."""
    service.lock_policy(session)
    before = service.active_version(session, actor.now)
    later = [r.id for r in service.pending_after(session, actor.now)]
    activation = service.activate(session, actor, version, reason=reason, kind="reimpose",
                                  audited=False, on_pending=on_pending)
    effects: dict[str, Any] = {"before": before, "after": version,
                               "activation": activation.id}
    if later:
        effects["pending"] = {"decision": on_pending, "activations": later}
    policy = compile_policy(version, service.get_version(session, version).document)
    effects.update(_revoke_disallowed(session, policy, actor.now))
    audit.record(session, at=actor.now, actor=actor.name, action="policy.reimposed",
                 target=f"policy:{version}", reason=reason, details=effects)
    return effects


def _change(subject_id: str, subject: Subject | None, current: Policy, proposed: Policy,
            now: datetime) -> dict[str, Any] | None:
    if subject is None:
        return None
    before = set(decide(current, subject, None, now).granted)
    after = set(decide(proposed, subject, None, now).granted)
    if before == after:
        return None
    return {"id": subject_id, "gains": sorted(after - before), "loses": sorted(before - after)}


def _revoke_disallowed(session: Session, policy: Policy, now: datetime) -> dict[str, Any]:
    subjects = Subjects(session, now)
    tokens = session.execute(select(
        IssuedToken.jti, IssuedToken.organization_id, IssuedToken.subject, IssuedToken.scope,
        IssuedToken.client_id).where(*live_tokens(now))).all()
    doomed: list[str] = []
    reasons: Counter[str] = Counter()
    for jti, org_id, subject_id, scope, client_id in tokens:
        subject = (subjects.organization(org_id) if subject_id == client_id
                   else subjects.person(subject_id, org_id))
        denied = (decide(policy, subject, tiers_from_scope(scope), now).denied
                  if subject is not None else {"*": "organization_not_verified"})
        if denied:
            doomed.append(jti)
            reasons.update(denied.values())
    for start in range(0, len(doomed), REVOKE_CHUNK):
        session.execute(update(IssuedToken)
                        .where(IssuedToken.jti.in_(doomed[start:start + REVOKE_CHUNK]))
                        .values(revoked_at=now).execution_options(synchronize_session=False))
    return {"checked": len(tokens), "revoked": len(doomed), "reasons": dict(reasons),
            "jtis": doomed[:100]}
