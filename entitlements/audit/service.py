"""Record audit events and check the hash chains.

Admin changes and refusals go to the ``main`` stream in the caller's transaction
(``record``). High-rate writers (the token ledger) open a stream of their own
(``open_stream``) and append batches to it without locking anything shared.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..base.actor import SYSTEM_ACTOR, Actor
from ..base.db import like_escape
from ..base.pages import Page, paginate
from .models import AuditEvent, AuditStream
from .targets import Target

GENESIS_HASH = "0" * 64
MAIN_STREAM = "main"
STREAM_OPENED = "audit.stream_opened"
SUCCESS = "success"
FAILURE = "failure"
_HASHED = ("stream", "seq", "at", "actor", "action", "target", "outcome", "reason", "details",
           "prev_hash")
#: Hashed when set: events written before these fields existed keep their hashes.
_HASHED_WHEN_SET = ("actor_role", "target_kind", "organization_id")


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    target: Target | None = None,
    outcome: str = SUCCESS,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to ``main`` at ``actor.now``; it commits or rolls back with the
    caller's change."""
    head = session.execute(
        select(AuditStream).where(AuditStream.id == MAIN_STREAM).with_for_update()
    ).scalar_one()
    fields = new_event(at=actor.now, actor=actor.name, role=actor.role, action=action,
                       outcome=outcome, target=target, reason=reason, details=details)
    (linked,) = link(MAIN_STREAM, head.seq, head.hash, [fields])
    head.seq, head.hash = linked["seq"], linked["hash"]
    event = AuditEvent(**linked)
    session.add(event)
    return event


def open_stream(session: Session, *, at: datetime, owner: str) -> str:
    """Create a stream for one writer and announce it in ``main`` (so it cannot vanish)."""
    stream = f"{owner}-{secrets.token_hex(6)}"[:64]
    session.add(AuditStream(id=stream, seq=0, hash=GENESIS_HASH, opened_at=at))
    record(session, Actor(SYSTEM_ACTOR, at), STREAM_OPENED,
           target=Target("audit_stream", stream), details={"stream": stream, "owner": owner})
    return stream


def new_event(
    *, at: datetime, actor: str, action: str, outcome: str = SUCCESS,
    target: Target | None = None, reason: str | None = None,
    details: dict[str, Any] | None = None, role: str | None = None,
) -> dict[str, Any]:
    """An event's fields before it is linked into a stream."""
    return {"at": at, "actor": actor[:200], "actor_role": role, "action": action,
            "target": target.id[:Target.MAX_ID] if target else None,
            "target_kind": target.kind if target else None,
            "organization_id": target.organization_id if target else None,
            "outcome": outcome, "reason": reason[:500] if reason else None,
            "details": details or {}}


def link(stream: str, head_seq: int, head_hash: str, events: list[dict[str, Any]]
         ) -> list[dict[str, Any]]:
    """Give each event its ``stream``, ``seq``, ``prev_hash`` and ``hash``."""
    linked, prev, seq = [], head_hash, head_seq
    for fields in events:
        seq += 1
        event = {**fields, "stream": stream, "seq": seq, "prev_hash": prev}
        event["hash"] = prev = hash_fields(event)
        linked.append(event)
    return linked


def event_hash(event: AuditEvent) -> str:
    return hash_fields({name: getattr(event, name) for name in (*_HASHED, *_HASHED_WHEN_SET)})


def hash_fields(fields: dict[str, Any]) -> str:
    """An event's hash: SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8) of its
    hashed fields, ``at`` in ISO 8601. Exported events are checked with this too, offline
    (``at`` may then be given as the ISO string the export wrote)."""
    content = {name: fields[name] for name in _HASHED}
    content.update({name: fields[name] for name in _HASHED_WHEN_SET
                    if fields.get(name) is not None})
    at = content["at"]
    content["at"] = at if isinstance(at, str) else at.isoformat()
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_at: int | None = None
    problem: str | None = None
    stream: str | None = None


def verify_chain(session: Session, batch: int = 1000) -> ChainReport:
    """Walk every stream in order: each link, each hash, each tip, and that every
    stream was announced in ``main``."""
    streams = {s.id: s for s in session.scalars(select(AuditStream))}
    announced: set[str] = set()
    checked = 0
    for stream_id in [MAIN_STREAM, *sorted(set(streams) - {MAIN_STREAM})]:
        report = _verify_stream(session, streams.get(stream_id), stream_id, batch, announced)
        checked += report.checked
        if not report.ok:
            return ChainReport(False, checked, report.broken_at, report.problem, stream_id)
    missing = sorted(announced - set(streams))
    if missing:
        return ChainReport(False, checked, None, "stream removed", missing[0])
    return ChainReport(True, checked)


def _verify_stream(session: Session, head: AuditStream | None, stream: str, batch: int,
                   announced: set[str]) -> ChainReport:
    if head is None:
        return ChainReport(False, 0, None, "stream head missing")
    if stream != MAIN_STREAM and stream not in announced:
        return ChainReport(False, 0, None, "stream never announced")
    expected_prev, expected_seq = GENESIS_HASH, 1
    for event in _events(session, stream, batch):
        if event.seq != expected_seq:
            return ChainReport(False, expected_seq - 1, expected_seq, "event missing")
        if event.prev_hash != expected_prev:
            return ChainReport(False, expected_seq - 1, event.seq, "link broken")
        if event_hash(event) != event.hash:
            return ChainReport(False, expected_seq - 1, event.seq, "content altered")
        if event.action == STREAM_OPENED and stream == MAIN_STREAM:
            announced.add(str(event.details.get("stream")))
        expected_prev, expected_seq = event.hash, event.seq + 1
    checked = expected_seq - 1
    if head.seq != checked or head.hash != expected_prev:
        return ChainReport(False, checked, checked + 1, "tail removed or head altered")
    return ChainReport(True, checked)


def _events(session: Session, stream: str, batch: int) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.stream == stream, AuditEvent.seq > last)
            .order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


@dataclass(frozen=True)
class EventQuery:
    """Which events: a time range (``since`` included, ``until`` excluded), who acted, what
    was done (an action, or ``prefix.*``), on what, about which organization, how it ended."""

    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    target_kind: str | None = None
    organization_id: str | None = None
    outcome: str | None = None

    def where(self) -> list[Any]:
        conditions: list[Any] = []
        if self.since is not None:
            conditions.append(AuditEvent.at >= self.since)
        if self.until is not None:
            conditions.append(AuditEvent.at < self.until)
        if self.action and self.action.endswith(".*"):
            prefix = self.action[:-1]
            # LIKE narrows by the index; the exact comparison keeps the case (SQLite's LIKE
            # ignores it).
            conditions += [AuditEvent.action.like(like_escape(prefix) + "%", escape="\\"),
                           func.substr(AuditEvent.action, 1, len(prefix)) == prefix]
        elif self.action:
            conditions.append(AuditEvent.action == self.action)
        for name in ("actor", "target", "target_kind", "organization_id", "outcome"):
            value = getattr(self, name)
            if value:
                conditions.append(getattr(AuditEvent, name) == value)
        return conditions


#: Newest first; (at, stream, seq) is unique.
EVENT_ORDER = (AuditEvent.at, AuditEvent.stream, AuditEvent.seq)


def search_events(session: Session, query: EventQuery, *, cursor: str | None = None,
                  limit: int = 100) -> Page[AuditEvent]:
    """One page of the matching events, newest first, across every stream."""
    return paginate(session, select(AuditEvent).where(*query.where()), EVENT_ORDER,
                    cursor=cursor, limit=limit, descending=True)


def refusals_by_reason(session: Session, since: datetime, limit: int = 20
                       ) -> list[tuple[str, str, int]]:
    """The most frequent refusals since ``since``: (action, reason, count), commonest first.
    The reason's text after a colon (a description) is left out, so causes group."""
    rows = session.execute(
        select(AuditEvent.action, AuditEvent.reason, func.count())
        .where(AuditEvent.outcome == FAILURE, AuditEvent.at >= since)
        .group_by(AuditEvent.action, AuditEvent.reason))
    grouped: dict[tuple[str, str], int] = {}
    for action, reason, count in rows:
        key = (action, (reason or "").split(":", 1)[0] or "unspecified")
        grouped[key] = grouped.get(key, 0) + count
    ranked = sorted(grouped.items(), key=lambda item: (-item[1], item[0]))
    return [(action, reason, count) for (action, reason), count in ranked[:limit]]
