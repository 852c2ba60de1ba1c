"""DPoP (RFC 9449) at the gateway: a DPoP-bound token counts only with a proof, made for
this request, by the key the token names in ``cnf.jkt``, and used once.

The checks are the kernel's (``kernel.dpop.check``), with ``ath`` and the key thumbprint
required; signatures are verified with ``cryptography`` against keys parsed once per key.
Replay is kept in a bounded per-process cache, or shared by every gateway through Redis
(``RedisReplayCache``, any client with redis-py's ``set``). Nonces are optional.
"""

from __future__ import annotations

import hashlib
import heapq
import secrets
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import jwt

from ..kernel import dpop
from ..kernel.dpop import Nonces, ProofRefused
from .clock import Clock
from .jws import PublicKey

__all__ = ["DpopOptions", "MemoryReplayCache", "ProofRefused", "ProofVerifier",
           "RedisReplayCache", "ReplayCache"]
DEFAULT_MAX_AGE = 60.0
DEFAULT_REPLAY_ENTRIES = 100_000
MAX_KEYS = 10_000


class ReplayCache(Protocol):
    def first_use(self, key: str, iat: float, keep: float, now: float) -> bool:
        """Record a proof's use for ``keep`` seconds; False when it was used before.
        ProofRefused when its use cannot be ruled out (``MemoryReplayCache``)."""


class MemoryReplayCache:
    """This process's proofs, bounded in time (each kept while its ``iat`` is acceptable)
    and in size. When full, the proof with the oldest ``iat`` makes way (a heap orders
    them), and from then on its key's proofs no newer than it are refused as stale: a
    replay of a forgotten proof cannot slip through. The floor is its key's alone, so a
    flood of proofs (dated ahead, say) by one client's keys costs the others nothing.
    Keys are ``jkt.jti``: a key's floors are kept as long as proofs they refuse could be
    acceptable, and at most ``max_entries`` of them (past that, one floor for all)."""

    def __init__(self, max_entries: int = DEFAULT_REPLAY_ENTRIES) -> None:
        self.max_entries = max_entries
        self._seen: dict[str, float] = {}  # key: until
        self._by_iat: list[tuple[float, float, str]] = []  # (iat, until, key), a heap
        self._floors: dict[str, tuple[float, float]] = {}  # jkt: (iat, until)
        self._floor = float("-inf")
        self._lock = threading.Lock()

    def first_use(self, key: str, iat: float, keep: float, now: float) -> bool:
        with self._lock:
            seen, by_iat = self._seen, self._by_iat
            while by_iat and by_iat[0][1] <= now:  # the expired, oldest first
                _, until, old = heapq.heappop(by_iat)
                if seen.get(old) == until:
                    del seen[old]
            if key in seen:
                return False
            if iat <= self._floor or (self._floors and self._below_floor(key, iat, now)):
                raise ProofRefused("dpop_stale", "the proof is older than this gateway's "
                                                 "replay cache can vouch for")
            while len(seen) >= self.max_entries:
                evicted_iat, until, old = heapq.heappop(by_iat)
                if seen.get(old) == until:
                    del seen[old]
                    self._raise_floor(old.partition(".")[0], evicted_iat, until, now)
            until = now + keep
            seen[key] = until
            heapq.heappush(by_iat, (iat, until, key))  # in iat order mostly: one comparison
            return True

    def _below_floor(self, key: str, iat: float, now: float) -> bool:
        signer = key.partition(".")[0]
        found = self._floors.get(signer)
        if found is None:
            return False
        if found[1] <= now:
            del self._floors[signer]
            return False
        return iat <= found[0]

    def _raise_floor(self, signer: str, iat: float, until: float, now: float) -> None:
        before = self._floors.get(signer, (float("-inf"), until))
        self._floors[signer] = (max(before[0], iat), max(before[1], until))
        if len(self._floors) > self.max_entries:
            self._floors = {k: v for k, v in self._floors.items() if v[1] > now}
        if len(self._floors) > self.max_entries:  # too many to keep apart: one floor
            self._floor = max([self._floor, *(f for f, _ in self._floors.values())])
            self._floors.clear()

    def __len__(self) -> int:
        return len(self._seen)


class RedisReplayCache:
    """Shared by every gateway that uses the same Redis: ``SET key NX PX``. ``client`` is
    a ``redis.Redis`` (the SDK does not import redis itself). A Redis that cannot answer
    refuses the proof (fail closed)."""

    def __init__(self, client: Any, prefix: str = "entitlements:gateway:dpop:") -> None:
        self.client, self.prefix = client, prefix

    def first_use(self, key: str, iat: float, keep: float, now: float) -> bool:
        digest = hashlib.sha256(key.encode()).hexdigest()  # a short key of fixed length
        try:
            return bool(self.client.set(self.prefix + digest, b"1", nx=True,
                                        px=max(1, int(keep * 1000))))
        except Exception as error:  # noqa: BLE001 - redis's errors, whatever the client
            raise ProofRefused("dpop_replay_unavailable",
                               f"the replay cache cannot be reached: {type(error).__name__}"
                               ) from None


@dataclass
class DpopOptions:
    """How a gateway checks proofs. ``public_url``: the scheme and host clients address
    (behind a proxy or a load balancer), which ``htu`` must name instead of the URL the
    request arrived at. ``require_nonce``: proofs must carry this gateway's nonce
    (``DPoP-Nonce``); gateways behind one address share ``nonce_secret``."""

    max_age: float = DEFAULT_MAX_AGE
    replays: ReplayCache = field(default_factory=MemoryReplayCache)
    public_url: str | None = None
    require_nonce: bool = False
    nonce_secret: str | bytes | None = None
    nonce_lifetime: float = 60.0
    algorithms: tuple[str, ...] = dpop.ALGORITHMS


class ProofVerifier:
    def __init__(self, options: DpopOptions, *, clock: Clock, leeway: float) -> None:
        self.options, self.clock, self.leeway = options, clock, leeway
        self.algorithms = options.algorithms
        self.nonces = Nonces(options.nonce_secret or secrets.token_bytes(32),
                             options.nonce_lifetime) if options.require_nonce else None
        self._keys: dict[tuple[str, str], PublicKey] = {}
        self._public = options.public_url.rstrip("/") if options.public_url else None

    def verify(self, proofs: Sequence[str], *, method: str, url: str, token: str,
               jkt: str) -> None:
        """The request's one proof, for ``method`` and ``url``, of ``token``, by the key
        ``jkt``, fresh and first used now; ProofRefused otherwise."""
        proof = proofs[0] if len(proofs) == 1 and "," not in proofs[0] else dpop.single(proofs)
        if proof is None:
            raise ProofRefused("dpop_proof_required")
        now = self.clock.time()
        checked = dpop.check(proof, method=method, uri=self.target(url), now=now,
                             max_age=self.options.max_age, leeway=self.leeway,
                             verify=self._verify, access_token=token, bound_to=jkt,
                             algorithms=self.algorithms)
        if self.nonces is not None and not self.nonces.valid(checked.nonce, now):
            raise ProofRefused("dpop_nonce_stale" if checked.nonce else "dpop_nonce_required")
        keep = checked.keep(now, self.options.max_age, self.leeway)
        if not self.options.replays.first_use(checked.spent, checked.iat, keep, now):
            raise ProofRefused("dpop_replayed")

    def nonce(self) -> str | None:
        """The nonce a refusal hands out (``DPoP-Nonce``), when nonces are required."""
        return self.nonces.current(self.clock.time()) if self.nonces is not None else None

    def target(self, url: str) -> str:
        """The URL ``htu`` must name: the request's, on ``public_url``'s scheme and host."""
        if self._public is None:
            return url
        try:
            path = urlsplit(url).path
        except ValueError:
            return ""  # no URL: it matches no proof
        return self._public + (path or "/")

    def _verify(self, jwk: Mapping[str, Any], jkt: str, alg: str, signing_input: bytes,
                signature: bytes) -> bool:
        key = self._keys.get((jkt, alg))
        if key is None:
            try:
                key = PublicKey(jkt, alg, jwt.PyJWK(dict(jwk), algorithm=alg).key)
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
                raise ProofRefused("dpop_bad_key") from None
            if len(self._keys) >= MAX_KEYS:
                self._keys.clear()
            self._keys[(jkt, alg)] = key
        return key.verify(signing_input, signature)
