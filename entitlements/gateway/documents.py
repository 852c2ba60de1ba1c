"""The documents a gateway keeps fresh: the issuer's discovery document (once), its JWKS, the
signed policy snapshot and the status lists tokens point at. Each feed remembers its ETag and
when it was last confirmed current, so staleness is measurable and refreshes are conditional
GETs.

A signed document is also refused, or stops counting, once its ``exp`` has passed; a
snapshot older than the one held is refused, and a status list never un-revokes a token
(each new list keeps the revocations of the last), so replaying old documents to a gateway
can neither lift a suspension nor revive a revoked token."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

from ..kernel.claims import SNAPSHOT_TYP
from ..kernel.policy import Policy, compile_document
from ..kernel.status_list import (
    STATUS_LIST_TYP,
    StatusList,
    StatusListTokenError,
    read_status_list_token,
)
from . import http
from .clock import Clock
from .jws import PublicKey, TokenRejected, verified

T = TypeVar("T")
log = logging.getLogger("entitlements.gateway")
DISCOVERY = "/.well-known/oauth-authorization-server"
#: At most this many status lists are watched; the oldest is dropped for a new one.
MAX_STATUS_LISTS = 64
#: Seconds between two reads of the issuer's index of status lists for an unknown one.
INDEX_COOLDOWN = 1.0
#: Spellings of status list URIs remembered (emptied when full).
MAX_TRUSTED_URIS = 1024


class Feed(Generic[T]):
    """One document: its parsed value, ETag, the monotonic time it was last confirmed and
    the wall-clock time it expires. ``parse`` returns the value and that expiry."""

    def __init__(self, url: str, parse: Callable[[bytes], tuple[T, float]], *,
                 clock: Clock, timeout: float) -> None:
        self.url, self._parse, self._clock, self._timeout = url, parse, clock, timeout
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
            self.checked_at = self._clock.monotonic()
            return fetched.body is not None

    def settle(self) -> None:
        """Wait for a refresh under way in another thread, if any."""
        with self._lock:
            pass

    def age(self) -> float:
        """Seconds since the document was last confirmed; infinite once it has expired."""
        if self._clock.time() >= self.expires_at:
            return float("inf")
        return self._clock.monotonic() - self.checked_at

    def reset_after_fork(self) -> None:
        self._lock = threading.Lock()


class Jwks:
    """The issuer's keys by kid; an unknown kid triggers a refetch, at most once per
    ``cooldown`` seconds, so made-up kids cannot turn into a stream of fetches."""

    def __init__(self, url: str, *, clock: Clock, timeout: float, cooldown: float = 30.0
                 ) -> None:
        self.feed: Feed[dict[str, PublicKey]] = Feed(url, parse_jwks, clock=clock,
                                                     timeout=timeout)
        self.cooldown, self._clock = cooldown, clock
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
        now = self._clock.monotonic()
        if now - self._last_try < self.cooldown:
            return False
        self._last_try = now
        return True


def parse_jwks(body: bytes) -> tuple[dict[str, PublicKey], float]:
    try:
        keys = json.loads(body)["keys"]
    except (ValueError, KeyError, TypeError):
        keys = None
    if not isinstance(keys, list):
        raise http.FetchError("the JWKS is not a JSON key set")
    parsed = (PublicKey.from_jwk(k) for k in keys if isinstance(k, dict))
    return {k.kid: k for k in parsed if k is not None}, float("inf")


def _signed_claims(body: bytes, jwks: Jwks, typ: str, clock: Clock, leeway: float
                   ) -> tuple[dict[str, Any], dict[str, Any], float]:
    """The header and claims of a signed document, and when it stops counting (``exp`` +
    leeway): every document gateways poll must carry ``exp``."""
    header, claims = verified(body.decode("ascii", "replace").strip(), jwks.key, typ)
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise TokenRejected("missing_claims", "a signed document needs exp")
    if exp + leeway <= clock.time():
        raise TokenRejected("expired", "the document has expired")
    return header, claims, exp + leeway


def snapshot_parser(jwks: Jwks, issuer: str, clock: Clock, leeway: float
                    ) -> Callable[[bytes], tuple[Policy, float]]:
    """Snapshots are ordered by (``iat``, ``activated_at``, ``activation``): the service
    signs whatever is in force at the start of each re-signing period, so a replayed one is
    never newer than the one held, and one held by mistake (an activation cancelled just as
    it fell due) gives way to the next period's."""
    newest = [(float("-inf"), float("-inf"), -1)]

    def parse(body: bytes) -> tuple[Policy, float]:
        _, claims, expires_at = _signed_claims(body, jwks, SNAPSHOT_TYP, clock, leeway)
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


def status_list_parser(jwks: Jwks, uri: str, clock: Clock, leeway: float
                       ) -> Callable[[bytes], tuple[StatusList, float]]:
    """The shared kernel's rules for a status list token, after our own signature check; a
    new list keeps every revocation of the one it replaces."""
    held: list[StatusList] = []

    def parse(body: bytes) -> tuple[StatusList, float]:
        header, claims, expires_at = _signed_claims(body, jwks, STATUS_LIST_TYP, clock, leeway)
        try:
            bits = read_status_list_token(header, claims, uri=uri, now=clock.time(),
                                          leeway=leeway).statuses
            if held:
                bits = bits.keeping_revocations(held[0])
        except StatusListTokenError as error:
            raise TokenRejected(error.reason, str(error)) from None
        except ValueError as error:
            raise TokenRejected("malformed", str(error)) from None
        held[:] = [bits]
        return bits, expires_at
    return parse


class Documents:
    """Everything a gateway polls, found through the issuer's discovery document."""

    def __init__(self, issuer: str, *, clock: Clock, timeout: float, leeway: float,
                 allow_http: bool) -> None:
        self.issuer, self._clock, self._timeout, self._leeway = issuer, clock, timeout, leeway
        self._secure = partial(http.require_secure, allow_http=allow_http)
        self.jwks: Jwks | None = None
        self.snapshot: Feed[Policy] | None = None
        self.status_lists_uri: str | None = None
        self.lists: dict[str, Feed[StatusList]] = {}
        self._known_lists: frozenset[str] = frozenset()
        #: URIs as tokens spell them, of lists in ``_known_lists``: their normalized form.
        self._trusted: dict[str, str] = {}
        self._index_read_at = float("-inf")
        self._lock = threading.Lock()
        self._index_lock = threading.Lock()

    @property
    def discovered(self) -> bool:
        return self.snapshot is not None

    def discover(self) -> None:
        """Read the issuer's metadata once: where its keys, snapshot and lists are."""
        with self._lock:
            if self.discovered:
                return
            body = http.get(self._secure(self.issuer) + DISCOVERY, timeout=self._timeout).body
            try:
                metadata = json.loads(body or b"{}")
                locations = [metadata[name] for name in ("jwks_uri", "policy_snapshot_uri",
                                                         "status_lists_uri")]
            except (ValueError, KeyError, TypeError):
                raise http.FetchError("the discovery document is not the issuer's "
                                      "metadata") from None
            if metadata.get("issuer") != self.issuer or not all(isinstance(u, str)
                                                               for u in locations):
                raise http.FetchError("the discovery document names another issuer")
            jwks_uri, snapshot_uri, lists_uri = (self._secure(u) for u in locations)
            jwks = Jwks(jwks_uri, clock=self._clock, timeout=self._timeout)
            self.jwks, self.status_lists_uri = jwks, lists_uri
            self.snapshot = Feed(snapshot_uri, snapshot_parser(jwks, self.issuer,
                                                               self._clock, self._leeway),
                                 clock=self._clock, timeout=self._timeout)

    def feeds(self) -> list[Feed[Any]]:
        if self.jwks is None or self.snapshot is None:
            return []
        return [self.jwks.feed, self.snapshot, *list(self.lists.values())]

    def refresh(self) -> bool:
        """Poll every document once; True when any changed. A document that cannot be had
        keeps its last good copy (its age grows, and staleness rules apply)."""
        if not self.discovered:
            self.discover()
        changed = False
        for feed in self.feeds():
            changed |= refresh_feed(feed)
        return changed

    def known_status_list(self, uri: str) -> str | None:
        """The issuer's status list ``uri`` names, exactly once normalized (no ``..``, no
        query, the same scheme, host and port), or None. The issuer's index of lists is read
        again, at most once a second, for a list it did not name yet."""
        found = self._trusted.get(uri)  # every token names one: a dictionary's look-up
        if found is not None:
            return found
        normalized = normalize_uri(uri)
        if normalized is None:
            return None
        if normalized not in self._known_lists:
            with self._index_lock:  # callers meanwhile wait for the index being read
                if normalized not in self._known_lists and self._may_read_index():
                    self._read_index()
            if normalized not in self._known_lists:
                return None
        if len(self._trusted) >= MAX_TRUSTED_URIS:
            self._trusted.clear()
        self._trusted[uri] = normalized
        return normalized

    def _may_read_index(self) -> bool:
        now = self._clock.monotonic()
        if now - self._index_read_at < INDEX_COOLDOWN:
            return False
        self._index_read_at = now
        return True

    def _read_index(self) -> None:
        if self.status_lists_uri is None:
            return
        try:
            listed = json.loads(http.get(self.status_lists_uri, timeout=self._timeout).body
                                or b"{}")["status_lists"]
        except (http.FetchError, ValueError, KeyError, TypeError):
            return
        if isinstance(listed, list):
            self._known_lists = frozenset(
                n for n in (normalize_uri(u) for u in listed if isinstance(u, str)) if n)
            self._trusted = {}  # the URIs found among the lists the index named before

    def status_list(self, uri: str) -> Feed[StatusList]:
        """The feed of the status list at ``uri`` (one of the issuer's), watched from now on."""
        feed = self.lists.get(uri)
        if feed is not None:
            return feed
        assert self.jwks is not None, "discovered first"
        with self._lock:
            feed = self.lists.get(uri)
            if feed is None:
                feed = Feed(uri, status_list_parser(self.jwks, uri, self._clock, self._leeway),
                            clock=self._clock, timeout=self._timeout)
                while len(self.lists) >= MAX_STATUS_LISTS:
                    self.lists.pop(next(iter(self.lists)))
                self.lists[uri] = feed
        refresh_feed(feed)
        return feed

    def reset_after_fork(self) -> None:
        self._lock = threading.Lock()
        self._index_lock = threading.Lock()
        for feed in self.feeds():
            feed.reset_after_fork()


@lru_cache(maxsize=1024)
def normalize_uri(uri: str) -> str | None:
    """``uri`` in one spelling (lower-case scheme and host, no default port), or None when it
    cannot name one of the issuer's documents: not http(s), dot segments, a query, a
    fragment, credentials."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    segments = parts.path.split("/")
    if (parts.scheme.lower() not in ("https", "http") or not parts.hostname or parts.query
            or parts.fragment or "@" in parts.netloc or "." in segments or ".." in segments
            or "%" in parts.path):
        return None
    scheme = parts.scheme.lower()
    default = {"https": 443, "http": 80}[scheme]
    host = parts.hostname.lower()
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != default:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{parts.path}"


def refresh_feed(feed: Feed[Any]) -> bool:
    """Refresh one feed; False (the last good copy kept) when it cannot be had or read."""
    try:
        return feed.refresh()
    except (http.FetchError, TokenRejected):
        return False
    except Exception:  # a document we cannot read must not stop the poller either
        log.warning("could not read %s; keeping the last good copy", feed.url, exc_info=True)
        return False
