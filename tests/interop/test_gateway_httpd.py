"""The authorization service's HTTP/1.1 server (entitlements.gateway.httpd) on loopback, with
a stand-in app: keep-alive and pipelining, HTTP/1.0, HEAD, bodies drained or refused, and a
clean 4xx (and a closed connection) for every request it cannot read."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from entitlements.gateway import httpd
from entitlements.gateway.authz import original_url


def echo(request: httpd.Request) -> tuple[int, bytes, bytes]:
    """What the server read: method, path, the first X-Model and every DPoP header."""
    if request.path == "/boom":
        raise RuntimeError("the app failed")
    return 200, httpd.header_lines([
        ("X-Method", request.method), ("X-Path", request.path),
        ("X-Model", request.get("X-MODEL") or ""),
        ("X-DPoP", "|".join(request.get_all("dpop")))]), b"ok"


@pytest.fixture
def address() -> Iterator[tuple[str, int]]:
    server = httpd.Server(("127.0.0.1", 0), echo, read_timeout=0.5, max_connections=8,
                          max_body=1024)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield server.server_address
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class Client:
    def __init__(self, address: tuple[str, int]) -> None:
        self.socket = socket.create_connection(address, timeout=5)
        self.pending = b""

    def send(self, data: bytes) -> Client:
        self.socket.sendall(data)
        return self

    def answer(self, head_only: bool = False) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.pending:
            data = self.socket.recv(65536)
            assert data, "the connection closed before an answer"
            self.pending += data
        head, _, self.pending = self.pending.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(": ")
            headers[name.lower()] = value
        length = 0 if head_only else int(headers["content-length"])
        while len(self.pending) < length:
            self.pending += self.socket.recv(65536)
        body, self.pending = self.pending[:length], self.pending[length:]
        return int(lines[0].split(" ")[1]), headers, body

    def closed(self) -> bool:
        try:
            return self.pending == b"" and self.socket.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def connection(address) -> Iterator[Client]:
    connection = Client(address)
    yield connection
    connection.close()


GET = b"GET /v1/chat?x=1 HTTP/1.1\r\nHost: a\r\nX-Model: m1\r\n\r\n"


def test_one_connection_answers_request_after_request(connection):
    for _ in range(3):
        status, headers, body = connection.send(GET).answer()
        assert (status, body, headers["x-path"], headers["x-model"]) == (200, b"ok",
                                                                         "/v1/chat", "m1")
        assert headers["content-length"] == "2" and "connection" not in headers
        assert headers["date"].endswith(" GMT")


def test_pipelined_requests_are_answered_in_order(connection):
    connection.send(GET.replace(b"m1", b"first") + GET.replace(b"m1", b"second"))
    assert connection.answer()[1]["x-model"] == "first"
    assert connection.answer()[1]["x-model"] == "second"


def test_http_1_0_closes_unless_asked_to_keep_alive(address):
    once = Client(address)
    assert once.send(b"GET / HTTP/1.0\r\n\r\n").answer()[1]["connection"] == "close"
    assert once.closed()
    kept = Client(address)
    request = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
    assert kept.send(request).answer()[1]["connection"] == "keep-alive"
    assert kept.send(request).answer()[0] == 200
    once.close()
    kept.close()


@pytest.mark.parametrize("option", [b"close", b"Close", b"TE, close"])
def test_connection_close_is_honoured(connection, option):
    status, headers, _ = connection.send(GET.replace(
        b"\r\n\r\n", b"\r\nConnection: " + option + b"\r\n\r\n")).answer()
    assert (status, headers["connection"]) == (200, "close")
    assert connection.closed()


def test_head_gets_the_headers_and_no_body(connection):
    status, headers, body = connection.send(b"HEAD / HTTP/1.1\r\n\r\n").answer(head_only=True)
    assert (status, headers["content-length"], body) == (200, "2", b"")
    assert connection.send(GET).answer()[2] == b"ok", "no stray body bytes on the connection"


def test_headers_any_case_and_repeated(connection):
    headers = connection.send(b"POST /p HTTP/1.1\r\nx-model: a\r\nX-MODEL: b\r\nDPoP: one\r\n"
                          b"dpop: two\r\n\r\n").answer()[1]
    assert (headers["x-method"], headers["x-model"], headers["x-dpop"]) == ("POST", "a",
                                                                           "one|two")


def test_lf_alone_ends_lines_too(connection):
    assert connection.send(b"GET /lf HTTP/1.1\nX-Model: m\n\n").answer()[1]["x-path"] == "/lf"


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"GET /\r\n\r\n", 400),
    (b"GET / HTTP/1.1 extra\r\n\r\n", 400),
    (b"GET  / HTTP/1.1\r\n\r\n", 400),
    (b"GET / XTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\n\r\n", 505),
    (b"GET / HTTP/1.1\r\nNo-Colon\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nSpace : before\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nA: b\nC: d\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nA: b\n\n", 400),
    (b"GET / HTTP/1.1\r\n" + b"A: b\r\n" * 101 + b"\r\n", 431),
    (b"GET / HTTP/1.1\r\nA: " + b"b" * (httpd.MAX_HEAD + 1) + b"\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    (b"BREW / HTTP/1.1\r\n\r\n", 501),
    (b"GET http://[x/ HTTP/1.1\r\n\r\n", 400),
])
def test_a_request_it_cannot_read_gets_an_error_and_the_connection_closes(
        connection, request_bytes, status):
    found, headers, body = connection.send(request_bytes).answer()
    assert (found, headers["connection"]) == (status, "close")
    assert body.startswith(b'{"error": ')
    assert connection.closed()


def test_a_small_body_is_read_and_dropped(connection):
    smuggled = b"GET /smuggled HTTP/1.1\r\n\r\n"
    connection.send(b"POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(smuggled),
                                                                     smuggled))
    assert connection.answer()[0] == 200
    assert connection.send(GET).answer()[1]["x-path"] == "/v1/chat", "the body was no request"


def test_the_same_content_length_twice_is_one(connection):
    request = b"POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab"
    assert connection.send(request + GET).answer()[0] == 200
    assert connection.answer()[1]["x-path"] == "/v1/chat"


@pytest.mark.parametrize("framing", [b"Content-Length: 1025", b"Transfer-Encoding: chunked",
                                     b"Content-Length: " + b"9" * 5000])
def test_a_body_too_large_or_of_unknown_length_closes_after_the_answer(connection, framing):
    status, headers, _ = connection.send(b"POST / HTTP/1.1\r\n" + framing + b"\r\n\r\n").answer()
    assert (status, headers["connection"]) == (200, "close")
    assert connection.closed()


def test_expect_100_continue_is_answered_before_the_body(connection):
    connection.send(b"POST / HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
    assert connection.socket.recv(64) == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert connection.send(b"body").answer()[0] == 200


def test_an_app_that_fails_answers_500_and_the_server_lives_on(address):
    failing = Client(address)
    status, headers, _ = failing.send(b"GET /boom HTTP/1.1\r\n\r\n").answer()
    assert (status, headers["connection"]) == (500, "close")
    failing.close()
    fine = Client(address)
    assert fine.send(GET).answer()[0] == 200
    fine.close()


def test_a_connection_idle_or_with_half_a_request_past_the_read_timeout_is_closed(address):
    """One deadline covers a whole request however its bytes trickle in: a connection that
    has sent half a head is closed by the server (the client's own 5 s timeout would fail
    the test first, were it not)."""
    idle = Client(address)
    assert idle.send(GET).answer()[0] == 200
    partial = Client(address).send(b"GET / HTTP/1.1\r\nX-Model: m")
    assert partial.closed() and idle.closed()
    idle.close()
    partial.close()


def test_a_head_sent_a_byte_at_a_time_is_searched_once(connection):
    """The blank line is looked for in the new bytes only (a head trickled a byte at a
    time costs linear, not quadratic, time)."""
    for byte in GET:
        connection.send(bytes([byte]))
    assert connection.answer()[1]["x-model"] == "m1"


def test_the_path_of_a_target():
    def path(target: str) -> str:
        return httpd.parse_head(f"GET {target} HTTP/1.1".encode()).path

    assert path("/a/b?model=x#f") == "/a/b"
    assert path("http://host:8/a?b") == "/a"
    assert path("//evil.example/x") == "/evil.example/x"


def test_header_lines_refuse_line_breaks():
    assert httpd.header_lines([("A", "b"), ("C", "d")]) == b"A: b\r\nC: d\r\n"
    with pytest.raises(ValueError, match="line break"):
        httpd.header_lines([("A", "b\r\nSet-Cookie: x")])


def test_the_url_a_proxy_asks_about_never_fails_to_read():
    headers = {"x-forwarded-proto": "https", "host": "api.example"}
    assert original_url({**headers, "x-forwarded-uri": "/v1/chat?x=1"}, "/") == (
        "https://api.example/v1/chat")
    assert original_url({**headers, "x-forwarded-uri": "//[x?y"}, "/") == (
        "https://api.example//[x")
