"""Policy versions: create (from a full document or a merge patch, against the version it
was based on), activate now or later, roll back, and the per-organization allowlist edits
the earlier tier grants became. Every change is audited with its diff."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit import targets
from ..audit.targets import Target
from ..base.actor import Actor
from ..base.errors import Conflict, InvalidInput, NotFound
from ..base.pages import Page, paginate
from ..organizations.models import Organization
from . import changes
from .approvals import Approval
from .document import Policy, compile_policy
from .models import PolicyActivation, PolicyVersion
from .store import activation_at

ACTIONS = {"activate": "policy.activated", "rollback": "policy.rolled_back",
           "break_glass": "policy.break_glass", "lapse": "policy.lapsed"}
#: What becomes of activations scheduled after a new one (see ``activate``).
ON_PENDING = ("keep", "cancel")
#: How close to its due time an activation can still be cancelled: more than the policy
#: cache period of every process, and a clock skew between hosts.
CANCEL_MARGIN = timedelta(seconds=10)


def latest(session: Session) -> PolicyVersion:
    row = session.scalar(select(PolicyVersion).order_by(PolicyVersion.version.desc()).limit(1))
    if row is None:
        raise NotFound("there is no policy version yet")
    return row


MAX_ID = 2**31 - 1  # version and activation ids are 32-bit integer columns


def get_version(session: Session, number: int) -> PolicyVersion:
    row = session.get(PolicyVersion, number) if 0 < number <= MAX_ID else None
    if row is None:
        raise NotFound(f"no policy version {number}", code="unknown_version")
    return row


def list_versions(session: Session, *, cursor: str | None = None, limit: int = 100,
                  newest_first: bool = False) -> Page[PolicyVersion]:
    """Oldest first, or newest."""
    return paginate(session, select(PolicyVersion), (PolicyVersion.version,), cursor=cursor,
                    limit=limit, descending=newest_first)


def create_version(session: Session, actor: Actor, *, base_version: int, reason: str,
                   document: dict[str, Any] | None = None,
                   patch: dict[str, Any] | None = None,
                   on_active: bool = False) -> PolicyVersion:
    """A new immutable version, from ``document`` or ``patch`` applied to ``base_version``,
    which must still be the latest version (optimistic concurrency), or with ``on_active``
    the active one: how an urgent change leaves out versions scheduled for later."""
    if (document is None) == (patch is None):
        raise InvalidInput("give either a whole 'document' or a 'patch', not both or neither")
    latest_number = _lock_latest(session)
    expected = active_version(session, actor.now) if on_active else latest_number
    if base_version != expected:
        which = "active" if on_active else "latest"
        raise Conflict(f"version {base_version} is not the {which} version (the {which} is "
                       f"{expected}); re-read the policy and apply the change again",
                       code="stale_version")
    base = get_version(session, base_version)
    raw = document if document is not None else changes.merge_patch(base.document, patch)
    compiled = compile_policy(latest_number + 1, raw, now=actor.now)
    _check_allowlists(session, compiled, base.document)
    return _store(session, actor, base, compiled, reason)


def activate(session: Session, actor: Actor, number: int, *, reason: str,
             at: datetime | None = None, kind: str = "activate", audited: bool = True,
             on_pending: str | None = None, approval: Approval | None = None
             ) -> PolicyActivation:
    """Make version ``number`` active at ``at`` (now when None); never in the past.
    ``audited=False`` when the caller records one event of its own (re-imposition).

    An activation already scheduled for later would replace this one when it falls due,
    undoing it without a word; so when there is one, the admin must say what becomes of it:
    ``on_pending`` ``keep`` (it still replaces this one when due) or ``cancel``."""
    lock_policy(session)  # one policy change at a time: the pending check below holds
    get_version(session, number)
    if at is not None and at < actor.now:
        raise InvalidInput(f"cannot schedule in the past ({at.isoformat()} is before "
                           f"{actor.now.isoformat()})", code="schedule_in_past")
    now = _not_before_history(session, actor.now)
    before = active_version(session, now)
    if (at is None and kind != "reimpose" and before == number
            and not pending_after(session, now)):  # re-imposing the active one revokes
        raise Conflict(f"version {number} is already active", code="already_active")
    later = settle_pending(session, actor, at or now, on_pending, reason)
    row = PolicyActivation(version=number, kind=kind, activate_at=at or now,
                           created_by=approval.requested_by if approval else actor.name,
                           approved_by=approval.approved_by if approval else None,
                           reason=reason, created_at=now)
    session.add(row)
    session.flush()
    if audited:
        _audit_activation(session, actor, row, before, later, on_pending, approval)
    return row


def _not_before_history(session: Session, now: datetime) -> datetime:
    """``now``, or the time the newest immediate activation took effect when that is
    later: a request that waited for the policy lock read the time before another's
    activation was made, and must not take that activation for one scheduled ahead."""
    newest = session.scalar(select(func.max(PolicyActivation.activate_at)).where(
        PolicyActivation.activate_at <= PolicyActivation.created_at))
    return max(now, newest) if newest is not None else now


def pending_after(session: Session, moment: datetime) -> list[PolicyActivation]:
    """Scheduled activations, not cancelled, that fall due after ``moment``."""
    return list(session.scalars(
        select(PolicyActivation)
        .where(PolicyActivation.cancelled_at.is_(None), PolicyActivation.activate_at > moment)
        .order_by(PolicyActivation.activate_at, PolicyActivation.id)))


def settle_pending(session: Session, actor: Actor, moment: datetime, on_pending: str | None,
                   reason: str) -> list[PolicyActivation]:
    """Refuse (409 ``pending_activations``) an activation at ``moment`` that later ones
    would silently replace, unless ``on_pending`` says to keep or cancel them."""
    later = pending_after(session, moment)
    if not later:
        return later
    if on_pending not in ON_PENDING:
        raise PendingActivations(later)
    if on_pending == "cancel":
        for row in later:
            cancel(session, actor, row.id, f"superseded: {reason}")
    return later


class PendingActivations(Conflict):
    code = "pending_activations"

    LISTED = 50  # a bound on the answer; the first are the ones due soonest

    def __init__(self, later: list[PolicyActivation]) -> None:
        shown = later[:self.LISTED]
        listed = "; ".join(f"activation {r.id} (version {r.version}, due "
                           f"{r.activate_at.isoformat()})" for r in shown[:5])
        more = f" and {len(later) - 5} more" if len(later) > 5 else ""
        super().__init__(f"{listed}{more} would replace this activation when due, undoing "
                         "it; say on_pending 'keep' (they still will) or 'cancel' (cancel "
                         "them now)")
        self.members = {"pending": [{"activation": r.id, "version": r.version,
                                     "activate_at": r.activate_at.isoformat()}
                                    for r in shown],
                        "pending_count": len(later)}


def _audit_activation(session: Session, actor: Actor, row: PolicyActivation,
                      before: int | None, later: Sequence[PolicyActivation] = (),
                      on_pending: str | None = None, approval: Approval | None = None
                      ) -> None:
    at, number, reason = row.activate_at, row.version, row.reason
    details: dict[str, Any] = {"before": before, "after": number,
                               "activate_at": at.isoformat(), "activation": row.id}
    if later:
        details["pending"] = {"decision": on_pending, "activations": [r.id for r in later]}
    if approval:
        details["approval"] = approval.details()
    audit.record(session, actor,
                 "policy.scheduled" if at > row.created_at else ACTIONS[row.kind],
                 target=targets.policy_version(number), reason=reason, details=details)


def rollback(session: Session, actor: Actor, number: int, reason: str,
             on_pending: str | None = None, approval: Approval | None = None
             ) -> tuple[PolicyVersion, PolicyActivation]:
    """Reactivate an earlier version's policy now, as a new version with the same document:
    history stays a line, and later edits build on what is active."""
    target = get_version(session, number)
    base = get_version(session, _lock_latest(session))
    if not changes.diff(base.document, target.document):
        row = base  # the latest version already holds that policy: activate it
    else:
        compiled = compile_policy(base.version + 1, target.document)
        row = _store(session, actor, base, compiled, f"rollback to version {number}: {reason}")
    return row, activate(session, actor, row.version, reason=reason, kind="rollback",
                         on_pending=on_pending, approval=approval)


def cancel(session: Session, actor: Actor, activation_id: int, reason: str
           ) -> PolicyActivation:
    """Cancel a scheduled activation; not within ``CANCEL_MARGIN`` of its due time, when
    some processes (and gateways) may already have taken it."""
    lock_policy(session)
    row = session.get(PolicyActivation, activation_id) if 0 < activation_id <= MAX_ID else None
    if row is None:
        raise NotFound(f"no activation {activation_id}")
    if row.cancelled_at is not None or row.activate_at <= actor.now:
        raise Conflict(f"activation {activation_id} is not pending", code="not_pending")
    if row.activate_at <= actor.now + CANCEL_MARGIN:
        raise Conflict(f"activation {activation_id} falls due at "
                       f"{row.activate_at.isoformat()}, within "
                       f"{CANCEL_MARGIN.total_seconds():.0f} s: too late to cancel everywhere "
                       "at once; activate the policy you want after it instead",
                       code="too_late_to_cancel")
    row.cancelled_at = actor.now
    audit.record(session, actor, "policy.schedule_cancelled",
                 target=Target("policy_activation", str(row.id)), reason=reason,
                 details={"activation": row.id, "version": row.version,
                          "activate_at": row.activate_at.isoformat()})
    return row


def activations(session: Session) -> list[PolicyActivation]:
    return list(session.scalars(select(PolicyActivation).order_by(PolicyActivation.id)))


def active_version(session: Session, now: datetime) -> int | None:
    found = activation_at(session, now)
    return found.version if found is not None else None


def active_policy(session: Session, now: datetime) -> Policy:
    number = active_version(session, now)
    if number is None:
        raise NotFound("no policy version is active")
    return compile_policy(number, get_version(session, number).document)


def list_tiers(session: Session, now: datetime) -> list[tuple[str, dict[str, Any]]]:
    """The active version's tiers and their rules, by name."""
    return sorted(active_policy(session, now).document["tiers"].items())


def get_tier(session: Session, name: str) -> dict[str, Any]:
    """A tier of the latest version (what new clients and edits are checked against)."""
    tiers = latest(session).document["tiers"]
    if name not in tiers:
        raise NotFound(f"no tier named {name!r} (known tiers: {', '.join(sorted(tiers))})")
    return tiers[name]


def allowlisted_tiers(session: Session, now: datetime) -> dict[str, list[str]]:
    """Organization id -> the tiers whose allowlist names it in the active version, read
    once from the stored document (an organization listing needs no compile per row)."""
    number = active_version(session, now)
    if number is None:
        return {}
    listed: dict[str, list[str]] = {}
    for name, rule in sorted(get_version(session, number).document["tiers"].items()):
        for org_id in rule.get("allowlist", ()):
            listed.setdefault(org_id, []).append(name)
    return listed


def tiers_listing(session: Session, now: datetime, org_id: str) -> list[str]:
    """The tiers whose allowlist names ``org_id`` in the active version, by name: one
    organization's entry of ``allowlisted_tiers``, found by a search of each list (the
    answer to an allowlist edit must not map every organization listed)."""
    number = active_version(session, now)
    if number is None:
        return []
    return [name for name, rule in sorted(get_version(session, number).document["tiers"].items())
            if org_id in rule.get("allowlist", ())]


def grant_tier(session: Session, actor: Actor, org_id: str, tier: str,
               on_pending: str | None = None) -> PolicyVersion:
    """Put the organization on the tier's allowlist: a new version, active at once (one
    admin's act: two-person control goes through ``operations.policy_changes``)."""
    return edit_allowlist(session, actor, org_id, tier, add=True, on_pending=on_pending)


def revoke_tier(session: Session, actor: Actor, org_id: str, tier: str,
                on_pending: str | None = None) -> PolicyVersion:
    return edit_allowlist(session, actor, org_id, tier, add=False, on_pending=on_pending)


def edit_allowlist(session: Session, actor: Actor, org_id: str, tier: str, *, add: bool,
                   on_pending: str | None, approval: Approval | None = None) -> PolicyVersion:
    if session.get(Organization, org_id) is None:
        raise NotFound(f"no organization with id {org_id!r}")
    lock_policy(session)
    # Build on what is active now: a version scheduled for later must not sneak in early.
    active = active_version(session, actor.now)
    current = get_version(session, active) if active is not None else latest(session)
    tiers = current.document["tiers"]
    if tier not in tiers:
        raise NotFound(f"no tier named {tier!r} (known tiers: {', '.join(sorted(tiers))})")
    listed = tiers[tier]["allowlist"]
    if add == (org_id in listed):
        state = "already has" if add else "has no"
        raise (Conflict if add else NotFound)(f"organization {org_id} {state} tier {tier!r}")
    # Sorted, each once (a sort of a sorted list and one more is one pass).
    allowlist = (list(dict.fromkeys(sorted([*listed, org_id]))) if add
                 else [o for o in listed if o != org_id])
    verb = "granted" if add else "revoked"
    document = changes.merge_patch(current.document, {"tiers": {tier: {"allowlist": allowlist}}})
    row = create_version(session, actor, base_version=current.version,
                         reason=f"tier {tier} {verb} to {org_id}", document=document,
                         on_active=active is not None)
    activate(session, actor, row.version, reason=row.reason, on_pending=on_pending,
             approval=approval)
    audit.record(session, actor, f"organization.tier_{verb}",
                 target=targets.organization(org_id),
                 details={"tier": tier, "policy_version": row.version,
                          **({"approval": approval.details()} if approval else {})})
    return row


def lock_policy(session: Session) -> None:
    """Serialize policy changes (the latest version's row, locked on PostgreSQL)."""
    _lock_latest(session)


def _lock_latest(session: Session) -> int:
    """The latest version's number, its row locked so concurrent editors serialize: the
    lock is taken on the newest row, then the newest is read again, since a version another
    editor committed while this one waited is newer than the row it locked. Only the key is
    read: a version never changes, so its document (with allowlists of thousands) is read
    when wanted, once per session (``get_version``)."""
    number = session.scalar(select(func.max(PolicyVersion.version)))
    while True:
        if number is None:
            raise NotFound("there is no policy version yet")
        session.execute(select(PolicyVersion.version)  # (SQLite: one writer at a time)
                        .where(PolicyVersion.version == number).with_for_update())
        newest = session.scalar(select(func.max(PolicyVersion.version)))
        if newest == number:
            return number
        number = newest


#: Organization ids looked up per query.
LOOKUP_CHUNK = 500


def _check_allowlists(session: Session, policy: Policy, base: dict[str, Any]) -> None:
    """Every organization an allowlist names exists. Those the base version's allowlists
    name existed when it was made, and an organization is never deleted: only the names new
    to this version are looked up, so an edit costs what it changes, not the lists' length."""
    listed: set[str] = set().union(*(rule.allowlist for rule in policy.tiers.values()))
    listed.difference_update(*(rule.get("allowlist", ())
                               for rule in base.get("tiers", {}).values()))
    if not listed:
        return
    names, known = sorted(listed), set()
    for start in range(0, len(names), LOOKUP_CHUNK):
        known.update(session.scalars(select(Organization.id).where(
            Organization.id.in_(names[start:start + LOOKUP_CHUNK]))))
    unknown = sorted(listed - known)
    if unknown:
        raise InvalidInput(f"unknown organizations on allowlists: {', '.join(unknown[:5])}",
                           code="unknown_organization")


def _store(session: Session, actor: Actor, base: PolicyVersion, compiled: Policy,
           reason: str) -> PolicyVersion:
    document = compiled.document
    delta = changes.diff(base.document, document)
    if not delta:
        raise InvalidInput("the change leaves the policy as it is", code="no_change")
    row = PolicyVersion(
        version=compiled.version, document=document, base_version=base.version,
        author=actor.name, reason=reason, diff=delta, created_at=actor.now,
        digest=hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest())
    session.add(row)
    session.flush()
    audit.record(session, actor, "policy.version_created",
                 target=targets.policy_version(row.version), reason=reason,
                 details={"base_version": base.version, "diff": delta[:200]})
    return row
