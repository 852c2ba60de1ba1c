"""``Gateway.decide(token, model)``: allow the model, fall back to another, or deny, offline.

Per request: the token (``tokens``), its status-list bit, the current policy snapshot (a
suspended tier or an allowlist change applies at once, whatever the token says), the model's
tier, release date and windows. Verified tokens and decisions are cached (bounded) until they
expire or a document changes. Past a tier's maximum staleness, a tier that is not fail-open is
treated as unavailable (``stale_policy``).

Nothing happens on the network until asked: ``start()`` reads the documents and starts the
background poller; ``refresh()`` polls once, in the caller's thread. A ``decide()`` on a
gateway never started starts it (documents read, poller running) rather than decide with
nothing. While the issuer's documents cannot be had, decisions deny with
``issuer_unavailable`` (a 503, not a bad token). Time comes from ``clock``.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..kernel.policy import Policy, decide_model
from ..kernel.status_list import INVALID, VALID, StatusList
from . import http
from .clock import Clock, SystemClock
from .decisions import TOKEN_REASONS, GatewayDecision
from .documents import Documents, Feed
from .dpop import DpopOptions, ProofRefused, ProofVerifier
from .jws import TokenRejected
from .poller import Poller
from .tokens import TokenVerifier, Verified

__all__ = ["TOKEN_REASONS", "Gateway", "GatewayDecision"]
log = logging.getLogger("entitlements.gateway")
DEFAULT_MAX_STALENESS = 10.0
#: How long a decision is reused without a poller to bound it by its period (seconds).
DEFAULT_HORIZON = 1.0
_MISS = object()
_new = tuple.__new__


class Gateway:
    def __init__(self, issuer: str, audience: str, *, clock: Clock | None = None,
                 poll_interval: float | None = 1.0, leeway: float = 30.0,
                 max_staleness: Mapping[str, float] | None = None,
                 default_max_staleness: float = DEFAULT_MAX_STALENESS,
                 fail_open_tiers: frozenset[str] = frozenset({"public"}),
                 cache_size: int = 10_000, timeout: float = 5.0,
                 allow_http: bool = False, dpop: DpopOptions | None = None) -> None:
        self.issuer, self.audience = issuer.rstrip("/"), audience
        http.require_secure(self.issuer, allow_http=allow_http)  # before anything is fetched
        self.clock = clock or SystemClock()
        self.poll_interval, self.leeway = poll_interval, leeway
        self.max_staleness = dict(max_staleness or {})
        self.default_max_staleness = default_max_staleness
        # How long a decision may be reused when no document changes: one poll period, and
        # half the shortest staleness, so windows and staleness take effect within it.
        self._horizon = min(poll_interval or DEFAULT_HORIZON,
                            min([default_max_staleness, *self.max_staleness.values()]) / 2)
        self.fail_open_tiers, self.cache_size = fail_open_tiers, cache_size
        self.documents = Documents(self.issuer, clock=self.clock, timeout=timeout,
                                   leeway=leeway, allow_http=allow_http)
        self.tokens = TokenVerifier(self.issuer, audience, keys=self._key,
                                    status_lists=self.documents.known_status_list,
                                    clock=self.clock, leeway=leeway, cache_size=cache_size)
        self.proofs = ProofVerifier(dpop or DpopOptions(), clock=self.clock, leeway=leeway)
        # No interval: no thread; the caller refreshes (tests, and gateways with a loop of
        # their own).
        self._poller = Poller(self.refresh, poll_interval) if poll_interval else None
        self._decisions: dict[tuple[str, str],
                              tuple[GatewayDecision, float, int, str | None]] = {}
        self._verdicts: dict[tuple[Any, ...], tuple[Any, ...]] = {}
        #: A reader of each watched status list, made once per version of the list.
        self._generation = 0
        self._jwks_seen = -1
        self._lock = threading.Lock()
        self._started = False
        _GATEWAYS.add(self)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Gateway:
        """Read the documents now, then keep them fresh in the background. An issuer that
        cannot be reached is not an error: the poller keeps trying, with backoff, and
        decisions deny until the documents arrive (``ready``)."""
        with self._lock:
            if self._started:
                return self
            self._started = True
        self.refresh()
        if self._poller is not None:
            self._poller.start()
        return self

    def refresh(self) -> bool:
        """Poll every document once (the poller does this every period); True when the
        issuer's metadata, keys and policy snapshot are at hand."""
        try:
            changed = self.documents.refresh()
        except (http.FetchError, TokenRejected) as error:
            log.warning("cannot read the issuer's documents: %s", error)
            return False
        jwks = self.documents.jwks
        if jwks is not None and jwks.feed.changes != self._jwks_seen:
            self._keys_changed()
        if changed:
            with self._lock:
                self._generation += 1
        return self.ready

    @property
    def ready(self) -> bool:
        """The keys and an unexpired policy snapshot are at hand."""
        snapshot, jwks = self.documents.snapshot, self.documents.jwks
        return (snapshot is not None and jwks is not None and snapshot.value is not None
                and jwks.feed.value is not None and snapshot.age() != float("inf"))

    def close(self) -> None:
        if self._poller is not None:
            self._poller.stop()
        self._started = False

    def __enter__(self) -> Gateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def snapshot(self) -> Feed[Policy] | None:
        return self.documents.snapshot

    # -- the decision --------------------------------------------------------------------

    def decide(self, token: str | None, model: str, *, scheme: str = "bearer",
               proofs: Sequence[str] = (), method: str = "GET", url: str = ""
               ) -> GatewayDecision:
        """The decision for ``token`` (presented with ``scheme``, ``bearer`` or ``dpop``)
        and ``model``. A DPoP-bound token needs the ``dpop`` scheme and one proof in
        ``proofs`` (the DPoP headers) made for ``method`` and ``url``."""
        if not token:
            return GatewayDecision("deny", None, model, "missing_token")
        if not self._started:
            self.start()  # lazily: a gateway that decides keeps its documents fresh
        jwks = self.documents.jwks
        if jwks is None or jwks.feed.value is None:  # the poller retries, with backoff
            return GatewayDecision("deny", None, model, "issuer_unavailable")
        key = (token, model)
        cached = self._decisions.get(key, _MISS)
        if (cached is not _MISS and cached[2] == self._generation
                and self.clock.time() < cached[1]):
            if cached[3] is None and scheme == "bearer":
                return cached[0]  # the hot path: a bearer token seen before
            decision, jkt = cached[0], cached[3]
        else:
            if jwks.feed.changes != self._jwks_seen:  # keys changed
                self._keys_changed()
            try:
                checked = self.tokens.verify(token)
            except TokenRejected as rejected:
                return GatewayDecision("deny", None, model, rejected.reason)
            decision, jkt = self._decide(checked, model, key), checked.jkt
        if jkt is None and scheme == "bearer":
            return decision
        refused = self._unproven(token, jkt, scheme, proofs, method, url)
        return decision if refused is None else GatewayDecision("deny", None, model, refused)

    def decide_request(self, model: str, *, authorization: str | None,
                       proofs: Sequence[str] = (), method: str = "GET", url: str = "",
                       request: Callable[[], tuple[Sequence[str], str, str]] | None = None
                       ) -> GatewayDecision:
        """``decide`` for an HTTP request: its ``Authorization`` header (``Bearer`` or
        ``DPoP``), its DPoP headers, method and full URL, or ``request()`` returning those
        three, called only for the DPoP scheme (a bearer token needs none of them)."""
        scheme, _, token = (authorization or "").partition(" ")
        scheme = scheme.lower()
        if scheme not in ("bearer", "dpop"):
            return GatewayDecision("deny", None, model, "missing_token")
        if scheme == "dpop" and request is not None:
            proofs, method, url = request()
        return self.decide(token.strip() or None, model, scheme=scheme, proofs=proofs,
                           method=method, url=url)

    def dpop_nonce(self) -> str | None:
        """The nonce a refusal hands out in ``DPoP-Nonce``, when nonces are required."""
        return self.proofs.nonce()

    def _unproven(self, token: str, jkt: str | None, scheme: str, proofs: Sequence[str],
                  method: str, url: str) -> str | None:
        """Why the request does not prove possession of the token's key, or None."""
        if jkt is None:
            return "dpop_scheme_unbound_token"
        if scheme != "dpop":
            return "dpop_bound_token_as_bearer"  # RFC 9449 7.1
        try:
            self.proofs.verify(proofs, method=method, url=url, token=token, jkt=jkt)
        except ProofRefused as refused:
            return refused.reason
        return None

    def _key(self, kid: Any) -> Any:
        jwks = self.documents.jwks
        if jwks is None:
            return None
        keys = jwks.feed.value
        found = keys.get(kid) if keys is not None and type(kid) is str else None
        return found if found is not None else jwks.key(kid)  # which may refetch

    def _decide(self, checked: Verified, model: str, key: tuple[str, str]
                ) -> GatewayDecision:
        """The decision for a verified token, cached under ``key`` until it stops holding
        (the token expires, the policy's answer lapses or a document changes)."""
        sub, expires_at, subject, tiers, status, jkt = checked  # fields, without lookups
        if status is not None and self._status(status) != VALID:
            decision = GatewayDecision("deny", None, model, "revoked", sub, subject[0])
            valid_until = expires_at
        else:
            snapshot = self.documents.snapshot
            policy = snapshot.value if snapshot is not None else None
            if policy is None:
                decision = GatewayDecision("deny", None, model, "stale_policy")
                valid_until = self.clock.time() + 1
            else:
                facts = (subject, tiers, model, status is None or status[0])
                found = self._verdicts.get(facts)
                if (found is None or found[4] != self._generation
                        or found[3] <= self.clock.time()):
                    found = self._verdict(policy, checked, model, facts)
                outcome, route_to, reason, valid_until, _ = found
                # tuple.__new__: the named tuple without its __new__ in Python
                decision = _new(GatewayDecision, (outcome, route_to, model, reason, sub,
                                                  subject[0], policy.version))
                if expires_at < valid_until:
                    valid_until = expires_at
        decisions = self._decisions
        if len(decisions) >= self.cache_size:
            decisions.clear()
        decisions[key] = (decision, valid_until, self._generation, jkt)
        return decision

    def _verdict(self, policy: Policy, checked: Verified, model: str, key: tuple[Any, ...]
                 ) -> tuple[str, str | None, str | None, float, int]:
        """The policy's answer for these facts (``key``), and until when and for which
        generation of the documents it holds; shared by every token with the same subject,
        tiers and status list until a document changes or the horizon passes."""
        now = self.clock.time()
        stale = self._staleness(checked)

        def usable(tier: str) -> bool:
            return tier in checked.tiers and (tier in self.fail_open_tiers or not stale(tier))

        verdict = decide_model(policy, checked.subject, model,
                               datetime.fromtimestamp(now, UTC), usable)
        reason = verdict.reason
        if reason == "tier_not_in_token" and verdict.tier in checked.tiers:
            reason = "stale_policy"
        result = (verdict.outcome, verdict.route_to, reason, now + self._horizon,
                  self._generation)
        if len(self._verdicts) >= self.cache_size:
            self._verdicts.clear()
        self._verdicts[key] = result
        return result

    def _staleness(self, checked: Verified) -> Any:
        snapshot = self.documents.snapshot
        ages = [snapshot.age() if snapshot is not None else float("inf")]
        if checked.status is not None:
            feed = self.documents.lists.get(checked.status[0])
            ages.append(feed.age() if feed is not None else float("inf"))
        age = max(ages)
        return lambda tier: age > self.max_staleness.get(tier, self.default_max_staleness)

    def _status(self, ref: tuple[str, int]) -> int:
        uri, idx = ref
        feed = self.documents.lists.get(uri)
        if feed is None:  # a list read for the first time: decisions made without it go
            feed = self.documents.status_list(uri)
            with self._lock:
                self._generation += 1
        bits: StatusList | None = feed.value
        if bits is None:
            feed.settle()  # its first read may be under way in another thread
            bits = feed.value
            if bits is None:
                return VALID  # a list that cannot be had: staleness decides
        return INVALID if idx >= bits.size else bits.get(idx)

    def _keys_changed(self) -> None:
        """A withdrawn key must stop verifying at once: forget what it verified."""
        with self._lock:
            jwks = self.documents.jwks
            self._jwks_seen = jwks.feed.changes if jwks is not None else -1
            self.tokens.forget()
            self._generation += 1

    def _after_fork(self) -> None:
        """In a forked child: fresh locks, and a poller of its own if the parent had one."""
        self._lock = threading.Lock()
        self.documents.reset_after_fork()
        if self._poller is not None:
            self._poller.restart_after_fork()


_GATEWAYS: weakref.WeakSet[Gateway] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for gateway in list(_GATEWAYS):
        gateway._after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
