"""Explain a decision: may this organization, client or person use this model (or these
tiers) at this time; if not, why, and which model to route to instead."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ..attestations.citizenship import MIN_TOKEN_LIFETIME
from ..base.errors import InvalidInput
from ..clients import service as clients
from ..kernel.policy import REASONS, Decision, ModelDecision, Subject, decide, decide_model
from ..organizations import service as organizations
from ..organizations.models import Organization, OrganizationStatus
from ..persons import service as persons
from .document import Policy
from .subjects import organization_subject, person_subject_from_db

NOT_VERIFIED = "organization_not_verified"


@dataclass(frozen=True)
class SubjectRef:
    organization_id: str | None = None
    client_id: str | None = None
    person_id: str | None = None


def resolve(session: Session, ref: SubjectRef, at: datetime
            ) -> tuple[Subject, Organization, dict[str, str]]:
    """The decision subject a reference names (as token issuance would see it), its
    organization, and how to show it."""
    given = [name for name, value in vars(ref).items() if value]
    if len(given) != 1:
        raise InvalidInput("name exactly one of organization_id, client_id or person_id",
                           code="no_subject")
    if ref.person_id:
        person = persons.get(session, ref.person_id)
        org = organizations.get(session, person.organization_id)
        subject = person_subject_from_db(session, org, person.id, at, MIN_TOKEN_LIFETIME)
        return subject, org, {"person_id": person.id, "organization_id": org.id}
    org_id = ref.organization_id or clients.get(session, ref.client_id).organization_id
    org = organizations.get(session, org_id)
    return organization_subject(session, org, at), org, {"organization_id": org.id}


def explain(session: Session, policy: Policy, ref: SubjectRef, at: datetime, *,
            model: str | None = None, tiers: list[str] | None = None,
            dpop_bound: bool = False) -> dict[str, Any]:
    """The decision for a bearer token about ``ref`` at ``at``, or for a DPoP-bound one."""
    subject, org, shown = resolve(session, ref, at)
    subject = subject._replace(dpop_bound=dpop_bound)
    if org.status == OrganizationStatus.VERIFIED:
        decision = decide(policy, subject, tiers, at)
        chosen = decide_model(policy, subject, model, at) if model is not None else None
    else:  # no token at all: every tier and model is refused for the same reason
        decision = Decision(policy.version, (), {t: NOT_VERIFIED
                                                 for t in (tiers or policy.tiers)})
        chosen = ModelDecision("deny", model, _tier_of(policy, model), None, NOT_VERIFIED,
                               policy.version) if model is not None else None
    body: dict[str, Any] = {
        "policy_version": policy.version, "at": at.isoformat(), "subject": shown,
        "token": "dpop" if dpop_bound else "bearer",
        "granted": list(decision.granted),
        "denied": {t: _why(reason) for t, reason in sorted(decision.denied.items())}}
    if chosen is not None:
        body["model"] = {"outcome": chosen.outcome, "requested": chosen.model,
                         "tier": chosen.tier, "route_to": chosen.route_to,
                         **(_why(chosen.reason) if chosen.reason else {})}
    return body


def _tier_of(policy: Policy, model: str) -> str | None:
    found = policy.models.get(model)
    return found.tier if found is not None else None


def _why(reason: str) -> dict[str, str]:
    return {"reason": reason, "message": REASONS.get(reason, reason)}
