"""Publish each status list as a signed status list token (IETF Token Status List).

A list is rebuilt from the token ledger at most every ``ttl`` seconds and re-signed only
when its bits (or the signing key) change, so a gateway polling with conditional GET gets
304s until something is revoked, and sees a revocation within ``ttl`` plus its poll period.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import jwt
from sqlalchemy import select

from ..base.cache import TTLCache
from ..base.clock import Clock
from ..base.db import Database
from ..base.metrics import STATUS_LIST_REBUILD_SECONDS, STATUS_LIST_REBUILDS
from ..base.published import Published, document_etag, validity
from ..base.settings import Settings
from ..kernel.status_list import INVALID, STATUS_LIST, STATUS_LIST_TYP, TTL, StatusList
from ..signing.keyring import KeyRingCache
from .models import IssuedToken, StatusListRecord

#: Seconds a relying party may cache a list (the token's ``ttl`` claim).
CACHE_SECONDS = 1

def status_list_uri(settings: Settings, list_id: int) -> str:
    return f"{settings.issuer}/status-lists/{list_id}"


class StatusListPublisher:
    def __init__(self, db: Database, keys: KeyRingCache, settings: Settings, clock: Clock,
                 ttl: float = 0.5, maxsize: int = 64) -> None:
        self._db, self._keys, self._settings, self._clock = db, keys, settings, clock
        self._built: TTLCache[int, Published | None] = TTLCache(maxsize, ttl)
        self._signed: dict[int, Published] = {}
        self._lock = threading.Lock()

    def published(self, list_id: int) -> Published | None:
        return self._built.get_or_load(list_id, self._publish)

    def list_ids(self) -> list[int]:
        with self._db.sessions() as session:
            return list(session.scalars(select(StatusListRecord.id)
                                        .order_by(StatusListRecord.id)))

    def invalidate(self) -> None:
        self._built.invalidate()

    def _publish(self, list_id: int) -> Published | None:
        with STATUS_LIST_REBUILD_SECONDS.time():
            published = self._rebuild(list_id)
        STATUS_LIST_REBUILDS.inc()
        return published

    def _rebuild(self, list_id: int) -> Published | None:
        bits = self._bits(list_id)
        if bits is None:
            return None
        now = self._clock.now()
        info, private_key = self._keys.get().signer(now)
        issued_at, expires_at = validity(now)
        content = hashlib.sha256(bits.to_bytes()).hexdigest()  # compressing waits for a change
        etag = document_etag(f"{info.kid}:{content}", issued_at)
        with self._lock:
            cached = self._signed.get(list_id)
            if cached is not None and cached.etag == etag:
                return cached
        token = encode_status_list_token(
            bits, private_key=private_key, algorithm=info.alg, kid=info.kid,
            issuer=self._settings.issuer, uri=status_list_uri(self._settings, list_id),
            issued_at=issued_at, expires_at=expires_at, ttl=CACHE_SECONDS)
        published = Published(token, etag)
        with self._lock:
            self._signed[list_id] = published
            while len(self._signed) > 256:
                self._signed.pop(next(iter(self._signed)))
        return published

    def _bits(self, list_id: int) -> StatusList | None:
        """The list's bits from its revoked tokens' indexes: one read of a partial index
        (``ix_issued_tokens_revoked``), as long as the revocations, whatever the list holds."""
        with self._db.engine.connect() as connection:
            size = connection.scalar(select(StatusListRecord.size)
                                     .where(StatusListRecord.id == list_id))
            if size is None:
                return None
            revoked = connection.scalars(select(IssuedToken.status_idx).where(
                IssuedToken.status_list_id == list_id, IssuedToken.revoked_at.is_not(None))
                ).all()
            bits = StatusList(size, 1)
            bits.set_many(revoked, INVALID)
        return bits


def encode_status_list_token(
    status_list: StatusList, *, private_key: Any, algorithm: str, kid: str, issuer: str,
    uri: str, issued_at: int, expires_at: int | None, ttl: int | None,
) -> str:
    """Sign a status list token for the list published at ``uri``."""
    claims: dict[str, Any] = {"iss": issuer, "sub": uri, "iat": issued_at}
    if expires_at is not None:
        claims["exp"] = expires_at
    if ttl is not None:
        claims[TTL] = ttl
    claims[STATUS_LIST] = status_list.encode()
    return jwt.encode(claims, private_key, algorithm=algorithm,
                      headers={"typ": STATUS_LIST_TYP, "kid": kid})
