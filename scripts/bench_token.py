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
import subprocess
import tempfile
from pathlib import Path

import psycopg
from _service import temporary_service
from _wrk import ensure_wrk as _ensure_wrk
from _wrk import parse_wrk as _parse_wrk

BENCH_DB = "entitlements_bench"


def main() -> None:
    args = _parse_args()
    wrk = _ensure_wrk()
    with temporary_service(BENCH_DB) as service, tempfile.TemporaryDirectory() as scratch:
        client_id, secret = service.partner(tiers=("public", "restricted"))
        with service.serving(args.workers, args.threads) as base:
            lua = _token_script(client_id, secret, Path(scratch))
            _warm_up(wrk, base, lua)
            url = service.env["ENTITLEMENTS_DATABASE_URL"]
            before = _count_tokens(url)
            token = _run_wrk(wrk, f"{base}/oauth/token", args, lua)
            recorded = _count_tokens(url) - before
            bare = _run_wrk(wrk, f"{base}/healthz", args, None)
    _report(args, token, bare, recorded)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="request threads per worker")
    return parser.parse_args()


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
