"""Throttling, with the ``limits`` library, on the endpoints that take credentials: the OAuth
endpoints, the partner endpoints and the admin API.

- every request, per source address (``ENTITLEMENTS_RATE_LIMIT_ADDRESS``);
- requests of a registered client, per client id (``ENTITLEMENTS_RATE_LIMIT_CLIENT``);
- failed authentications (401), per source address and per registered client id
  (``ENTITLEMENTS_RATE_LIMIT_FAILURES``): guessing a secret or an admin key stops at a few
  tries a minute, whoever sends the guesses.

Only client ids that exist are counted, so a caller spraying made-up ids grows no table. A
refused request is a 429 with Retry-After in its endpoint's format; the first refusal of a
key in a minute is audited (a bounded memory of which were), never each one. Counts live in
Redis when ``ENTITLEMENTS_REDIS_URL`` is set, so every instance and worker shares them; in
the process's memory otherwise (``windows``). Redis out of reach: counting falls back to
memory for a while, and ``/readyz`` says so.

The checks are a before-request hook and an after-request hook of the throttled blueprints
only, with each request's keys worked out once: the token endpoint is the hottest path of the
service, and a generic limiter's per-request resolution of its rules cost more than the
counting itself.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from flask import Flask, Response, request
from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import TooManyRequests

from ..base.metrics import THROTTLED
from ..base.settings import Settings
from .callers import claimed_client_id, source_address
from .services import services
from .windows import LocalWindows

log = logging.getLogger("entitlements.throttle")
T = TypeVar("T")
#: Counters in Redis (the limits library) or in memory (``windows``): the same three calls.
Windows = SlidingWindowCounterRateLimiter | LocalWindows

#: The blueprints every limit applies to (they authenticate OAuth clients).
CLIENT_PREFIXES = ("oauth", "partner_")
#: The admin API's blueprints share this prefix: limited per address, and failures counted.
ADMIN_PREFIX = "admin"
#: The sign-in pages: limited per address, like the admin API.
SIGN_IN = "signin"
REFUSED = 401
TOO_MANY = "Too many requests; retry after the seconds in Retry-After."
TOO_MANY_FAILURES = ("Too many failed authentications; retry after the seconds in "
                     "Retry-After.")
#: How long counting stays in memory after Redis failed, before Redis is tried again.
REDIS_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class Rules:
    """The parsed limits: every request per address and per client, failures per both."""

    address: tuple[RateLimitItem, ...]
    client: tuple[RateLimitItem, ...]
    failures: tuple[RateLimitItem, ...]

    @classmethod
    def of(cls, settings: Settings) -> Rules:
        return cls(tuple(parse_many(settings.rate_limit_address)),
                   tuple(parse_many(settings.rate_limit_client)),
                   tuple(parse_many(settings.rate_limit_failures)))


class Counter:
    """Sliding-window counts in Redis when configured, in memory otherwise or while Redis
    is out of reach (swallowed, logged once per outage, retried after a pause)."""

    def __init__(self, redis_url: str | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._memory = LocalWindows()
        self._shared = (SlidingWindowCounterRateLimiter(storage_from_string(
            redis_url, socket_timeout=0.5, socket_connect_timeout=0.5, wrap_exceptions=True))
            if redis_url else None)
        self._clock = clock
        self._down_until = 0.0

    def hit(self, item: RateLimitItem, *key: str) -> bool:
        return self._call(lambda limiter: limiter.hit(item, *key))

    def test(self, item: RateLimitItem, *key: str) -> bool:
        return self._call(lambda limiter: limiter.test(item, *key))

    def reset_in(self, item: RateLimitItem, *key: str) -> int:
        """Whole seconds until ``key`` may be counted under ``item`` again (at least 1)."""
        stats = self._call(lambda limiter: limiter.get_window_stats(item, *key))
        return max(1, int(stats.reset_time - time.time()) + 1)

    def _call(self, action: Callable[[Windows], T]) -> T:
        if self._shared is not None and self._clock() >= self._down_until:
            try:
                return action(self._shared)
            except Exception as error:  # noqa: BLE001 - any storage failure: count locally
                log.warning("rate-limit storage unreachable (%s); counting in memory",
                            type(error).__name__)
                self._down_until = self._clock() + REDIS_RETRY_SECONDS
        return action(self._memory)


class Throttle:
    """The hooks: ``check`` before a throttled request, ``count_failure`` after it."""

    def __init__(self, rules: Rules, counter: Counter, breaches: BreachAudit, *,
                 per_client: bool) -> None:
        self.rules, self.counter, self.per_client = rules, counter, per_client
        self.breaches = breaches

    def check(self) -> None:
        """Count the request; a 429 if a budget is spent (failures are only tested here:
        they are counted when the answer is a 401)."""
        address = source_address()
        for item in self.rules.address:
            self._require(self.counter.hit(item, "address", address), item, "address", address)
        for item in self.rules.failures:
            self._require(self.counter.test(item, "failures-address", address), item,
                          "failures-address", address, TOO_MANY_FAILURES)
        client = self._registered_client()
        if client is None:
            return
        for item in self.rules.client:
            self._require(self.counter.hit(item, "client", client), item, "client", client)
        for item in self.rules.failures:
            self._require(self.counter.test(item, "failures-client", client), item,
                          "failures-client", client, TOO_MANY_FAILURES)

    def count_failure(self, response: Response) -> Response:
        if response.status_code != REFUSED:
            return response
        for item in self.rules.failures:
            self.counter.hit(item, "failures-address", source_address())
        client = self._registered_client()
        if client is not None:
            for item in self.rules.failures:
                self.counter.hit(item, "failures-client", client)
        return response

    def _registered_client(self) -> str | None:
        """The client id claimed, if it exists (the client directory has it cached by now;
        with the database out of reach it is not counted, and the request's own answer
        says why)."""
        if not self.per_client:
            return None
        claimed = claimed_client_id()
        if not claimed:
            return None
        try:
            return claimed if services().clients.find(claimed) is not None else None
        except SQLAlchemyError:
            return None

    def _require(self, allowed: bool, item: RateLimitItem, scope: str, key: str,
                 message: str = TOO_MANY) -> None:
        if allowed:
            return
        THROTTLED.labels(scope).inc()
        self.breaches.record(f"{scope}/{key}/{item}", scope, str(item))
        raise TooManyRequests(message, retry_after=self.counter.reset_in(item, scope, key))


def install(app: Flask, settings: Settings) -> None:
    """Hook the throttle into the blueprints that take credentials (none when
    ``ENTITLEMENTS_RATE_LIMITS`` is off)."""
    if not settings.rate_limits:
        return
    rules, counter, breaches = Rules.of(settings), Counter(settings.redis_url), BreachAudit()
    clients = Throttle(rules, counter, breaches, per_client=True)
    others = Throttle(rules, counter, breaches, per_client=False)
    for name in app.blueprints:
        if name.startswith(CLIENT_PREFIXES):
            chosen = clients
        elif name.startswith(ADMIN_PREFIX) or name == SIGN_IN:
            chosen = others
        else:
            continue
        # first of the blueprint's hooks: a spent budget is a 429 before anything else runs
        app.before_request_funcs.setdefault(name, []).insert(0, chosen.check)
        app.after_request_funcs.setdefault(name, []).append(chosen.count_failure)


class BreachAudit:
    """Audit a key's first refusal in a window (a bounded memory of the keys refused)."""

    REMEMBERED = 4096
    WINDOW = 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def record(self, key: str, scope: str, limit: str) -> None:
        if not self._first(key):
            return
        services().refusals.record(
            actor=f"address:{source_address()}", action="request.throttled",
            reason=f"more than {limit} ({scope})",
            details={"scope": scope, "claimed_client_id": claimed_client_id(),
                     "path": request.path})

    def _first(self, key: str) -> bool:
        now = self._clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen < self.WINDOW:
            return False
        self._seen[key] = now
        self._seen.move_to_end(key)
        while len(self._seen) > self.REMEMBERED:
            self._seen.popitem(last=False)
        return True
