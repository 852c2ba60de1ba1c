"""The WSGI app as an ASGI application whose slow clients cost a coroutine, never a thread.

The event loop reads each request's body in full, bounded in size (``max_body``) and in time
(``body_timeout``), before the app runs in a thread of a bounded pool. A body over the limit,
by its ``Content-Length`` or as it arrives chunked, and a body that does not arrive in time,
are not read further: the app answers 413 or 408 (in the endpoint family's format, see
``web.errors``) and the connection is closed. Slow headers are the HTTP server's to bound
(granian's ``http1_header_read_timeout``).
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import unquote

#: Set on the WSGI environ when the body was refused unread: 413 or 408.
BODY_REFUSED = "entitlements.body_refused"
GONE = -1  # the client left before its body arrived: nothing to answer

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class BufferedWsgi:
    def __init__(self, app: Callable[..., Iterable[bytes]], *, max_body: int,
                 body_timeout: float, threads: int) -> None:
        self.app, self.max_body, self.body_timeout = app, max_body, body_timeout
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="entitlements-request")

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self._pool)
            return
        if scope["type"] != "http":  # no websockets here
            return
        body, refused = await self._body(scope, receive)
        if refused == GONE:
            return
        environ = wsgi_environ(scope, body)
        if refused:
            environ[BODY_REFUSED] = refused
        status, headers, chunks = await asyncio.get_running_loop().run_in_executor(
            self._pool, _call, self.app, environ)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": chunks})

    async def _body(self, scope: dict[str, Any], receive: Receive) -> tuple[bytes, int | None]:
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            return b"", 413
        parts: list[bytes] = []
        size = 0

        async def read() -> int | None:
            nonlocal size
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return GONE
                part = message.get("body", b"")
                size += len(part)
                if size > self.max_body:
                    return 413
                parts.append(part)
                if not message.get("more_body"):
                    return None

        try:  # a deadline on this task, not a task of its own (asyncio.wait_for's cost)
            async with asyncio.timeout(self.body_timeout):
                refused = await read()
        except TimeoutError:
            refused = 408
        return (b"", refused) if refused else (b"".join(parts), None)


def _call(app: Callable[..., Iterable[bytes]], environ: dict[str, Any]
          ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Run the WSGI app; its status, headers and whole body."""
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None
                       ) -> Callable[[bytes], None]:
        started["status"], started["headers"] = status, headers
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1"))
               for k, v in started["headers"]]
    return int(started["status"][:3]), headers, body


def wsgi_environ(scope: dict[str, Any], body: bytes) -> dict[str, Any]:
    """PEP 3333 from an ASGI HTTP scope."""
    server = scope.get("server") or ("127.0.0.1", 80)
    client = scope.get("client") or ("", 0)
    raw_path = scope.get("raw_path")
    path = (unquote(raw_path.split(b"?", 1)[0].decode("latin-1"))
            if raw_path else scope["path"])
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"], "SCRIPT_NAME": scope.get("root_path", ""),
        "PATH_INFO": path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]), "SERVER_PORT": str(server[1] or 80),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": str(client[0]), "REMOTE_PORT": str(client[1]),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0), "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
        "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
    }
    for name, value in scope.get("headers", ()):
        key = name.decode("latin-1").upper().replace("-", "_")
        if key in ("CONTENT_LENGTH", "TRANSFER_ENCODING"):
            continue  # the body is whole now: its length is what was read
        text = value.decode("latin-1")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = text
            continue
        key = f"HTTP_{key}"
        environ[key] = f"{environ[key]},{text}" if key in environ else text
    return environ


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return None


async def _lifespan(receive: Receive, send: Send, pool: ThreadPoolExecutor) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            pool.shutdown(wait=False)
            await send({"type": "lifespan.shutdown.complete"})
            return
