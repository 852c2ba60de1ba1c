#!/usr/bin/env python3
"""Benchmark the gateway SDK's decisions, one thread, against raw signature verification
measured in the same run, and the HTTP authorization service against a bare server.

- cold: every decision verifies a different token's signature (no cache hit);
- warm: the same token and model again (the decision cache);
- DPoP cold: every decision a different DPoP-bound token and a fresh proof, by one of a
  pool of client keys: two signatures each; the baseline is two raw verifications;
- DPoP warm: the same bound token again (its decision cached), with a fresh proof each time:
  one signature; the baseline is one raw verification;
- raw: `cryptography`'s verify of the same key type over a token-sized input, and PyJWT's
  decode-and-verify, for reference;
- authorization service: wrk against `entitlements.gateway.authz` on loopback, and against
  a bare standard-library HTTP server answering 200 (the baseline).

    .venv/bin/python scripts/bench_gateway.py [--seconds 5] [--tokens 3000]
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import secrets
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

from entitlements.gateway import authz
from entitlements.gateway.dpop import DpopOptions, MemoryReplayCache
from entitlements.gateway.gateway import Gateway
from entitlements.gateway.jws import b64decode
from entitlements.issuance.minting import StatusRef, TokenSubject, sign_token
from entitlements.kernel import base64url, dpop

DPOP_URL = "https://gateway.example/v1/chat"


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
        cold_gateway = Gateway(service.url, GATEWAY,
                               cache_size=args.tokens // 3)
        raw, cold = _interleaved(raw_verify, _decider(cold_gateway, tokens), args.seconds)
        pyjwt = _loop(_pyjwt(service, issued), args.seconds)
        warm = _loop(_decider(Gateway(service.url, GATEWAY), [issued]),
                     args.seconds)
        dpop = _dpop_rates(service, issued, raw_verify, args)
        http = _http_rates(service, issued, args)
    _report(raw, pyjwt, cold, warm, http)
    _report_dpop(dpop)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--tokens", type=int, default=3000)
    parser.add_argument("--http-seconds", type=int, default=10)
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
    baseline_two, cold_rate = _interleaved(two_raw, cold.decider(cold_gateway),
                                           args.seconds / 2, between=cold.refill)
    warm = _Requests([(tokens[0], signers[0])])
    warm_gateway = Gateway(service.url, GATEWAY, dpop=DpopOptions(**options))
    baseline_one, warm_rate = _interleaved(raw_verify, warm.decider(warm_gateway),
                                           args.seconds / 2, between=warm.refill)
    return {"cold": cold_rate, "two_raw": baseline_two, "warm": warm_rate,
            "one_raw": baseline_one, "keys": len(signers)}


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


def _interleaved(baseline, measured, seconds: float, between=None) -> tuple[float, float]:
    """Both rates, measured in alternating 0.2 s slices so that a noisy neighbour slows
    both alike and their ratio holds. ``between`` runs, untimed, before each measured
    slice."""
    totals = {"baseline": [0, 0.0], "measured": [0, 0.0]}
    deadline = time.perf_counter() + 2 * seconds
    while time.perf_counter() < deadline:
        for name, call in (("baseline", baseline), ("measured", measured)):
            if name == "measured" and between is not None:
                between()
            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < 0.2:
                for _ in range(20):
                    call()
                count += 20
            totals[name][0] += count
            totals[name][1] += time.perf_counter() - start
    return tuple(count / elapsed for count, elapsed in totals.values())  # type: ignore[return-value]


def _loop(call, seconds: float) -> float:
    count, start = 0, time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(50):
            call()
        count += 50
    return count / (time.perf_counter() - start)


class _Bare(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        """Quiet."""


def _quiet(server: ThreadingHTTPServer) -> ThreadingHTTPServer:
    """No traceback when wrk hangs up at the end of its run."""
    server.handle_error = lambda *_: None  # type: ignore[method-assign]
    return server


def _http_rates(service: Sandbox, token: str, args: argparse.Namespace) -> dict:
    wrk = ensure_wrk()
    gateway = Gateway(service.url, GATEWAY).start()
    results = {}
    for name, server in (("authz", authz.serve(gateway, "127.0.0.1", free_port())),
                         ("bare", _quiet(ThreadingHTTPServer(("127.0.0.1", free_port()), _Bare)))):
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/v1/chat"
        output = subprocess.run(
            [wrk, "-t2", f"-c{args.connections}", f"-d{args.http_seconds}s", "--latency",
             "-H", f"Authorization: Bearer {token}", "-H", "X-Entitlements-Model: frontier-2",
             url], capture_output=True, text=True, check=True, timeout=args.http_seconds + 60
        ).stdout
        results[name] = parse_wrk(output)
        server.shutdown()
        server.server_close()
    gateway.close()
    return results


def _report_dpop(rates: dict) -> None:
    cold, two, warm, one = rates["cold"], rates["two_raw"], rates["warm"], rates["one_raw"]
    print(f"gateway SDK, DPoP-bound tokens, one thread, ES256 ({rates['keys']} client keys)")
    print(f"  two raw verifies             {two:12,.0f} /s   (baseline)")
    print(f"  cold DPoP decisions          {cold:12,.0f} /s   {cold / two:.2f} "
          f"of two raw   goal >= 0.80: {'PASS' if cold >= 0.8 * two else 'MISS'}")
    print(f"  one raw verify               {one:12,.0f} /s   (baseline)")
    print(f"  warm DPoP decisions          {warm:12,.0f} /s   {warm / one:.2f} of one raw "
          "(the proof is checked every time)")


def _report(raw: float, pyjwt: float, cold: float, warm: float, http: dict) -> None:
    print("gateway SDK, one thread, ES256")
    print(f"  raw cryptography verify      {raw:12,.0f} /s   (baseline)")
    print(f"  PyJWT decode + verify        {pyjwt:12,.0f} /s   {pyjwt / raw:.2f} of raw")
    print(f"  cold decisions (no cache)    {cold:12,.0f} /s   {cold / raw:.2f} "
          f"of raw   goal >= 0.80: {'PASS' if cold >= 0.8 * raw else 'MISS'}")
    print(f"  warm decisions (cached)      {warm:12,.0f} /s   goal >= 300,000: "
          f"{'PASS' if warm >= 300_000 else 'MISS'}")
    a, b = http["authz"], http["bare"]
    print("authorization service on loopback (wrk, 2 threads)")
    print(f"  authz service  {a['rps']:9,.0f} req/s  p50 {a['p50']:.2f} ms  p99 "
          f"{a['p99']:.2f} ms  non-2xx {a['failed']}")
    print(f"  bare server    {b['rps']:9,.0f} req/s  p50 {b['p50']:.2f} ms  p99 "
          f"{b['p99']:.2f} ms   ratio {a['rps'] / b['rps']:.2f}")


if __name__ == "__main__":
    main()
