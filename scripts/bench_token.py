#!/usr/bin/env python3
"""Benchmark client_credentials issuance against a bare endpoint of the same server.

Starts `entitlements serve` (granian, 2 workers) on PostgreSQL on loopback, drives
POST /oauth/token with wrk for a fixed time at a fixed concurrency, then drives
GET /healthz on the same server the same way, and prints tokens/s, p50 and p99 for
both and their ratio. Afterwards it checks that every 200 response's token is
recorded in PostgreSQL (durably: the server commits before it answers).

    ./scripts/bench_token.py [--seconds 15] [--connections 16] [--threads 4]

Needs wrk (Debian package `wrk`; installed with apt-get when missing and run as root).
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import requests
from _wrk import ensure_wrk as _ensure_wrk
from _wrk import parse_wrk as _parse_wrk

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "entitlements_bench"
GATEWAY = "https://gateway.bench/models"


def main() -> None:
    args = _parse_args()
    wrk = _ensure_wrk()
    url = _fresh_database()
    with tempfile.TemporaryDirectory() as keys_dir:
        env = {**os.environ, "ENTITLEMENTS_DATABASE_URL": url, "ENTITLEMENTS_KEYS_DIR": keys_dir,
               "ENTITLEMENTS_LOG_LEVEL": "WARNING"}
        port = _free_port()
        env["ENTITLEMENTS_ISSUER"] = f"http://127.0.0.1:{port}"
        _cli(env, "db", "upgrade")
        client_id, secret = _partner(env)
        server = _serve(env, port, args)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_ready(base, client_id, secret)
            lua = _token_script(client_id, secret, Path(keys_dir))
            _warm_up(wrk, base, lua)
            before = _count_tokens(url)
            token = _run_wrk(wrk, f"{base}/oauth/token", args, lua)
            recorded = _count_tokens(url) - before
            bare = _run_wrk(wrk, f"{base}/healthz", args, None)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=20)
    _report(args, token, bare, recorded)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="request threads per worker")
    return parser.parse_args()


def _fresh_database() -> str:
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {BENCH_DB}")
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{BENCH_DB}"


def _cli(env: dict, *argv: str) -> str:
    result = subprocess.run([sys.executable, "-m", "entitlements.cli.__main__", *argv],
                            env=env, capture_output=True, text=True, check=False)
    if result.returncode:
        sys.exit(f"entitlements {' '.join(argv)} failed: {result.stderr.strip()}")
    return result.stdout


def _partner(env: dict) -> tuple[str, str]:
    import json

    org = json.loads(_cli(env, "orgs", "create", "Bench Partner", "--json"))
    _cli(env, "orgs", "grant-tier", org["id"], "public")
    _cli(env, "orgs", "grant-tier", org["id"], "restricted")
    _cli(env, "resources", "add", GATEWAY, "--default")
    client = json.loads(_cli(env, "clients", "create", "--org", org["id"], "--json"))
    return client["client_id"], client["client_secret"]


def _serve(env: dict, port: int, args: argparse.Namespace) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "entitlements.cli.__main__", "serve", "--port", str(port),
         "--workers", str(args.workers), "--threads", str(args.threads)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
    )


def _wait_ready(base: str, client_id: str, secret: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            response = requests.post(f"{base}/oauth/token", auth=(client_id, secret),
                                     data={"grant_type": "client_credentials"}, timeout=2)
            if response.status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    sys.exit("the server did not come up")


def _token_script(client_id: str, secret: str, folder: Path) -> Path:
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    script = folder / "token.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        'wrk.body = "grant_type=client_credentials&scope=tier%3Apublic"\n'
        'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n'
        f'wrk.headers["Authorization"] = "Basic {basic}"\n'
    )
    return script


def _warm_up(wrk: str, base: str, lua: Path) -> None:
    subprocess.run([wrk, "-t1", "-c4", "-d2s", "-s", str(lua), f"{base}/oauth/token"],
                   capture_output=True, check=True)


def _run_wrk(wrk: str, url: str, args: argparse.Namespace, lua: Path | None) -> dict:
    argv = [wrk, f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{args.seconds}s",
            "--latency", "--timeout", "10s"]
    if lua:
        argv += ["-s", str(lua)]
    output = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    return _parse_wrk(output)


def _count_tokens(url: str) -> int:
    with psycopg.connect(url.replace("+psycopg", "")) as connection:
        return connection.execute("SELECT count(*) FROM issued_tokens").fetchone()[0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _report(args: argparse.Namespace, token: dict, bare: dict, recorded: int) -> None:
    ok_tokens = token["requests"] - token["failed"]
    print(f"bench_token: granian {args.workers} workers x {args.threads} threads, "
          f"wrk {args.connections} connections, {args.seconds}s each, PostgreSQL on loopback")
    print(f"{'endpoint':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for name, row in (("POST /oauth/token (ES256)", token), ("GET /healthz (baseline)", bare)):
        print(f"{name:28} {row['rps']:9.0f} {row['p50']:8.2f} {row['p99']:8.2f} "
              f"{row['failed']:8d}")
    print(f"ratio token/baseline: {token['rps'] / bare['rps']:.2f}  (goal >= 0.65)")
    print(f"tokens answered 200: {ok_tokens}; rows recorded in PostgreSQL: {recorded} "
          f"({'all recorded' if recorded >= ok_tokens else 'MISSING ROWS'})")
    if token["socket_errors"] != "none" or bare["socket_errors"] != "none":
        print(f"socket errors: token {token['socket_errors']}; bare {bare['socket_errors']}")


if __name__ == "__main__":
    main()
