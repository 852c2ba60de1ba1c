"""A report of an interval: every audit event in it, one JSON object a line (JSONL), and a
manifest signed with the service's key that anyone can check offline against its JWKS.

Each line is an event as the audit log holds it (stream, seq, at, actor, actor_role, action,
target, target_kind, organization_id, outcome, reason, details, prev_hash, hash) and the
``section`` it belongs to:

- ``grants``: who was granted which tiers, under which policy version, and why
  (``grant.issued``: the trust level, and for a person the attestations, their issuers and
  the identity provider);
- ``refusals``: every refused request, with its reason;
- ``revocations``: bulk and single revocations, re-impositions and break-glass kill
  switches;
- ``admin_changes``: every other change an admin made, with the approver where two took
  part;
- ``other``: the rest (sign-ins, verified attestations, streams opened).

The manifest (a JWS of ``typ`` ``entitlements-report-manifest+jwt``) holds the interval,
the event counts per action and per section, each stream's first and last event in the file,
every stream's tip when the report was made, and the file's size and SHA-256."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import func, select

from ..audit.models import AuditEvent, AuditStream
from ..audit.streams import EVENT_COLUMNS
from ..base.db import Database, read_in_index_order
from ..base.files import write_whole, written_whole
from ..base.pages import beyond
from ..base.progress import Tracker
from ..signing.documents import MANIFEST_TYP, sign_document
from ..signing.keyring import KeyRing

FORMAT = "entitlements-report/1"
BATCH = 5000
#: An event's fields, in a line's order (as the audit log's writers list them).
COLUMNS = EVENT_COLUMNS
REVOCATIONS = frozenset({"tokens.revoked", "token.revoked", "refresh.family_revoked",
                         "policy.reimposed", "policy.break_glass"})
#: Who makes admin changes: admins through the API or console, operators through the CLI.
ADMIN_ACTORS = ("admin:", "cli:")


@dataclass(frozen=True)
class Exported:
    path: Path
    manifest_path: Path
    manifest: dict[str, Any]
    jws: str


def section(event: dict[str, Any]) -> str:
    """Which part of a report an event belongs to."""
    if event["outcome"] == "failure":
        return "refusals"
    if event["action"].startswith("grant."):
        return "grants"
    if event["action"] in REVOCATIONS:
        return "revocations"
    if event["actor"].startswith(ADMIN_ACTORS):
        return "admin_changes"
    return "other"


def paths(directory: Path, report_id: str) -> tuple[Path, Path]:
    """Where a report's events and its signed manifest are written."""
    events = directory / f"{report_id}.jsonl"
    return events, events.with_name(events.name + ".manifest.jws")


def export(db: Database, ring: KeyRing, *, issuer: str, report_id: str, starts_at: datetime,
           ends_at: datetime, directory: Path, now: datetime, tracker: Tracker) -> Exported:
    """Write the interval's events and the signed manifest; ``tracker`` follows the events
    written. The files appear complete or not at all (written aside, then renamed)."""
    directory.mkdir(parents=True, exist_ok=True)
    events_path, manifest_path = paths(directory, report_id)
    interval = (AuditEvent.at >= starts_at, AuditEvent.at < ends_at)
    with db.sessions() as session:
        total = session.scalar(select(func.count()).select_from(AuditEvent).where(*interval))
        tips = {s.id: {"seq": s.seq, "hash": s.hash} for s in session.scalars(select(AuditStream))}
    tracker.expect(total or 0)  # outside the session: on SQLite it would hold the lock
    written = _write_events(db, interval, events_path, tracker)
    claims = {"format": FORMAT, "report": report_id, "from": starts_at.isoformat(),
              "to": ends_at.isoformat(), "generated_at": now.isoformat(), **written,
              "chain_tips": tips}
    jws = sign_document(ring, now, issuer=issuer, typ=MANIFEST_TYP, claims=claims)
    write_whole(manifest_path, jws.encode())
    return Exported(events_path, manifest_path, claims, jws)


def _write_events(db: Database, interval: tuple[Any, ...], path: Path, tracker: Tracker
                  ) -> dict[str, Any]:
    digest, size = hashlib.sha256(), 0
    actions: Counter[str] = Counter()
    sections: Counter[str] = Counter()
    streams: dict[str, dict[str, Any]] = {}
    with written_whole(path) as out:
        for batch in _batches(db, interval):
            chunk = bytearray()
            for row in batch:
                event = dict(zip(COLUMNS, row, strict=True))
                event["at"] = event["at"].isoformat()
                event["section"] = part = section(event)
                line = orjson.dumps(event) + b"\n"
                chunk += line
                actions[event["action"]] += 1
                sections[part] += 1
                extend_streams(streams, event)
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
            tracker.advance(len(batch))
    return {"events": sum(actions.values()), "counts": dict(sorted(actions.items())),
            "sections": dict(sorted(sections.items())), "streams": streams,
            "file": {"name": path.name, "bytes": size, "sha256": digest.hexdigest()}}


def _batches(db: Database, interval: tuple[Any, ...]) -> Any:
    """The interval's events in time order (then stream, then seq), ``BATCH`` at a time,
    each batch read on its own (keyset pagination: memory stays flat)."""
    key = (AuditEvent.at, AuditEvent.stream, AuditEvent.seq)
    columns = [getattr(AuditEvent, c) for c in COLUMNS]
    after: tuple[Any, ...] | None = None
    while True:
        query = select(*columns).where(*interval).order_by(*key).limit(BATCH)
        if after is not None:
            query = query.where(beyond(key, after))
        with db.engine.connect() as connection:  # Core rows: no ORM work per row
            read_in_index_order(connection)
            rows = connection.execute(query).all()
        if not rows:
            return
        yield rows
        last = rows[-1]
        after = (last[2], last[0], last[1])


def extend_streams(streams: dict[str, dict[str, Any]], event: dict[str, Any]) -> None:
    """Count ``event`` into its stream's summary: first and last seq, last hash, events."""
    seen = streams.get(event["stream"])
    if seen is None:
        streams[event["stream"]] = {"first_seq": event["seq"], "last_seq": event["seq"],
                                    "last_hash": event["hash"], "events": 1}
        return
    seen["events"] += 1
    if event["seq"] > seen["last_seq"]:
        seen["last_seq"], seen["last_hash"] = event["seq"], event["hash"]
    seen["first_seq"] = min(seen["first_seq"], event["seq"])
