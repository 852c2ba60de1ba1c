#!/usr/bin/env python3
"""Benchmark the gateway SDK's decisions, one thread, against raw signature verification
measured in the same run, and the HTTP authorization service against bare servers answering
the same requests.

- cold: every decision verifies a different token's signature (no cache hit);
- warm: the same token and model again (the decision cache);
- PyJWT: its decode-and-verify of the same token, for reference;
- raw (the baseline): `cryptography`'s verify of the same key type over a token-sized input;
- DPoP cold: every decision a different DPoP-bound token and a fresh proof, by one of a
  pool of client keys: two signatures each; the baseline is two raw verifications;
- DPoP warm: the same bound token again (its decision cached), with a fresh proof each time:
  one signature; the baseline is one raw verification;
- authorization service: wrk against `entitlements.gateway.authz` on loopback, against a
  bare server on the service's own HTTP layer (`entitlements.gateway.httpd`) answering 200
  with the same headers without deciding, and against a bare standard-library server.

Each comparison is interleaved, so that a neighbour's load falls on every leg alike: the
in-process legs take turns in short slices timed by the measuring thread's CPU clock
(time spent descheduled counts for none of them), the wrk legs take turns for
``--rounds`` rounds. A ratio is the median of the rounds' ratios, printed with the lowest
and highest.

    .venv/bin/python scripts/bench_gateway.py [--seconds 5] [--http-seconds 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import secrets
import statistics
import subprocess
import threading
import time
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from _sandbox import GATEWAY, Sandbox, free_port
from _wrk import ensure_wrk, parse_wrk
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from entitlements.gateway import authz, httpd
from entitlements.gateway.dpop import DpopOptions, MemoryReplayCache
from entitlements.gateway.gateway import Gateway
from entitlements.gateway.jws import b64decode
from entitlements.issuance.minting import StatusRef, TokenSubject, sign_token
from entitlements.kernel import base64url, dpop

DPOP_URL = "https://gateway.example/v1/chat"
#: The goals: cold decisions against raw verification, the service against a bare server.
COLD_GOAL, AUTHZ_GOAL = 0.8, 0.9


def main() -> None:
    args = _parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with Sandbox() as service:
        client_id, secret = service.partner()
        issued = service.token(client_id, secret)
        tokens = _tokens(service, issued, args.tokens)
        raw_verify = _raw_verify(service, issued)
        # The benchmark process also hosts the whole service; keep its long-lived heap out
        # of the collector's way, as a gateway process would not carry it.
        gc.freeze()
        # A bounded cache smaller than the token stream: every decision is a miss and
        # verifies a signature, as on a gateway seeing a crowd of new callers.
        cold_gateway = Gateway(service.url, GATEWAY, cache_size=args.tokens // 3)
        warm_gateway = Gateway(service.url, GATEWAY)
        sdk = _interleaved({"raw": (raw_verify, 20, None),
                            "cold": (_decider(cold_gateway, tokens), 20, None),
                            "warm": (_decider(warm_gateway, [issued]), 5000, None),
                            "pyjwt": (_pyjwt(service, issued), 20, None)}, args.seconds)
        cold_gateway.close()
        warm_gateway.close()
        dpop = _dpop_rates(service, issued, raw_verify, args)
        http = _http_rates(service, issued, args)
    _report(sdk, http, args)
    _report_dpop(dpop)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="CPU seconds of each in-process comparison, all legs together")
    parser.add_argument("--tokens", type=int, default=3000)
    parser.add_argument("--http-seconds", type=int, default=2,
                        help="seconds of each wrk leg, in each round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the wrk legs")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--dpop-keys", type=int, default=50,
                        help="client keys the DPoP tokens are bound to")
    return parser.parse_args()


def _tokens(service: Sandbox, issued: str, count: int,
            jkts: list[str] | None = None) -> list[str]:
    """``count`` distinct, validly signed tokens like the issued one (signed in-process),
    bound in turn to the DPoP keys ``jkts`` if given."""
    claims = jwt.decode(issued, options={"verify_signature": False})
    ring = service.app.extensions["entitlements"].keys.get()
    status = claims["status"]["status_list"]
    who = TokenSubject(subject=claims["sub"], client_id=claims["client_id"],
                       organization_id=claims["org"]["id"], trust_level=claims["org"]["trust"],
                       audience=GATEWAY, tiers=tuple(claims["entitlements"]),
                       policy_version=claims["pol_ver"])
    now = service.actor().now
    return [sign_token(ring, replace(who, jkt=jkts[i % len(jkts)]) if jkts else who,
                       issuer=service.url, now=now, ttl=timedelta(minutes=10),
                       status=StatusRef(1, status["idx"], status["uri"])).token
            for i in range(count)]


class _ProofSigner:
    """A client's DPoP key, signing proofs with ``cryptography`` directly (fast enough to make
    tens of thousands before the measurement)."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key()))
        self.jkt = dpop.thumbprint(jwk)
        self.head = base64url.encode(json.dumps(
            {"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}, separators=(",", ":")).encode())

    def proof(self, token: str, now: int) -> str:
        claims = {"jti": secrets.token_urlsafe(12), "htm": "POST", "htu": DPOP_URL, "iat": now,
                  "ath": dpop.token_hash(token)}
        body = base64url.encode(json.dumps(claims, separators=(",", ":")).encode())
        der = self.private.sign(f"{self.head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        signature = base64url.encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        return f"{self.head}.{body}.{signature}"


class _Requests:
    """DPoP requests made in batches between the timed slices, as a gateway receives each
    request just before deciding it: cold, every one a token not seen before (the tokens
    cycle through more than the cache holds), with a proof by the token's client; warm,
    the same token again, with a new proof each time (a proof is good once)."""

    BATCH = 4000  # more than one 0.2 s slice decides

    def __init__(self, tokens: list[tuple[str, _ProofSigner]]) -> None:
        self.tokens, self.made = tokens, 0
        self.batch: list[tuple[str, str]] = []
        self.next = 0

    def refill(self) -> None:
        now = int(time.time())
        self.batch = []
        for _ in range(self.BATCH):
            token, signer = self.tokens[self.made % len(self.tokens)]
            self.batch.append((token, signer.proof(token, now)))
            self.made += 1
        self.next = 0

    def decider(self, gateway: Gateway):
        self.refill()

        def decide() -> None:
            token, proof = self.batch[self.next]
            self.next += 1
            decision = gateway.decide(token, "frontier-2", scheme="dpop", proofs=[proof],
                                      method="POST", url=DPOP_URL)
            if decision.outcome != "allow":
                raise SystemExit(f"a DPoP decision was refused: {decision.reason}")

        return decide


def _dpop_rates(service: Sandbox, issued: str, raw_verify, args: argparse.Namespace) -> dict:
    """Cold and warm DPoP decisions, each interleaved with its raw-verification baseline."""
    signers = [_ProofSigner() for _ in range(args.dpop_keys)]
    tokens = _tokens(service, issued, args.tokens, [s.jkt for s in signers])
    options = {"max_age": 600.0, "replays": MemoryReplayCache(max_entries=1_000_000)}
    cold = _Requests([(token, signers[i % len(signers)]) for i, token in enumerate(tokens)])
    cold_gateway = Gateway(service.url, GATEWAY, cache_size=args.tokens // 3,
                           dpop=DpopOptions(**options))
    two_raw = lambda: (raw_verify(), raw_verify())  # noqa: E731
    cold_rates = _interleaved({"raw": (two_raw, 10, None),
                               "cold": (cold.decider(cold_gateway), 10, cold.refill)},
                              args.seconds / 2)
    warm = _Requests([(tokens[0], signers[0])])
    warm_gateway = Gateway(service.url, GATEWAY, dpop=DpopOptions(**options))
    warm_rates = _interleaved({"raw": (raw_verify, 20, None),
                               "warm": (warm.decider(warm_gateway), 20, warm.refill)},
                              args.seconds / 2)
    cold_gateway.close()
    warm_gateway.close()
    return {"cold": cold_rates, "warm": warm_rates, "keys": len(signers)}


def _raw_verify(service: Sandbox, token: str):
    head, body, sig = token.split(".")
    info, private = service.app.extensions["entitlements"].keys.get().signer(
        service.actor().now)
    public = private.public_key()
    message = f"{head}.{body}".encode()
    der = private.sign(message, ec.ECDSA(hashes.SHA256()))
    assert len(b64decode(sig)) == 64 and info.alg == "ES256"
    algorithm = ec.ECDSA(hashes.SHA256())
    return lambda: public.verify(der, message, algorithm)


def _pyjwt(service: Sandbox, token: str):
    keys = jwt.PyJWKClient(service.url + "/jwks.json")
    key = keys.get_signing_key_from_jwt(token).key
    return lambda: jwt.decode(token, key, algorithms=["ES256"], audience=GATEWAY)


def _decider(gateway: Gateway, tokens: list[str]):
    """One decision per call, cycling through ``tokens`` (distinct ones: no cache hits)."""
    first = gateway.decide(tokens[0], "frontier-2")
    assert first.outcome == "allow", first
    state = {"index": 0}
    size = len(tokens)

    def decide() -> None:
        index = state["index"]
        gateway.decide(tokens[index], "frontier-2")
        state["index"] = (index + 1) % size

    return decide


class Rates:
    """A leg's rate over all its slices, and the rate of each round."""

    def __init__(self) -> None:
        self.count, self.elapsed, self.rounds = 0, 0.0, []

    def add(self, count: int, elapsed: float) -> None:
        self.count += count
        self.elapsed += elapsed
        self.rounds.append(count / elapsed)

    @property
    def rate(self) -> float:
        return self.count / self.elapsed

    def ratio(self, baseline: Rates) -> tuple[float, float, float]:
        """The median of the rounds' ratios, the lowest, the highest."""
        ratios = [mine / theirs for mine, theirs in zip(self.rounds, baseline.rounds, strict=True)]
        return statistics.median(ratios), min(ratios), max(ratios)


def _interleaved(legs: dict, seconds: float, slice_seconds: float = 0.1) -> dict[str, Rates]:
    """Every leg's rates, measured in turns of ``slice_seconds`` of this thread's CPU time
    each until ``seconds`` have passed, so that a noisy neighbour slows every leg alike
    and their ratios hold. A leg is (call, calls between two looks at the clock, and what
    to run, untimed, before each of its slices)."""
    rates = {name: Rates() for name in legs}
    clock = time.thread_time
    deadline = clock() + seconds
    while clock() < deadline:
        for name, (call, batch, between) in legs.items():
            if between is not None:
                between()
            count, start = 0, clock()
            while clock() - start < slice_seconds:
                for _ in range(batch):
                    call()
                count += batch
            rates[name].add(count, clock() - start)
    return rates


class _Bare(BaseHTTPRequestHandler):
    """The standard library's server, answering as the service answers an allowed request."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        for name, value in ALLOWED:
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet."""


ALLOWED = [("X-Entitlements-Model", "frontier-2"), ("X-Entitlements-Decision", "allow")]


def _bare_app(request: httpd.Request) -> tuple[int, bytes, bytes]:
    """The service's HTTP layer, answering as the service does, without deciding."""
    return 200, _ALLOWED_LINES, b""


_ALLOWED_LINES = httpd.header_lines(ALLOWED)


def _http_rates(service: Sandbox, token: str, args: argparse.Namespace) -> dict:
    wrk = ensure_wrk()
    gateway = Gateway(service.url, GATEWAY).start()
    stdlib = ThreadingHTTPServer(("127.0.0.1", free_port()), _Bare)
    stdlib.daemon_threads = True
    stdlib.handle_error = lambda *_: None  # type: ignore[method-assign] # wrk hangs up
    servers = {"stdlib": stdlib,
               "bare": httpd.Server(("127.0.0.1", free_port()), _bare_app, read_timeout=5.0,
                                    max_connections=512, max_body=authz.MAX_DRAINED_BODY),
               "authz": authz.serve(gateway, "127.0.0.1", free_port())}
    for server in servers.values():
        threading.Thread(target=server.serve_forever, daemon=True).start()
    results: dict[str, list[dict]] = {name: [] for name in servers}
    try:
        for _ in range(args.rounds):
            for name, server in servers.items():
                url = f"http://127.0.0.1:{server.server_address[1]}/v1/chat"
                output = subprocess.run(
                    [wrk, "-t2", f"-c{args.connections}", f"-d{args.http_seconds}s",
                     "--latency", "-H", f"Authorization: Bearer {token}",
                     "-H", "X-Entitlements-Model: frontier-2", url],
                    capture_output=True, text=True, check=True,
                    timeout=args.http_seconds + 60).stdout
                results[name].append(parse_wrk(output))
    finally:
        for server in servers.values():
            server.shutdown()
            server.server_close()
        gateway.close()
    return results


def _verdict(ratio: float, goal: float) -> str:
    return f"goal >= {goal:.2f}: {'PASS' if ratio >= goal else 'MISS'}"


def _ratio(rates: Rates, baseline: Rates, goal: float | None = None) -> str:
    median, low, high = rates.ratio(baseline)
    text = f"{median:.2f} of raw ({low:.2f}-{high:.2f})"
    return text if goal is None else f"{text}   {_verdict(median, goal)}"


def _report(sdk: dict[str, Rates], http: dict[str, list[dict]], args: argparse.Namespace
            ) -> None:
    raw, cold, warm, pyjwt = sdk["raw"], sdk["cold"], sdk["warm"], sdk["pyjwt"]
    print(f"gateway SDK, one thread, ES256 ({len(raw.rounds)} rounds of interleaved slices, "
          "CPU time of the measuring thread)")
    print(f"  raw cryptography verify      {raw.rate:12,.0f} /s   (baseline)")
    print(f"  cold decisions (no cache)    {cold.rate:12,.0f} /s   "
          f"{_ratio(cold, raw, COLD_GOAL)}")
    print(f"  warm decisions (cached)      {warm.rate:12,.0f} /s   "
          f"{warm.rate / raw.rate:.0f} times raw")
    print(f"  PyJWT decode + verify        {pyjwt.rate:12,.0f} /s   {_ratio(pyjwt, raw)}")
    rounds = f"{args.rounds} round{'s' if args.rounds != 1 else ''}"
    print(f"authorization service on loopback (wrk -t2 -c{args.connections}, "
          f"{rounds} of {args.http_seconds} s a leg, interleaved)")
    labels = {"stdlib": "bare stdlib server", "bare": "bare, the service's HTTP",
              "authz": "authorization service"}
    for name, runs in http.items():
        rps = sum(run["rps"] for run in runs) / len(runs)
        p50 = statistics.median(run["p50"] for run in runs)
        p99 = statistics.median(run["p99"] for run in runs)
        failed = sum(run["failed"] for run in runs)
        print(f"  {labels[name]:27s}{rps:9,.0f} req/s  p50 {p50:.2f} ms  p99 {p99:.2f} ms"
              f"  non-2xx {failed}")
    for name in ("stdlib", "bare"):
        ratios = [a["rps"] / b["rps"] for a, b in zip(http["authz"], http[name], strict=True)]
        median = statistics.median(ratios)
        print(f"  service / {labels[name]:27s}{median:.2f} ({min(ratios):.2f}-"
              f"{max(ratios):.2f})   {_verdict(median, AUTHZ_GOAL)}")



def _report_dpop(rates: dict) -> None:
    cold, warm = rates["cold"], rates["warm"]
    print(f"gateway SDK, DPoP-bound tokens, one thread, ES256 ({rates['keys']} client keys)")
    print(f"  two raw verifies             {cold['raw'].rate:12,.0f} /s   (baseline)")
    print(f"  cold DPoP decisions          {cold['cold'].rate:12,.0f} /s   "
          f"{_ratio(cold['cold'], cold['raw'], COLD_GOAL).replace('of raw', 'of two raw')}")
    print(f"  one raw verify               {warm['raw'].rate:12,.0f} /s   (baseline)")
    print(f"  warm DPoP decisions          {warm['warm'].rate:12,.0f} /s   "
          f"{_ratio(warm['warm'], warm['raw'])} (the proof is checked every time)")


if __name__ == "__main__":
    main()
