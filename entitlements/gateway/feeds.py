"""The documents a gateway keeps fresh: the JWKS, the signed policy snapshot and the status
lists. Each feed remembers its ETag and when it was last confirmed current, so staleness is
measurable and refreshes are conditional GETs.

A signed document is also refused, or stops counting, once its ``exp`` has passed; a
snapshot older than the one held is refused, and a status list never un-revokes a token
(each new list keeps the revocations of the last), so replaying old documents to a gateway
can neither lift a suspension nor revive a revoked token."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ..kernel.policy import Policy, compile_document
from ..kernel.status_list import STATUS_LIST, STATUS_LIST_TYP, StatusList
from . import http
from .jws import PublicKey, TokenRejected, verified

T = TypeVar("T")
SNAPSHOT_TYP = "entitlements-policy+jwt"


class Feed(Generic[T]):
    """One document: its parsed value, ETag, the monotonic time it was last confirmed and
    the wall-clock time it expires. ``parse`` returns the value and that expiry."""

    def __init__(self, url: str, parse: Callable[[bytes], tuple[T, float]],
                 timeout: float) -> None:
        self.url, self._parse, self._timeout = url, parse, timeout
        self.value: T | None = None
        self.etag: str | None = None
        self.expires_at = float("inf")
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
                (self.value, self.expires_at), self.etag = self._parse(fetched.body), fetched.etag
                self.changes += 1
            self.checked_at = time.monotonic()
            return fetched.body is not None

    def age(self) -> float:
        """Seconds since the document was last confirmed; infinite once it has expired."""
        if time.time() >= self.expires_at:
            return float("inf")
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


def _parse_jwks(body: bytes) -> tuple[dict[str, PublicKey], float]:
    try:
        keys = json.loads(body)["keys"]
    except (ValueError, KeyError, TypeError):
        keys = None
    if not isinstance(keys, list):
        raise http.FetchError("the JWKS is not a JSON key set")
    parsed = (PublicKey.from_jwk(k) for k in keys if isinstance(k, dict))
    return {k.kid: k for k in parsed if k is not None}, float("inf")


def _signed_claims(body: bytes, jwks: Jwks, typ: str, leeway: float
                   ) -> tuple[dict[str, Any], float]:
    """The claims of a signed document and when it stops counting (``exp`` + leeway)."""
    _, claims = verified(body.decode("ascii", "replace").strip(), jwks.key, typ)
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise TokenRejected("missing_claims", "a signed document needs exp")
    if exp + leeway <= time.time():
        raise TokenRejected("expired", "the document has expired")
    return claims, exp + leeway


def snapshot_parser(jwks: Jwks, issuer: str, leeway: float
                    ) -> Callable[[bytes], tuple[Policy, float]]:
    """Snapshots are ordered by (``iat``, ``activated_at``, ``activation``): the service
    signs whatever is in force at the start of each re-signing period, so a replayed one is
    never newer than the one held, and one held by mistake (an activation cancelled just as
    it fell due) gives way to the next period's."""
    newest = [(float("-inf"), float("-inf"), -1)]

    def parse(body: bytes) -> tuple[Policy, float]:
        claims, expires_at = _signed_claims(body, jwks, SNAPSHOT_TYP, leeway)
        if claims.get("iss") != issuer:
            raise TokenRejected("wrong_issuer", "the snapshot is not from our issuer")
        order = (float(claims["iat"]), float(claims["activated_at"]), int(claims["activation"]))
        if order < newest[0]:
            raise TokenRejected("replayed", "older than the snapshot held")
        policy = compile_document(int(claims["ver"]), {"tiers": claims["tiers"],
                                                       "models": claims["models"]})
        newest[0] = order
        return policy, expires_at
    return parse


def status_list_parser(jwks: Jwks, uri: str, leeway: float
                       ) -> Callable[[bytes], tuple[StatusList, float]]:
    held: list[StatusList] = []  # the list held, whose revocations every new one keeps

    def parse(body: bytes) -> tuple[StatusList, float]:
        claims, expires_at = _signed_claims(body, jwks, STATUS_LIST_TYP, leeway)
        if claims.get("sub") != uri:
            raise TokenRejected("wrong_status_list", "the list names another URI")
        try:
            bits = StatusList.decode(claims.get(STATUS_LIST))
            if held:
                bits = bits.keeping_revocations(held[0])
        except ValueError as error:
            raise TokenRejected("malformed", str(error)) from None
        held[:] = [bits]
        return bits, expires_at
    return parse
