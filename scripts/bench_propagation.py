#!/usr/bin/env python3
"""How long an admin action takes to reach a gateway's decisions, on the wall clock.

Starts a throwaway service (SQLite, loopback, the production cache periods: the policy
schedule re-read every 0.5 s, status lists rebuilt at most every 0.5 s) and the gateway SDK
polling it every ``--poll`` seconds, then for each step measures the time from the admin's
commit until the gateway decides differently. Prints each lag beside the poll period it is
bounded by (the baseline: a lag is at most the cache period plus one poll).

    .venv/bin/python scripts/bench_propagation.py [--poll 1.0] [--rounds 3]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable

from _sandbox import GATEWAY, Sandbox

from entitlements.gateway.gateway import Gateway, GatewayDecision
from entitlements.tokens import revocation

DEADLINE = 10.0


def lag(gateway: Gateway, action: Callable[[], None],
        changed: Callable[[GatewayDecision], bool], token: str, model: str) -> float:
    start = time.monotonic()
    action()
    while time.monotonic() - start < DEADLINE:
        if changed(gateway.decide(token, model)):
            return time.monotonic() - start
        time.sleep(0.01)
    raise SystemExit(f"the gateway did not see the change within {DEADLINE} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    lags: dict[str, list[float]] = {"tier suspended": [], "tier reopened": [],
                                    "tokens revoked": []}
    with Sandbox() as service:
        gateway = Gateway(service.url, GATEWAY, poll_interval=args.poll).start()
        try:
            for _ in range(args.rounds):
                client_id, secret = service.partner(f"Org {len(lags['tier suspended'])}")
                token = service.token(client_id, secret)
                assert gateway.decide(token, "frontier-2").outcome == "allow"
                lags["tier suspended"].append(lag(
                    gateway, lambda: service.set_policy(
                        "suspend", patch={"tiers": {"restricted": {"status": "suspended"}}}),
                    lambda d: d.outcome == "fallback", token, "frontier-2"))
                lags["tier reopened"].append(lag(
                    gateway, lambda: service.set_policy(
                        "reopen", patch={"tiers": {"restricted": {"status": "open"}}}),
                    lambda d: d.outcome == "allow", token, "frontier-2"))

                def revoke(client_id: str = client_id) -> None:
                    with service.db.transaction() as session:
                        revocation.revoke(session, service.actor(), reason="drill",
                                          client_id=client_id)

                lags["tokens revoked"].append(lag(
                    gateway, revoke, lambda d: d.reason == "revoked", token, "base-1"))
        finally:
            gateway.close()
    print(f"poll period (baseline): {args.poll:.2f} s; service cache periods: 0.5 s")
    for step, values in lags.items():
        print(f"{step:16} median {statistics.median(values):.2f} s, max {max(values):.2f} s"
              f" ({max(values) / args.poll:.2f} poll periods) over {len(values)} rounds")


if __name__ == "__main__":
    main()
