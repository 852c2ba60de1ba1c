"""Explain a decision: may this organization, client or person use this model (or these
tiers) at this time; if not, why, and which model to route to instead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ..attestations.service import citizenship_summary
from ..clients.models import OAuthClient
from ..errors import InvalidInput, NotFound
from ..organizations.models import Organization, OrganizationStatus
from ..persons.models import Person
from .decision import REASONS, Decision, ModelDecision, Subject, decide, decide_model
from .document import Policy
from .subjects import organization_subject, person_subject


@dataclass(frozen=True)
class SubjectRef:
    organization_id: str | None = None
    client_id: str | None = None
    person_id: str | None = None


def resolve(session: Session, ref: SubjectRef, at: datetime) -> tuple[Subject, dict[str, str]]:
    """The decision subject a reference names, and how to show it."""
    given = [name for name, value in vars(ref).items() if value]
    if len(given) != 1:
        raise InvalidInput("name exactly one of organization_id, client_id or person_id",
                           code="no_subject")
    if ref.person_id:
        person = _get(session, Person, ref.person_id, "person")
        org = _get(session, Organization, person.organization_id, "organization")
        summary = citizenship_summary(session, person.id, at, timedelta(0))
        return (person_subject(org.id, org.trust_level, summary),
                {"person_id": person.id, "organization_id": org.id})
    org_id = ref.organization_id or _get(session, OAuthClient, ref.client_id,
                                         "client").organization_id
    org = _get(session, Organization, org_id, "organization")
    return organization_subject(session, org, at), {"organization_id": org.id}


def explain(session: Session, policy: Policy, ref: SubjectRef, at: datetime, *,
            model: str | None = None, tiers: list[str] | None = None) -> dict[str, Any]:
    subject, shown = resolve(session, ref, at)
    verified = _organization_verified(session, subject.organization_id)
    decision = decide(policy, subject, tiers, at)
    if not verified:
        decision = Decision(policy.version, (), {t: "organization_not_verified"
                                                 for t in (tiers or policy.tiers)})
    body: dict[str, Any] = {
        "policy_version": policy.version, "at": at.isoformat(), "subject": shown,
        "granted": list(decision.granted),
        "denied": {t: _why(reason) for t, reason in sorted(decision.denied.items())}}
    if model is not None:
        chosen = decide_model(policy, subject, model, at)
        if not verified:
            chosen = ModelDecision("deny", model, chosen.tier, None, "organization_not_verified",
                                   policy.version)
        body["model"] = {"outcome": chosen.outcome, "requested": chosen.model,
                         "tier": chosen.tier, "route_to": chosen.route_to,
                         **(_why(chosen.reason) if chosen.reason else {})}
    return body


def _organization_verified(session: Session, org_id: str) -> bool:
    org = session.get(Organization, org_id)
    return org is not None and org.status == OrganizationStatus.VERIFIED


def _why(reason: str) -> dict[str, str]:
    return {"reason": reason, "message": REASONS.get(reason, reason)}


def _get(session: Session, model: Any, key: str | None, what: str) -> Any:
    row = session.get(model, key) if key else None
    if row is None:
        raise NotFound(f"no {what} with id {key!r}")
    return row
