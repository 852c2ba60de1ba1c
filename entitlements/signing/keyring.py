"""Which key signs now, and which keys the JWKS publishes now: derived from time.

Every process computes the same answer from the same metadata, so rotation needs
no coordination: a key is published for ``key_prepublish_seconds`` before it signs,
and each process re-reads the metadata far more often than that.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .keystore import KeyStore, PrivateKey


@dataclass(frozen=True)
class KeyInfo:
    kid: str
    alg: str
    public_jwk: dict[str, Any]
    created_at: datetime
    activates_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class KeyStates:
    signer: KeyInfo | None
    pending: list[KeyInfo]
    retired: list[KeyInfo]
    expired: list[KeyInfo]
    revoked: list[KeyInfo]

    def state_of(self, kid: str) -> str:
        if self.signer and self.signer.kid == kid:
            return "active"
        for name in ("pending", "retired", "expired", "revoked"):
            if any(k.kid == kid for k in getattr(self, name)):
                return name
        return "unknown"


def classify(keys: list[KeyInfo], now: datetime, max_token_ttl: timedelta) -> KeyStates:
    live = sorted((k for k in keys if k.revoked_at is None), key=lambda k: k.activates_at)
    activated = [k for k in live if k.activates_at <= now]
    signer = activated[-1] if activated else None
    retired, expired = [], []
    for older, newer in itertools.pairwise(activated):
        still_valid = now < newer.activates_at + max_token_ttl
        (retired if still_valid else expired).append(older)
    return KeyStates(
        signer=signer,
        pending=[k for k in live if k.activates_at > now],
        retired=retired,
        expired=expired,
        revoked=[k for k in keys if k.revoked_at is not None],
    )


@dataclass
class KeyRing:
    """A snapshot of key metadata plus lazily loaded private keys. Keys of each algorithm
    rotate on their own: ``alg`` signs access tokens and documents, and ID tokens may
    need another (OpenID Connect's RS256)."""

    keys: list[KeyInfo]
    store: KeyStore
    max_token_ttl: timedelta
    alg: str | None = None
    _private: dict[str, PrivateKey] = field(default_factory=dict)

    def states(self, now: datetime, alg: str | None = None) -> KeyStates:
        wanted = alg or self.alg
        return classify([k for k in self.keys if wanted is None or k.alg == wanted], now,
                        self.max_token_ttl)

    def signer(self, now: datetime, alg: str | None = None) -> tuple[KeyInfo, PrivateKey]:
        info = self.states(now, alg).signer
        if info is None:
            raise LookupError(f"no {alg or self.alg or ''} signing key is active; run: "
                              "entitlements keys rotate --now")
        key = self._private.get(info.kid)
        if key is None:
            key = self._private[info.kid] = self.store.load(info.kid)
        return info, key

    def published(self, now: datetime) -> list[KeyInfo]:
        found: list[KeyInfo] = []
        for alg in sorted({k.alg for k in self.keys}):
            states = self.states(now, alg)
            found += states.pending + ([states.signer] if states.signer else []) + \
                states.retired
        return found

    def jwks(self, now: datetime) -> dict[str, Any]:
        return {"keys": [k.public_jwk for k in self.published(now)]}

    def find(self, kid: str, now: datetime) -> KeyInfo | None:
        return next((k for k in self.published(now) if k.kid == kid), None)


class KeyRingCache:
    """Reload the key ring from the database every ``interval`` seconds (thread-safe)."""

    def __init__(self, load: Callable[[], KeyRing], interval: float = 5.0,
                 create: Callable[[str, datetime], None] | None = None) -> None:
        self._load, self._create = load, create
        self._interval = interval
        self._lock = threading.Lock()
        self._ring: KeyRing | None = None
        self._loaded_at = 0.0

    def get(self) -> KeyRing:
        ring = self._ring
        if ring is not None and time.monotonic() - self._loaded_at < self._interval:
            return ring
        with self._lock:
            if self._ring is None or time.monotonic() - self._loaded_at >= self._interval:
                fresh = self._load()
                if self._ring is not None:
                    fresh._private.update(self._ring._private)
                self._ring, self._loaded_at = fresh, time.monotonic()
            return self._ring

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = 0.0

    def signer_of(self, alg: str, now: datetime) -> tuple[KeyInfo, PrivateKey]:
        """The signer of ``alg``, its first key made on first need (every instance derives
        the same one: ``create`` is serialized in the database)."""
        try:
            return self.get().signer(now, alg)
        except LookupError:
            if self._create is None:
                raise
        self._create(alg, now)  # active from ``now``, the moment being signed for
        self.invalidate()
        return self.get().signer(now, alg)
