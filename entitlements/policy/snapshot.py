"""The signed policy snapshot gateways poll: the active version's tier rules (status,
trust levels, citizenship, allowlist, windows, lifetimes) and the model catalog with its
fallbacks, as a JWS signed with the token signing key. Re-signed only when the active
version or the signing key changes, so conditional GETs get 304s in between."""

from __future__ import annotations

import hashlib
import threading

import jwt

from ..clock import Clock, epoch
from ..config import Settings
from ..signing.keyring import KeyRingCache
from ..token_status.publisher import Published
from .store import PolicyStore

SNAPSHOT_TYP = "entitlements-policy+jwt"


class PolicySnapshotPublisher:
    def __init__(self, store: PolicyStore, keys: KeyRingCache, settings: Settings,
                 clock: Clock) -> None:
        self._store, self._keys, self._settings, self._clock = store, keys, settings, clock
        self._signed: tuple[tuple[int, str], Published] | None = None
        self._lock = threading.Lock()

    def published(self) -> Published:
        now = self._clock.now()
        policy = self._store.active(now)
        info, private_key = self._keys.get().signer(now)
        key = (policy.version, info.kid)
        with self._lock:
            if self._signed is not None and self._signed[0] == key:
                return self._signed[1]
        claims = {"iss": self._settings.issuer, "iat": epoch(now), "ver": policy.version,
                  "tiers": policy.document["tiers"], "models": policy.document["models"]}
        token = jwt.encode(claims, private_key, algorithm=info.alg,
                           headers={"kid": info.kid, "typ": SNAPSHOT_TYP})
        published = Published(token, hashlib.sha256(token.encode()).hexdigest()[:32])
        with self._lock:
            self._signed = (key, published)
        return published
