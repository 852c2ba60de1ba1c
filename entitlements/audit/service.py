"""Record audit events in the caller's transaction, and check the hash chain.

Writers lock the single ``AuditHead`` row, so events are totally ordered by ``seq``
and each one links to the one before it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.orm import Session

from .models import AuditEvent, AuditHead

GENESIS_HASH = "0" * 64
HEAD_ID = 1
SUCCESS = "success"
FAILURE = "failure"


def record(
    session: Session,
    *,
    at: datetime,
    actor: str,
    action: str,
    outcome: str = SUCCESS,
    target: str | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event; it commits or rolls back with the caller's change."""
    head = session.execute(
        select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()
    ).scalar_one()
    fields = new_event(at=at, actor=actor, action=action, outcome=outcome, target=target,
                       reason=reason, details=details)
    (linked,) = link(head.seq, head.hash, [fields])
    head.seq, head.hash = linked["seq"], linked["hash"]
    event = AuditEvent(**linked)
    session.add(event)
    return event


def append_many(connection: Connection, events: list[dict[str, Any]]) -> None:
    """Append events (from ``new_event``) in the connection's transaction, in order."""
    head = connection.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID).with_for_update()
    ).one()
    linked = link(head.seq, head.hash, events)
    connection.execute(insert(AuditEvent), linked)
    connection.execute(update(AuditHead).where(AuditHead.id == HEAD_ID)
                       .values(seq=linked[-1]["seq"], hash=linked[-1]["hash"]))


def new_event(
    *, at: datetime, actor: str, action: str, outcome: str = SUCCESS, target: str | None = None,
    reason: str | None = None, details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An event's fields before it is linked into the chain."""
    return {"at": at, "actor": actor[:200], "action": action, "target": target,
            "outcome": outcome, "reason": reason[:500] if reason else None,
            "details": details or {}}


def link(head_seq: int, head_hash: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give each event its ``seq``, ``prev_hash`` and ``hash``, continuing from the head."""
    linked, prev, seq = [], head_hash, head_seq
    for fields in events:
        seq += 1
        event = {**fields, "seq": seq, "prev_hash": prev}
        event["hash"] = prev = _hash(event)
        linked.append(event)
    return linked


def event_hash(event: AuditEvent) -> str:
    return _hash({name: getattr(event, name) for name in _HASHED})


_HASHED = ("seq", "at", "actor", "action", "target", "outcome", "reason", "details", "prev_hash")


def _hash(fields: dict[str, Any]) -> str:
    content = {name: fields[name] for name in _HASHED}
    content["at"] = content["at"].isoformat()
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_at: int | None = None
    problem: str | None = None


def verify_chain(session: Session, batch: int = 1000) -> ChainReport:
    """Walk every event in order and check each link and hash, and the head."""
    expected_prev, expected_seq, checked = GENESIS_HASH, 1, 0
    for event in _events(session, batch):
        if event.seq != expected_seq:
            return ChainReport(False, checked, expected_seq, "event missing")
        if event.prev_hash != expected_prev:
            return ChainReport(False, checked, event.seq, "link broken")
        if event_hash(event) != event.hash:
            return ChainReport(False, checked, event.seq, "content altered")
        expected_prev, expected_seq, checked = event.hash, event.seq + 1, checked + 1
    head = session.get(AuditHead, HEAD_ID)
    if head is None or head.seq != checked or head.hash != expected_prev:
        return ChainReport(False, checked, checked + 1, "tail removed or head altered")
    return ChainReport(True, checked)


def _events(session: Session, batch: int) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def as_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "target": event.target,
        "outcome": event.outcome,
        "reason": event.reason,
        "details": event.details,
        "hash": event.hash,
    }


def list_events(
    session: Session, *, action: str | None = None, target: str | None = None, limit: int = 100
) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(min(limit, 10000))
    if action:
        query = query.where(AuditEvent.action == action)
    if target:
        query = query.where(AuditEvent.target == target)
    return list(session.scalars(query))
