"""The signed policy snapshot gateways poll: the active version's tier rules (status,
trust levels, citizenship, allowlist, windows, lifetimes) and the model catalog with its
fallbacks, as a JWS signed with the token signing key. Re-signed when the activation, the
signing key or the re-signing period changes, so conditional GETs get 304s in between.

``activation`` and ``activated_at`` only grow as time passes, so a gateway refuses a
snapshot older than the one it holds; ``exp`` bounds how long any snapshot can be replayed.
"""

from __future__ import annotations

import threading

from ..base.clock import Clock
from ..base.published import Published, document_etag, validity
from ..base.settings import Settings
from ..kernel.claims import SNAPSHOT_TYP
from ..signing.compact import sign_compact
from ..signing.keyring import KeyRingCache
from .store import PolicyStore


class PolicySnapshotPublisher:
    def __init__(self, store: PolicyStore, keys: KeyRingCache, settings: Settings,
                 clock: Clock) -> None:
        self._store, self._keys, self._settings, self._clock = store, keys, settings, clock
        self._signed: Published | None = None
        self._lock = threading.Lock()

    def published(self) -> Published:
        now = self._clock.now()
        activation = self._store.activation(now)
        info, private_key = self._keys.get().signer(now)
        issued_at, expires_at = validity(now)
        etag = document_etag(f"{activation.id}:{info.kid}", issued_at)
        with self._lock:
            if self._signed is not None and self._signed.etag == etag:
                return self._signed
        policy = self._store.version(activation.version)
        claims = {"iss": self._settings.issuer, "iat": issued_at, "exp": expires_at,
                  "ver": policy.version, "activation": activation.id,
                  "activated_at": activation.activate_at.timestamp(),
                  "tiers": policy.document["tiers"], "models": policy.document["models"]}
        token = sign_compact(claims, private_key, alg=info.alg, kid=info.kid,
                             typ=SNAPSHOT_TYP)
        published = Published(token, etag)
        with self._lock:
            self._signed = published
        return published
