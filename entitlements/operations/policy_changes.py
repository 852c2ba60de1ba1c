"""Policy changes under two-person control: an activation (now or scheduled), a rollback,
a re-imposition or an allowlist edit is applied at once when the rule does not cover it, and
otherwise waits for a second admin's approval, then is applied as the approver's act, its
events naming both admins.

A request is checked when it is made by applying it in a savepoint that is rolled back, so
a change that could not be applied (an unknown version, a time in the past, activations in
its way) is refused then, not only when someone approves it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from ..base.actor import Actor
from ..base.errors import InvalidInput
from ..policy import approvals
from ..policy import service as policy
from ..policy.approvals import Approval, ApprovalRule
from ..policy.models import PolicyChangeRequest, PolicyVersion
from ..policy.schemas import ActivationSchema
from . import reimposition


@dataclass(frozen=True)
class Outcome:
    """What a change request came to: applied (``result``) or waiting (``request``)."""

    request: PolicyChangeRequest | None = None
    result: dict[str, Any] | None = None

    @property
    def pending(self) -> bool:
        return self.request is not None and self.request.state == "pending"


def activation(version: int, *, at: datetime | None, on_pending: str | None,
               reimpose: bool = False) -> tuple[str, dict[str, Any]]:
    """The action and parameters of activating ``version`` now or at ``at``, or, with
    ``reimpose``, now with the live tokens it no longer allows revoked."""
    if reimpose and at is not None:
        raise InvalidInput("revoke_disallowed (--revoke-disallowed) applies to an immediate "
                           "activation")
    if reimpose:
        return "reimpose", {"version": version, "on_pending": on_pending}
    return ("schedule" if at else "activate",
            {"version": version, "at": at.isoformat() if at else None,
             "on_pending": on_pending})


def allowlist_edit(org_id: str, tier: str, *, add: bool, on_pending: str | None
                   ) -> tuple[dict[str, Any], str]:
    """The parameters and reason of putting an organization on a tier's allowlist (or, not
    ``add``, taking it off)."""
    return ({"organization_id": org_id, "tier": tier, "add": add, "on_pending": on_pending},
            f"tier {tier} {'granted to' if add else 'taken from'} {org_id}")


def change(session: Session, actor: Actor, rule: ApprovalRule, action: str,
           params: dict[str, Any], reason: str) -> Outcome:
    """Apply ``action`` now, or ask a second admin when ``rule`` covers it."""
    if not rule.covers(action):
        return Outcome(result=apply(session, actor, action, params, reason))
    with session.begin_nested() as trial:
        # Tried now, so a change that could not be applied is refused when asked. A
        # re-imposition is tried as its activation: its revocations cannot fail, and would
        # touch every live token twice.
        tried = "activate" if action == "reimpose" else action
        apply(session, actor, tried, {"at": None, **params}, reason)
        trial.rollback()
    return Outcome(request=approvals.request(session, actor, action, params, reason))


def new_version(session: Session, actor: Actor, rule: ApprovalRule, *, base_version: int,
                reason: str, document: dict[str, Any] | None = None,
                patch: dict[str, Any] | None = None, on_active: bool = False,
                activate_now: bool = False, activate_at: datetime | None = None,
                on_pending: str | None = None) -> tuple[PolicyVersion, Outcome | None]:
    """A new version (see ``policy.service.create_version``); its activation now or at
    ``activate_at``, when asked, is applied or waits for a second admin (``rule``)."""
    row = policy.create_version(session, actor, base_version=base_version, reason=reason,
                                document=document, patch=patch, on_active=on_active)
    if not (activate_now or activate_at is not None):
        return row, None
    action, params = activation(row.version, at=activate_at, on_pending=on_pending)
    return row, change(session, actor, rule, action, params, reason)


def approve(session: Session, actor: Actor, request_id: str, reason: str) -> Outcome:
    """The second admin's approval: the change is applied now, as their act."""
    row = approvals.pending(session, request_id, actor.now)
    approvals.check_second_admin(row, actor)
    approval = Approval(row.id, row.requested_by, actor.name)
    result = apply(session, actor, row.action, row.params, row.reason, approval)
    approvals.decide(session, actor, row, "approved", reason, result)
    return Outcome(request=row, result=result)


def reject(session: Session, actor: Actor, request_id: str, reason: str) -> Outcome:
    """Another admin rejects the request, or the one who asked withdraws it."""
    row = approvals.pending(session, request_id, actor.now)
    state = "withdrawn" if actor.name == row.requested_by else "rejected"
    approvals.decide(session, actor, row, state, reason)
    return Outcome(request=row)


def apply(session: Session, actor: Actor, action: str, params: dict[str, Any], reason: str,
          approval: Approval | None = None) -> dict[str, Any]:
    """Do what ``action`` says; what it did, as JSON."""
    on_pending = params.get("on_pending")
    if action in ("activate", "schedule"):
        at = datetime.fromisoformat(params["at"]) if params.get("at") else None
        row = policy.activate(session, actor, params["version"], reason=reason, at=at,
                              on_pending=on_pending, approval=approval)
        return {"activation": ActivationSchema().dump(row)}
    if action == "rollback":
        version, row = policy.rollback(session, actor, params["version"], reason, on_pending,
                                       approval)
        return {"version": version.version, "activation": ActivationSchema().dump(row)}
    if action == "reimpose":
        return reimposition.reimpose(session, actor, params["version"], reason=reason,
                                          on_pending=on_pending, approval=approval)
    if action == "allowlist":
        version = policy.edit_allowlist(session, actor, params["organization_id"],
                                        params["tier"], add=params["add"],
                                        on_pending=on_pending, approval=approval)
        return {"version": version.version, "organization_id": params["organization_id"],
                "tier": params["tier"], "granted": params["add"]}
    raise ValueError(f"unknown policy action {action!r}")
