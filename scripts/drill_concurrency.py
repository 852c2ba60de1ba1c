#!/usr/bin/env python3
"""Concurrency drill: the same admin change sent several times at once, round after round,
to `entitlements serve` on PostgreSQL; each round should have exactly one winner.

Every racing request waits at a barrier, then goes over its own connection. For each
transition the drill prints the rounds, how many had exactly one winner, and what the losers
were answered (the 409 code a sequential retry gets). Exit status 1 when a round had no
winner or several, or any answer was a 5xx.

    ./scripts/drill_concurrency.py [--rounds 25] [--at-once 8]
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import requests
from _service import Service, temporary_service

DRILL_DB = "entitlements_drill"
Send = Callable[[], requests.Response]


@dataclass
class Tally:
    rounds: int = 0
    one_winner: int = 0
    winners: Counter[int] = field(default_factory=Counter)
    losers: Counter[str] = field(default_factory=Counter)
    server_errors: int = 0
    broken: int = 0  # rounds whose end state contradicts an answer


class Admin:
    def __init__(self, service: Service, base: str, name: str) -> None:
        self.base = base + "/admin"
        key = service.cli_json("admins", "create", name, "--role", "owner")["key"]
        self.session_headers = {"Authorization": f"Bearer {key}"}

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        # A connection of its own per request: the race is in the server, not in a pool.
        return requests.post(self.base + path, json=body, headers=self.session_headers,
                             timeout=60)

    def get(self, path: str) -> Any:
        return requests.get(self.base + path, headers=self.session_headers, timeout=60).json()


def race(sends: list[Send]) -> list[requests.Response]:
    barrier = threading.Barrier(len(sends))

    def run(send: Send) -> requests.Response:
        barrier.wait(timeout=60)
        return send()

    with ThreadPoolExecutor(len(sends)) as pool:
        return list(pool.map(run, sends))


def count(tally: Tally, answers: list[requests.Response]) -> None:
    tally.rounds += 1
    won = [a for a in answers if a.status_code in (200, 201)]
    tally.winners[len(won)] += 1
    tally.one_winner += len(won) == 1
    for answer in answers:
        if answer.status_code >= 500:
            tally.server_errors += 1
        elif answer not in won:
            code = answer.json().get("type", "").rsplit(":", 1)[-1]
            tally.losers[f"{answer.status_code} {code}"] += 1


def drills(service: Service, base: str, at_once: int, checks: list[Callable[[], bool]]
           ) -> dict[str, Callable[[], list[Send]]]:
    """Transition name -> a round's setup, returning the racing requests (and adding to
    ``checks`` what must hold once they are answered)."""
    alice, bob, carol = (Admin(service, base, name) for name in ("alice", "bob", "carol"))
    made = Counter[str]()

    def org(prefix: str) -> str:
        made[prefix] += 1
        return alice.post("/organizations", {"name": f"{prefix} {made[prefix]}",
                                             "onboard": True}).json()["id"]

    def suspend() -> list[Send]:
        path = f"/organizations/{org('Suspend')}/suspend"
        return [lambda: alice.post(path, {"reason": "drill"})] * at_once

    def revoke_or_reinstate() -> list[Send]:
        org_id = org("Contested")
        alice.post(f"/organizations/{org_id}/suspend", {"reason": "drill"})
        checks.append(lambda: alice.get(f"/organizations/{org_id}")["status"] == "revoked")
        return [lambda: alice.post(f"/organizations/{org_id}/revoke", {"reason": "drill"}),
                lambda: alice.post(f"/organizations/{org_id}/reinstate", {"reason": "drill"})]

    def request_trust() -> list[Send]:
        path = f"/organizations/{org('Request')}/trust-requests"
        return [lambda: alice.post(path, {"level": "trusted", "reason": "drill"})] * at_once

    def approve_trust() -> list[Send]:
        request = alice.post(f"/organizations/{org('Approve')}/trust-requests",
                             {"level": "trusted", "reason": "drill"}).json()["id"]
        path = f"/trust-requests/{request}/approve"
        approvers = [bob, carol] * at_once
        return [partial(approvers[n].post, path, {"reason": "drill"}) for n in range(at_once)]

    def revoke_client() -> list[Send]:
        client = alice.post("/clients", {"organization_id": org("Client"), "name": "drill"}
                            ).json()["client_id"]
        return [lambda: alice.post(f"/clients/{client}/revoke", {"reason": "drill"})] * at_once

    def new_version() -> list[Send]:
        latest = alice.get("/policy")["latest_version"]
        body = {"base_version": latest, "reason": "drill",
                "patch": {"tiers": {"public": {"description": f"after {latest}"}}}}
        return [lambda: alice.post("/policy/versions", body)] * at_once

    def approve_activation() -> list[Send]:
        """Alice asks for an activation (two-person control); Bob and Carol approve it at
        once: it is applied once."""
        latest = alice.get("/policy")["latest_version"]
        version = alice.post("/policy/versions", {
            "base_version": latest, "reason": "drill",
            "patch": {"tiers": {"public": {"description": f"activate {latest}"}}}}
        ).json()["version"]["version"]
        change = alice.post(f"/policy/versions/{version}/activate", {"reason": "drill"}
                            ).json()["id"]
        path = f"/policy/changes/{change}/approve"
        approvers = [bob, carol] * at_once
        return [partial(approvers[n].post, path, {"reason": "drill"}) for n in range(at_once)]

    return {"organization suspend": suspend, "revoke vs reinstate": revoke_or_reinstate,
            "trust request": request_trust, "trust approval": approve_trust,
            "client revoke": revoke_client, "policy version": new_version,
            "policy approval": approve_activation}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=25)
    parser.add_argument("--at-once", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    settings = {"evidence_trusted": "none", "evidence_government_partner": "none"}
    tallies: dict[str, Tally] = {}
    with temporary_service(DRILL_DB, **settings) as service, \
            service.serving(args.workers) as base:
        checks: list[Callable[[], bool]] = []
        for name, setup in drills(service, base, args.at_once, checks).items():
            tally = tallies[name] = Tally()
            for _ in range(args.rounds):
                count(tally, race(setup()))
                tally.broken += sum(not check() for check in checks)
                checks.clear()
            print(f"  {name}: done", file=sys.stderr)
    sys.exit(report(args, tallies))


def report(args: argparse.Namespace, tallies: dict[str, Tally]) -> int:
    print(f"drill_concurrency: {args.rounds} rounds x {args.at_once} at once "
          f"(revoke vs reinstate: 2), entitlements serve --workers {args.workers}, PostgreSQL")
    print(f"{'transition':22} {'rounds':>6} {'1 winner':>9} {'5xx':>4} {'broken':>6}  losers")
    failed = False
    for name, tally in tallies.items():
        losers = ", ".join(f"{n} x {what}" for what, n in tally.losers.most_common()) or "-"
        if name == "revoke vs reinstate":  # both may win: reinstate, then revoke
            ok = tally.server_errors == tally.broken == 0
        else:
            ok = tally.one_winner == tally.rounds and tally.server_errors == tally.broken == 0
        failed |= not ok
        print(f"{name:22} {tally.rounds:6d} {tally.one_winner:9d} {tally.server_errors:4d} "
              f"{tally.broken:6d}  {losers}")
    print("every round had one winner" if not failed else "SOME ROUND DID NOT HAVE ONE WINNER")
    return 1 if failed else 0


if __name__ == "__main__":
    main()
