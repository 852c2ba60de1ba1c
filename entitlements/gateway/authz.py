"""An HTTP authorization service for gateways not written in Python: an Envoy ext_authz
HTTP service, or an nginx ``auth_request`` target. Any path; the token in
``Authorization: Bearer`` (or ``DPoP``, with the request's ``DPoP`` proof), the model in
``X-Entitlements-Model`` (or ``?model=``). The method and URL a proof must name are the
original request's: ``X-Forwarded-Method`` or ``X-Original-Method``, and ``X-Original-URL``
or ``X-Forwarded-Proto``, ``X-Forwarded-Host`` (else Host) and ``X-Forwarded-Uri`` or
``X-Original-URI`` (else the path asked here), on ``--public-url``'s scheme and host if
given. The proxy in front must set them (or strip what clients send).
200 names the model to use in ``X-Entitlements-Model`` (the fallback included); 401
carries WWW-Authenticate for a bad token; 403 is a denial; 503 (with Retry-After) means the
issuer's documents cannot be had yet. ``GET /healthz`` (the process lives) and
``GET /readyz`` (it has fresh documents) answer for the service itself, and ``GET /metrics``
counts decisions by outcome and reason when prometheus-client is installed
(``pip install 'entitlements[authz]'``).

Bounded: at most ``max_connections`` at once (more are answered 503 and closed), and a
connection whose whole request (line, headers, body) has not arrived ``read_timeout`` seconds
after it began, or that stays idle that long between requests, is closed: clients that
trickle a byte at a time cannot hold the service.

    python -m entitlements.gateway.authz --issuer https://entitlements.example \\
        --audience https://gateway.example/models --port 9191
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..kernel import dpop
from . import httpd
from .decisions import GatewayDecision
from .dpop import DEFAULT_MAX_AGE, DpopOptions, RedisReplayCache
from .gateway import Gateway
from .http import FetchError
from .integrations import MODEL_HEADER, decision_headers, refusal_by

MAX_DRAINED_BODY = 64 * 1024
"""A body up to this size (Envoy's ``with_request_body``) is read and dropped so the
connection stays usable; a larger or chunked one ends the connection instead."""
READ_TIMEOUT = 5.0
MAX_CONNECTIONS = 512
HEALTH_PATHS = ("/healthz", "/readyz", "/metrics")
NONCE_SECRET_VARIABLE = "ENTITLEMENTS_GATEWAY_DPOP_NONCE_SECRET"
#: Allow answers' header lines kept, by decision (emptied when full).
MAX_ANSWERS = 4096
_MODEL = MODEL_HEADER.lower()
try:  # optional: the SDK itself needs only PyJWT and cryptography
    import prometheus_client
    from prometheus_client.core import CounterMetricFamily
except ImportError:  # pragma: no cover - exercised where the extra is not installed
    prometheus_client = None  # type: ignore[assignment]


class DecisionCounts:
    """Decisions by outcome and reason, for ``/metrics``
    (``entitlements_gateway_decisions_total``). Each connection's thread counts in a
    dictionary of its own, with no lock on a request's path; ``/metrics`` adds them up with
    what the connections already closed counted (``close``, called by each connection's
    thread as it ends)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._open: dict[int, dict[tuple[str, str | None], int]] = {}
        self._closed: collections.Counter[tuple[str, str | None]] = collections.Counter()
        self._lock = threading.Lock()

    def add(self, labels: tuple[str, str | None]) -> None:
        counts = getattr(self._local, "counts", None)
        if counts is None:
            counts = self._local.counts = {}
            ident = threading.get_ident()
            with self._lock:  # a thread gone without ``close`` had this ident before
                self._closed.update(self._open.get(ident, {}))
                self._open[ident] = counts
        counts[labels] = counts.get(labels, 0) + 1

    def close(self) -> None:
        counts = getattr(self._local, "counts", None)
        if counts is not None:
            with self._lock:
                self._closed.update(counts)
                del self._open[threading.get_ident()]
            del self._local.counts

    def totals(self) -> collections.Counter[tuple[str, str | None]]:
        with self._lock:  # a connection closing waits: nothing is counted twice or lost
            totals = collections.Counter(self._closed)
            for counts in self._open.values():
                totals.update(dict(list(counts.items())))  # its thread may be adding
        return totals

    def collect(self) -> Any:
        """prometheus-client's collector protocol."""
        family = CounterMetricFamily("entitlements_gateway_decisions",
                                     "Decisions, by outcome and reason.",
                                     labels=["outcome", "reason"])
        for (outcome, reason), count in sorted(self.totals().items(),
                                               key=lambda item: (item[0][0], item[0][1] or "")):
            family.add_metric([outcome, reason or "none"], count)
        yield family


DECISIONS = DecisionCounts()
if prometheus_client is not None:
    prometheus_client.REGISTRY.register(DECISIONS)


def app_for(gateway: Gateway) -> httpd.App:
    """The service's answer to each request (``httpd.App``)."""
    #: An allow decision's answer and its labels (emptied when full).
    allowed: dict[GatewayDecision, tuple[tuple[int, bytes, bytes], tuple[str, None]]] = {}
    count = DECISIONS.add

    def answer(request: httpd.Request) -> tuple[int, bytes, bytes]:
        fields = request.fields
        authorization = fields.get("authorization")
        if authorization is None and request.path in HEALTH_PATHS:
            return httpd.answer_with(*_health(gateway, request.path))
        model = fields.get(_MODEL) or parse_qs(urlsplit(request.target).query).get(
            "model", [""])[0]
        if authorization is not None and authorization[:7].lower() == "bearer ":
            # decide_request's own reading of a bearer token, without its generality
            decision = gateway.decide(authorization[7:].strip() or None, model)
        else:
            decision = gateway.decide_request(
                model, authorization=authorization,
                request=lambda: (request.get_all(dpop.HEADER),
                                 original_method(fields, request.method),
                                 original_url(fields, request.target)))
        found = allowed.get(decision)
        if found is not None:  # an allow answered before: the same bytes
            count(found[1])
            return found[0]
        count((decision.outcome, decision.reason))
        if not decision.allowed:
            return httpd.answer_with(*refusal_by(gateway, decision))
        if len(allowed) >= MAX_ANSWERS:
            allowed.clear()
        answered = 200, httpd.header_lines(decision_headers(decision)), b""
        allowed[decision] = (answered, (decision.outcome, decision.reason))
        return answered

    return answer


def original_method(headers: Any, method: str) -> str:
    """The method of the request the proxy is asking about (``headers``: by lower-case
    name, or any case)."""
    return (headers.get("x-forwarded-method") or headers.get("x-original-method")
            or method).strip().upper()


def original_url(headers: Any, path: str) -> str:
    """The URL (without its query) of the request the proxy is asking about."""
    full = headers.get("x-original-url")
    if full:
        return full.strip()
    scheme = (headers.get("x-forwarded-proto") or "http").split(",")[0].strip()
    host = (headers.get("x-forwarded-host") or headers.get("host") or "localhost").split(
        ",")[0].strip()
    uri = (headers.get("x-forwarded-uri") or headers.get("x-original-uri") or path).strip()
    try:
        path = urlsplit(uri).path
    except ValueError:  # not a URL urlsplit reads: its path as sent, for the proof to match
        path = uri.partition("?")[0].partition("#")[0]
    return f"{scheme}://{host}{path or '/'}"


def dpop_options(*, public_url: str | None = None, require_nonce: bool = False,
                 max_age: float = DEFAULT_MAX_AGE, redis_url: str | None = None,
                 environ: Any = None) -> DpopOptions:
    """The service's DPoP options: proofs used once per process, or across every instance
    through Redis (``redis_url``; the redis package must be installed); a nonce secret
    shared by the instances from ``ENTITLEMENTS_GATEWAY_DPOP_NONCE_SECRET``."""
    environ = os.environ if environ is None else environ
    options = DpopOptions(max_age=max_age, public_url=public_url, require_nonce=require_nonce,
                          nonce_secret=environ.get(NONCE_SECRET_VARIABLE) or None)
    if redis_url:
        try:
            import redis
        except ImportError:
            raise FetchError("--replay-redis needs the redis package: pip install redis"
                             ) from None
        options.replays = RedisReplayCache(redis.Redis.from_url(
            redis_url, socket_timeout=0.5, socket_connect_timeout=0.5))
    return options


def _health(gateway: Gateway, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
    if path == "/metrics":
        return _metrics()
    ready = gateway.ready
    status = 200 if path == "/healthz" or ready else 503
    body = json.dumps({"status": "ok" if status == 200 else "not_ready",
                       "ready": ready}).encode()
    return status, [("Content-Type", "application/json"),
                    ("Content-Length", str(len(body)))], body


def _metrics() -> tuple[int, list[tuple[str, str]], bytes]:
    if prometheus_client is None:
        body = b'{"error": "not_found", "reason": "install prometheus-client for /metrics"}'
        return 404, [("Content-Type", "application/json"),
                     ("Content-Length", str(len(body)))], body
    body = prometheus_client.generate_latest()
    return 200, [("Content-Type", prometheus_client.CONTENT_TYPE_LATEST),
                 ("Content-Length", str(len(body)))], body


def serve(gateway: Gateway, host: str = "127.0.0.1", port: int = 9191, *,
          read_timeout: float = READ_TIMEOUT, max_connections: int = MAX_CONNECTIONS
          ) -> httpd.Server:
    """The service, bound (``serve_forever`` to answer, ``shutdown``, ``server_close``)."""
    return httpd.Server((host, port), app_for(gateway), read_timeout=read_timeout,
                        max_connections=max_connections, max_body=MAX_DRAINED_BODY,
                        closing=DECISIONS.close)


def run(issuer: str, audience: str, *, host: str, port: int, poll_interval: float,
        allow_http: bool, read_timeout: float = READ_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS, announce: Any = print,
        dpop: DpopOptions | None = None) -> None:
    """Start the gateway and serve until interrupted. Start-up problems are one line on
    stderr and exit code 1 (an issuer that cannot be reached yet is not one: the service
    answers 503 until its documents arrive)."""
    try:
        gateway = Gateway(issuer, audience, poll_interval=poll_interval, allow_http=allow_http,
                          dpop=dpop)
        server = serve(gateway, host, port, read_timeout=read_timeout,
                       max_connections=max_connections)
    except FetchError as error:
        _fail(str(error))
    except OSError as error:
        _fail(f"cannot listen on {host}:{port}: {error.strerror or error}")
    gateway.start()
    announce(f"authorization service on http://{host}:{port}"
             + ("" if gateway.ready else f" (waiting for {issuer})"))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        gateway.close()


def _fail(message: str) -> None:
    print(f"entitlements gateway: error: {message}", file=sys.stderr)
    sys.exit(1)


def _positive(value: str) -> float:
    number = float(value)
    if number <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return number


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--audience", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9191)
    parser.add_argument("--poll-interval", type=_positive, default=1.0)
    parser.add_argument("--read-timeout", type=_positive, default=READ_TIMEOUT)
    parser.add_argument("--max-connections", type=int, default=MAX_CONNECTIONS)
    parser.add_argument("--allow-http", action="store_true",
                        help="accept a plain-HTTP issuer off this machine")
    parser.add_argument("--public-url", help="the scheme and host clients address (DPoP "
                                             "proofs name it)")
    parser.add_argument("--dpop-nonce", action="store_true",
                        help="DPoP proofs must carry this service's nonce")
    parser.add_argument("--dpop-max-age", type=_positive, default=DEFAULT_MAX_AGE)
    parser.add_argument("--replay-redis", help="share used DPoP proofs through this Redis")
    args = parser.parse_args(argv)
    try:
        options = dpop_options(public_url=args.public_url, require_nonce=args.dpop_nonce,
                               max_age=args.dpop_max_age, redis_url=args.replay_redis)
    except FetchError as error:
        _fail(str(error))
    run(args.issuer, args.audience, host=args.host, port=args.port,
        poll_interval=args.poll_interval, allow_http=args.allow_http,
        read_timeout=args.read_timeout, max_connections=args.max_connections, dpop=options)


if __name__ == "__main__":
    main()
