"""``entitlements serve`` as production runs it: granian and the ASGI front in a process of
their own, on a loopback port, spoken to over raw sockets where HTTP clients would hide what
the server does at its edges."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.support.helpers import eventually
from tests.support.live import free_port

EDGES = {"ENTITLEMENTS_HEADER_TIMEOUT": "0.5", "ENTITLEMENTS_BODY_TIMEOUT": "0.5"}


def _environment(db_url: str, keys_dir: Path, **extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ENTITLEMENTS_")}
    return {**environment, "ENTITLEMENTS_DATABASE_URL": db_url,
            "ENTITLEMENTS_KEYS_DIR": str(keys_dir), **extra}


def _serve(environment: dict[str, str], port: int, workers: int = 1) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "entitlements.cli", "serve", "--port", str(port),
         "--workers", str(workers)], env=environment, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)


def _answers(url: str) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.fixture
def served(db_url: str, keys_dir: Path) -> Iterator[str]:
    port = free_port()
    process = _serve(_environment(db_url, keys_dir, **EDGES), port)
    url = f"http://127.0.0.1:{port}"
    try:
        assert eventually(lambda: _answers(url) or process.poll() is not None, timeout=30)
        assert process.poll() is None, process.communicate()[1]
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=20)


def exchange(url: str, data: bytes, timeout: float = 10) -> bytes:
    """Send ``data`` on a fresh connection; everything the server says until it closes."""
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])),
                                  timeout=timeout) as connection:
        connection.sendall(data)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        return answer


def status_and_headers(answer: bytes) -> tuple[int, dict[str, str]]:
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:])
    return int(head[0].split()[1]), {k.lower(): v for k, v in headers.items()}


TOKEN_REQUEST = (b"POST /oauth/token HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: application/x-www-form-urlencoded\r\n")


def body_of(answer: bytes) -> dict:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


def test_it_advertises_the_port_it_listens_on(served):
    metadata = requests.get(served + "/.well-known/oauth-authorization-server", timeout=5)
    assert metadata.json()["issuer"] == served


def test_a_chunked_body_over_the_limit_is_refused_whole(served):
    chunk = b"10000\r\n" + b"a" * 0x10000 + b"\r\n"
    answer = exchange(served, TOKEN_REQUEST + b"Transfer-Encoding: chunked\r\n\r\n"
                      + chunk * 32 + b"0\r\n\r\n")
    status, headers = status_and_headers(answer)
    assert (status, headers["connection"]) == (413, "close")
    assert body_of(answer)["error"] == "invalid_request"
    assert headers["cache-control"] == "no-store"


def test_a_declared_body_over_the_limit_is_refused_unread(served):
    answer = exchange(served, TOKEN_REQUEST + b"Content-Length: 2097152\r\n\r\n")
    assert status_and_headers(answer)[0] == 413


def test_a_body_that_trickles_gets_408_and_the_connection_closes(served):
    answer = exchange(served, TOKEN_REQUEST + b"Content-Length: 100\r\n\r\ngrant_type=")
    status, headers = status_and_headers(answer)
    assert (status, headers["connection"]) == (408, "close")


def test_headers_that_trickle_are_cut_off(served):
    assert exchange(served, b"GET /healthz HTTP/1.1\r\nHost: x\r\n") == b""


def test_the_servers_own_refusals_close_the_connection(served):
    too_long = exchange(served, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers = status_and_headers(too_long)
    assert (status, headers["connection"], headers["content-length"]) == (431, "close", "0")
    many = b"".join(b"X-%d: a\r\n" % n for n in range(200))
    crowded = exchange(served, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert status_and_headers(crowded)[0] == 431
    huge = exchange(served, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
                    + b"a" * 100_000 + b"\r\n\r\n")
    assert status_and_headers(huge)[0] == 431


def test_a_long_url_gets_414_in_the_families_format(served):
    answer = exchange(served, b"GET /oauth/token?x=" + b"a" * 10_000
                      + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers = status_and_headers(answer)
    assert (status, headers["connection"]) == (414, "close")
    assert body_of(answer)["error"] == "invalid_request"
    admin = exchange(served, b"GET /admin/organizations?x=" + b"a" * 10_000
                     + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"application/problem+json" in admin


def test_a_normal_request_on_a_kept_connection_after_a_refusal_works(served):
    session = requests.Session()
    refused = session.post(served + "/oauth/token", data=b"a" * 70_000, timeout=5,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (refused.status_code, refused.headers["Connection"]) == (413, "close")
    assert session.get(served + "/healthz", timeout=5).status_code == 200


def test_metrics_add_up_every_workers_requests(db_url, keys_dir):
    port = free_port()
    process = _serve(_environment(db_url, keys_dir), port, workers=2)
    url = f"http://127.0.0.1:{port}"
    try:
        assert eventually(lambda: _answers(url) or process.poll() is not None, timeout=30)
        before = _healthz_count(url)
        for _ in range(20):  # each on a new connection: both workers take some
            assert requests.get(url + "/healthz", timeout=5,
                                headers={"Connection": "close"}).status_code == 200
        assert _healthz_count(url) == before + 20
    finally:
        process.terminate()
        process.communicate(timeout=20)


def _healthz_count(url: str) -> float:
    text = requests.get(url + "/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (sample.name == "entitlements_request_seconds_count"
                    and sample.labels.get("endpoint") == "health.healthz"):
                return sample.value
    return 0.0


def _entitlements(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "entitlements.cli", *args], env=environment,
                          capture_output=True, text=True, timeout=60, check=False)


def _refused_start(environment: dict[str, str]) -> str:
    refused = _entitlements(environment, "serve", "--port", str(free_port()))
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert refused.stderr.startswith("entitlements: error: ")
    return refused.stderr


def test_it_refuses_to_start_on_a_key_others_can_read(db_url, keys_dir):
    environment = _environment(db_url, keys_dir)
    assert _entitlements(environment, "keys", "rotate", "--now").returncode == 0
    key = next(keys_dir.glob("*.pem"))
    key.chmod(0o644)
    assert key.stem in _refused_start(environment)


def test_it_refuses_to_start_without_the_key_that_signs(db_url, keys_dir):
    environment = _environment(db_url, keys_dir)
    assert _entitlements(environment, "keys", "rotate", "--now").returncode == 0
    key = next(keys_dir.glob("*.pem"))
    key.unlink()
    assert key.stem in _refused_start(environment)
