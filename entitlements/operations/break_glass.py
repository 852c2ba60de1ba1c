"""Break-glass: one admin suspends tiers at once (an emergency kill switch), without the
second approval other policy changes wait for. It is marked (its own activation kind and
audit event), it notifies, and it lapses at a deadline unless a second admin confirms it: the
activation of the version before it is scheduled at the deadline when the glass is broken, so
no job has to run for the lapse. Confirming cancels that activation; reverting brings the
earlier policy back now."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit.targets import Target
from ..base.actor import Actor
from ..base.db import fetch
from ..base.errors import Conflict, Forbidden, InvalidInput, NotFound
from ..base.ids import new_id
from ..base.pages import Page, paginate
from ..notices import service as notices
from ..policy import service as policy
from ..policy.models import BreakGlass, PolicyActivation
from . import reimposition


def break_glass(session: Session, actor: Actor, *, tiers: list[str], reason: str,
                window: timedelta, on_pending: str | None, notify: str) -> BreakGlass:
    """Suspend ``tiers`` now (live tokens that rested on them are revoked), to lapse after
    ``window`` unless a second admin confirms; ``notify`` is told. Kill switches still
    waiting for confirmation are superseded: this one suspends their tiers too, and lapses
    to the policy before the first of them (never to one of theirs)."""
    policy.lock_policy(session)
    active = policy.active_version(session, actor.now)
    if active is None:
        raise NotFound("no policy version is active", code="no_active_version")
    waiting = open_ones(session, actor.now)
    row = BreakGlass(id=new_id("brk"), reason=reason, broken_by=actor.name,
                     broken_at=actor.now, deadline=actor.now + window, state="pending",
                     tiers=sorted(set(tiers).union(*(w.tiers for w in waiting))),
                     previous_version=min(waiting, key=lambda w: w.broken_at).previous_version
                     if waiting else active)
    patch = _suspension(policy.get_version(session, active).document, tiers)
    for superseded in waiting:
        _supersede(session, actor, superseded, row)
    version = policy.create_version(session, actor, base_version=active, on_active=True,
                                    reason=f"break-glass {row.id}: {reason}", patch=patch)
    effects = reimposition.activate_revoking(session, actor, version.version, reason=reason,
                                             kind="break_glass", on_pending=on_pending)
    lapse = policy.activate(session, actor, row.previous_version, kind="lapse",
                            at=row.deadline, on_pending=on_pending or "keep",
                            reason=f"break-glass {row.id} lapses unless confirmed")
    row.version, row.lapse_activation_id = version.version, lapse.id
    session.add(row)
    session.flush()
    audit.record(session, actor, "policy.break_glass", target=target(row), reason=reason,
                 details={**effects, "tiers": row.tiers, "deadline": row.deadline.isoformat(),
                          "lapse_activation": lapse.id,
                          "superseded": [w.id for w in waiting]})
    _notify(session, row, "break_glass", notify, actor.now)
    return row


def _supersede(session: Session, actor: Actor, row: BreakGlass, by: BreakGlass) -> None:
    """An unconfirmed kill switch a newer one takes over: its lapse is cancelled (the newer
    one's lapse restores what it would have)."""
    policy.cancel(session, actor, row.lapse_activation_id, f"superseded by break-glass {by.id}")
    row.state, row.decided_by, row.decided_at = "superseded", actor.name, actor.now
    row.decision_reason = f"superseded by {by.id}"
    audit.record(session, actor, "policy.break_glass_superseded", target=target(row),
                 details={"by": by.id, "tiers": row.tiers})


def confirm(session: Session, actor: Actor, glass_id: str, reason: str, *, notify: str
            ) -> BreakGlass:
    """A second admin keeps the kill switch in force: the lapse is cancelled."""
    row = _pending(session, glass_id, actor.now)
    if actor.name == row.broken_by:
        raise Forbidden("two-person rule: the admin who broke the glass cannot confirm it; "
                        "a second admin must", code="two_person_rule")
    policy.cancel(session, actor, row.lapse_activation_id, f"break-glass {row.id} confirmed")
    _decide(session, actor, row, "confirmed", reason)
    _notify(session, row, "break_glass_confirmed", notify, actor.now)
    return row


def revert(session: Session, actor: Actor, glass_id: str, reason: str, *, notify: str
           ) -> BreakGlass:
    """The policy before the kill switch is active again now (any admin allowed to break
    glass may revert, its author too: it restores what two admins had approved)."""
    row = _pending(session, glass_id, actor.now)
    lapse = session.get(PolicyActivation, row.lapse_activation_id)
    if lapse is not None and lapse.activate_at > actor.now + policy.CANCEL_MARGIN:
        policy.cancel(session, actor, lapse.id, f"break-glass {row.id} reverted")
    policy.rollback(session, actor, row.previous_version, f"break-glass {row.id} reverted: "
                    f"{reason}", on_pending="keep")
    _decide(session, actor, row, "reverted", reason)
    _notify(session, row, "break_glass_reverted", notify, actor.now)
    return row


def get(session: Session, glass_id: str, *, lock: bool = False) -> BreakGlass:
    row = fetch(session, BreakGlass, glass_id, lock=lock)
    if row is None:
        raise NotFound(f"no break-glass {glass_id!r}")
    return row


def open_ones(session: Session, now: datetime) -> list[BreakGlass]:
    """Kill switches waiting for a second admin, soonest deadline first."""
    return list(session.scalars(select(BreakGlass).where(
        BreakGlass.state == "pending", BreakGlass.deadline > now).order_by(BreakGlass.deadline)))


def list_all(session: Session, *, cursor: str | None = None, limit: int = 100
             ) -> Page[BreakGlass]:
    return paginate(session, select(BreakGlass), (BreakGlass.broken_at, BreakGlass.id),
                    cursor=cursor, limit=limit, descending=True)


def target(row: BreakGlass) -> Target:
    return Target("break_glass", row.id)


def _suspension(document: dict[str, Any], tiers: list[str]) -> dict[str, Any]:
    """The patch suspending ``tiers`` of ``document`` (each known, not all suspended)."""
    if not tiers:
        raise InvalidInput("name at least one tier to suspend", code="no_tier")
    unknown = sorted(set(tiers) - set(document["tiers"]))
    if unknown:
        raise NotFound(f"no tier named {unknown[0]!r}", code="unknown_tier")
    if all(document["tiers"][t].get("status") == "suspended" for t in tiers):
        raise Conflict("those tiers are suspended already", code="already_suspended")
    return {"tiers": {tier: {"status": "suspended"} for tier in tiers}}


def _pending(session: Session, glass_id: str, now: datetime) -> BreakGlass:
    row = get(session, glass_id, lock=True)
    if row.state_at(now) != "pending":
        raise Conflict(f"break-glass {glass_id} is {row.state_at(now)}", code="not_pending")
    return row


def _decide(session: Session, actor: Actor, row: BreakGlass, decision: str, reason: str
            ) -> None:
    row.state, row.decided_by, row.decided_at = decision, actor.name, actor.now
    row.decision_reason = reason
    audit.record(session, actor, f"policy.break_glass_{decision}", target=target(row),
                 reason=reason, details={"broken_by": row.broken_by, "decided_by": actor.name,
                                         "tiers": row.tiers})


def _notify(session: Session, row: BreakGlass, kind: str, recipient: str, now: datetime
            ) -> None:
    notices.enqueue(session, kind=kind, subject_id=row.id, recipient=recipient, now=now,
                    payload={"break_glass": row.id, "tiers": row.tiers, "reason": row.reason,
                             "broken_by": row.broken_by, "broken_at": row.broken_at.isoformat(),
                             "deadline": row.deadline.isoformat(), "state": row.state,
                             "decided_by": row.decided_by, "version": row.version,
                             "previous_version": row.previous_version})
