"""The entitlement policy as gateways and the server both read it: compiled tier rules,
the model catalog, and the pure decision. Standard library only.

The server validates a policy document (marshmallow) and compiles it with
``compile_document``; a gateway compiles the signed snapshot's copy of the same document
the same way, so both decide identically.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from .assurance import ASSURANCE_LEVELS, rank

VERIFIED_LEVELS = frozenset({"verified", "trusted", "government_partner"})

#: Why a tier is denied; stable codes.
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
    "tier_not_in_token": "the token does not grant the model's tier",
    "dpop_required": "the tier is granted only in a DPoP-bound token, used with a proof of "
                     "possession of its key",
}
#: The ``sender_constraint`` a tier may require: DPoP (RFC 9449) is the one there is.
SENDER_CONSTRAINTS = ("dpop",)


@dataclass(frozen=True, slots=True)
class Window:
    starts_at: datetime
    ends_at: datetime | None
    trust_levels: frozenset[str] | None

    def admits(self, trust_level: str, now: datetime) -> bool:
        return (self.starts_at <= now and (self.ends_at is None or now < self.ends_at)
                and (self.trust_levels is None or trust_level in self.trust_levels))


@dataclass(frozen=True, slots=True)
class CitizenshipRule:
    nationalities: frozenset[str]
    min_rank: int
    organization_subjects: str


@dataclass(frozen=True, slots=True)
class TierRule:
    name: str
    status: str
    trust_levels: frozenset[str]
    citizenship: CitizenshipRule | None
    allowlist: frozenset[str]
    windows: tuple[Window, ...]
    max_token_lifetime: int | None
    #: "dpop": granted only in a DPoP-bound token; None: any token.
    sender_constraint: str | None = None

    @property
    def universal(self) -> bool:
        """Every verified organization (and any of its people) may use it, at any time,
        with any token."""
        return (self.status == "open" and self.trust_levels >= VERIFIED_LEVELS
                and self.citizenship is None and not self.windows
                and self.sender_constraint is None)


@dataclass(frozen=True, slots=True)
class Model:
    id: str
    tier: str
    fallback: str | None
    released_at: datetime | None


@dataclass(frozen=True)
class Policy:
    """One immutable policy version, compiled."""

    version: int
    tiers: dict[str, TierRule]
    models: dict[str, Model]
    document: dict[str, Any]


class Citizenship(NamedTuple):
    """One verified nationality, at an assurance rank (``ASSURANCE_LEVELS`` index), until
    ``expires_at``: a person's own verification, or an organization's attestation about all
    its users."""

    nationality: str
    rank: int
    expires_at: datetime

    @property
    def level(self) -> str:
        return ASSURANCE_LEVELS[self.rank]


class Subject(NamedTuple):
    """What the decision knows of a caller. ``citizenship`` is the person's verified
    nationalities, or for an organization subject its attestation about all its users.
    ``dpop_bound``: the token is (or is to be) bound to a key its holder proves it has.
    (Named tuples: built and hashed in C, on a gateway's per-request path.)"""

    organization_id: str
    trust_level: str
    is_person: bool
    citizenship: tuple[Citizenship, ...] = ()
    dpop_bound: bool = False


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


def compile_document(version: int, doc: Mapping[str, Any]) -> Policy:
    """A policy from a (valid) document: the server's stored one or a snapshot's copy."""
    tiers = {name: _tier(name, rule) for name, rule in doc["tiers"].items()}
    models = {mid: Model(mid, m["tier"], m.get("fallback"), _time(m.get("released_at")))
              for mid, m in doc.get("models", {}).items()}
    return Policy(version, tiers, models, dict(doc))


def decide(policy: Policy, subject: Subject, requested: Iterable[str] | None,
           now: datetime) -> Decision:
    """The tiers granted and denied (with reasons); ``None`` requests every tier."""
    granted: list[str] = []
    denied: dict[str, str] = {}
    tiers = policy.tiers
    for name in (tiers if requested is None else dict.fromkeys(requested)):
        reason = denial(tiers.get(name), subject, now)
        if reason is None:
            granted.append(name)
        else:
            denied[name] = reason
    return Decision(policy.version, tuple(sorted(granted)), denied)


def denial(rule: TierRule | None, subject: Subject, now: datetime) -> str | None:
    """Why ``subject`` may not use the tier now, or None when it may. The sender constraint
    comes last: a proof of possession is the easiest thing for a caller to add."""
    reason = _standing_denial(rule, subject, now)
    if reason is None and rule is not None and rule.sender_constraint is not None and (
            not subject.dpop_bound):
        return "dpop_required"
    return reason


def _standing_denial(rule: TierRule | None, subject: Subject, now: datetime) -> str | None:
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


def decide_model(policy: Policy, subject: Subject, model_id: str, now: datetime,
                 usable: Callable[[str], bool] | None = None) -> ModelDecision:
    """May ``subject`` use the model now; if not, why, and which model to route to.
    ``usable(tier)`` narrows further (a gateway: the tiers the token itself grants)."""
    model = policy.models.get(model_id)
    if model is None:
        return ModelDecision("deny", model_id, None, None, "unknown_model", policy.version)
    reason = model_denial(policy, model, subject, now, usable)
    if reason is None:
        return ModelDecision("allow", model.id, model.tier, model.id, None, policy.version)
    seen = {model.id}
    candidate = model
    while candidate.fallback is not None and candidate.fallback not in seen:
        candidate = policy.models[candidate.fallback]
        seen.add(candidate.id)
        if model_denial(policy, candidate, subject, now, usable) is None:
            return ModelDecision("fallback", model.id, model.tier, candidate.id, reason,
                                 policy.version)
    return ModelDecision("deny", model.id, model.tier, None, reason, policy.version)


def model_denial(policy: Policy, model: Model, subject: Subject, now: datetime,
                 usable: Callable[[str], bool] | None = None) -> str | None:
    if model.released_at is not None and model.released_at > now:
        return "model_not_released"
    if usable is not None and not usable(model.tier):
        return "tier_not_in_token"
    return denial(policy.tiers.get(model.tier), subject, now)


def _tier(name: str, rule: Mapping[str, Any]) -> TierRule:
    citizenship = rule.get("citizenship")
    return TierRule(
        name=name, status=rule["status"], trust_levels=frozenset(rule["trust_levels"]),
        citizenship=CitizenshipRule(
            frozenset(citizenship["nationalities"]),
            rank(citizenship["min_level"]),
            citizenship["organization_subjects"]) if citizenship else None,
        allowlist=frozenset(rule.get("allowlist", ())),
        windows=tuple(Window(_time(w["starts_at"]), _time(w.get("ends_at")),
                             None if w.get("trust_levels") is None
                             else frozenset(w["trust_levels"]))
                      for w in rule.get("windows", ())),
        max_token_lifetime=rule.get("max_token_lifetime"),
        sender_constraint=rule.get("sender_constraint"))


def _time(value: Any) -> Any:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)
