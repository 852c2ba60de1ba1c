"""The SDK's HTTP authorization service at its edges: health and readiness, an issuer that is
down when it starts, connections that trickle, too many connections, and start-up mistakes
through ``entitlements gateway serve``."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from entitlements.gateway.gateway import Gateway
from tests.support.factories import GATEWAY
from tests.support.helpers import eventually
from tests.support.interop import token_for
from tests.support.live import free_port, serving


class Outage:
    """The issuer answering 503 to everything while ``down``."""

    def __init__(self, app: Any) -> None:
        self.down = False
        inner = app.wsgi_app

        def maybe_down(environ: dict, start_response: Callable) -> Any:
            if self.down:
                start_response("503 Service Unavailable", [("Content-Length", "0")])
                return [b""]
            return inner(environ, start_response)

        app.wsgi_app = maybe_down


@pytest.fixture
def outage(live_server) -> Outage:
    return Outage(live_server.app)


@pytest.fixture
def sdk(live_server, world, sdk_clock) -> Iterator[Gateway]:
    gateway = Gateway(live_server.url, GATEWAY, clock=sdk_clock, poll_interval=None)
    yield gateway
    gateway.close()


def ask(url: str, token: str, model: str = "base-1") -> requests.Response:
    return requests.get(url + "/v1/chat", timeout=5, headers={
        "Authorization": f"Bearer {token}", "X-Entitlements-Model": model})


def test_readiness_follows_the_issuers_documents(sdk, outage, live_server, world):
    token = token_for(live_server, world)
    outage.down = True
    with serving(sdk) as url:
        assert requests.get(url + "/healthz", timeout=5).status_code == 200
        ready = requests.get(url + "/readyz", timeout=5)
        assert (ready.status_code, ready.json()) == (503, {"status": "not_ready",
                                                           "ready": False})
        refused = ask(url, token)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"]
        assert refused.headers["X-Entitlements-Reason"] == "issuer_unavailable"

        outage.down = False
        assert sdk.refresh()
        assert requests.get(url + "/readyz", timeout=5).json() == {"status": "ok",
                                                                   "ready": True}
        assert ask(url, token).status_code == 200
        metrics = requests.get(url + "/metrics", timeout=5)
        assert metrics.status_code == 200
        assert ('entitlements_gateway_decisions_total{outcome="deny",reason="issuer_unavailable"}'
                in metrics.text)


def test_a_request_that_trickles_is_cut_off(sdk):
    with serving(sdk, read_timeout=0.2) as url, \
            socket.create_connection(_address(url), timeout=5) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        assert slow.recv(1024) == b"", "the service closed the connection"


def test_a_request_that_trickles_a_byte_at_a_time_is_cut_off_too(sdk):
    """Each byte comes within the read timeout; the whole request does not."""
    with serving(sdk, read_timeout=0.3) as url, \
            socket.create_connection(_address(url), timeout=5) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        slow.settimeout(0.05)
        closed = False
        for _ in range(200):  # at most 10 s of trickling
            try:
                closed = slow.recv(1024) == b""
            except TimeoutError:
                slow.sendall(b"X")
                continue
            except OSError:
                closed = True
            break
        assert closed, "the service closed a connection that kept trickling"


def test_connections_over_the_limit_are_answered_503_at_once(sdk):
    with serving(sdk, max_connections=2) as url:
        held = [socket.create_connection(_address(url), timeout=5) for _ in range(2)]
        assert eventually(lambda: _answer(url).startswith(b"HTTP/1.1 503")), \
            "a third connection is refused while two are held"
        for connection in held:
            connection.close()
        assert eventually(lambda: _answer(url).startswith(b"HTTP/1.1 200")), \
            "the slots come back when the held connections go"


def _address(url: str) -> tuple[str, int]:
    return "127.0.0.1", int(url.rsplit(":", 1)[1])


def _answer(url: str) -> bytes:
    with socket.create_connection(_address(url), timeout=5) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return connection.recv(1024)


def _gateway_serve(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "entitlements.cli", "gateway", "serve",
                           "--audience", GATEWAY, *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("entitlements")
    assert "Traceback" not in result.stderr
    return lines[0]


def test_start_up_mistakes_are_one_line():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        busy = one_line_error(_gateway_serve("--issuer", "http://127.0.0.1:9", "--port", port))
    assert f"cannot listen on 127.0.0.1:{port}" in busy
    plain = one_line_error(_gateway_serve("--issuer", "http://issuer.example"))
    assert "HTTPS is required off this machine" in plain
    zero = one_line_error(_gateway_serve("--issuer", "https://issuer.example",
                                         "--poll-interval", "0"))
    assert "--poll-interval" in zero


def test_it_starts_while_the_issuer_is_down():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "entitlements.cli", "gateway", "serve", "--audience", GATEWAY,
         "--issuer", f"http://127.0.0.1:{free_port()}", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        announced = process.stdout.readline()
        assert "waiting for" in announced
        assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 503
    finally:
        process.terminate()
        process.communicate(timeout=10)
