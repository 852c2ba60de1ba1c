"""An HTTP authorization service for gateways not written in Python: an Envoy ext_authz
HTTP service, or an nginx ``auth_request`` target. Any path; the token in
``Authorization: Bearer``, the model in ``X-Entitlements-Model`` (or ``?model=``).
200 names the model to use in ``X-Entitlements-Model`` (the fallback included); 401
carries WWW-Authenticate for a bad token; 403 is a denial.

    python -m entitlements.gateway.authz --issuer https://entitlements.example \\
        --audience https://gateway.example/models --port 9191
"""

from __future__ import annotations

import argparse
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .gateway import Gateway
from .integrations import MODEL_HEADER, bearer, decision_headers, refusal

MAX_DRAINED_BODY = 64 * 1024
"""A body up to this size (Envoy's ``with_request_body``) is read and dropped so the
connection stays usable; a larger or chunked one ends the connection instead."""


def handler_for(gateway: Gateway) -> type[BaseHTTPRequestHandler]:
    class Check(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _check(self) -> None:
            keep_alive = self._discard_body()
            model = self.headers.get(MODEL_HEADER) or parse_qs(
                urlsplit(self.path).query).get("model", [""])[0]
            decision = gateway.decide(bearer(self.headers.get("Authorization")), model)
            if decision.allowed:
                status, headers, body = 200, [*decision_headers(decision),
                                              ("Content-Length", "0")], b""
            else:
                status, headers, body = refusal(decision)
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            if not keep_alive:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":  # HEAD answers carry the headers only
                self.wfile.write(body)

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


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client hanging up is not an error worth a traceback; anything else is."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def serve(gateway: Gateway, host: str = "127.0.0.1", port: int = 9191) -> ThreadingHTTPServer:
    return _Server((host, port), handler_for(gateway))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--audience", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9191)
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--allow-http", action="store_true",
                        help="accept a plain-HTTP issuer off this machine")
    args = parser.parse_args(argv)
    gateway = Gateway(args.issuer, args.audience, poll_interval=args.poll_interval,
                      allow_http=args.allow_http).start()
    server = serve(gateway, args.host, args.port)
    print(f"authorization service on http://{args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    finally:
        gateway.close()


if __name__ == "__main__":
    main()
