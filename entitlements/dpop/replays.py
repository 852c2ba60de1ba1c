"""Each DPoP proof once, across workers and instances: in Redis when ``redis_url`` is set
(``SET NX`` with an expiry), in the database otherwise (a primary key, pruned now and then
with no job to run). A store that cannot answer refuses the proof (fail closed)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

import redis
from sqlalchemy.exc import IntegrityError

from ..base.db import Database, prune_expired
from ..base.errors import TemporarilyUnavailable
from .models import UsedDpopProof

REDIS_PREFIX = "entitlements:dpop:"


class ReplayStore(Protocol):
    def first_use(self, replay_key: str, now: datetime, keep: timedelta) -> bool:
        """Record the proof's use; False when it was used before."""


class DatabaseReplays:
    def __init__(self, db: Database) -> None:
        self.db = db

    def first_use(self, replay_key: str, now: datetime, keep: timedelta) -> bool:
        try:
            with self.db.transaction() as session:
                session.add(UsedDpopProof(replay_key=replay_key, expires_at=now + keep))
                session.flush()
                prune_expired(session, UsedDpopProof, now)
        except IntegrityError:
            return False
        return True


class RedisReplays:
    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)

    def first_use(self, replay_key: str, now: datetime, keep: timedelta) -> bool:
        try:
            return bool(self.client.set(REDIS_PREFIX + replay_key, b"1", nx=True,
                                        px=max(1, int(keep.total_seconds() * 1000))))
        except redis.RedisError:
            raise TemporarilyUnavailable("The DPoP replay store cannot be reached; retry "
                                         "shortly.") from None


def replay_store(db: Database, redis_url: str) -> ReplayStore:
    return RedisReplays(redis_url) if redis_url else DatabaseReplays(db)
