"""Fetch and cache other parties' JWKS (client jwks_uri, later attestation issuers).

A set is re-fetched when it is older than ``ttl``, or when a token names a kid it
lacks and the last fetch is older than ``cooldown``: a stream of tokens with
made-up kids cannot turn into a stream of fetches.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt

from .cache import TTLCache
from .fetch import FetchFailed, get_bounded

MAX_JWKS_BYTES = 64 * 1024


class JwksUnavailable(Exception):
    """The JWKS could not be fetched or parsed."""


@dataclass(frozen=True)
class _Fetched:
    keys: jwt.PyJWKSet
    at: float


class RemoteJwks:
    def __init__(
        self, ttl: float = 300.0, cooldown: float = 30.0, timeout: float = 5.0,
        maxsize: int = 1000,
    ) -> None:
        self.ttl, self.cooldown, self.timeout = ttl, cooldown, timeout
        self._sets: TTLCache[str, _Fetched] = TTLCache(maxsize, ttl)
        self._lock = threading.Lock()

    def key(self, uri: str, kid: str | None) -> jwt.PyJWK:
        """The key ``kid`` (or the only key, when no kid is given) of the set at ``uri``."""
        fetched = self._sets.get_or_load(uri, self._fetch)
        found = _pick(fetched.keys, kid)
        if found is None and time.monotonic() - fetched.at >= self.cooldown:
            with self._lock:
                self._sets.invalidate(uri)
                fetched = self._sets.get_or_load(uri, self._fetch)
            found = _pick(fetched.keys, kid)
        if found is None:
            raise LookupError(f"no key {kid!r} in the JWKS at {uri}")
        return found

    def key_set(self, uri: str) -> jwt.PyJWKSet:
        """The whole (cached) set at ``uri``."""
        return self._sets.get_or_load(uri, self._fetch).keys

    def _fetch(self, uri: str) -> _Fetched:
        try:
            body = get_bounded(uri, max_bytes=MAX_JWKS_BYTES, timeout=self.timeout,
                               accept="application/json")
        except FetchFailed as error:
            raise JwksUnavailable(str(error)) from None
        return _Fetched(parse_jwks(body, uri), time.monotonic())


def parse_jwks(body: bytes | dict[str, Any], source: str = "JWKS") -> jwt.PyJWKSet:
    try:
        return jwt.PyJWKSet.from_json(body) if isinstance(body, bytes) else (
            jwt.PyJWKSet.from_dict(body)
        )
    except (jwt.PyJWKSetError, jwt.InvalidKeyError, ValueError) as error:
        raise JwksUnavailable(f"{source} is not a usable JWKS: {error}") from None


def _pick(keys: jwt.PyJWKSet, kid: str | None) -> jwt.PyJWK | None:
    if kid is None:
        return keys.keys[0] if len(keys.keys) == 1 else None
    return next((k for k in keys.keys if k.key_id == kid), None)
