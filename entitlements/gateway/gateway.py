"""``Gateway.decide(token, model)``: allow the model, fall back to another, or deny, offline.

Per request: the token's signature (cached JWKS, allowed algorithms only), ``typ``, ``iss``,
``aud``, times and required claims; its status-list bit; the current policy snapshot (a
suspended tier or an allowlist change applies at once, whatever the token says); the
model's tier, release date and windows. Verified tokens and decisions are cached (bounded)
until they expire or a document changes. A background thread keeps the snapshot and the
status lists fresh with conditional GETs; past a tier's maximum staleness, a tier that is
not fail-open is treated as unavailable (``stale_policy``).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, datetime
from functools import partial
from typing import Any, NamedTuple

from ..kernel import claims as c
from ..kernel.assurance import ASSURANCE_LEVELS
from ..kernel.policy import Citizenship, Policy, Subject, decide_model
from ..kernel.status_list import INVALID, VALID, StatusList, reference
from . import http
from .feeds import Feed, Jwks, snapshot_parser, status_list_parser
from .jws import TokenRejected, verified

log = logging.getLogger("entitlements.gateway")
DISCOVERY = "/.well-known/oauth-authorization-server"
_REQUIRED = frozenset(c.REQUIRED_CLAIMS)
_NUMBER = (int, float)
DEFAULT_MAX_STALENESS = 10.0
_MISS = object()


class GatewayDecision(NamedTuple):
    """``outcome`` allow / fallback / deny; ``model`` is what to route to (None on deny)."""

    outcome: str
    model: str | None
    requested: str
    reason: str | None = None
    subject: str | None = None
    organization_id: str | None = None
    policy_version: int | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome != "deny"

    @property
    def token_problem(self) -> bool:
        """A deny because of the token itself (HTTP 401), not of the policy (403)."""
        return self.outcome == "deny" and self.reason in TOKEN_REASONS


TOKEN_REASONS = frozenset({
    "malformed", "algorithm_not_allowed", "wrong_typ", "unknown_kid", "bad_signature",
    "missing_claims", "wrong_issuer", "wrong_audience", "expired", "not_yet_valid",
    "revoked", "untrusted_status_list", "missing_token", "unsupported_claims_version"})


class _Verified(NamedTuple):
    """What the checks keep of a token: plain values only, so a cache of thousands holds no
    dicts for the garbage collector to walk."""

    sub: str
    expires_at: float
    subject: Subject
    tiers: tuple[str, ...]
    status: tuple[str, int] | None


class Gateway:
    def __init__(self, issuer: str, audience: str, *, poll_interval: float = 1.0,
                 leeway: float = 30.0, max_staleness: Mapping[str, float] | None = None,
                 default_max_staleness: float = DEFAULT_MAX_STALENESS,
                 fail_open_tiers: frozenset[str] = frozenset({"public"}),
                 cache_size: int = 10_000, timeout: float = 5.0, background: bool = True,
                 allow_http: bool = False) -> None:
        self.issuer, self.audience = issuer.rstrip("/"), audience
        self.poll_interval, self.leeway, self.timeout = poll_interval, leeway, timeout
        self.max_staleness = dict(max_staleness or {})
        self.default_max_staleness = default_max_staleness
        # How long a decision may be reused when no document changes: one poll period, and
        # half the shortest staleness, so windows and staleness take effect within it.
        self._horizon = min(poll_interval, min([default_max_staleness,
                                                *self.max_staleness.values()]) / 2)
        self.fail_open_tiers = fail_open_tiers
        self.cache_size = cache_size
        secure = partial(http.require_secure, allow_http=allow_http)
        metadata = json.loads(http.get(secure(self.issuer) + DISCOVERY, timeout=timeout).body
                              or b"{}")
        if metadata.get("issuer") != self.issuer:
            raise http.FetchError("the discovery document names another issuer")
        self.jwks = Jwks(secure(metadata["jwks_uri"]), timeout)
        self.snapshot: Feed[Policy] = Feed(secure(metadata["policy_snapshot_uri"]),
                                           snapshot_parser(self.jwks, self.issuer, leeway),
                                           timeout)
        self.status_prefix = secure(metadata["status_lists_uri"]).rstrip("/") + "/"
        self._lists: dict[str, Feed[StatusList]] = {}
        self._tokens: OrderedDict[str, _Verified] = OrderedDict()
        self._decisions: dict[tuple[str, str], tuple[GatewayDecision, float, int]] = {}
        self._verdicts: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        self._generation = 0
        self._jwks_seen = -1
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._background = background
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self.refresh()
        if background:
            self._start()
        _register_fork_handler(self)

    # -- the decision --------------------------------------------------------------------

    def decide(self, token: str | None, model: str) -> GatewayDecision:
        if not token:
            return GatewayDecision("deny", None, model, "missing_token")
        key = (token, model)
        cached = self._decisions.get(key, _MISS)
        if cached is not _MISS and cached[2] == self._generation and time.time() < cached[1]:
            return cached[0]
        try:
            checked = self._verified(token)
        except TokenRejected as rejected:
            return GatewayDecision("deny", None, model, rejected.reason)
        decision, valid_until = self._decide(checked, model)
        if len(self._decisions) >= self.cache_size:
            self._decisions.clear()
        self._decisions[key] = (decision, valid_until, self._generation)
        return decision

    def _verified(self, token: str) -> _Verified:
        if self.jwks.feed.changes != self._jwks_seen:  # keys changed on any path
            self._keys_changed()
        found = self._tokens.get(token)
        if found is not None and time.time() < found.expires_at:
            return found
        _, claims = verified(token, self.jwks.key, c.ACCESS_TOKEN_TYP)
        checked = self._checked(claims)
        if len(self._tokens) >= self.cache_size:
            with suppress(KeyError):  # another thread may have emptied it meanwhile
                self._tokens.popitem(last=False)  # the oldest, in O(1)
        self._tokens[token] = checked
        return checked

    def _checked(self, claims: dict[str, Any]) -> _Verified:
        if not claims.keys() >= _REQUIRED:
            raise TokenRejected("missing_claims")
        if claims[c.ISSUER] != self.issuer:
            raise TokenRejected("wrong_issuer")
        audience = claims[c.AUDIENCE]
        if audience != self.audience and not (isinstance(audience, list)
                                              and self.audience in audience):
            raise TokenRejected("wrong_audience")
        now = time.time()
        exp, nbf = claims[c.EXPIRES_AT], claims.get(c.NOT_BEFORE, claims[c.ISSUED_AT])
        if not isinstance(exp, _NUMBER) or not isinstance(nbf, _NUMBER):
            raise TokenRejected("malformed", "exp and nbf must be NumericDates")
        if exp + self.leeway <= now:
            raise TokenRejected("expired")
        if nbf - self.leeway > now:
            raise TokenRejected("not_yet_valid")
        if claims[c.CLAIMS_VERSION_CLAIM] != c.CLAIMS_VERSION:
            raise TokenRejected("unsupported_claims_version")
        return _Verified(str(claims[c.SUBJECT]), exp + self.leeway, _subject(claims),
                         tuple(claims[c.ENTITLEMENTS]), self._status_ref(claims))

    def _status_ref(self, claims: dict[str, Any]) -> tuple[str, int] | None:
        try:
            ref = reference(claims)
        except ValueError:
            raise TokenRejected("malformed", "the status claim is invalid") from None
        if ref is not None and not ref[0].startswith(self.status_prefix):
            raise TokenRejected("untrusted_status_list")
        return ref

    def _decide(self, checked: _Verified, model: str) -> tuple[GatewayDecision, float]:
        subject = checked.subject
        if checked.status is not None and self._status(checked.status) != VALID:
            return (GatewayDecision("deny", None, model, "revoked", checked.sub,
                                    subject.organization_id), checked.expires_at)
        policy = self.snapshot.value
        if policy is None:
            return GatewayDecision("deny", None, model, "stale_policy"), time.time() + 1
        outcome, route_to, reason, valid_until = self._verdict(policy, checked, model)
        decision = GatewayDecision(outcome, route_to, model, reason, checked.sub,
                                   subject.organization_id, policy.version)
        return decision, min(checked.expires_at, valid_until)

    def _verdict(self, policy: Policy, checked: _Verified, model: str
                 ) -> tuple[str, str | None, str | None, float]:
        """The policy's answer for these facts; shared by every token with the same subject,
        tiers and status-list freshness until a document changes or the horizon passes."""
        key = (checked.subject, checked.tiers, model, checked.status is None or
               checked.status[0])
        found = self._verdicts.get(key)
        now_ts = time.time()
        if found is not None and found[3] > now_ts and found[4] == self._generation:
            return found[:4]
        stale = self._staleness(checked)

        def usable(tier: str) -> bool:
            return tier in checked.tiers and (tier in self.fail_open_tiers or not stale(tier))

        verdict = decide_model(policy, checked.subject, model, datetime.now(UTC), usable)
        reason = verdict.reason
        if reason == "tier_not_in_token" and verdict.tier in checked.tiers:
            reason = "stale_policy"
        result = (verdict.outcome, verdict.route_to, reason, now_ts + self._horizon)
        if len(self._verdicts) >= self.cache_size:
            self._verdicts.clear()
        self._verdicts[key] = (*result, self._generation)
        return result

    def _staleness(self, checked: _Verified) -> Any:
        ages = [self.snapshot.age()]
        if checked.status is not None:
            feed = self._lists.get(checked.status[0])
            ages.append(feed.age() if feed is not None else float("inf"))
        age = max(ages)
        return lambda tier: age > self.max_staleness.get(tier, self.default_max_staleness)

    def _status(self, ref: tuple[str, int]) -> int:
        uri, idx = ref
        feed = self._lists.get(uri)
        if feed is None:
            feed = self._watch(uri)
        bits = feed.value
        if bits is None or idx >= bits.size:
            return VALID if bits is None else INVALID  # unknown list: staleness decides
        return bits.get(idx)

    def _watch(self, uri: str) -> Feed[StatusList]:
        with self._lock:
            feed = self._lists.get(uri)
            if feed is None:
                feed = Feed(uri, status_list_parser(self.jwks, uri, self.leeway),
                            self.timeout)
                while len(self._lists) >= 64:
                    self._lists.pop(next(iter(self._lists)))
                self._lists[uri] = feed
        self._refresh_feed(feed)
        return feed

    # -- keeping documents fresh ---------------------------------------------------------

    def refresh(self) -> None:
        """Poll every document once (the background thread does this every period)."""
        for feed in [self.jwks.feed, self.snapshot, *list(self._lists.values())]:
            self._refresh_feed(feed)
        if self.jwks.feed.changes != self._jwks_seen:
            self._keys_changed()

    def _keys_changed(self) -> None:
        """A withdrawn key must stop verifying at once: forget what it verified."""
        with self._lock:
            self._jwks_seen = self.jwks.feed.changes
            self._tokens.clear()
            self._generation += 1

    def _refresh_feed(self, feed: Feed[Any]) -> None:
        try:
            changed = feed.refresh()
        except (http.FetchError, TokenRejected):
            return  # keep the last good value; its age grows and staleness rules apply
        except Exception:  # a document we cannot read must not stop the poller either
            log.warning("could not read %s; keeping the last good copy", feed.url,
                        exc_info=True)
            return
        if changed:
            with self._lock:
                self._generation += 1

    def _start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="entitlements-gateway",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.poll_interval):
            self.refresh()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _after_fork(self) -> None:
        """In a forked child: fresh locks, and a poller thread of its own."""
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        for feed in [self.jwks.feed, self.snapshot, *self._lists.values()]:
            feed.reset_after_fork()
        if self._background:
            self._start()


def _subject(claims: dict[str, Any]) -> Subject:
    org = claims[c.ORGANIZATION]
    if not isinstance(org, dict) or "id" not in org or "trust" not in org:
        raise TokenRejected("missing_claims", "org needs id and trust")
    is_person = claims[c.SUBJECT] != claims[c.CLIENT_ID]
    held = claims.get(c.CITIZENSHIP) if is_person else org.get(c.CITIZENSHIP)
    return Subject(org["id"], org["trust"], is_person, _citizenship(held) if held else ())


def _citizenship(entries: Any) -> tuple[Citizenship, ...]:
    try:
        return tuple(Citizenship(e[c.NATIONALITY], ASSURANCE_LEVELS.index(e[c.ASSURANCE_LEVEL]),
                                 datetime.fromtimestamp(e[c.EXPIRES_AT], UTC))
                     for e in entries)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        raise TokenRejected("malformed", "the citizenship claim is invalid") from None


_GATEWAYS: weakref.WeakSet[Gateway] = weakref.WeakSet()


def _register_fork_handler(gateway: Gateway) -> None:
    _GATEWAYS.add(gateway)


def _after_fork_in_child() -> None:
    for gateway in list(_GATEWAYS):
        gateway._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
