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
import contextlib
import json
import os
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..kernel import dpop
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
try:  # optional: the SDK itself needs only PyJWT and cryptography
    import prometheus_client
except ImportError:  # pragma: no cover - exercised where the extra is not installed
    prometheus_client = None  # type: ignore[assignment]
DECISIONS = prometheus_client.Counter(
    "entitlements_gateway_decisions", "Decisions, by outcome and reason.",
    ["outcome", "reason"]) if prometheus_client else None


def handler_for(gateway: Gateway, read_timeout: float = READ_TIMEOUT
                ) -> type[BaseHTTPRequestHandler]:
    class Check(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = read_timeout  # each read waits at most this long, and ...

        def handle_one_request(self) -> None:
            """... the whole request at most this long (``_Deadlines``)."""
            deadlines = self.server.deadlines  # type: ignore[attr-defined]
            deadlines.arm(self.connection, read_timeout)
            try:
                super().handle_one_request()
            finally:
                deadlines.disarm(self.connection)

        def _check(self) -> None:
            keep_alive = self._discard_body()
            path = urlsplit(self.path).path
            if path in HEALTH_PATHS and "Authorization" not in self.headers:
                status, headers, body = _health(gateway, path)
            else:
                status, headers, body = self._decide()
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            if not keep_alive:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":  # HEAD answers carry the headers only
                self.wfile.write(body)

        def _decide(self) -> tuple[int, list[tuple[str, str]], bytes]:
            model = self.headers.get(MODEL_HEADER) or parse_qs(
                urlsplit(self.path).query).get("model", [""])[0]
            headers = self.headers
            decision = gateway.decide_request(
                model, authorization=headers.get("Authorization"),
                request=lambda: (headers.get_all(dpop.HEADER) or [],
                                 original_method(headers, self.command),
                                 original_url(headers, self.path)))
            if DECISIONS is not None:
                DECISIONS.labels(decision.outcome, decision.reason or "none").inc()
            if decision.allowed:
                return 200, [*decision_headers(decision), ("Content-Length", "0")], b""
            return refusal_by(gateway, decision)

        def _discard_body(self) -> bool:
            """The decision never reads the body, but an unread one would be parsed as the
            next request on a keep-alive connection."""
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return False
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                return False
            if not 0 <= length <= MAX_DRAINED_BODY:
                return False
            if length:
                self.rfile.read(length)
            return True

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _check  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:
            """No per-request log lines: they would carry paths and timing, not tokens."""

    return Check


def original_method(headers: Any, method: str) -> str:
    """The method of the request the proxy is asking about."""
    return (headers.get("X-Forwarded-Method") or headers.get("X-Original-Method")
            or method).strip().upper()


def original_url(headers: Any, path: str) -> str:
    """The URL (without its query) of the request the proxy is asking about."""
    full = headers.get("X-Original-URL")
    if full:
        return full.strip()
    scheme = (headers.get("X-Forwarded-Proto") or "http").split(",")[0].strip()
    host = (headers.get("X-Forwarded-Host") or headers.get("Host") or "localhost").split(
        ",")[0].strip()
    uri = headers.get("X-Forwarded-Uri") or headers.get("X-Original-URI") or path
    return f"{scheme}://{host}{urlsplit(uri.strip()).path or '/'}"


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


class _Deadlines:
    """One thread that shuts each connection down when its deadline passes (a timer per
    connection would be a thread per connection)."""

    TICK = 0.05

    def __init__(self) -> None:
        self._due: dict[socket.socket, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._run, name="authz-deadlines", daemon=True).start()

    def arm(self, connection: socket.socket, seconds: float) -> None:
        with self._lock:
            self._due[connection] = time.monotonic() + seconds

    def disarm(self, connection: socket.socket) -> None:
        with self._lock:
            self._due.pop(connection, None)

    def close(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.TICK):
            now = time.monotonic()
            with self._lock:
                expired = [c for c, due in self._due.items() if due <= now]
                for connection in expired:
                    del self._due[connection]
            for connection in expired:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    #: The listen backlog (socketserver's default is 5): a burst of new connections waits
    #: in the kernel instead of being dropped and retried a second later.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 max_connections: int) -> None:
        self._slots = threading.BoundedSemaphore(max_connections)
        self.deadlines = _Deadlines()  # before binding: a failed bind calls server_close
        super().__init__(address, handler)

    def server_close(self) -> None:
        super().server_close()
        self.deadlines.close()

    def process_request(self, request: Any, client_address: Any) -> None:
        """A connection over the limit gets a 503 and is closed at once: no thread for it."""
        if not self._slots.acquire(blocking=False):
            _refuse_busy(request)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: object, client_address: object) -> None:
        """A client hanging up or too slow is not an error worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


def _refuse_busy(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.sendall(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
                           b"Content-Length: 0\r\nConnection: close\r\n\r\n")


def serve(gateway: Gateway, host: str = "127.0.0.1", port: int = 9191, *,
          read_timeout: float = READ_TIMEOUT, max_connections: int = MAX_CONNECTIONS
          ) -> ThreadingHTTPServer:
    return _Server((host, port), handler_for(gateway, read_timeout), max_connections)


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
