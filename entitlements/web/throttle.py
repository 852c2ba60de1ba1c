"""Throttling, with flask-limiter, on the endpoints that take credentials: the OAuth
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
the process's memory otherwise. Redis out of reach: counting falls back to memory, and
``/readyz`` says so.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from flask import Flask, Response, g
from flask_limiter import Limiter, RequestLimit
from sqlalchemy.exc import SQLAlchemyError

from ..base.metrics import THROTTLED
from ..base.settings import Settings
from .callers import claimed_client_id, source_address
from .services import services

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


def install(app: Flask, settings: Settings) -> Limiter:
    limiter = Limiter(
        source_address, app=app, storage_uri=settings.redis_url or "memory://",
        storage_options={"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
        if settings.redis_url else {},
        strategy="sliding-window-counter", headers_enabled=False, swallow_errors=True,
        in_memory_fallback_enabled=bool(settings.redis_url), key_prefix="entitlements",
        enabled=settings.rate_limits, on_breach=BreachAudit(), retry_after="delta-seconds")
    by_address = limiter.shared_limit(settings.rate_limit_address, scope="address",
                                      error_message=TOO_MANY)
    failures_by_address = limiter.shared_limit(
        settings.rate_limit_failures, scope="failures-address", deduct_when=_refused,
        error_message=TOO_MANY_FAILURES)
    by_client = limiter.shared_limit(
        settings.rate_limit_client, scope="client", key_func=_client_key,
        exempt_when=_no_client_claimed, deduct_when=lambda _: _registered(),
        error_message=TOO_MANY)
    failures_by_client = limiter.shared_limit(
        settings.rate_limit_failures, scope="failures-client", key_func=_client_key,
        exempt_when=_no_client_claimed, deduct_when=lambda r: _refused(r) and _registered(),
        error_message=TOO_MANY_FAILURES)
    for name, blueprint in app.blueprints.items():
        if name.startswith(CLIENT_PREFIXES):
            for limit in (by_address, failures_by_address, by_client, failures_by_client):
                limit(blueprint)
        elif name.startswith(ADMIN_PREFIX) or name == SIGN_IN:
            by_address(blueprint)
            failures_by_address(blueprint)
    app.after_request(_retry_after)
    return limiter


def _refused(response: Response) -> bool:
    return response.status_code == REFUSED


def _client_key() -> str:
    return claimed_client_id() or ""


def _no_client_claimed() -> bool:
    return not claimed_client_id()


def _registered() -> bool:
    """Whether the client id claimed exists (the client directory has it cached by now;
    with the database out of reach, the request's own answer says so, and it is not)."""
    claimed = claimed_client_id()
    try:
        return bool(claimed) and services().clients.find(claimed) is not None
    except SQLAlchemyError:
        return False


def _retry_after(response: Response) -> Response:
    """flask-limiter's 429 says when to retry only with every X-RateLimit header on; ours
    carries Retry-After alone."""
    wait = g.pop("retry_after", None)
    if response.status_code == 429 and wait is not None:
        response.headers["Retry-After"] = str(wait)
    return response


def _scope(key: str) -> str:
    """The limit's scope in flask-limiter's key: LIMITER/prefix/key/scope/N/M/unit (the
    key, a claimed id, may hold slashes: counted from the end)."""
    parts = key.split("/")
    return parts[-4] if len(parts) >= 7 else key


class BreachAudit:
    """On a breach: note when to retry, and audit the key's first refusal in a window."""

    REMEMBERED = 4096
    WINDOW = 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __call__(self, limit: RequestLimit) -> None:
        g.retry_after = max(1, limit.reset_at - int(time.time()))
        scope = _scope(limit.key)
        THROTTLED.labels(scope).inc()
        if self._first(limit.key):
            services().refusals.record(
                actor=f"address:{source_address()}", action="request.throttled",
                reason=f"more than {limit.limit} ({scope})",
                details={"scope": scope, "claimed_client_id": claimed_client_id()})

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
