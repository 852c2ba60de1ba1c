#!/usr/bin/env python3
"""Benchmark client_credentials issuance against the bare endpoint of the same server.

Starts `entitlements serve` (granian, 2 workers) on PostgreSQL on loopback and drives, with
wrk at a fixed concurrency, interleaved legs repeated ``--rounds`` times: POST /oauth/token
(client_secret_basic, ES256; every token committed with its audit event before the answer),
GET /healthz of the same server (the baseline), and, when Node.js is installed, the token
endpoint of node oidc-provider (ES256 JWT access tokens, nothing stored; ``_node_provider``).
For each leg it prints requests/s, p50 and p99, and the CPU per request of the server's
processes and of PostgreSQL's, read from /proc; then the medians, the ratio token/healthz
(goal >= 0.65) and tokens per server CPU-second against oidc-provider's. Afterwards it checks
that every 200 answer's token is in PostgreSQL. ``--profile`` samples the server's workers
with py-spy during one more token leg and prints where the CPU goes.

    ./scripts/bench_token.py [--seconds 10] [--rounds 3] [--connections 16] [--profile]

Needs wrk (Debian package `wrk`; installed with apt-get when missing and run as root).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import _node_provider
from _cpu import CpuMeter, process_tree
from _profile import profile_top
from _service import (
    Service,
    count_tokens,
    free_port,
    running,
    temporary_service,
    wait_for,
)
from _wrk import ensure_wrk, parse_wrk, token_script

BENCH_DB = "entitlements_bench"
GOAL = 0.65


def main() -> None:
    args = _parse_args()
    wrk = ensure_wrk()
    node_missing = "--no-node given" if args.no_node else _node_provider.available()
    with temporary_service(BENCH_DB) as service, tempfile.TemporaryDirectory() as scratch, \
            ExitStack() as stack:
        client_id, secret = service.partner(tiers=("public", "restricted"))
        base, server = stack.enter_context(_serving(service, args))
        legs = {"token": (f"{base}/oauth/token", token_script(Path(scratch), client_id, secret),
                          server, True),
                "healthz": (f"{base}/healthz", None, server, False)}
        if args.gunicorn:
            other, other_pids = stack.enter_context(_gunicorn(service, args))
            legs["gunicorn token"] = (f"{other}/oauth/token", legs["token"][1], other_pids,
                                      True)
            legs["gunicorn healthz"] = (f"{other}/healthz", None, other_pids, False)
        if node_missing is None:
            node = stack.enter_context(_node_provider.node_provider(args.workers))
            legs["node"] = (node.token_url, _node_provider.token_script(node, Path(scratch)),
                            node.pids, False)
        for url, lua, _, _ in legs.values():
            _run(wrk, url, lua, threads=1, connections=4, seconds=2)  # warm up
        url = service.env["ENTITLEMENTS_DATABASE_URL"]
        before = count_tokens(url)
        rounds = [{name: _leg(wrk, args, *leg) for name, leg in legs.items()}
                  for _ in range(args.rounds)]
        recorded = count_tokens(url) - before
        top = (profile_top(server[1:], lambda: _run(wrk, *legs["token"][:2], threads=2,
                                                        connections=args.connections,
                                                        seconds=args.seconds))
               if args.profile else None)
    _report(args, rounds, recorded, node_missing)
    if top:
        print(top)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per leg")
    parser.add_argument("--rounds", type=int, default=3, help="token/healthz/node rounds")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="request threads per worker")
    parser.add_argument("--no-node", action="store_true", help="skip oidc-provider")
    parser.add_argument("--gunicorn", action="store_true",
                        help="the same app under gunicorn (gthread) too, for comparison")
    parser.add_argument("--profile", action="store_true",
                        help="sample the workers with py-spy during one more token leg")
    return parser.parse_args()


@contextmanager
def _serving(service: Service, args: argparse.Namespace) -> Iterator[tuple[str, list[int]]]:
    """The server's URL and process ids (the granian main process first)."""
    with service.serving(args.workers, args.threads) as base:
        yield base, _server_pids(service.port)


@contextmanager
def _gunicorn(service: Service, args: argparse.Namespace) -> Iterator[tuple[str, list[int]]]:
    """The same application factory under gunicorn's threaded workers (as many workers and
    threads), on another port of the same database: the WSGI server the issue compares
    granian with. Not a dependency: ``pip install gunicorn``."""
    if shutil.which("gunicorn") is None:
        sys.exit("--gunicorn: gunicorn is not installed (pip install gunicorn)")
    port = free_port()
    argv = ["gunicorn", "-w", str(args.workers), "-k", "gthread", "--threads",
            str(args.threads), "-b", f"127.0.0.1:{port}", "--log-level", "warning",
            "entitlements.app:create_app()"]
    with running(argv, service.env) as process:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}", process_tree(process.pid)


def _server_pids(port: int) -> list[int]:
    found = subprocess.run(["pgrep", "-o", "-f", f"entitlements.cli serve --port {port} "],
                           capture_output=True, text=True, check=True).stdout.split()
    return process_tree(int(found[0]))


def _run(wrk: str, url: str, lua: Path | None, *, threads: int, connections: int,
         seconds: int) -> dict:
    argv = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
            "--timeout", "10s", *(["-s", str(lua)] if lua else []), url]
    return parse_wrk(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)


def _leg(wrk: str, args: argparse.Namespace, url: str, lua: Path | None, pids: list[int],
         database: bool) -> dict:
    meter = CpuMeter(pids, database=database)
    meter.start()
    row = _run(wrk, url, lua, threads=args.wrk_threads, connections=args.connections,
               seconds=args.seconds)
    server, postgres = meter.stop()
    answered = max(1, row["requests"] - row["failed"])
    return {**row, "cpu_ms": 1000 * server / answered, "pg_ms": 1000 * postgres / answered}


def _report(args: argparse.Namespace, rounds: list[dict], recorded: int,
            node_missing: str | None) -> None:
    print(f"bench_token: granian {args.workers} workers x {args.threads} threads, wrk "
          f"{args.connections} connections, {args.seconds}s per leg, {args.rounds} rounds, "
          "PostgreSQL on loopback")
    print(f"{'round':>5} {'leg':16} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>7} "
          f"{'CPU ms/req':>10} {'+PG ms':>7}")
    for number, legs in enumerate(rounds, 1):
        for name, row in legs.items():
            print(f"{number:5d} {name:16} {row['rps']:8.0f} {row['p50']:7.2f} {row['p99']:7.2f} "
                  f"{row['failed']:7d} {row['cpu_ms']:10.3f} "
                  f"{row['pg_ms'] if name.endswith('token') else float('nan'):7.3f}")
    median = {name: {key: statistics.median(r[name][key] for r in rounds)
                     for key in ("rps", "p50", "p99", "cpu_ms", "pg_ms")}
              for name in rounds[0]}
    token, bare = median["token"], median["healthz"]
    ratios = [r["token"]["rps"] / r["healthz"]["rps"] for r in rounds]
    print(f"median: tokens {token['rps']:.0f}/s (p50 {token['p50']:.2f} ms, p99 "
          f"{token['p99']:.2f} ms); server CPU per token {token['cpu_ms']:.3f} ms + "
          f"PostgreSQL {token['pg_ms']:.3f} ms; healthz {bare['rps']:.0f}/s")
    print(f"ratio token/healthz per round: {', '.join(f'{r:.2f}' for r in ratios)}; median "
          f"{statistics.median(ratios):.2f} (goal >= {GOAL})")
    if "gunicorn token" in median:
        _report_gunicorn(median, rounds)
    if "node" in median:
        _report_node(token, median["node"], rounds)
    else:
        print(f"oidc-provider leg skipped: {node_missing}")
    ok_tokens = sum(row["requests"] - row["failed"] for r in rounds for name, row in r.items()
                    if name.endswith("token"))
    print(f"tokens answered 200: {ok_tokens}; rows recorded in PostgreSQL: {recorded} "
          f"({'all recorded' if recorded >= ok_tokens else 'MISSING ROWS'})")


def _report_gunicorn(median: dict, rounds: list[dict]) -> None:
    ours, theirs = median["token"], median["gunicorn token"]
    per_round = ", ".join(f"{r['token']['rps'] / r['gunicorn token']['rps']:.2f}"
                          for r in rounds)
    print(f"gunicorn (gthread, same app): tokens {theirs['rps']:.0f}/s, p99 "
          f"{theirs['p99']:.2f} ms, server CPU per token {theirs['cpu_ms']:.3f} ms; healthz "
          f"{median['gunicorn healthz']['rps']:.0f}/s; granian/gunicorn tokens per round: "
          f"{per_round}; CPU per token {ours['cpu_ms'] / theirs['cpu_ms']:.2f} of gunicorn's")


def _report_node(token: dict, node: dict, rounds: list[dict]) -> None:
    ours = 1000 / (token["cpu_ms"] + token["pg_ms"])
    theirs = 1000 / node["cpu_ms"]
    per_round = ", ".join(f"{r['token']['rps'] / r['node']['rps']:.2f}" for r in rounds)
    print(f"oidc-provider (node, nothing stored): {node['rps']:.0f} tokens/s, p50 "
          f"{node['p50']:.2f} ms, p99 {node['p99']:.2f} ms, CPU per token "
          f"{node['cpu_ms']:.3f} ms; ours/theirs per round: {per_round}")
    print(f"tokens per server CPU-second: ours {ours:.0f} (PostgreSQL's CPU included), "
          f"oidc-provider {theirs:.0f}; ratio {ours / theirs:.2f} (aim 1.0)")


if __name__ == "__main__":
    main()
