"""The authorization service's HTTP/1.1 server: a thread per connection, and on each one a
loop that reads a request's head in a few ``recv`` calls, parses it with ``bytes`` and
``str`` methods, answers with one ``sendall``, and keeps the connection for the next
request (HTTP/1.1, or HTTP/1.0 with ``Connection: keep-alive``).

What it checks, as a server facing proxies must (RFC 9112): one request line of three
parts, HTTP/1.0 or 1.1 (else 400 or 505), header lines ``name: value`` with no space
before the colon and no line folding, CR only as part of CRLF (or LF alone throughout), a
head of at most ``MAX_HEAD`` bytes and ``MAX_HEADERS`` lines (else 431), and one
``Content-Length`` (else 400). A body of up to ``max_body`` bytes is read and dropped so
the connection stays usable; a larger one, one of unknown length (any
``Transfer-Encoding``) or an invalid length is not read, and the connection closes after
the answer. An error answer closes the connection too.

Bounded: at most ``max_connections`` at once (more are answered 503 and closed at once),
and a connection whose request (line, headers, body) has not all arrived ``read_timeout``
seconds after it began, or that stays idle that long between requests, is shut down by
one watcher thread (``_Deadlines``), however slowly it trickles.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
from collections.abc import Callable
from email.utils import formatdate
from http import HTTPStatus
from time import monotonic, time
from urllib.parse import urlsplit

log = logging.getLogger("entitlements.gateway")

MAX_HEAD = 64 * 1024
MAX_HEADERS = 100
RECV_SIZE = 16 * 1024

#: ``app(request)`` -> (status, header lines, body): the header lines each end in CRLF
#: (``header_lines`` makes them); the server adds the status line, ``Date``,
#: ``Content-Length`` (the body's, also for HEAD, which gets no body) and ``Connection``.
App = Callable[["Request"], tuple[int, bytes, bytes]]

_STATUS_LINES = {status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode()
                 for status in HTTPStatus}
_CLOSE = b"Connection: close\r\n"
_KEEP_ALIVE = b"Connection: keep-alive\r\n"
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Request:
    """A request's line and headers: ``fields`` by lower-case name (the first of a repeated
    header, as ``http.server``'s ``headers.get``), every value by ``get_all``."""

    __slots__ = ("_repeated", "fields", "method", "target", "version")

    def __init__(self, method: str, target: str, version: str, fields: dict[str, str],
                 repeated: dict[str, list[str]] | None) -> None:
        self.method, self.target, self.version = method, target, version
        self.fields, self._repeated = fields, repeated

    @property
    def path(self) -> str:
        """The target's path: no query, no fragment (an absolute-form target's too)."""
        target = self.target
        if target.startswith("/") and not target.startswith("//"):
            return target.partition("?")[0].partition("#")[0]
        return urlsplit(target).path  # absolute-form: checked readable by parse_head

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name``, any case."""
        return self.fields.get(name.lower(), default)

    def get_all(self, name: str) -> list[str]:
        """Every value of header ``name``, any case, in order."""
        name = name.lower()
        if self._repeated is not None and name in self._repeated:
            return list(self._repeated[name])
        value = self.fields.get(name)
        return [] if value is None else [value]


class BadRequest(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def parse_head(head: bytes) -> Request:
    """The request in ``head`` (its bytes up to the blank line), or BadRequest."""
    text = head.decode("latin-1")
    crlf = "\r" in text
    lines = text.split("\r\n") if crlf else text.split("\n")
    if len(lines) > MAX_HEADERS + 1:
        raise BadRequest(431)
    if crlf and ("\r" in lines[0] or "\n" in lines[0]):  # a CR or an LF alone
        raise BadRequest(400)
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0] or not parts[1]:
        raise BadRequest(400)
    method, target, version = parts
    if version != "HTTP/1.1" and version != "HTTP/1.0":
        major = version[5:].partition(".")[0]
        raise BadRequest(505 if version.startswith("HTTP/") and major.isdigit()
                         and int(major) >= 2 else 400)
    if target.startswith("//"):  # as http.server: never a scheme-relative redirect target
        target = "/" + target.lstrip("/")
    if not target.startswith("/"):  # absolute-form (or nonsense): a URL urlsplit can read
        try:
            urlsplit(target)
        except ValueError:
            raise BadRequest(400) from None
    fields: dict[str, str] = {}
    repeated: dict[str, list[str]] | None = None
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if (not colon or not name or name[-1] in " \t" or name[0] in " \t"
                or (crlf and ("\r" in line or "\n" in line))):
            raise BadRequest(400)  # no colon, a space before it, a folded line, a lone CR/LF
        name, value = name.lower(), value.strip(" \t")
        if name in fields:
            if repeated is None:
                repeated = {}
            repeated.setdefault(name, [fields[name]]).append(value)
        else:
            fields[name] = value
    return Request(method, target, version, fields, repeated)


def header_lines(headers: list[tuple[str, str]] | tuple[tuple[str, str], ...]) -> bytes:
    """``name: value`` lines, each ending in CRLF; a value with CR or LF is refused."""
    lines = []
    for name, value in headers:
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name:
            raise ValueError(f"header {name!r} holds a line break")
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("latin-1")


class _Date:
    """The ``Date`` header line, formatted once a second."""

    def __init__(self) -> None:
        self._second = -1
        self._line = b""

    def line(self) -> bytes:
        now = int(time())
        if now != self._second:
            self._line = f"Date: {formatdate(now, usegmt=True)}\r\n".encode()
            self._second = now
        return self._line


class _Deadlines:
    """One thread that shuts each connection down when its deadline passes (a timer per
    connection would be a thread per connection). A connection's deadline is set with one
    dictionary store per request; the watcher reads a copy of the dictionary."""

    TICK = 0.05

    def __init__(self) -> None:
        self.due: dict[socket.socket, float] = {}
        self._stop = threading.Event()
        threading.Thread(target=self._run, name="authz-deadlines", daemon=True).start()

    def close(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        due = self.due
        while not self._stop.wait(self.TICK):
            now = monotonic()
            for connection, deadline in list(due.items()):
                if deadline <= now and due.get(connection) == deadline:
                    due.pop(connection, None)
                    with contextlib.suppress(OSError):
                        connection.shutdown(socket.SHUT_RDWR)


class Server:
    """Serves ``app`` on ``address`` (``serve_forever`` in a thread of its own, ``shutdown``
    from another, then ``server_close``), as ``socketserver``'s servers do."""

    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], app: App, *, read_timeout: float,
                 max_connections: int, max_body: int,
                 closing: Callable[[], None] | None = None) -> None:
        """``closing()`` runs in each connection's thread as the connection ends."""
        self.app, self.read_timeout, self.max_body = app, read_timeout, max_body
        self._closing = closing
        self.socket = socket.create_server(address, backlog=self.request_queue_size)
        self.server_address = self.socket.getsockname()[:2]
        self._slots = threading.BoundedSemaphore(max_connections)
        self._date = _Date()
        self._running = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        self.deadlines = _Deadlines()

    # -- lifecycle ---------------------------------------------------------------------

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._stopped.clear()
        self._running.set()
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self.socket, selectors.EVENT_READ)
                while self._running.is_set():
                    if selector.select(poll_interval) and self._running.is_set():
                        self._accept()
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop ``serve_forever`` and wait until it has."""
        self._running.clear()
        self._stopped.wait()

    def server_close(self) -> None:
        self.socket.close()
        self.deadlines.close()

    def _accept(self) -> None:
        try:
            connection, _ = self.socket.accept()
        except OSError:
            return
        if not self._slots.acquire(blocking=False):  # over the limit: no thread for it
            with contextlib.suppress(OSError):
                connection.sendall(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
                                   b"Content-Length: 0\r\nConnection: close\r\n\r\n")
            _close(connection)
            return
        try:
            threading.Thread(target=self._connection, args=(connection,), daemon=True).start()
        except RuntimeError:  # no thread to be had
            self._slots.release()
            _close(connection)

    def _connection(self, connection: socket.socket) -> None:
        try:
            self._serve(connection)
        except OSError:
            pass  # the client hung up, or its deadline passed
        except Exception:  # an answer we could not make: logged, never a dead server
            log.exception("the authorization service could not answer a request")
            with contextlib.suppress(OSError):
                connection.sendall(self._error(500))
        finally:
            self.deadlines.due.pop(connection, None)
            _close(connection)
            self._slots.release()
            if self._closing is not None:
                self._closing()

    # -- one connection --------------------------------------------------------------

    def _serve(self, connection: socket.socket) -> None:
        due, timeout, app = self.deadlines.due, self.read_timeout, self.app
        recv, send = connection.recv, connection.sendall
        pending = bytearray()
        while True:
            due[connection] = monotonic() + timeout  # idle, then reading: one deadline
            scanned = 0  # bytes of ``pending`` already searched for the blank line
            while True:  # until the blank line: CRLF CRLF, or LF LF (LF alone throughout)
                end = pending.find(b"\r\n\r\n", max(0, scanned - 3))
                bare = pending.find(b"\n\n", max(0, scanned - 1),
                                    len(pending) if end < 0 else end)
                if bare >= 0:
                    head = bytes(pending[:bare])
                    del pending[:bare + 2]
                    if b"\r" in head:
                        send(self._error(400))
                        return
                    break
                if end >= 0:
                    head = bytes(pending[:end])
                    del pending[:end + 4]
                    break
                if len(pending) > MAX_HEAD:
                    send(self._error(431))
                    return
                scanned = len(pending)
                data = recv(RECV_SIZE)
                if not data:
                    return
                pending += data
            if len(head) > MAX_HEAD:
                send(self._error(431))
                return
            try:
                request = parse_head(head)
            except BadRequest as bad:
                send(self._error(bad.status))
                return
            fields = request.fields
            options = fields.get("connection")  # a list of options: close, keep-alive...
            options = () if options is None else {o.strip() for o in options.lower().split(",")}
            if request.version == "HTTP/1.1":
                keep_alive, echo = "close" not in options, False
            else:
                keep_alive = echo = "keep-alive" in options and "close" not in options
            if "transfer-encoding" in fields:  # a body of unknown length: never read
                keep_alive = False
            elif "content-length" in fields:
                length = _content_length(request)
                if length is None:
                    send(self._error(400))
                    return
                if length > self.max_body:
                    keep_alive = False
                elif length:
                    if fields.get("expect", "").lower() == "100-continue" and \
                            len(pending) < length and request.version == "HTTP/1.1":
                        send(_CONTINUE)
                    while len(pending) < length:
                        data = recv(RECV_SIZE)
                        if not data:
                            return
                        pending += data
                    del pending[:length]  # read and dropped
            if request.method not in _METHODS:
                send(self._error(501))
                return
            status, lines, body = app(request)
            answer = [_STATUS_LINES[status], self._date.line(), lines,
                      b"Content-Length: %d\r\n" % len(body)]
            if not keep_alive:
                answer.append(_CLOSE)
            elif echo:
                answer.append(_KEEP_ALIVE)
            answer.append(b"\r\n" if request.method == "HEAD" else b"\r\n" + body)
            send(b"".join(answer))
            if not keep_alive:
                return

    def _error(self, status: int) -> bytes:
        body = b'{"error": "%s"}' % HTTPStatus(status).phrase.lower().replace(" ", "_").encode()
        return b"".join((_STATUS_LINES[status], self._date.line(),
                         b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body),
                         _CLOSE, b"\r\n", body))


#: The methods answered (others get 501): what a proxy forwards for a decision.
#: More digits than any body this server reads: the length is not converted (Python refuses
#: integers of thousands of digits), only known to be too large.
MAX_LENGTH_DIGITS = 18
TOO_LONG = 10**MAX_LENGTH_DIGITS
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


def _content_length(request: Request) -> int | None:
    """The body's length: one ``Content-Length`` of digits (repeated, the same each time),
    or None."""
    values = request.get_all("content-length")
    value = values[0]
    if not value.isdigit() or not value.isascii() or any(v != value for v in values):
        return None
    return int(value) if len(value) <= MAX_LENGTH_DIGITS else TOO_LONG


def _close(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_WR)
    connection.close()


def answer_with(status: int, headers: list[tuple[str, str]], body: bytes = b""
                ) -> tuple[int, bytes, bytes]:
    """What an ``App`` returns, from header pairs (a ``Content-Length`` among them is
    dropped: the server writes the body's own)."""
    return status, header_lines([h for h in headers if h[0].lower() != "content-length"]), body

