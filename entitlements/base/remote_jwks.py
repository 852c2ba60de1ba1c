"""Other parties' keys: an inline JWKS or one fetched (and cached) from a ``jwks_uri``, and
the one place a key is found for a kid (clients, identity providers, attestation issuers).

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
from .errors import InvalidInput
from .fetch import FetchFailed, get_bounded
from .urls import is_secure_url

MAX_JWKS_BYTES = 64 * 1024
MAX_JWKS_KEYS = 10


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


def find_key(remote: RemoteJwks, *, jwks: dict[str, Any] | None, jwks_uri: str | None,
             kid: Any, owner: str) -> jwt.PyJWK:
    """The key ``kid`` names among a party's keys (inline, or at ``jwks_uri``, refetched for an
    unknown kid within the cool-down); without a kid, its only key. LookupError when there is
    no such key; JwksUnavailable when the keys cannot be had."""
    kid = kid if isinstance(kid, str) else None
    if jwks_uri:
        return remote.key(jwks_uri, kid)
    found = _pick(parse_jwks(jwks or {}, f"{owner}'s JWKS"), kid)
    if found is None:
        raise LookupError(f"no key {kid!r} in {owner}'s JWKS")
    return found


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


def validate_jwks_uri(uri: str) -> None:
    if not is_secure_url(uri):
        raise InvalidInput("jwks_uri must be an https URL")
    if len(uri) > 500:
        raise InvalidInput("jwks_uri is too long")


def validate_public_jwks(jwks: dict[str, Any]) -> None:
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not 0 < len(keys) <= MAX_JWKS_KEYS:
        raise InvalidInput(f"the JWKS must hold 1 to {MAX_JWKS_KEYS} keys")
    for key in keys:
        if (not isinstance(key, dict) or key.get("kty") == "oct"
                or any(p in key for p in ("d", "p", "q", "k"))):
            raise InvalidInput("the JWKS must hold public keys only")
    try:
        jwt.PyJWKSet.from_dict(jwks)
    except (jwt.PyJWKSetError, jwt.InvalidKeyError, KeyError, TypeError, ValueError) as error:
        raise InvalidInput(f"the JWKS is not usable: {error}") from None


def validate_key_source(jwks: dict[str, Any] | None, jwks_uri: str | None, owner: str) -> None:
    """Exactly one of an inline public JWKS or an https ``jwks_uri``, each well formed."""
    if (jwks is None) == (jwks_uri is None):
        raise InvalidInput(f"{owner} needs exactly one of a JWKS or a jwks_uri")
    if jwks_uri is not None:
        validate_jwks_uri(jwks_uri)
    else:
        validate_public_jwks(jwks or {})
