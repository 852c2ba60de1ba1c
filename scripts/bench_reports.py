#!/usr/bin/env python3
"""Benchmark the reports on PostgreSQL, each against a baseline measured in the same run.

- export: ``entitlements report export`` of one day holding ``--events`` audit events
  (grants, refusals, admin changes over five hash-chained streams, made with the service's
  own hashing); baseline: PostgreSQL's COPY of the same rows in the same order to nowhere;
- verify: ``entitlements report verify`` of that file, offline, against the JWKS; baseline:
  SHA-256 of the file and orjson parsing every line, in this process;
- who could use what at T: ``entitlements report who-could`` over ``--organizations``
  organizations (a person each, half with a verified citizenship), as the CLI answers it;
  baseline: COPY of the rows it reads (organizations, their changes, persons, attestations).

Each command is timed from start to exit (Python start-up included) with its peak memory.

    .venv/bin/python scripts/bench_reports.py [--events 1000000] [--organizations 10000]

Needs PostgreSQL on 127.0.0.1:5432 (it makes and drops a scratch database).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
from _service import Service, temporary_service
from sqlalchemy import select

from entitlements.audit.service import GENESIS_HASH, MAIN_STREAM, hash_fields
from entitlements.base.actor import Actor
from entitlements.base.db import Database
from entitlements.policy import service as policy
from entitlements.signing.models import SigningKey

DATABASE = "entitlements_bench_reports"
LEDGERS = ("ledger-1", "ledger-2", "ledger-3")
REFUSALS = "refusals-1"
VERIFIED = ["government_partner", "trusted", "verified"]
TRUST = ("verified", "trusted", "government_partner")
COLUMNS = ("stream", "seq", "at", "actor", "actor_role", "action", "target", "target_kind",
           "organization_id", "outcome", "reason", "details", "prev_hash", "hash")


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mb: float
    stdout: str


def main() -> None:
    args = parse_args()
    print(f"bench_reports: {args.events:,} events in one day, {args.organizations:,} "
          f"organizations; PostgreSQL; Python {sys.version.split()[0]}")
    rng = random.Random(args.seed)
    day = (datetime.now(UTC) - timedelta(days=1)).replace(hour=0, minute=0, second=0,
                                                          microsecond=0)
    with temporary_service(DATABASE, two_person_policy="none") as service, \
            tempfile.TemporaryDirectory() as work:
        url = service.env["ENTITLEMENTS_DATABASE_URL"].replace("+psycopg", "")
        orgs = seed_world(service, url, rng, args.organizations, day)
        started = time.perf_counter()
        seed_events(url, rng, args.events, day, orgs)
        print(f"seeded in {time.perf_counter() - started:.1f} s "
              f"({args.events:,} events, {args.organizations:,} organizations)\n")
        report = bench_export(service, url, day, Path(work))
        bench_verify(service, report, Path(work))
        bench_who_could(service, url)


# -- the world and the day's events ---------------------------------------------------------


def seed_world(service: Service, url: str, rng: random.Random, count: int, day: datetime
               ) -> list[tuple[str, str]]:
    """``count`` organizations (mostly verified), a person each, half of them with a verified
    US citizenship; a policy of three tiers. (organization id, trust) of each."""
    since = day - timedelta(days=30)
    orgs = [(f"org_bench{i:07d}", "verified" if rng.random() < 0.1 else rng.choice(TRUST))
            for i in range(count)]
    with psycopg.connect(url) as connection:
        issuer = "iss_bench"
        connection.execute(
            "INSERT INTO attestation_issuers (id, issuer, name, formats, nationalities, "
            "assurance_levels, max_age_days, status, created_at, updated_at) VALUES "
            "(%s, %s, %s, %s, %s, %s, 365, 'active', %s, %s)",
            (issuer, "https://verifier.bench", "Bench verifier", '["jwt"]', '["US"]',
             '["substantial", "high"]', since, since))
        with connection.cursor().copy(
                "COPY organizations (id, name, status, trust_level, country, created_at, "
                "updated_at) FROM STDIN") as copy:
            for org_id, trust in orgs:
                copy.write_row((org_id, f"Bench {org_id}", "verified", trust, "US", since,
                                since))
        with connection.cursor().copy(
                "COPY organization_changes (organization_id, at, actor, action, from_status, "
                "to_status, from_trust, to_trust, reason, evidence) FROM STDIN") as copy:
            for org_id, trust in orgs:
                copy.write_row((org_id, since, "cli:bench", "onboarded", "applied",
                                "verified", "unverified", trust, "bench", "{}"))
        with connection.cursor().copy(
                "COPY persons (id, organization_id, idp_issuer, idp_subject, created_at) "
                "FROM STDIN") as copy:
            for org_id, _ in orgs:
                copy.write_row((f"per_{org_id[4:]}", org_id, "https://idp.bench", org_id,
                                since))
        with connection.cursor().copy(
                "COPY verified_attestations (id, person_id, issuer_id, credential_id, "
                "nationalities, assurance_level, verified_at, expires_at, evidence_sha256, "
                "recorded_at) FROM STDIN") as copy:
            for org_id, _ in orgs[::2]:
                copy.write_row((f"att_{org_id[4:]}", f"per_{org_id[4:]}", issuer,
                                f"cred-{org_id}", '["US"]', "high", since,
                                since + timedelta(days=365), "0" * 64, since))
    document = {"tiers": {
        "public": {"status": "open", "trust_levels": VERIFIED},
        "restricted": {"status": "open", "trust_levels": VERIFIED, "citizenship": {
            "nationalities": ["US"], "min_level": "substantial",
            "organization_subjects": "allow"}},
        "early-access": {"status": "allowlist_only", "trust_levels": VERIFIED,
                         "allowlist": [org_id for org_id, _ in orgs[:100]]}},
        "models": {"base-1": {"tier": "public"},
                   "frontier-2": {"tier": "restricted", "fallback": "base-1"},
                   "preview-3": {"tier": "early-access", "fallback": "frontier-2"}}}
    db = Database(service.env["ENTITLEMENTS_DATABASE_URL"])
    actor = Actor("cli:bench", datetime.now(UTC))
    with db.transaction() as session:
        version = policy.create_version(session, actor, base_version=1, reason="bench",
                                        document=document)
        policy.activate(session, actor, version.version, reason="bench")
    db.dispose()
    return orgs


def seed_events(url: str, rng: random.Random, count: int, day: datetime,
                orgs: list[tuple[str, str]]) -> None:
    """``count`` events spread over ``day``, chained in their streams as the service
    chains them (the same hashing), written with COPY; the streams' tips moved to match."""
    with psycopg.connect(url) as connection:
        main_seq, main_hash = connection.execute(
            "SELECT seq, hash FROM audit_streams WHERE id = %s", (MAIN_STREAM,)).fetchone()
        tips = {MAIN_STREAM: (main_seq, main_hash),
                **dict.fromkeys((*LEDGERS, REFUSALS), (0, GENESIS_HASH))}
        for stream in (*LEDGERS, REFUSALS):
            connection.execute("INSERT INTO audit_streams (id, seq, hash, opened_at) VALUES "
                               "(%s, 0, %s, %s)", (stream, GENESIS_HASH, day))
        step = timedelta(seconds=86400 / count)
        with connection.cursor().copy(
                f"COPY audit_events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for i in range(count):
                event = made_event(rng, day + step * i, orgs)
                seq, prev = tips[event["stream"]]
                event.update(seq=seq + 1, prev_hash=prev)
                event["hash"] = hash_fields(event)
                tips[event["stream"]] = (seq + 1, event["hash"])
                copy.write_row([json.dumps(event["details"]) if name == "details"
                                else event[name] for name in COLUMNS])
        for stream, (seq, last) in tips.items():
            connection.execute("UPDATE audit_streams SET seq = %s, hash = %s WHERE id = %s",
                               (seq, last, stream))


def made_event(rng: random.Random, at: datetime, orgs: list[tuple[str, str]]
               ) -> dict[str, Any]:
    """One event of a busy day: 90% grants (a third of them to persons), 8% refusals, 2%
    admin changes."""
    org_id, trust = orgs[rng.randrange(len(orgs))]
    client = f"cli_{org_id[4:]}"
    roll = rng.random()
    base = {"at": at, "actor_role": None, "target_kind": None, "organization_id": org_id,
            "outcome": "success", "reason": None}
    if roll < 0.90:
        person = rng.random() < 0.33
        details: dict[str, Any] = {
            "jti": uuid.UUID(int=rng.getrandbits(128)).hex, "sub": client,
            "aud": ["https://gateway.bench/models"], "tiers": ["public", "restricted"],
            "exp": (at + timedelta(minutes=5)).isoformat(), "policy_version": 2,
            "trust_level": trust}
        if person:
            details.update(sub=f"per_{org_id[4:]}", attestations=[f"att_{org_id[4:]}"],
                           attestation_issuers=["iss_bench"], identity_provider_id="idp_b")
        return {**base, "stream": LEDGERS[rng.randrange(len(LEDGERS))], "actor": client,
                "action": "grant.issued", "target": details["sub"],
                "target_kind": "person" if person else "client", "details": details}
    if roll < 0.98:
        return {**base, "stream": REFUSALS, "actor": client, "action": "grant.refused",
                "target": client, "target_kind": "client", "outcome": "failure",
                "reason": rng.choice(("invalid_client", "invalid_scope", "invalid_grant")),
                "details": {"grant_type": "client_credentials"}}
    return {**base, "stream": MAIN_STREAM, "actor": "admin:alice", "actor_role": "owner",
            "action": "client.secret_rotated", "target": client, "target_kind": "client",
            "reason": "scheduled rotation", "details": {}}


# -- the measurements -----------------------------------------------------------------------


def bench_export(service: Service, url: str, day: datetime, work: Path) -> dict[str, Any]:
    start, end = day.isoformat(), (day + timedelta(days=1)).isoformat()
    baseline = timed(lambda: copy_out(url, "SELECT * FROM audit_events WHERE at >= %s AND "
                                           "at < %s ORDER BY at, stream, seq", (day,
                                           day + timedelta(days=1))))
    run = cli(service, "report", "export", "--from", start, "--to", end, "--out",
              str(work / "reports"), "--json")
    report = json.loads(run.stdout)
    size = Path(report["file"]).stat().st_size
    print(f"export of one day, {report['events']:,} events: {run.seconds:.1f} s "
          f"({report['events'] / run.seconds:,.0f} events/s, peak memory "
          f"{run.peak_mb:.0f} MiB); file {size / 2**20:.1f} MiB, manifest "
          f"{Path(report['manifest']).stat().st_size:,} bytes")
    print(f"  baseline: PostgreSQL COPY of the same rows, same order: {baseline[0]:.1f} s "
          f"({baseline[1] / 2**20:.1f} MiB of text); export / baseline = "
          f"{run.seconds / baseline[0]:.1f}x")
    return report


def bench_verify(service: Service, report: dict[str, Any], work: Path) -> None:
    jwks = work / "jwks.json"
    db = Database(service.env["ENTITLEMENTS_DATABASE_URL"])
    with db.sessions() as session:
        keys = list(session.scalars(select(SigningKey.public_jwk)))
    db.dispose()
    jwks.write_text(json.dumps({"keys": keys}))
    baseline = timed(lambda: hash_and_parse(Path(report["file"])))
    run = cli(service, "report", "verify", report["file"], "--jwks", str(jwks), "--json")
    checked = json.loads(run.stdout)
    assert checked["ok"], checked["problems"]
    print(f"verify (offline, every hash and link): {run.seconds:.1f} s "
          f"({checked['events'] / run.seconds:,.0f} events/s, peak memory "
          f"{run.peak_mb:.0f} MiB)")
    print(f"  baseline: SHA-256 of the file and orjson parsing each line: "
          f"{baseline[0]:.1f} s; verify / baseline = {run.seconds / baseline[0]:.1f}x")


def bench_who_could(service: Service, url: str) -> None:
    at = datetime.now(UTC).isoformat()
    baseline = timed(lambda: sum(copy_out(url, query, ()) for query in (
        "SELECT * FROM organizations", "SELECT * FROM organization_changes",
        "SELECT * FROM persons", "SELECT * FROM verified_attestations")))
    run = cli(service, "report", "who-could", "--at", at, "--json")
    answer = json.loads(run.stdout)
    counts = answer["counts"]
    print(f"who could use what at T, {counts['organizations']:,} organizations and "
          f"{counts['persons']:,} persons: {run.seconds:.1f} s (peak memory "
          f"{run.peak_mb:.0f} MiB); answer {len(run.stdout) / 2**20:.1f} MiB "
          f"(first {len(answer['organizations']):,} of each listed), by tier "
          f"{json.dumps(counts['by_tier'])}")
    print(f"  baseline: COPY of the rows it reads: {baseline[0]:.2f} s; "
          f"who-could / baseline = {run.seconds / baseline[0]:.1f}x")
    started = time.perf_counter()
    cli(service, "--help")
    print(f"  (the CLI alone starts in {time.perf_counter() - started:.1f} s)")


def cli(service: Service, *argv: str) -> Run:
    """``entitlements ARGV`` in a process of its own: its time, peak memory and output."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen([sys.executable, "-m", "entitlements.cli", *argv],
                                   env=service.env, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            sys.exit(f"entitlements {' '.join(argv)} failed: "
                     f"{process.stderr.read().decode()[-500:]}")
        out.seek(0)
        return Run(seconds, usage.ru_maxrss / 1024, out.read().decode())


def copy_out(url: str, query: str, params: tuple[Any, ...]) -> int:
    """COPY of ``query``'s rows to this process, discarded: how many bytes came."""
    total = 0
    with psycopg.connect(url) as connection, psycopg.ClientCursor(connection) as cursor:
        statement = cursor.mogrify(query, params) if params else query
        with cursor.copy(f"COPY ({statement}) TO STDOUT") as copy:
            for block in copy:
                total += len(block)
    return total


def hash_and_parse(path: Path) -> int:
    digest = hashlib.sha256()
    lines = 0
    with path.open("rb") as data:
        for line in data:
            digest.update(line)
            orjson.loads(line)
            lines += 1
    return lines


def timed(work: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--organizations", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.events < 100 or args.organizations < 100:
        parser.error("--events and --organizations are at least 100")
    return args


if __name__ == "__main__":
    main()
