"""The registered resource servers (gateways) the token endpoint checks ``resource``
against, read once per ``ttl`` seconds rather than once per request."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..base.cache import TTLCache
from ..base.db import Database
from .models import ResourceServer


@dataclass(frozen=True)
class Resources:
    identifiers: frozenset[str]
    default: str | None


class ResourceDirectory:
    def __init__(self, db: Database, ttl: float) -> None:
        self._db = db
        self._cache: TTLCache[str, Resources] = TTLCache(1, ttl)

    def snapshot(self) -> Resources:
        return self._cache.get_or_load("resources", self._load)

    def invalidate(self) -> None:
        self._cache.invalidate()

    def _load(self, _key: str) -> Resources:
        with self._db.sessions() as session:
            rows = session.execute(
                select(ResourceServer.identifier, ResourceServer.is_default)).all()
        default = next((r.identifier for r in rows if r.is_default), None)
        return Resources(frozenset(r.identifier for r in rows), default)
