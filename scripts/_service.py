"""What the benchmarks and drills share: a fresh PostgreSQL database, the ``entitlements``
command, and ``entitlements serve`` (or ``gateway serve``) on a loopback port, stopped when
done."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
GATEWAY = "https://gateway.bench/models"
#: Benchmarks and drills measure speed, not throttling: limits far above their load.
UNTHROTTLED = {"rate_limit_address": "1000000/second", "rate_limit_client": "1000000/second"}


def fresh_database(name: str) -> str:
    """An empty PostgreSQL database ``name`` (dropped first when it exists); its URL."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {name}")
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def count_tokens(url: str) -> int:
    """Rows of ``issued_tokens`` in the database at ``url`` (a SQLAlchemy URL or not)."""
    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        return connection.execute("SELECT count(*) FROM issued_tokens").fetchone()[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Service:
    """A migrated database, a key folder and the environment to run ``entitlements`` on."""

    def __init__(self, database_url: str, keys_dir: str, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "ENTITLEMENTS_DATABASE_URL": database_url,
                    "ENTITLEMENTS_KEYS_DIR": keys_dir, "ENTITLEMENTS_LOG_LEVEL": "WARNING",
                    "ENTITLEMENTS_ISSUER": self.url,
                    **{f"ENTITLEMENTS_{k.upper()}": v for k, v in settings.items()}}
        self.cli("db", "upgrade")

    def cli(self, *argv: str) -> str:
        result = subprocess.run([sys.executable, "-m", "entitlements.cli", *argv],
                                env=self.env, capture_output=True, text=True, check=False)
        if result.returncode:
            sys.exit(f"entitlements {' '.join(argv)} failed: {result.stderr.strip()}")
        return result.stdout

    def cli_json(self, *argv: str) -> Any:
        return json.loads(self.cli(*argv, "--json"))

    def partner(self, name: str = "Bench Partner", tiers: tuple[str, ...] = ("public",)
                ) -> tuple[str, str]:
        """An organization with ``tiers``, a client_secret_basic client, the gateway."""
        org = self.cli_json("orgs", "create", name)
        for tier in tiers:  # a policy change: a second operator approves it
            waiting = self.cli_json("orgs", "grant-tier", org["id"], tier)
            if "approval" in waiting:
                self.cli("--actor", "cli:second-admin", "policy", "approve",
                         waiting["approval"]["id"], "--reason", "benchmark set-up")
        if GATEWAY not in self.cli("resources", "list"):
            self.cli("resources", "add", GATEWAY, "--default")
        client = self.cli_json("clients", "create", "--org", org["id"])
        return client["client_id"], client["client_secret"]

    @contextmanager
    def serving(self, workers: int = 2, threads: int | None = None) -> Iterator[str]:
        argv = ["serve", "--port", str(self.port), "--workers", str(workers)]
        if threads:
            argv += ["--threads", str(threads)]
        with running([sys.executable, "-m", "entitlements.cli", *argv], self.env):
            wait_for(self.url + "/healthz")
            yield self.url


@contextmanager
def temporary_service(database: str, **settings: str) -> Iterator[Service]:
    """A service on a fresh database, its limits raised out of the way (``UNTHROTTLED``)
    unless ``settings`` say otherwise."""
    url = fresh_database(database)
    with tempfile.TemporaryDirectory() as keys_dir:
        yield Service(url, keys_dir, **{**UNTHROTTLED, **settings})


@contextmanager
def running(argv: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen]:
    process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    sys.exit(f"{url} did not answer within {seconds:.0f} s")
