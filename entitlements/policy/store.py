"""The active policy, in memory: compiled versions are cached by number (they never
change) and the activation schedule is re-read every ``ttl`` seconds, so a decision never
costs a database query and every process sees a change within ``ttl``."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..base.cache import TTLCache
from ..base.db import Database
from ..base.errors import NotFound
from .document import Policy, compile_policy
from .models import PolicyActivation, PolicyVersion


@dataclass(frozen=True)
class Activation:
    """The activation in force: as time passes, (``activate_at``, ``id``) only grows, so a
    gateway can refuse a snapshot older than one it already holds."""

    id: int
    activate_at: datetime
    version: int


@dataclass(frozen=True)
class Schedule:
    """Due times (sorted) and the activation due at each."""

    times: tuple[datetime, ...]
    activations: tuple[Activation, ...]

    def activation_at(self, now: datetime) -> Activation | None:
        index = bisect.bisect_right(self.times, now)
        return self.activations[index - 1] if index else None

    def version_at(self, now: datetime) -> int | None:
        activation = self.activation_at(now)
        return activation.version if activation else None


def load_schedule(session: Session) -> Schedule:
    rows = session.execute(
        select(PolicyActivation.id, PolicyActivation.activate_at, PolicyActivation.version)
        .where(PolicyActivation.cancelled_at.is_(None))
        .order_by(PolicyActivation.activate_at, PolicyActivation.id)).all()
    return Schedule(tuple(r[1] for r in rows), tuple(Activation(*r) for r in rows))


def activation_at(session: Session, now: datetime) -> Activation | None:
    """The activation in force at ``now``, read alone (``Schedule.activation_at`` without
    reading the whole history): the latest due, by (``activate_at``, ``id``)."""
    row = session.execute(
        select(PolicyActivation.id, PolicyActivation.activate_at, PolicyActivation.version)
        .where(PolicyActivation.cancelled_at.is_(None), PolicyActivation.activate_at <= now)
        .order_by(PolicyActivation.activate_at.desc(), PolicyActivation.id.desc())
        .limit(1)).first()
    return Activation(*row) if row is not None else None


class PolicyStore:
    def __init__(self, db: Database, ttl: float, maxsize: int = 32) -> None:
        self._db = db
        self._schedule: TTLCache[str, Schedule] = TTLCache(1, ttl)
        self._versions: TTLCache[int, Policy] = TTLCache(maxsize, float("inf"))

    def active(self, now: datetime) -> Policy:
        return self.version(self.activation(now).version)

    def activation(self, now: datetime) -> Activation:
        found = self._schedule.get_or_load("schedule", self._load_schedule).activation_at(now)
        if found is None:
            raise NotFound(f"no policy version was active at {now.isoformat()}",
                           code="no_active_version")
        return found

    def version(self, number: int) -> Policy:
        return self._versions.get_or_load(number, self._load_version)

    def invalidate(self) -> None:
        self._schedule.invalidate()

    def _load_schedule(self, _key: str) -> Schedule:
        with self._db.sessions() as session:
            return load_schedule(session)

    def _load_version(self, number: int) -> Policy:
        with self._db.sessions() as session:
            row = session.get(PolicyVersion, number)
            if row is None:
                raise LookupError(f"no policy version {number}")
            return compile_policy(row.version, row.document)
