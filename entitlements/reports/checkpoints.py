"""Anchoring the audit log outside the database: at most once a period, a checkpoint (a JWS
of ``typ`` ``entitlements-checkpoint+jwt``) states every stream's tip (its last seq and
hash) at a time, signed with the service's key. It is kept in the database, published at
``/audit/checkpoints``, and copied outside the database (``anchors``: a directory, a
bucket) when one is set.

Whoever rewrites the database after a checkpoint (every row and every tip, hashes made anew)
is found out: an event the checkpoint names is gone or has another hash. The checkpoint
cannot be forged to match without the private key, which lives in the key store, not the
database; its signature is checked with the key store's keys or a JWKS the checker holds."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit.models import AuditCheckpoint, AuditEvent, AuditStream
from ..audit.targets import Target
from ..base.actor import SYSTEM_ACTOR, Actor
from ..base.clock import epoch
from ..base.db import Database
from ..signing.documents import CHECKPOINT_TYP, DocumentRefused, read_document, sign_document
from ..signing.keyring import KeyRing
from .anchors import Anchor, name_of

#: How many checkpoints the endpoint lists, newest first.
PUBLISHED = 100
KeyFor = Callable[[str], Any]
log = logging.getLogger("entitlements.checkpoints")
NONE_KEPT = ("no checkpoint to check against: none in the database nor kept elsewhere "
             "(make one with `entitlements audit checkpoint`)")


def make(db: Database, ring: KeyRing, *, issuer: str, now: datetime, interval: int
         ) -> AuditCheckpoint | None:
    """This period's checkpoint, unless one was made already (by this or another process)."""
    period = epoch(now) // interval
    try:
        with db.transaction() as session:
            if session.scalar(select(AuditCheckpoint.id).where(
                    AuditCheckpoint.period == period)) is not None:
                return None
            tips = {s.id: {"seq": s.seq, "hash": s.hash}
                    for s in session.scalars(select(AuditStream).order_by(AuditStream.id))}
            jws = sign_document(ring, now, issuer=issuer, typ=CHECKPOINT_TYP, claims={
                "period": period, "at": now.isoformat(), "tips": tips})
            row = AuditCheckpoint(period=period, at=now, tips=tips, jws=jws)
            session.add(row)
            session.flush()
            audit.record(session, Actor(SYSTEM_ACTOR, now), "audit.checkpoint",
                         target=Target("checkpoint", str(row.id)),
                         details={"period": period, "streams": len(tips)})
    except IntegrityError:  # another process made this period's checkpoint meanwhile
        return None
    return row


def checkpoint_now(db: Database, ring: KeyRing, *, issuer: str, now: datetime, interval: int,
                   places: Sequence[Anchor]) -> dict[str, Any]:
    """This period's checkpoint made (unless it exists) and the newest copied to ``places``:
    what the CLI and the admin API say of it."""
    row = make(db, ring, issuer=issuer, now=now, interval=interval)
    return {"made": row is not None, "period": row.period if row else None,
            "streams": len(row.tips) if row else None, "copies": anchor(db, places)}


def anchor(db: Database, places: Sequence[Anchor]) -> dict[str, str]:
    """The newest checkpoint copied to every place that lacks it (it alone suffices: its
    tips hash everything before them). What happened at each place: ``written``,
    ``present``, or the error's name (the next call tries again)."""
    with db.sessions() as session:
        newest = session.scalars(select(AuditCheckpoint)
                                 .order_by(AuditCheckpoint.period.desc()).limit(1)).first()
        found = (name_of(newest.period), newest.jws) if newest else None
    outcome: dict[str, str] = {}
    for place in places if found else ():
        try:
            if place.has(found[0]):
                outcome[place.where] = "present"
            else:
                place.put(*found)
                outcome[place.where] = "written"
        except Exception as error:  # noqa: BLE001 - a store's failure must not stop the next
            log.warning("could not copy checkpoint %s to %s: %s", found[0], place.where,
                        type(error).__name__)
            outcome[place.where] = type(error).__name__
    return outcome


def published(session: Session, limit: int = PUBLISHED) -> list[dict[str, Any]]:
    rows = session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.period.desc())
                           .limit(limit))
    return [{"period": r.period, "at": r.at.isoformat(), "jws": r.jws} for r in rows]


def stored(session: Session) -> list[str]:
    return list(session.scalars(select(AuditCheckpoint.jws).order_by(AuditCheckpoint.period)))


def known(session: Session, places: Sequence[Anchor]) -> list[str]:
    """Every checkpoint kept, once: the database's, and those copied to ``places`` (a copy
    that says what the database's says is the same statement)."""
    texts = [*stored(session), *(text for place in places for text in place.texts())]
    return list(dict.fromkeys(texts))


def read_files(path: Path) -> list[str]:
    """Checkpoints saved as files (a directory of ``*.jws``, or one file), or the JSON the
    endpoint answers with."""
    files = sorted(path.glob("*.jws")) if path.is_dir() else [path]
    found: list[str] = []
    for file in files:
        text = file.read_text().strip()
        if text.startswith("{"):
            found += [c["jws"] for c in json.loads(text).get("checkpoints", [])]
        elif text:
            found.append(text)
    return found


@dataclass
class CheckpointReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(session: Session, checkpoints: list[str], key_for: KeyFor) -> CheckpointReport:
    """Each checkpoint's signature, then every tip it states against the database: the
    event must still be there with the same hash, and its stream must not be shorter. No
    checkpoint at all is a problem too: there is nothing to check against (removing them
    all must not read as "intact")."""
    report = CheckpointReport()
    if not checkpoints:
        report.problems.append(NONE_KEPT)
    heads = {s.id: s.seq for s in session.scalars(select(AuditStream))}
    for jws in checkpoints:
        try:
            claims = read(jws, key_for)
        except ValueError as error:
            report.problems.append(str(error))
            continue
        report.checked += 1
        for stream, tip in claims["tips"].items():
            problem = _tip_problem(session, heads, stream, tip)
            if problem:
                report.problems.append(f"checkpoint of {claims['at']}: {problem}")
    return report


def read(jws: str, key_for: KeyFor) -> dict[str, Any]:
    """A checkpoint's claims (``signing.documents.read_document``); ValueError saying why
    it is not believed (a forged ``alg`` is a problem, never a crash)."""
    try:
        return read_document(jws, CHECKPOINT_TYP, key_for)
    except DocumentRefused as refused:
        if refused.reason == "typ":
            raise ValueError(f"not a checkpoint (typ {refused.cause!r})") from None
        if refused.reason == "algorithm":
            raise ValueError(f"a checkpoint does not verify (algorithm {refused.cause!r} is "
                             "not allowed)") from None
        raise ValueError(f"a checkpoint does not verify ({type(refused.cause).__name__})"
                         ) from None


def _tip_problem(session: Session, heads: dict[str, int], stream: str, tip: dict[str, Any]
                 ) -> str | None:
    if tip["seq"] == 0:
        return None
    if stream not in heads:
        return f"stream {stream} is gone"
    if heads[stream] < tip["seq"]:
        return f"stream {stream} ends at #{heads[stream]}, before #{tip['seq']}"
    event = session.get(AuditEvent, (stream, tip["seq"]))
    if event is None:
        return f"event {stream} #{tip['seq']} is gone"
    if event.hash != tip["hash"]:
        return f"event {stream} #{tip['seq']} was rewritten (its hash changed)"
    return None
