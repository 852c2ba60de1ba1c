"""Who could use which tier at an instant T, rebuilt from history: the policy version in force
at T (the activation schedule), each organization's status and trust at T (its history),
the persons it had then, the citizenship verifications valid at T from issuers active at T
(their suspensions are in the audit log), and the organizations' own citizenship
attestations valid at T; each judged by the same pure ``decide`` as tokens are.

What it rebuilds is what a token request at T would have been granted (a bearer token, and
where a tier needs one, a DPoP-bound one)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..attestations.citizenship import summarize
from ..attestations.models import AttestationIssuer, VerifiedAttestation
from ..audit.models import AuditEvent
from ..base.db import Database
from ..base.errors import InvalidInput, NotFound
from ..base.progress import Tracker
from ..kernel.policy import Citizenship, Policy, Subject, decide
from ..organizations.models import (
    Organization,
    OrganizationChange,
    OrganizationStatus,
)
from ..persons.models import Person
from ..policy.document import compile_policy
from ..policy.models import PolicyVersion
from ..policy.store import load_schedule
from ..policy.subjects import citizenship_by_organization, person_subject

ISSUER_MOVES = ("issuer.suspended", "issuer.reinstated")


@dataclass(frozen=True)
class Standing:
    organization_id: str
    name: str
    status: str
    trust_level: str


@dataclass
class Rebuilt:
    at: datetime
    policy_version: int
    activation: int
    organizations: list[dict[str, Any]] = field(default_factory=list)
    persons: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, Any]:
        tiers: dict[str, Counter[str]] = defaultdict(Counter)
        for kind, rows in (("organizations", self.organizations), ("persons", self.persons)):
            for row in rows:
                for tier in row["tiers"]:
                    tiers[tier][kind] += 1
        return {"organizations": len(self.organizations), "persons": len(self.persons),
                "by_tier": {t: dict(c) for t, c in sorted(tiers.items())}}

    def as_json(self, limit: int | None = None) -> dict[str, Any]:
        """The rebuild as JSON; with ``limit``, at most that many of each list."""
        return {"at": self.at.isoformat(), "policy_version": self.policy_version,
                "activation": self.activation, "counts": self.counts(),
                "organizations": self.organizations[:limit],
                "persons": self.persons[:limit],
                "truncated": limit is not None and max(
                    len(self.organizations), len(self.persons)) > limit}


@dataclass(frozen=True)
class History:
    """What the rebuild reads from the database, all at once: then the session can close
    (long work must not hold it) and the decisions run in memory."""

    at: datetime
    policy: Policy
    activation: int
    standing: dict[str, Standing]
    persons: list[tuple[str, str]]
    attested: dict[str, tuple[Citizenship, ...]]
    facts: dict[str, list[VerifiedAttestation]]


def check(session: Session, at: datetime, organization_id: str | None, now: datetime) -> None:
    """Refuse a question history cannot answer yet: an instant still to come (what will be
    scheduled, suspended or verified by then is not written), or an unknown organization."""
    if at > now:
        raise InvalidInput(f"{at.isoformat()} is still to come: who could use what is known "
                           "for instants up to now", code="instant_in_the_future")
    if organization_id is not None and session.get(Organization, organization_id) is None:
        raise NotFound(f"no organization with id {organization_id!r}")


def load(session: Session, at: datetime, organization_id: str | None = None) -> History:
    activation = load_schedule(session).activation_at(at)
    if activation is None:
        raise NotFound(f"no policy version was in force at {at.isoformat()}",
                       code="no_active_version")
    policy = compile_policy(activation.version,
                            session.get(PolicyVersion, activation.version).document)
    standing = standing_at(session, at, organization_id)
    return History(at, policy, activation.id, standing,
                   persons_at(session, at, standing, organization_id),
                   citizenship_by_organization(session, at, organization_id, as_of=at),
                   verifications_at(session, at, organization_id))


def who_could(session: Session, at: datetime, tracker: Tracker, *,
              organization_id: str | None = None) -> Rebuilt:
    """Every organization's and person's tiers at ``at`` (or one organization's)."""
    return rebuild(load(session, at, organization_id), tracker)


def rebuild(history: History, tracker: Tracker) -> Rebuilt:
    """Each organization and person judged as a token request at ``history.at`` would have
    been; ``tracker`` follows them."""
    at, policy, standing = history.at, history.policy, history.standing
    tracker.expect(len(standing) + len(history.persons))
    rebuilt = Rebuilt(at, policy.version, history.activation)
    for org in standing.values():
        subject = Subject(org.organization_id, org.trust_level, False,
                          history.attested.get(org.organization_id, ()))
        rebuilt.organizations.append({
            "id": org.organization_id, "name": org.name, "status": org.status,
            "trust_level": org.trust_level, **_judged(policy, subject, org.status, at)})
        tracker.advance()
    for person_id, org_id in history.persons:
        org = standing[org_id]
        summary = summarize(history.facts.get(person_id, ()))
        subject = person_subject(org_id, org.trust_level, summary)
        rebuilt.persons.append({
            "id": person_id, "organization_id": org_id,
            "citizenship": [{"nationality": c.nationality, "level": c.level,
                             "expires_at": c.expires_at.isoformat()} for c in summary.held],
            "attestations": list(summary.attestations),
            **_judged(policy, subject, org.status, at)})
        tracker.advance()
    return rebuilt


def _judged(policy: Policy, subject: Subject, status: str, at: datetime) -> dict[str, Any]:
    """The tiers a bearer token would have been granted, those only a DPoP-bound one
    would, and why each other tier would have been denied."""
    if status != OrganizationStatus.VERIFIED:
        return {"tiers": [], "dpop_only": [],
                "denied": dict.fromkeys(policy.tiers, "organization_not_verified")}
    bearer = decide(policy, subject, None, at)
    bound = decide(policy, subject._replace(dpop_bound=True), None, at)
    return {"tiers": list(bearer.granted),
            "dpop_only": sorted(set(bound.granted) - set(bearer.granted)),
            "denied": {t: r for t, r in bound.denied.items()}}


def standing_at(session: Session, at: datetime, organization_id: str | None = None
                ) -> dict[str, Standing]:
    """Each organization that existed at ``at``: its status and trust then (its latest
    change by then)."""
    latest = (select(func.max(OrganizationChange.id))
              .where(OrganizationChange.at <= at).group_by(OrganizationChange.organization_id))
    if organization_id is not None:
        latest = latest.where(OrganizationChange.organization_id == organization_id)
    rows = session.execute(
        select(OrganizationChange.organization_id, Organization.name,
               OrganizationChange.to_status, OrganizationChange.to_trust)
        .join(Organization, Organization.id == OrganizationChange.organization_id)
        .where(OrganizationChange.id.in_(latest)).order_by(Organization.name))
    return {row[0]: Standing(*row) for row in rows}


def persons_at(session: Session, at: datetime, standing: dict[str, Standing],
               organization_id: str | None = None) -> list[tuple[str, str]]:
    """The persons that existed at ``at``, of the organizations given (of one, read so)."""
    query = select(Person.id, Person.organization_id).where(Person.created_at <= at)
    if organization_id is not None:
        query = query.where(Person.organization_id == organization_id)
    rows = session.execute(query.order_by(Person.id))
    return [(person, org) for person, org in rows if org in standing]


def verifications_at(session: Session, at: datetime, organization_id: str | None = None
                     ) -> dict[str, list[VerifiedAttestation]]:
    """Each person's (of one organization's) verifications that were recorded, unexpired,
    and from an issuer that was registered and active at ``at``."""
    active = issuers_active_at(session, at)
    query = select(VerifiedAttestation).where(
        VerifiedAttestation.recorded_at <= at, VerifiedAttestation.verified_at <= at,
        VerifiedAttestation.expires_at > at)
    if organization_id is not None:
        query = query.join(Person, Person.id == VerifiedAttestation.person_id).where(
            Person.organization_id == organization_id)
    rows = session.scalars(query)
    found: dict[str, list[VerifiedAttestation]] = defaultdict(list)
    for row in rows:
        if row.issuer_id in active:
            found[row.person_id].append(row)
    return found


def issuers_active_at(session: Session, at: datetime) -> set[str]:
    """The attestation issuers registered by ``at`` and not suspended then: the last of
    each one's suspensions and reinstatements by then, from the audit log."""
    registered = set(session.scalars(select(AttestationIssuer.id)
                                     .where(AttestationIssuer.created_at <= at)))
    moves = session.execute(
        select(AuditEvent.target, AuditEvent.action).where(
            AuditEvent.action.in_(ISSUER_MOVES), AuditEvent.at <= at)
        .order_by(AuditEvent.at, AuditEvent.seq))
    last = {target: action for target, action in moves}
    return {i for i in registered if last.get(i) != "issuer.suspended"}


def tracked(db: Database, at: datetime, organization_id: str | None,
            listed: int | None = None) -> Callable[[Tracker], dict[str, Any]]:
    """The rebuild as long work: the history read in a short session, the decisions made
    after it closes, the result listing at most ``listed`` of each (all, by default)."""

    def work(tracker: Tracker) -> dict[str, Any]:
        with db.sessions() as session:
            history = load(session, at, organization_id)
        return rebuild(history, tracker).as_json(listed)

    return work
