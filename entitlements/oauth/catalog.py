"""The registered resource servers (gateways) the token endpoint checks ``resource``
against, read once per ``ttl`` seconds rather than once per request. (Tiers are the
policy's: see ``policy.store``.)"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..cache import TTLCache
from ..db import Database
from ..resources.models import ResourceServer


@dataclass(frozen=True)
class CatalogSnapshot:
    resources: frozenset[str]
    default_resource: str | None


class Catalog:
    def __init__(self, db: Database, ttl: float) -> None:
        self._db = db
        self._cache: TTLCache[str, CatalogSnapshot] = TTLCache(1, ttl)

    def snapshot(self) -> CatalogSnapshot:
        return self._cache.get_or_load("catalog", self._load)

    def invalidate(self) -> None:
        self._cache.invalidate()

    def _load(self, _key: str) -> CatalogSnapshot:
        with self._db.sessions() as session:
            resources = session.execute(
                select(ResourceServer.identifier, ResourceServer.is_default)
            ).all()
        default = next((r.identifier for r in resources if r.is_default), None)
        return CatalogSnapshot(frozenset(r.identifier for r in resources), default)
