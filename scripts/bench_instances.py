#!/usr/bin/env python3
"""Benchmark two `entitlements serve` instances on one PostgreSQL, and gateways polling one.

1. Token issuance (client_credentials, ES256) on two instances, separate processes on two
   loopback ports sharing one database and one key folder: instance A alone at full load,
   instance B alone, then both at once, each driven by its own wrk with half the
   connections. It prints each rate, the combined rate and its ratio to one instance's,
   checks that every 200 token is recorded in PostgreSQL, that tokens from both instances
   verify with the one JWKS both publish, and that each instance answers 304 to the other's
   ETags.
2. `--gateways` simulated gateways (1,000) against instance A alone, each on its own
   connection polling the policy snapshot and a status list once every `--poll-period`
   (1 s) with the ETag it holds in If-None-Match; then the same without pauses (saturation).
   Each is compared with GET /healthz driven the same way on the same instance. It prints
   the rates, the answers by status (a gateway takes the new document when the minute's
   re-signing changes the ETag) and the server's CPU per answer, read from /proc for the
   `serve` process and its workers before and after each leg.

    ./scripts/bench_instances.py [--seconds 10] [--connections 16] [--gateways 1000]

Needs wrk (Debian package `wrk`; installed with apt-get when missing and run as root).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import jwt
import requests
from _cpu import cpu_seconds, process_tree
from _service import (
    GATEWAY,
    Service,
    count_tokens,
    free_port,
    running,
    temporary_service,
    wait_for,
)
from _wrk import ensure_wrk, parse_wrk, token_script

BENCH_DB = "entitlements_bench_instances"
#: The media types of the two documents gateways poll, as the service answers them.
POLICY_TYPE, STATUS_LIST_TYPE = "application/jwt", "application/statuslist+jwt"
#: A sustained rate at least this share of the offered one counts as keeping up.
KEEPING_UP = 0.95
STARTED = time.monotonic()


def main() -> None:
    args = _parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    _raise_open_files(args.gateways + 256)
    wrk = ensure_wrk()
    with ExitStack() as stack:
        _progress(f"database {BENCH_DB}, a partner and its client")
        service = stack.enter_context(temporary_service(BENCH_DB))
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        client_id, secret = service.partner()
        second = _second_instance(service)
        database = service.env["ENTITLEMENTS_DATABASE_URL"]
        _progress("starting instances A and B")
        first_server = stack.enter_context(_serving(service, args))
        with _serving(second, args) as second_server:
            servers = first_server + second_server
            lua = token_script(scratch, client_id, secret)
            for base in (service.url, second.url):
                _wrk(wrk, f"{base}/oauth/token", 1, 4, _warm_up_seconds(args), lua)
            rounds = [_token_round(wrk, service.url, second.url, database, servers, args,
                                   lua) for _ in range(args.rounds)]
            shared = _shared_checks(service.url, second.url, client_id, secret)
            _progress("stopping instance B")
        # B stopped: the gateways' instance has the machine to itself.
        polls = _gateway_legs(wrk, service.url, first_server, args, scratch)
        _progress("stopping instance A")
    _progress("done")
    _report_tokens(args, rounds, shared)
    _report_polls(args, polls)


def _progress(step: str) -> None:
    print(f"[{time.monotonic() - STARTED:5.0f}s] {step}", file=sys.stderr, flush=True)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="length of each measured leg")
    parser.add_argument("--rounds", type=int, default=1,
                        help="times the three issuance legs (A, B, A+B) run, interleaved")
    parser.add_argument("--connections", type=int, default=16,
                        help="issuance load; each instance gets half of it in the A+B leg")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="worker processes per instance")
    parser.add_argument("--threads", type=int, default=4, help="request threads per worker")
    parser.add_argument("--gateways", type=int, default=1000,
                        help="simulated gateways, one connection each")
    parser.add_argument("--poll-period", type=float, default=1.0,
                        help="seconds between a gateway's polls of the two documents")
    args = parser.parse_args()
    if args.connections < 2 or args.gateways < 1 or args.seconds < 1 or args.rounds < 1:
        parser.error("--connections must be at least 2; --gateways, --seconds and --rounds "
                     "at least 1")
    return args


def _raise_open_files(wanted: int) -> None:
    """Room for one socket per gateway in wrk and in the server (both inherit the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))


def _second_instance(first: Service) -> Service:
    """Instance B: A's database, key folder and issuer (one service behind one name, as
    behind a load balancer), on a port of its own."""
    second = copy.copy(first)
    second.env = dict(first.env)
    second.port = free_port()
    second.url = f"http://127.0.0.1:{second.port}"
    return second


@contextmanager
def _serving(instance: Service, args: argparse.Namespace) -> Iterator[list[int]]:
    """``entitlements serve`` on the instance's port; yields its process and its workers'
    ids (for their CPU time), and leaves none of them running."""
    argv = [sys.executable, "-m", "entitlements.cli", "serve", "--port", str(instance.port),
            "--workers", str(args.workers), "--threads", str(args.threads)]
    started: dict[int, str] = {}
    try:
        with running(argv, instance.env) as process:
            wait_for(instance.url + "/healthz")
            pids = process_tree(process.pid)
            started.update((pid, _start_time(pid)) for pid in pids)
            yield pids
    finally:
        for pid, start in started.items():  # a worker its server failed to stop
            if start and _start_time(pid) == start:
                os.kill(pid, signal.SIGKILL)


# -- 1. issuance on two instances -----------------------------------------------------------------


def _warm_up_seconds(args: argparse.Namespace) -> int:
    return min(2, args.seconds)


def _token_round(wrk: str, first: str, second: str, database: str, servers: list[int],
                 args: argparse.Namespace, lua: Path) -> dict:
    """Issuance on A alone, B alone, then both; each leg's rows recorded and the CPU time of
    both instances' processes."""
    half, threads = args.connections // 2, max(1, args.wrk_threads // 2)
    legs: dict = {}
    for name, base in (("A", first), ("B", second)):
        _progress(f"issuance: instance {name} alone")
        before, cpu = count_tokens(database), cpu_seconds(servers)
        legs[name] = _wrk(wrk, f"{base}/oauth/token", args.wrk_threads, args.connections,
                          args.seconds, lua)
        legs[name]["cpu"] = cpu_seconds(servers) - cpu
        legs[name]["recorded"] = count_tokens(database) - before
    _progress("issuance: A and B together")
    before, cpu = count_tokens(database), cpu_seconds(servers)
    both = _wrk_together(wrk, [(f"{base}/oauth/token", threads, half)
                               for base in (first, second)], args.seconds, lua)
    recorded = count_tokens(database) - before
    legs["A+B"] = {"parts": both, "cpu": cpu_seconds(servers) - cpu,
                   "rps": sum(leg["rps"] for leg in both),
                   "requests": sum(leg["requests"] for leg in both),
                   "failed": sum(leg["failed"] for leg in both), "recorded": recorded}
    return legs


def _shared_checks(first: str, second: str, client_id: str, secret: str) -> dict:
    """Tokens from both instances verify with the one JWKS both publish; each instance
    answers 304 to the ETags the other handed out."""
    jwks = [requests.get(f"{base}/jwks.json", timeout=10).json() for base in (first, second)]
    same_jwks = jwks[0] == jwks[1]
    keys = {key["kid"]: key for key in jwks[0]["keys"]}
    verified = 0
    for base in (first, second):
        answer = requests.post(f"{base}/oauth/token", auth=(client_id, secret), timeout=10,
                               data={"grant_type": "client_credentials",
                                     "scope": "tier:public"})
        answer.raise_for_status()
        token = answer.json()["access_token"]
        key = keys.get(jwt.get_unverified_header(token).get("kid"))
        if key is None:  # signed with a key the JWKS does not publish
            continue
        try:
            jwt.decode(token, jwt.PyJWK(key).key, algorithms=[key["alg"]], audience=GATEWAY,
                       issuer=first)
        except jwt.InvalidTokenError:
            continue
        verified += 1
    documents = ["/policy", _status_list_path(first)]
    agree = all(_other_answers_304(first, second, path) for path in documents)
    return {"same_jwks": same_jwks, "verified": verified, "etags_agree": agree}


def _other_answers_304(first: str, second: str, path: str) -> bool:
    for _ in range(2):  # once more if the minute's re-signing fell in between
        etag = requests.get(first + path, timeout=10).headers["ETag"]
        status = requests.get(second + path, headers={"If-None-Match": etag},
                              timeout=10).status_code
        if status == 304:
            return True
    return False


def _status_list_path(base: str) -> str:
    uris = requests.get(f"{base}/status-lists", timeout=10).json()["status_lists"]
    if not uris:
        sys.exit("no status list is published (no token was issued)")
    return "/status-lists/" + uris[0].rsplit("/", 1)[1]


# -- 2. gateways polling one instance -------------------------------------------------------------


def _gateway_legs(wrk: str, base: str, server: list[int], args: argparse.Namespace,
                  folder: Path) -> dict:
    documents = ["/policy", _status_list_path(base)]
    etags = [requests.get(base + path, timeout=10).headers["ETag"] for path in documents]
    pause = round(args.poll_period * 1000 / len(documents))  # ms between one's requests
    threads = min(args.wrk_threads, args.gateways)
    legs = {}
    for paced in (True, False):
        for name, paths, tags in (("polls", documents, etags),
                                  ("healthz", ["/healthz"], [None])):
            script = _poll_script(folder / f"{name}-{paced}.lua", paths, tags,
                                  pause if paced else 0, -(-args.gateways // threads))
            _progress(f"{args.gateways} gateways: {name}, {'paced' if paced else 'no pause'}")
            cpu_before = cpu_seconds(server)
            result = _wrk(wrk, base + paths[0], threads, args.gateways, args.seconds, script)
            result["cpu"] = cpu_seconds(server) - cpu_before
            legs[name, paced] = result
    return {"documents": documents, "legs": legs,
            "offered": args.gateways * len(documents) / args.poll_period}


def _poll_script(path: Path, paths: list[str], etags: list[str | None], pause_ms: int,
                 per_thread: int) -> Path:
    """wrk's Lua for gateways on one connection each: GET the documents in turn, with the
    ETag held in If-None-Match (none for /healthz), taking a new one from a 200 (the
    documents are re-signed each minute); counting answers: 304 (200 for /healthz),
    other 200s, anything else. Paced, each connection waits ``pause_ms`` after an answer;
    its first request waits a random part of that, so the gateways' polls are spread over
    the period rather than all sent at once (wrk asks each connection for a delay before
    its first request too; the first ``per_thread`` delays a thread asks for are those)."""
    expected = 304 if etags[0] else 200
    kinds = [POLICY_TYPE if p == "/policy" else STATUS_LIST_TYPE for p in paths]
    path.write_text(f"""
local paths = {{{", ".join(json.dumps(p) for p in paths)}}}
local kinds = {{{", ".join(json.dumps(k) for k in kinds)}}}
local etags = {{{", ".join(json.dumps(e) if e else "false" for e in etags)}}}
local expected, pause, turn, starting = {expected}, {pause_ms}, 0, {per_thread}
local threads = {{}}
answered, refetched, other = 0, 0, 0

function setup(thread)
  table.insert(threads, thread)
end

function request()
  turn = turn % #paths + 1
  local headers = {{}}
  if etags[turn] then headers["If-None-Match"] = etags[turn] end
  return wrk.format("GET", paths[turn], headers)
end

function response(status, headers, body)
  if status == expected then
    answered = answered + 1
  elseif status == 200 then
    refetched = refetched + 1
    local kind = (headers["Content-Type"] or headers["content-type"] or ""):match("^[^;]*")
    for i = 1, #kinds do
      if kinds[i] == kind then etags[i] = headers["ETag"] or headers["etag"] end
    end
  else
    other = other + 1
  end
end

if pause > 0 then
  function delay()
    if starting > 0 then
      starting = starting - 1
      return math.random(0, pause - 1)
    end
    return pause
  end
end

function done(summary, latency, requests)
  local a, r, o = 0, 0, 0
  for _, thread in ipairs(threads) do
    a = a + thread:get("answered")
    r = r + thread:get("refetched")
    o = o + thread:get("other")
  end
  io.write(string.format("answers: expected %d refetched %d other %d\\n", a, r, o))
end
""")
    return path


def _start_time(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[19]
    except OSError:
        return ""


# -- wrk ------------------------------------------------------------------------------------------


def _argv(wrk: str, url: str, threads: int, connections: int, seconds: int,
          lua: Path) -> list[str]:
    return [wrk, f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds}s",
            "--latency", "--timeout", "10s", "-s", str(lua), url]


def _wrk(wrk: str, url: str, threads: int, connections: int, seconds: int, lua: Path) -> dict:
    done = subprocess.run(_argv(wrk, url, threads, connections, seconds, lua),
                          capture_output=True, text=True, check=True, timeout=seconds + 60)
    return _parsed(done.stdout)


def _wrk_together(wrk: str, runs: list[tuple[str, int, int]], seconds: int,
                  lua: Path) -> list[dict]:
    """wrk processes started at once, one per (url, threads, connections)."""
    with ExitStack() as stack:
        processes = []
        for url, threads, connections in runs:
            process = subprocess.Popen(_argv(wrk, url, threads, connections, seconds, lua),
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True)
            stack.callback(_stop, process)
            processes.append(process)
        deadline = time.monotonic() + seconds + 60
        outputs = [p.communicate(timeout=max(1.0, deadline - time.monotonic()))[0]
                   for p in processes]
    return [_parsed(output) for output in outputs]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def _parsed(output: str) -> dict:
    result = parse_wrk(output)
    counted = re.search(r"answers: expected (\d+) refetched (\d+) other (\d+)", output)
    if counted:
        result["answers"] = tuple(int(n) for n in counted.groups())
    return result


# -- report ---------------------------------------------------------------------------------------


def _report_tokens(args: argparse.Namespace, rounds: list[dict], shared: dict) -> None:
    half = args.connections // 2
    print(f"bench_instances: 2 instances x granian {args.workers} worker(s) x {args.threads} "
          f"threads, one PostgreSQL and one key folder, loopback, {args.seconds}s per leg")
    print(f"client_credentials issuance (POST /oauth/token, ES256), wrk {args.connections} "
          f"connections in all; CPU: both instances' processes")
    print(f"  {'leg':34} {'tokens/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} "
          f"{'CPU ms/token':>12}")
    answered = recorded = 0
    for number, legs in enumerate(rounds, 1):
        prefix = f"round {number}: " if len(rounds) > 1 else ""
        rows = [(f"instance {name} alone", legs[name], _cpu_per_answer(legs[name]))
                for name in "AB"]
        rows += [(f"{name} during A+B ({half} connections)", row, None)
                 for name, row in zip("AB", legs["A+B"]["parts"], strict=True)]
        for label, row, cpu in rows:
            print(f"  {prefix + label:34} {row['rps']:9.0f} {row['p50']:8.2f} "
                  f"{row['p99']:8.2f} {row['failed']:8d} "
                  f"{'' if cpu is None else f'{cpu * 1000:12.2f}'}")
        single = (legs["A"]["rps"] + legs["B"]["rps"]) / 2
        both = legs["A+B"]
        print(f"  {prefix + 'A+B combined':34} {both['rps']:9.0f} {'':8} {'':8} "
              f"{both['failed']:8d} {_cpu_per_answer(both) * 1000:12.2f}")
        print(f"  {prefix}combined/single: {both['rps'] / single:.2f} (single: the mean of A "
              f"and B alone)")
        for row in (legs["A"], legs["B"], both):
            answered += row["requests"] - row["failed"]
            recorded += row["recorded"]
    print(f"  tokens answered 200: {answered}; rows recorded in PostgreSQL: {recorded} "
          f"({'all recorded' if recorded >= answered else 'MISSING ROWS'})")
    print(f"  one JWKS: {'the same at A and B' if shared['same_jwks'] else 'A AND B DIFFER'}; "
          f"a token from each instance verified with it ({shared['verified']} of 2"
          f"{'' if shared['verified'] == 2 else ', NOT ALL'}); "
          f"ETags: {'B answers 304 to A' if shared['etags_agree'] else 'THEY DIFFER'}")


def _report_polls(args: argparse.Namespace, polls: dict) -> None:
    documents, legs, offered = polls["documents"], polls["legs"], polls["offered"]
    print(f"{args.gateways} gateways on one connection each against instance A "
          f"({args.workers} worker(s)), polling GET {' and GET '.join(documents)} with "
          f"If-None-Match every {args.poll_period:g}s: {offered:.0f} req/s offered")
    print(f"  {'leg':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>10} "
          f"{'CPU %':>6}  answers")
    for paced in (True, False):
        for name in ("polls", "healthz"):
            row = legs[name, paced]
            expected, refetched, other = row.get("answers", (0, 0, 0))
            label = {"polls": "conditional polls", "healthz": "GET /healthz (baseline)"}[name]
            label += ", paced" if paced else ", no pause"
            kind = "304" if name == "polls" else "200"
            counted = f"{kind} {expected}, other {other}"
            if name == "polls":
                counted += f", 200 {refetched} (re-signed)"
            print(f"  {label:34} {row['rps']:9.0f} {row['p50']:8.2f} {row['p99']:8.2f} "
                  f"{row['cpu'] * 1000 / max(1, row['requests']):10.3f} "
                  f"{row['cpu'] * 100 / args.seconds:6.0f}  {counted}")
    paced, saturated = legs["polls", True], legs["polls", False]
    bare, bare_max = legs["healthz", True], legs["healthz", False]
    rate, most = _rate_304(paced), _rate_304(saturated)
    kept_up = rate >= KEEPING_UP * offered
    per_304, per_bare = _cpu_per_answer(paced), _cpu_per_answer(bare)
    print(f"  304s sustained: {rate:.0f}/s of {offered:.0f} offered "
          f"({'keeps up' if kept_up else 'DOES NOT KEEP UP'}); at saturation {most:.0f}/s, "
          f"{most / bare_max['rps']:.2f} of /healthz's {bare_max['rps']:.0f}/s")
    print(f"  server CPU per 304: {per_304 * 1000:.3f} ms paced "
          f"({per_304 / per_bare if per_bare else float('nan'):.2f} of /healthz's "
          f"{per_bare * 1000:.3f} ms), "
          f"{_cpu_per_answer(saturated) * 1000:.3f} ms at saturation")
    unexpected = sum(legs[leg].get("answers", (0, 0, 0))[2] for leg in legs)
    errors = {f"{name}, {'paced' if p else 'no pause'}": row["socket_errors"]
              for (name, p), row in legs.items() if row["socket_errors"] != "none"}
    print(f"  answers other than 304 (200 for /healthz) or a re-signed 200: {unexpected}"
          f"{'' if unexpected == 0 else '  (UNEXPECTED)'}; socket errors: "
          f"{'; '.join(f'{k}: {v}' for k, v in errors.items()) or 'none'}")


def _rate_304(row: dict) -> float:
    """Requests/s that were the expected answer (304s), from wrk's rate and the counts."""
    expected = row.get("answers", (0, 0, 0))[0]
    return row["rps"] * expected / max(1, row["requests"])


def _cpu_per_answer(row: dict) -> float:
    return row["cpu"] / max(1, row["requests"])


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # the servers and wrk are stopped by now
        sys.exit("bench_instances: interrupted")
