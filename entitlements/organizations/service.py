"""Organizations: application, lifecycle moves and trust changes; every change is audited
and kept in the organization's history with its actor, reason and evidence."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit import targets
from ..base.actor import Actor
from ..base.countries import is_country
from ..base.db import fetch
from ..base.errors import Conflict, Forbidden, InvalidInput, NotFound
from ..base.ids import new_id
from ..base.pages import Page, paginate
from . import lifecycle
from .models import (
    TWO_PERSON_LEVELS,
    Evidence,
    Organization,
    OrganizationChange,
    OrganizationStatus,
    TrustLevel,
    TrustRequest,
)


def apply(session: Session, actor: Actor, name: str, country: str | None = None
          ) -> Organization:
    """Record an application: the organization starts as ``applied`` and unverified."""
    org = _new(session, actor, name, country, OrganizationStatus.APPLIED, TrustLevel.UNVERIFIED)
    _changed(session, actor, org, "apply", OrganizationStatus.APPLIED, TrustLevel.UNVERIFIED,
             "application received", {"country": country})
    return org


def create(session: Session, actor: Actor, name: str, trust_level: str = TrustLevel.VERIFIED,
           country: str | None = None) -> Organization:
    """Onboard an organization in one step, vouched for by one admin: verified status,
    trust at most ``verified`` (higher trust always takes the two-person rule)."""
    trust = _trust(trust_level)
    if trust in TWO_PERSON_LEVELS:
        raise Forbidden(f"trust {trust} needs a second admin: create the organization, then "
                        "request the trust level and have another admin approve it")
    org = _new(session, actor, name, country, OrganizationStatus.VERIFIED, trust)
    _changed(session, actor, org, "create", OrganizationStatus.VERIFIED, trust,
             "onboarded by an admin", {"country": country})
    return org


def get(session: Session, org_id: str, *, lock: bool = False) -> Organization:
    """The organization; with ``lock``, locked for a transition (``base.db.locked``)."""
    org = fetch(session, Organization, org_id, lock=lock)
    if org is None:
        raise NotFound(f"no organization with id {org_id!r}")
    return org


def names(session: Session, org_ids: Iterable[str]) -> dict[str, str]:
    """Each organization's name by id, in one query (ids not found are left out)."""
    wanted = set(org_ids)
    if not wanted:
        return {}
    rows = session.execute(select(Organization.id, Organization.name)
                           .where(Organization.id.in_(wanted)))
    return {org_id: name for org_id, name in rows}


def find_by_name(session: Session, name: str) -> Organization | None:
    return session.scalar(select(Organization).where(Organization.name == name))


def list_all(session: Session, *, statuses: Collection[str] = (), cursor: str | None = None,
             limit: int = 100) -> Page[Organization]:
    """Oldest first; only those in ``statuses`` when given (the review queue)."""
    query = select(Organization)
    if statuses:
        query = query.where(Organization.status.in_(list(statuses)))
    return paginate(session, query, (Organization.created_at, Organization.id), cursor=cursor,
                    limit=limit)


def move(session: Session, actor: Actor, org_id: str, action: str, reason: str,
         evidence: dict[str, Any] | None = None, *, required: Collection[str] = ()
         ) -> Organization:
    """Apply a lifecycle action (review, verify, suspend, reinstate, revoke); ``verify``
    needs verified evidence of each ``required`` kind."""
    org = get(session, org_id, lock=True)
    target = lifecycle.next_status(org.status, action)
    trust = org.trust_level
    if action == "verify":
        evidence = {**(evidence or {}), **_required_evidence(session, org.id, required, action)}
        if trust == TrustLevel.UNVERIFIED:
            trust = TrustLevel.VERIFIED
    _changed(session, actor, org, action, target, TrustLevel(trust), _reason(reason), evidence)
    return org


def request_trust(session: Session, actor: Actor, org_id: str, level: str, reason: str,
                  ) -> TrustRequest:
    """Ask for a higher trust level; a different admin must approve it. One request per
    level is pending at a time."""
    org = get(session, org_id, lock=True)
    target = _trust(level)
    if target not in TWO_PERSON_LEVELS:
        raise InvalidInput(f"only {', '.join(sorted(TWO_PERSON_LEVELS))} are requested; "
                           "an organization becomes verified by the verify action")
    if org.status != OrganizationStatus.VERIFIED:
        raise Conflict(f"organization {org_id} is {org.status}; only a verified organization's "
                       "trust can be raised", code="invalid_transition")
    if target.rank <= TrustLevel(org.trust_level).rank:
        raise Conflict(f"organization {org_id} is already {org.trust_level}")
    waiting = session.scalar(select(TrustRequest.id).where(
        TrustRequest.organization_id == org.id, TrustRequest.level == target,
        TrustRequest.state == "pending"))
    if waiting:
        raise Conflict(f"trust request {waiting} for {target} is already pending",
                       code="already_pending")
    request = TrustRequest(id=new_id("trq"), organization_id=org.id, level=target,
                           requested_by=actor.name, requested_at=actor.now,
                           reason=_reason(reason), state="pending")
    session.add(request)
    audit.record(session, actor, "organization.trust_requested",
                 target=targets.organization(org.id), reason=request.reason,
                 details={"request": request.id, "level": target.value})
    return request


def approve_trust(session: Session, actor: Actor, request_id: str, reason: str,
                  evidence: dict[str, Any] | None = None, *,
                  required: Callable[[str], Collection[str]] = lambda level: ()
                  ) -> Organization:
    """The second admin's approval: applies the requested level (two-person rule), given
    verified evidence of each kind the level requires (``Settings.evidence_required``)."""
    request = _pending(session, request_id)
    if actor.name == request.requested_by:
        raise Forbidden("two-person rule: the admin who requested a trust level cannot "
                        "approve it", code="two_person_rule")
    org = get(session, request.organization_id, lock=True)
    if org.status != OrganizationStatus.VERIFIED:
        raise Conflict(f"organization {org.id} is {org.status}", code="invalid_transition")
    if TrustLevel(request.level).rank <= TrustLevel(org.trust_level).rank:
        raise Conflict(f"organization {org.id} is already {org.trust_level}; a request for "
                       f"{request.level} would not raise its trust (use lower-trust)")
    considered = _required_evidence(session, org.id, required(request.level),
                                    f"raising trust to {request.level}")
    evidence = {**(evidence or {}), **considered}
    _decide(request, actor, "approved", reason)
    _changed(session, actor, org, "raise_trust", OrganizationStatus.VERIFIED,
             TrustLevel(request.level), request.reason, evidence,
             approved_by=actor.name, requested_by=request.requested_by)
    return org


def get_trust_request(session: Session, request_id: str, *, lock: bool = False
                      ) -> TrustRequest:
    request = fetch(session, TrustRequest, request_id, lock=lock)
    if request is None:
        raise NotFound(f"no trust request with id {request_id!r}")
    return request


def reject_trust(session: Session, actor: Actor, request_id: str, reason: str, *,
                 may_reject_others: bool = True) -> TrustRequest:
    """Turn a trust request down: the admin who asked withdraws it, or another who may
    approve trust rejects it."""
    request = _pending(session, request_id)
    own = request.requested_by == actor.name
    if not own and not may_reject_others:
        raise Forbidden("only the admin who asked may withdraw this trust request; a trust "
                        "approver rejects it", code="not_yours")
    _decide(request, actor, "rejected", reason)
    audit.record(session, actor, "organization.trust_withdrawn" if own
                 else "organization.trust_rejected",
                 target=targets.organization(request.organization_id),
                 reason=request.decision_reason,
                 details={"request": request.id, "level": request.level})
    return request


def lower_trust(session: Session, actor: Actor, org_id: str, level: str, reason: str
                ) -> Organization:
    """Lowering trust reduces risk, so one admin may do it (``operations`` also revokes the
    organization's live tokens, which claim the higher trust)."""
    org = get(session, org_id, lock=True)
    target = _trust(level)
    if target.rank >= TrustLevel(org.trust_level).rank:
        raise Conflict(f"{target} is not lower than {org.trust_level}")
    _changed(session, actor, org, "lower_trust", OrganizationStatus(org.status), target,
             _reason(reason), None)
    return org


def history(session: Session, org_id: str, *, cursor: str | None = None, limit: int = 100
            ) -> Page[OrganizationChange]:
    get(session, org_id)
    return paginate(session, select(OrganizationChange).where(
        OrganizationChange.organization_id == org_id), (OrganizationChange.id,),
        cursor=cursor, limit=limit)


def trust_requests(session: Session, org_id: str | None = None, state: str | None = None, *,
                   decided: bool = False, newest_first: bool = False,
                   cursor: str | None = None, limit: int = 100) -> Page[TrustRequest]:
    """Trust requests, oldest first (or newest): of an organization, in a state, or
    ``decided`` (in any state but pending)."""
    query = select(TrustRequest)
    if org_id:
        query = query.where(TrustRequest.organization_id == org_id)
    if state:
        query = query.where(TrustRequest.state == state)
    if decided:
        query = query.where(TrustRequest.state != "pending")
    return paginate(session, query, (TrustRequest.requested_at, TrustRequest.id),
                    cursor=cursor, limit=limit, descending=newest_first)


def _new(session: Session, actor: Actor, name: str, country: str | None,
         status: OrganizationStatus, trust: TrustLevel) -> Organization:
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("organization name must be 1 to 200 characters")
    if country is not None and not is_country(country):
        raise InvalidInput("country must be an ISO 3166-1 alpha-2 code, such as US")
    if find_by_name(session, name) is not None:
        raise Conflict(f"an organization named {name!r} already exists")
    org = Organization(id=new_id("org"), name=name, status=status, trust_level=trust,
                       country=country, created_at=actor.now, updated_at=actor.now)
    session.add(org)
    session.flush()
    return org


def _changed(session: Session, actor: Actor, org: Organization, action: str,
             status: OrganizationStatus, trust: TrustLevel, reason: str,
             evidence: dict[str, Any] | None, *, approved_by: str | None = None,
             requested_by: str | None = None) -> None:
    """Apply the new status and trust, and record the change in history and audit log."""
    change = OrganizationChange(
        organization_id=org.id, at=actor.now, actor=requested_by or actor.name, action=action,
        from_status=org.status if action not in ("apply", "create") else status,
        to_status=status, from_trust=org.trust_level if action not in ("apply", "create")
        else trust, to_trust=trust, reason=reason, evidence=evidence or {},
        approved_by=approved_by,
    )
    session.add(change)
    details = {"status": [change.from_status, status.value],
               "trust": [change.from_trust, trust.value], "evidence": evidence or {}}
    if approved_by:
        details["requested_by"], details["approved_by"] = requested_by, approved_by
    org.status, org.trust_level, org.updated_at = status, trust, actor.now
    audit.record(session, actor, f"organization.{_PAST[action]}",
                 target=targets.organization(org.id), reason=reason, details=details)


_PAST = {"apply": "applied", "create": "created", "review": "under_review",
         "verify": "verified", "suspend": "suspended", "reinstate": "reinstated",
         "revoke": "revoked", "raise_trust": "trust_raised", "lower_trust": "trust_lowered"}



def missing_evidence(session: Session, org_id: str, required: Collection[str]) -> list[str]:
    """The kinds of ``required`` evidence the organization has no verified piece of."""
    return sorted(set(required) - {e.kind for e in _verified_evidence(session, org_id)})


def _verified_evidence(session: Session, org_id: str) -> list[Evidence]:
    return list(session.scalars(select(Evidence).where(Evidence.organization_id == org_id,
                                                       Evidence.status == "verified")))


def _required_evidence(session: Session, org_id: str, required: Collection[str], what: str
                       ) -> dict[str, Any]:
    """The verified evidence considered, or Conflict naming each required kind missing."""
    verified = _verified_evidence(session, org_id)
    missing = sorted(set(required) - {e.kind for e in verified})
    if missing:
        raise Conflict(f"{what} needs verified evidence of: {', '.join(missing)}",
                       code="evidence_missing")
    return {"verified_evidence": [{"id": e.id, "kind": e.kind, "value": e.value}
                                  for e in verified if e.kind in required]} if required else {}


def _pending(session: Session, request_id: str) -> TrustRequest:
    request = get_trust_request(session, request_id, lock=True)
    if request.state != "pending":
        raise Conflict(f"trust request {request_id} is already {request.state}")
    return request


def _decide(request: TrustRequest, actor: Actor, state: str, reason: str) -> None:
    decision_reason = _reason(reason)
    request.state, request.decided_by, request.decided_at = state, actor.name, actor.now
    request.decision_reason = decision_reason


def _trust(value: str) -> TrustLevel:
    try:
        return TrustLevel(value)
    except ValueError:
        allowed = ", ".join(t.value for t in TrustLevel)
        raise InvalidInput(f"trust level must be one of: {allowed}") from None


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        raise InvalidInput("a reason of 1 to 500 characters is required")
    return reason
