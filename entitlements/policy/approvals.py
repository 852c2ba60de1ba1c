"""Two-person control on the policy: which actions need a second admin's approval (a
setting), and the requests that wait for one. What an approved request does is
``operations.policy_changes``'s."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit.targets import Target
from ..base.actor import Actor
from ..base.db import fetch, serialize
from ..base.errors import Conflict, Forbidden, NotFound
from ..base.ids import new_id
from ..base.pages import Page, paginate
from ..base.settings import TWO_PERSON_ACTIONS
from .models import PolicyChangeRequest

ACTIONS = TWO_PERSON_ACTIONS
#: A request not decided within this is stale: the world it was asked in has moved on.
REQUEST_LIFETIME = timedelta(days=7)


@dataclass(frozen=True)
class ApprovalRule:
    """The policy actions that need a second admin (``ENTITLEMENTS_TWO_PERSON_POLICY``)."""

    actions: frozenset[str]

    @classmethod
    def of(cls, setting: str) -> ApprovalRule:
        return cls(frozenset(a for a in setting.split(",") if a in ACTIONS))

    def covers(self, action: str) -> bool:
        return action in self.actions


def request(session: Session, actor: Actor, action: str, params: dict[str, Any],
            reason: str) -> PolicyChangeRequest:
    """A change waiting for a second admin; Conflict (``already_pending``) when the same
    change already waits (a double submission, or two admins asking alike at once)."""
    serialize(session, "policy_change_requests")
    waiting = session.scalars(select(PolicyChangeRequest).where(
        PolicyChangeRequest.state == "pending", PolicyChangeRequest.action == action,
        PolicyChangeRequest.expires_at > actor.now))
    same = next((r for r in waiting if r.params == params), None)
    if same is not None:
        raise Conflict(f"the same change already waits for a second admin ({same.id}, asked "
                       f"by {same.requested_by})", code="already_pending")
    row = PolicyChangeRequest(id=new_id("pcr"), action=action, params=params, reason=reason,
                              requested_by=actor.name, requested_at=actor.now,
                              expires_at=actor.now + REQUEST_LIFETIME, state="pending")
    session.add(row)
    session.flush()
    audit.record(session, actor, "policy.change_requested", target=target(row),
                 reason=reason, details={"action": action, "params": params})
    return row


def get(session: Session, request_id: str, *, lock: bool = False) -> PolicyChangeRequest:
    row = fetch(session, PolicyChangeRequest, request_id, lock=lock)
    if row is None:
        raise NotFound(f"no policy change request {request_id!r}")
    return row


def pending(session: Session, request_id: str, now: datetime) -> PolicyChangeRequest:
    """A request that may still be decided (locked): pending and not stale."""
    row = get(session, request_id, lock=True)
    if row.state != "pending":
        raise Conflict(f"policy change request {request_id} is already {row.state}",
                       code="not_pending")
    if row.expires_at <= now:
        raise Conflict(f"policy change request {request_id} is older than "
                       f"{REQUEST_LIFETIME.days} days; ask again", code="request_expired")
    return row


def check_second_admin(row: PolicyChangeRequest, actor: Actor) -> None:
    if actor.name == row.requested_by:
        raise Forbidden("two-person rule: the admin who asked for a policy change cannot "
                        "approve it", code="two_person_rule")


def decide(session: Session, actor: Actor, row: PolicyChangeRequest, state: str,
           reason: str, result: dict[str, Any] | None = None) -> None:
    """Record the decision and audit it with both names."""
    row.state, row.decided_by, row.decided_at = state, actor.name, actor.now
    row.decision_reason, row.result = reason, result
    audit.record(session, actor, f"policy.change_{state}", target=target(row), reason=reason,
                 details={"action": row.action, "requested_by": row.requested_by,
                          "decided_by": actor.name, "result": result})


#: The states a listing can ask for.
STATES = ("pending", "approved", "rejected", "withdrawn", "expired")


def list_requests(session: Session, *, now: datetime, states: Iterable[str] = (),
                  cursor: str | None = None, limit: int = 100) -> Page[PolicyChangeRequest]:
    """Newest first; ``states`` as ``state`` tells them (``expired`` is a pending request
    past its time, which ``pending`` leaves out)."""
    query = select(PolicyChangeRequest)
    wanted = set(states)
    if wanted:
        stored = wanted - {"expired"} | ({"pending"} if "expired" in wanted else set())
        query = query.where(PolicyChangeRequest.state.in_(sorted(stored)))
        if "pending" in wanted and "expired" not in wanted:
            query = query.where(PolicyChangeRequest.expires_at > now)
        elif "expired" in wanted and "pending" not in wanted:
            query = query.where(or_(PolicyChangeRequest.state != "pending",
                                    PolicyChangeRequest.expires_at <= now))
    return paginate(session, query, (PolicyChangeRequest.requested_at, PolicyChangeRequest.id),
                    cursor=cursor, limit=limit, descending=True)


def target(row: PolicyChangeRequest) -> Target:
    return Target("policy_change", row.id, row.params.get("organization_id"))


@dataclass(frozen=True)
class Approval:
    """Who asked for a change and who approved it: recorded with what it did."""

    request_id: str
    requested_by: str
    approved_by: str

    def details(self) -> dict[str, str]:
        return {"request": self.request_id, "requested_by": self.requested_by,
                "approved_by": self.approved_by}
