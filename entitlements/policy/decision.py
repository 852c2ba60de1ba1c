"""The entitlement decision: a pure function of (policy version, subject facts, requested
tiers, now). No I/O: issuance, explain, dry runs and re-imposition all call it on an
immutable, cached ``Policy``, so it costs microseconds and gives the same answer everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from .document import Model, Policy, TierRule

#: Why a tier is denied; stable codes, listed in the README.
REASONS = {
    "unknown_tier": "the tier does not exist in this policy version",
    "tier_suspended": "the tier is suspended",
    "not_on_allowlist": "the tier is open only to an allowlist the organization is not on",
    "trust_level_too_low": "the organization's trust level does not qualify",
    "outside_window": "the tier is not available to this organization at this time",
    "citizenship_not_verified": "the person has no current verified citizenship that "
                                "qualifies",
    "organization_attestation_required": "an organization-level caller needs the "
                                         "organization's citizenship attestation",
    "person_subject_required": "only tokens for verified persons may use this tier",
    "unknown_model": "the model is not in the catalog",
    "model_not_released": "the model is not released yet",
    "organization_not_verified": "the organization is not verified (applied, under review, "
                                 "suspended or revoked)",
}


@dataclass(frozen=True, slots=True)
class Citizenship:
    nationality: str
    rank: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Subject:
    """What the decision knows of a caller. ``citizenship`` is the person's verified
    nationalities, or for an organization subject its attestation about all its users."""

    organization_id: str
    trust_level: str
    is_person: bool
    citizenship: tuple[Citizenship, ...] = ()


@dataclass(frozen=True)
class Decision:
    version: int
    granted: tuple[str, ...]
    denied: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelDecision:
    """``allow`` the model, ``fallback`` to another, or ``deny``; ``reason`` says why the
    requested model was not allowed."""

    outcome: str
    model: str
    tier: str | None
    route_to: str | None
    reason: str | None
    version: int


def decide(policy: Policy, subject: Subject, requested: Iterable[str] | None,
           now: datetime) -> Decision:
    """The tiers granted and denied (with reasons); ``None`` requests every tier."""
    granted: list[str] = []
    denied: dict[str, str] = {}
    tiers = policy.tiers
    for name in (tiers if requested is None else requested):
        reason = denial(tiers.get(name), subject, now)
        if reason is None:
            granted.append(name)
        else:
            denied[name] = reason
    return Decision(policy.version, tuple(sorted(granted)), denied)


def denial(rule: TierRule | None, subject: Subject, now: datetime) -> str | None:
    """Why ``subject`` may not use the tier now, or None when it may."""
    if rule is None:
        return "unknown_tier"
    if rule.status != "open":
        if rule.status == "suspended":
            return "tier_suspended"
        if subject.organization_id not in rule.allowlist:
            return "not_on_allowlist"
    if subject.trust_level not in rule.trust_levels:
        return "trust_level_too_low"
    if rule.windows and not any(w.admits(subject.trust_level, now) for w in rule.windows):
        return "outside_window"
    required = rule.citizenship
    if required is None:
        return None
    if not subject.is_person:
        if required.organization_subjects == "allow":
            return None
        if required.organization_subjects == "deny":
            return "person_subject_required"
    for held in subject.citizenship:
        if (held.nationality in required.nationalities and held.rank >= required.min_rank
                and held.expires_at > now):
            return None
    return "citizenship_not_verified" if subject.is_person else (
        "organization_attestation_required")


def decide_model(policy: Policy, subject: Subject, model_id: str, now: datetime
                 ) -> ModelDecision:
    """May ``subject`` use the model now; if not, why, and which model to route to."""
    model = policy.models.get(model_id)
    if model is None:
        return ModelDecision("deny", model_id, None, None, "unknown_model", policy.version)
    reason = _model_denial(policy, model, subject, now)
    if reason is None:
        return ModelDecision("allow", model.id, model.tier, model.id, None, policy.version)
    seen = {model.id}
    candidate = model
    while candidate.fallback is not None and candidate.fallback not in seen:
        candidate = policy.models[candidate.fallback]
        seen.add(candidate.id)
        if _model_denial(policy, candidate, subject, now) is None:
            return ModelDecision("fallback", model.id, model.tier, candidate.id, reason,
                                 policy.version)
    return ModelDecision("deny", model.id, model.tier, None, reason, policy.version)


def _model_denial(policy: Policy, model: Model, subject: Subject, now: datetime) -> str | None:
    if model.released_at is not None and model.released_at > now:
        return "model_not_released"
    return denial(policy.tiers.get(model.tier), subject, now)
