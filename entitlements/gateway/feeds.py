"""The documents a gateway keeps fresh: the JWKS, the signed policy snapshot and the status
lists. Each feed remembers its ETag and when it was last confirmed current, so staleness is
measurable and refreshes are conditional GETs."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from . import http
from .jws import PublicKey, TokenRejected, verified
from .policy import Policy, compile_document
from .status_list import STATUS_LIST, STATUS_LIST_TYP, StatusList

T = TypeVar("T")
SNAPSHOT_TYP = "entitlements-policy+jwt"


class Feed(Generic[T]):
    """One document: its parsed value, ETag, and the monotonic time it was last confirmed."""

    def __init__(self, url: str, parse: Callable[[bytes], T], timeout: float) -> None:
        self.url, self._parse, self._timeout = url, parse, timeout
        self.value: T | None = None
        self.etag: str | None = None
        self.checked_at = float("-inf")
        self.changes = 0
        self._lock = threading.Lock()

    def refresh(self) -> bool:
        """Fetch if changed; True when the value changed. Raises http.FetchError or
        TokenRejected (an unverifiable document is never taken)."""
        with self._lock:
            fetched = http.get(self.url, etag=self.etag if self.value is not None else None,
                               timeout=self._timeout)
            if fetched.body is not None:
                self.value, self.etag = self._parse(fetched.body), fetched.etag
                self.changes += 1
            self.checked_at = time.monotonic()
            return fetched.body is not None

    def age(self) -> float:
        return time.monotonic() - self.checked_at

    def reset_after_fork(self) -> None:
        self._lock = threading.Lock()


class Jwks:
    """The issuer's keys by kid; an unknown kid triggers a refetch, at most once per
    ``cooldown`` seconds, so made-up kids cannot turn into a stream of fetches."""

    def __init__(self, url: str, timeout: float, cooldown: float = 30.0) -> None:
        self.feed: Feed[dict[str, PublicKey]] = Feed(url, _parse_jwks, timeout)
        self.cooldown = cooldown
        self._last_try = float("-inf")

    def key(self, kid: Any) -> PublicKey | None:
        keys = self.feed.value or {}
        found = keys.get(kid) if isinstance(kid, str) else None
        if found is None and isinstance(kid, str) and self._may_refetch():
            try:
                self.feed.refresh()
            except http.FetchError:
                return None
            found = (self.feed.value or {}).get(kid)
        return found

    def _may_refetch(self) -> bool:
        now = time.monotonic()
        if now - self._last_try < self.cooldown:
            return False
        self._last_try = now
        return True


def _parse_jwks(body: bytes) -> dict[str, PublicKey]:
    try:
        keys = json.loads(body)["keys"]
    except (ValueError, KeyError, TypeError):
        raise http.FetchError("the JWKS is not a JSON key set") from None
    parsed = (PublicKey.from_jwk(k) for k in keys if isinstance(k, dict))
    return {k.kid: k for k in parsed if k is not None}


def snapshot_parser(jwks: Jwks, issuer: str) -> Callable[[bytes], Policy]:
    def parse(body: bytes) -> Policy:
        _, claims = verified(body.decode("ascii", "replace").strip(), jwks.key, SNAPSHOT_TYP)
        if claims.get("iss") != issuer:
            raise TokenRejected("wrong_issuer", "the snapshot is not from our issuer")
        return compile_document(int(claims["ver"]), {"tiers": claims["tiers"],
                                                     "models": claims["models"]})
    return parse


def status_list_parser(jwks: Jwks, uri: str) -> Callable[[bytes], StatusList]:
    def parse(body: bytes) -> StatusList:
        _, claims = verified(body.decode("ascii", "replace").strip(), jwks.key,
                             STATUS_LIST_TYP)
        if claims.get("sub") != uri:
            raise TokenRejected("wrong_status_list", "the list names another URI")
        try:
            return StatusList.decode(claims.get(STATUS_LIST))
        except ValueError as error:
            raise TokenRejected("malformed", str(error)) from None
    return parse
