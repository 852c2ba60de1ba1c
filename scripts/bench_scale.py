#!/usr/bin/env python3
"""Costs as the data grows: each figure at each size of the recorded data, beside a baseline
measured in the same run.

One scratch PostgreSQL database is grown in place, in bulk (SQL and COPY, not through the
API), from one size to the next. At size N it holds N issued tokens (a third of them for
persons, 1% revoked, each with its ``grant.issued`` audit event chained as the service
chains them), N persons (half with a verified citizenship) and N/20 organizations, each with
a client. At each size:

- issuance: ``entitlements serve`` (granian) is started on loopback and wrk drives
  POST /oauth/token (client_credentials, ES256), interleaved with GET /healthz of the same
  server (the baseline); tokens/s, their ratio to healthz, and the spread of both against
  the smallest size (the goal: within 20%);
- the status list holding the most tokens, published as the service publishes it after a
  revocation (from the rows to the signed status list token, by the service's own
  publisher): its compressed size and the time (goals at a million tokens: at most
  20,000 bytes, at most 50 ms); baselines: the SELECT of the revoked indexes alone, and zlib
  of the bitmap alone;
- policy decisions (``decide_model``, as scripts/bench_policy.py measures them) with every
  organization on an allowlist, against its baseline loop (the goal: 100,000/s);
- allowlist edits: one organization put on, then taken off, a tier's allowlist holding the
  others (up to the 50,000 a tier may list), by the operation the admin API runs, with the
  answer it gives; interleaved with a new version changing another tier's description (the
  baseline); and the diff of the two versions. Time per edit and per diff, beside the
  smallest size's (the goal: cost in proportion to the change, flat in the list's size).

    .venv/bin/python scripts/bench_scale.py [--sizes 1000,100000,1000000] [--seconds 3]

Needs PostgreSQL on 127.0.0.1:5432 (it makes, then drops, the database
``entitlements_bench_scale``) and wrk.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import psycopg
from _service import ADMIN_URL, GATEWAY, Service, count_tokens, temporary_service
from _wrk import ensure_wrk, parse_wrk, token_script
from bench_policy import median_time, model_draws, model_rates, policy_document, population

from entitlements.app import create_app
from entitlements.audit import service as audit
from entitlements.audit import targets
from entitlements.base.actor import Actor
from entitlements.base.errors import InvalidInput
from entitlements.base.settings import load_settings
from entitlements.clients import service as clients
from entitlements.kernel.policy import VERIFIED_LEVELS
from entitlements.kernel.status_list import STATUS_LIST, StatusList
from entitlements.operations import policy_changes
from entitlements.organizations import service as organizations
from entitlements.policy import changes
from entitlements.policy import service as policy
from entitlements.policy.document import MAX_ALLOWLIST, compile_policy
from entitlements.resources import service as resources
from entitlements.tokens.allocator import LIST_SIZE
from entitlements.tokens.revocation import revoke_one
from entitlements.web.services import EXTENSION, Services

DATABASE = "entitlements_bench_scale"
PERSONS_PER_ORG = 20
PERSON_TOKENS = 1 / 3
REVOKED = 0.01
TOKEN_LIFETIME = timedelta(minutes=5)
SEEDED_DAYS = 30
TIER = "scale-allowlist"
ACTOR = "admin:bench-scale"
TRUST = ("verified", "trusted", "government_partner")

ISSUANCE_SPREAD_GOAL = 0.20
STATUS_BYTES_GOAL = 20_000
STATUS_MS_GOAL = 50.0
STATUS_GOAL_TOKENS = 1_000_000
DECISIONS_GOAL = 100_000


@dataclass
class Figures:
    size: int
    seed_s: float = 0.0
    issuance: dict[str, float] = field(default_factory=dict)
    status: dict[str, float] = field(default_factory=dict)
    decisions: dict[str, float] = field(default_factory=dict)
    edits: dict[str, float] = field(default_factory=dict)


def main() -> None:
    args = parse_args()
    wrk = ensure_wrk()
    rng = random.Random(args.seed)
    print(f"bench_scale: sizes {', '.join(f'{s:,}' for s in args.sizes)} (tokens and persons; "
          f"organizations 1 in {PERSONS_PER_ORG}); wrk {args.connections} connections, "
          f"{args.rounds} x {args.seconds:g}s per leg; serve --workers {args.workers}; "
          f"PostgreSQL on loopback; Python {sys.version.split()[0]}")
    results: list[Figures] = []
    try:
        with temporary_service(DATABASE, two_person_policy="none") as service, \
                tempfile.TemporaryDirectory() as scratch, in_process(service) as found:
            client_id, secret = partner(found)
            lua = token_script(Path(scratch), client_id, secret)
            seeder = Seeder(service, found, rng)
            for size in args.sizes:
                figures = Figures(size)
                started = time.perf_counter()
                seeder.grow_to(size)
                figures.seed_s = time.perf_counter() - started
                print(f"\n== {size:,} tokens and persons, {seeder.orgs:,} organizations "
                      f"(grown in {figures.seed_s:.1f} s)")
                figures.issuance = bench_issuance(service, wrk, lua, args)
                figures.status = bench_status_list(found, seeder, args)
                figures.decisions = bench_decisions(rng, seeder.orgs, args)
                figures.edits = bench_allowlist(found, seeder, args)
                results.append(figures)
    finally:
        if not args.keep:
            drop_database()
    summary(results)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000",
                        help="comma-separated, growing: tokens and persons at each step")
    parser.add_argument("--seconds", type=float, default=3.0, help="per wrk leg")
    parser.add_argument("--rounds", type=int, default=2,
                        help="token legs, each followed by a healthz leg")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="request threads per worker")
    parser.add_argument("--rebuilds", type=int, default=7, help="status list publications")
    parser.add_argument("--edits", type=int, default=10, help="allowlist edits per size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="leave the scratch database")
    args = parser.parse_args()
    try:
        args.sizes = [int(s) for s in args.sizes.split(",")]
    except ValueError:
        parser.error("--sizes is a comma-separated list of integers")
    if (sorted(set(args.sizes)) != args.sizes or args.sizes[0] < 2 * PERSONS_PER_ORG
            or args.sizes[-1] > 10_000_000):
        parser.error(f"--sizes grow, from at least {2 * PERSONS_PER_ORG} to at most 10,000,000")
    if args.seconds <= 0 or args.rounds < 1 or args.rebuilds < 1 or args.edits < 2:
        parser.error("--seconds and --rounds must be positive, --rebuilds >= 1, --edits >= 2")
    return args


@contextmanager
def in_process(service: Service) -> Iterator[Services]:
    """The service's own collaborators, in this process, on the scratch database (the status
    list publisher, the admin operations)."""
    app = create_app(load_settings(service.env))
    found: Services = app.extensions[EXTENSION]
    try:
        yield found
    finally:
        found.close()
        found.db.dispose()


def partner(found: Services) -> tuple[str, str]:
    """The organization the benchmark's tokens are for: on the public tier's allowlist, a
    client_secret_basic client, the gateway as the default audience."""
    with found.db.transaction() as session:
        actor = Actor(ACTOR, datetime.now(UTC))
        org = organizations.create(session, actor, "Bench Scale Partner")
        session.flush()
        policy.grant_tier(session, actor, org.id, "public")
        resources.register(session, actor, GATEWAY, "models", default=True)
        registration = clients.register(session, actor, org.id, name="bench-scale")
        return registration.client.client_id, registration.client_secret or ""


def drop_database() -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


# -- growing the data -------------------------------------------------------------------------


class Seeder:
    """Grows the database in bulk: organizations (a client each), persons, their
    citizenship, tokens with their status list slots and audit events."""

    def __init__(self, service: Service, found: Services, rng: random.Random) -> None:
        self.url = service.env["ENTITLEMENTS_DATABASE_URL"].replace("+psycopg", "")
        self.found, self.rng = found, rng
        self.orgs = self.persons = self.tokens = 0
        self.steps: list[tuple[int, int]] = []  # (persons, organizations) after each step
        self.since = datetime.now(UTC) - timedelta(days=SEEDED_DAYS)
        with psycopg.connect(self.url) as connection:
            connection.execute(
                "INSERT INTO attestation_issuers (id, issuer, name, formats, nationalities, "
                "assurance_levels, max_age_days, status, created_at, updated_at) VALUES "
                "('iss_seeded', 'https://verifier.seeded', 'Seeded verifier', '[\"jwt\"]', "
                "'[\"US\", \"FR\"]', '[\"substantial\", \"high\"]', 365, 'active', %s, %s)",
                (self.since, self.since))
            self.kid = connection.execute("SELECT kid FROM signing_keys LIMIT 1").fetchone()[0]

    def grow_to(self, size: int) -> None:
        orgs = size // PERSONS_PER_ORG
        with psycopg.connect(self.url) as connection:
            self._organizations(connection, self.orgs, orgs)
            self._persons(connection, self.persons, size, orgs)
        self.orgs = orgs
        self.steps.append((size, orgs))
        self._tokens(self.tokens, size)
        self.persons = self.tokens = size
        with psycopg.connect(self.url, autocommit=True) as connection:
            # What autovacuum does to a database that grew: statistics, the visibility map.
            for table in ("organizations", "oauth_clients", "persons", "verified_attestations",
                          "issued_tokens", "audit_events", "audit_streams", "status_lists"):
                connection.execute(f"VACUUM (ANALYZE) {table}")
            connection.execute("CHECKPOINT")

    def org_of(self, person: int) -> int:
        """The organization of a person: person i of a step is organization i mod the
        organizations there were at that step."""
        for end, orgs in self.steps:
            if person < end:
                return person % orgs
        raise ValueError(f"no person {person}")

    def _organizations(self, connection: psycopg.Connection, start: int, end: int) -> None:
        params = {"start": start, "end": end - 1, "since": self.since}
        connection.execute(
            "INSERT INTO organizations (id, name, status, trust_level, country, created_at, "
            f"updated_at) SELECT {sql_id('org', 'i')}, 'Seeded ' || i, "
            "'verified', (ARRAY['verified', 'trusted', 'government_partner'])[1 + i %% 3], "
            f"'US', %(since)s, %(since)s FROM {SERIES}", params)
        connection.execute(
            "INSERT INTO organization_changes (organization_id, at, actor, action, "
            "from_status, to_status, from_trust, to_trust, reason, evidence) "
            f"SELECT {sql_id('org', 'i')}, %(since)s, 'cli:seeded', "
            "'onboarded', 'applied', 'verified', 'unverified', "
            "(ARRAY['verified', 'trusted', 'government_partner'])[1 + i %% 3], 'seeded', '{}' "
            f"FROM {SERIES}", params)
        connection.execute(
            "INSERT INTO oauth_clients (client_id, organization_id, name, auth_method, "
            "secret_hash, may_introspect, status, created_at, require_par, "
            f"dpop_bound_access_tokens) SELECT {sql_id('cli', 'i')}, {sql_id('org', 'i')}, "
            "'Seeded client ' || i, "
            "'client_secret_basic', NULL, false, 'active', %(since)s, false, false "
            f"FROM {SERIES}", params)

    def _persons(self, connection: psycopg.Connection, start: int, end: int, orgs: int
                 ) -> None:
        """Person i belongs to organization i mod ``orgs``; even ones hold a verified
        citizenship."""
        params = {"start": start, "end": end - 1, "orgs": orgs, "since": self.since,
                  "until": self.since + timedelta(days=365)}
        connection.execute(
            "INSERT INTO persons (id, organization_id, idp_issuer, idp_subject, created_at) "
            f"SELECT {sql_id('per', 'i')}, {sql_id('org', '(i %% %(orgs)s)')}, "
            "'https://idp.seeded', "
            f"'subject-' || i, %(since)s FROM {SERIES}", params)
        connection.execute(
            "INSERT INTO verified_attestations (id, person_id, issuer_id, credential_id, "
            "nationalities, assurance_level, verified_at, expires_at, evidence_sha256, "
            f"recorded_at) SELECT {sql_id('att', 'i')}, {sql_id('per', 'i')}, 'iss_seeded', "
            "'credential-' || i, "
            "'[\"US\"]', 'high', %(since)s, %(until)s, repeat('0', 64), %(since)s "
            f"FROM {SERIES} WHERE i %% 2 = 0", params)

    def _tokens(self, start: int, end: int) -> None:
        """Tokens ``start`` to ``end``, in time order over the last days, each with its
        status list slot and its grant event in a stream of its own, opened as a writer
        opens one."""
        count = end - start
        with self.found.db.transaction() as session:
            now = datetime.now(UTC)
            stream = audit.open_stream(session, at=now, owner="ledger-seeded")
            version = policy.active_version(session, now)
        step = (datetime.now(UTC) - timedelta(minutes=1) - self.since) / count
        rng, orgs, persons = self.rng, self.orgs, end
        ids = [(seeded_id("org", org), seeded_id("cli", org)) for org in range(orgs)]
        seq, tip = 0, audit.GENESIS_HASH
        with psycopg.connect(self.url) as connection, \
                psycopg.connect(self.url) as audit_connection:
            slots = reserve_slots(connection, count)
            with connection.cursor().copy(
                    "COPY issued_tokens (jti, client_id, organization_id, subject, audience, "
                    "scope, kid, issued_at, expires_at, revoked_at, status_list_id, "
                    "status_idx, policy_version) FROM STDIN") as tokens, \
                    audit_connection.cursor().copy(
                    f"COPY audit_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as events:
                for k in range(count):
                    person = rng.randrange(persons) if rng.random() < PERSON_TOKENS else None
                    org = rng.randrange(orgs) if person is None else self.org_of(person)
                    org_id, client_id = ids[org]
                    at = self.since + step * k
                    subject = client_id if person is None else seeded_id("per", person)
                    jti = base64.urlsafe_b64encode(rng.randbytes(18)).decode()
                    revoked = at + timedelta(minutes=1) if rng.random() < REVOKED else None
                    list_id, idx = slots[k]
                    tokens.write_row((jti, client_id, org_id, subject, GATEWAY, "tier:public",
                                      self.kid, at, at + TOKEN_LIFETIME, revoked, list_id, idx,
                                      version))
                    event = grant_event(jti, client_id, org_id, subject, at, version,
                                        TRUST[org % 3], person)
                    (linked,) = audit.link(stream, seq, tip, [event])
                    seq, tip = linked["seq"], linked["hash"]
                    events.write_row([json.dumps(linked["details"]) if c == "details"
                                      else linked[c] for c in EVENT_COLUMNS])
            audit_connection.execute("UPDATE audit_streams SET seq = %s, hash = %s "
                                     "WHERE id = %s", (seq, tip, stream))


EVENT_COLUMNS = ("stream", "seq", "at", "actor", "actor_role", "action", "target",
                 "target_kind", "organization_id", "outcome", "reason", "details", "prev_hash",
                 "hash")


def grant_event(jti: str, client_id: str, org_id: str, subject: str, at: datetime,
                version: int | None, trust: str, person: int | None) -> dict[str, Any]:
    """The ``grant.issued`` event of a token, with what issuance records in it."""
    why: dict[str, Any] = {"policy_version": version, "trust_level": trust}
    if person is not None:
        verified = person % 2 == 0
        why.update(attestations=[seeded_id("att", person)] if verified else [],
                   attestation_issuers=["iss_seeded"] if verified else [],
                   identity_provider_id=None)
    target = (targets.client(client_id, org_id) if person is None
              else targets.person(subject, org_id))
    return audit.new_event(at=at, actor=client_id, action="grant.issued", target=target,
                           details={"jti": jti, "sub": subject, "aud": GATEWAY,
                                    "tiers": ["public"],
                                    "exp": (at + TOKEN_LIFETIME).isoformat(), **why})


def seeded_id(kind: str, i: int) -> str:
    """The id of seeded row ``i`` of a kind (org, cli, per, att): the kind and 22 characters
    that look random, as the service's ids do (``sql_id`` makes the same in SQL)."""
    digest = base64.b64encode(hashlib.sha256(f"{kind}-{i}".encode()).digest()).decode()
    return f"{kind}_{digest[:22].translate(URLSAFE)}"


def sql_id(kind: str, expression: str) -> str:
    """``seeded_id(kind, expression)`` in PostgreSQL."""
    return (f"'{kind}_' || translate(left(encode(sha256(('{kind}-' || {expression})::bytea), "
            "'base64'), 22), '+/', '-_')")


URLSAFE = str.maketrans("+/", "-_")
SERIES = "generate_series(%(start)s::int, %(end)s::int) AS i"


def reserve_slots(connection: psycopg.Connection, count: int) -> list[tuple[int, int]]:
    """``count`` status list slots, reserved as the service's allocator reserves them (from
    the newest list's next index, opening lists as they fill)."""
    slots: list[tuple[int, int]] = []
    while len(slots) < count:
        row = connection.execute("SELECT id, size, next_index FROM status_lists "
                                 "ORDER BY id DESC LIMIT 1 FOR UPDATE").fetchone()
        if row is None or row[2] >= row[1]:
            list_id = (row[0] if row else 0) + 1
            connection.execute("INSERT INTO status_lists (id, size, next_index, created_at) "
                               "VALUES (%s, %s, 0, now())", (list_id, LIST_SIZE))
            row = (list_id, LIST_SIZE, 0)
        list_id, size, start = row
        taken = min(count - len(slots), size - start)
        connection.execute("UPDATE status_lists SET next_index = %s WHERE id = %s",
                           (start + taken, list_id))
        slots.extend((list_id, idx) for idx in range(start, start + taken))
    return slots


# -- issuance ---------------------------------------------------------------------------------


def run_wrk(wrk: str, url: str, args: argparse.Namespace, seconds: float,
            lua: Path | None) -> dict:
    argv = [wrk, f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{seconds:g}s",
            "--latency", "--timeout", "10s"]
    if lua:
        argv += ["-s", str(lua)]
    done = subprocess.run([*argv, url], capture_output=True, text=True, check=True,
                          timeout=seconds + 60)
    return parse_wrk(done.stdout)


def bench_issuance(service: Service, wrk: str, lua: Path, args: argparse.Namespace
                   ) -> dict[str, float]:
    url = service.env["ENTITLEMENTS_DATABASE_URL"].replace("+psycopg", "")
    with service.serving(args.workers, args.threads) as base:
        run_wrk(wrk, f"{base}/oauth/token", args, min(args.seconds, 2), lua)  # warm up
        before = count_tokens(url)
        tokens, bare = [], []
        for _ in range(args.rounds):
            tokens.append(run_wrk(wrk, f"{base}/oauth/token", args, args.seconds, lua))
            bare.append(run_wrk(wrk, f"{base}/healthz", args, args.seconds, None))
        recorded = count_tokens(url) - before
    answered = sum(t["requests"] - t["failed"] for t in tokens)
    rate = statistics.mean(t["rps"] for t in tokens)
    healthz = statistics.mean(b["rps"] for b in bare)
    failed = sum(t["failed"] for t in tokens) + sum(b["failed"] for b in bare)
    legs = ", ".join(f"{t['rps']:,.0f}" for t in tokens)
    print(f"issuance: {rate:,.0f} tokens/s (legs {legs}"
          f"; p50 {statistics.median(t['p50'] for t in tokens):.1f} ms, p99 "
          f"{max(t['p99'] for t in tokens):.1f} ms); GET /healthz {healthz:,.0f}/s; ratio "
          f"{rate / healthz:.2f}; {answered:,} tokens answered, {recorded:,} recorded"
          f"{'' if recorded >= answered and not failed else f', {failed} failed: CHECK'}")
    return {"rate": rate, "healthz": healthz, "ratio": rate / healthz}


# -- the status list --------------------------------------------------------------------------


def bench_status_list(found: Services, seeder: Seeder, args: argparse.Namespace
                      ) -> dict[str, float]:
    """The fullest list, published by the service's publisher after each of ``--rebuilds``
    revocations (a seeded token revoked as RFC 7009 revokes one)."""
    with psycopg.connect(seeder.url) as connection:
        list_id, used = connection.execute(
            "SELECT status_list_id, count(*) FROM issued_tokens GROUP BY status_list_id "
            "ORDER BY count(*) DESC, status_list_id LIMIT 1").fetchone()
        doomed = [row[0] for row in connection.execute(
            "SELECT jti FROM issued_tokens WHERE status_list_id = %s AND revoked_at IS NULL "
            "AND status_idx >= %s ORDER BY status_list_id, status_idx LIMIT %s",
            (list_id, seeder.rng.randrange(used // 2), args.rebuilds))]
    publisher = found.status_lists
    publisher.published(list_id)  # the signing keys loaded, as in a running process
    times = []
    for jti in doomed:
        revoke_one(found.db, jti, "cli_bench-scale", datetime.now(UTC))
        publisher.invalidate()
        started = time.perf_counter()
        published = publisher.published(list_id)
        times.append(time.perf_counter() - started)
    claims = jwt.decode(published.token, options={"verify_signature": False})
    lst = claims[STATUS_LIST]["lst"]
    compressed = base64.urlsafe_b64decode(lst + "=" * (-len(lst) % 4))
    bitmap = StatusList.decode(claims[STATUS_LIST])
    revoked = sum(bin(byte).count("1") for byte in bitmap.to_bytes())
    with psycopg.connect(seeder.url) as connection:
        select_s = median_time(lambda: connection.execute(
            "SELECT status_idx FROM issued_tokens WHERE status_list_id = %s AND "
            "revoked_at IS NOT NULL", (list_id,)).fetchall(), args.rebuilds)
    raw = bitmap.to_bytes()
    zlib_s = median_time(lambda: zlib.compress(raw, 9), args.rebuilds)
    rebuild_s = statistics.median(times)
    print(f"status list {list_id}: {used:,} tokens, {revoked:,} revoked "
          f"({revoked / used:.2%}); published after a revocation in "
          f"{rebuild_s * 1e3:.1f} ms (median of {len(times)}, max {max(times) * 1e3:.1f}); "
          f"{len(compressed):,} B compressed, {len(lst):,} chars base64url, token "
          f"{len(published.token):,} B")
    print(f"  baselines: SELECT of the revoked indexes alone {select_s * 1e3:.1f} ms; "
          f"zlib(9) of the bitmap alone {zlib_s * 1e3:.1f} ms ({len(zlib.compress(raw, 9)):,} B)")
    return {"tokens": used, "revoked": revoked, "bytes": len(compressed),
            "rebuild_ms": rebuild_s * 1e3, "select_ms": select_s * 1e3,
            "zlib_ms": zlib_s * 1e3}


# -- policy decisions -------------------------------------------------------------------------


def bench_decisions(rng: random.Random, orgs: int, args: argparse.Namespace
                    ) -> dict[str, float]:
    """bench_policy's population and policy (100 tiers, 300 models), with ``orgs``
    organizations, every one of them on an allowlist."""
    organizations, persons = population(rng, orgs, min(orgs * PERSONS_PER_ORG, 100_000))
    ids = [org.organization_id for org in organizations]
    document = policy_document(rng, ids, 100, 300)
    listed_tiers = [rule for rule in document["tiers"].values()
                    if rule["status"] == "allowlist_only"]
    listed = {org for rule in listed_tiers for org in rule.get("allowlist", ())}
    for i, org in enumerate(o for o in ids if o not in listed):
        listed_tiers[i % len(listed_tiers)].setdefault("allowlist", []).append(org)
    compiled = compile_policy(1, document, now=datetime.now(UTC))
    entries = sum(len(rule.allowlist) for rule in compiled.tiers.values())
    draws = model_draws(rng, compiled, organizations + persons, 100_000)
    rates = model_rates(compiled, draws, min(1.0, args.seconds / 2))
    on_lists = len({o for rule in compiled.tiers.values() for o in rule.allowlist})
    print(f"decisions: decide_model {rates['decide_model']:,.0f}/s with {on_lists:,} "
          f"organizations on {len(listed_tiers)} allowlists ({entries:,} entries); baseline "
          f"loop {rates['baseline']:,.0f}/s ({rates['decide_model'] / rates['baseline']:.3f})")
    return {"rate": rates["decide_model"], "baseline": rates["baseline"], "orgs": on_lists}


# -- allowlist edits --------------------------------------------------------------------------


def bench_allowlist(found: Services, seeder: Seeder, args: argparse.Namespace
                    ) -> dict[str, float]:
    """A tier listing every organization but one (at most ``MAX_ALLOWLIST``); that one put
    on it and taken off again, ``--edits`` times in all, each in a transaction as the admin
    API runs it (``policy_changes.change``, then the organization's tiers it answers)."""
    length = min(seeder.orgs, MAX_ALLOWLIST) - 1
    outsider = seeded_id("org", length)
    listed = sorted(seeded_id("org", i) for i in range(length))
    rule = {"status": "allowlist_only", "trust_levels": sorted(VERIFIED_LEVELS),
            "description": "bench_scale's allowlist", "allowlist": listed}
    try:
        with found.db.transaction() as session:
            actor = Actor(ACTOR, datetime.now(UTC))
            policy_changes.new_version(
                session, actor, found.approval_rule, base_version=policy.latest(session).version,
                reason="bench_scale: the allowlist at this size", patch={"tiers": {TIER: rule}},
                activate_now=True)
    except InvalidInput as error:  # the list is as long as at the size before (the ceiling)
        if error.code != "no_change":
            raise
    edits, changes_of_one_field = [], []
    for i in range(args.edits):
        params, reason = policy_changes.allowlist_edit(outsider, TIER, add=i % 2 == 0,
                                                       on_pending=None)
        started = time.perf_counter()
        with found.db.transaction() as session:
            actor = Actor(ACTOR, datetime.now(UTC))
            policy_changes.change(session, actor, found.approval_rule, "allowlist", params,
                                  reason)
            session.flush()
            policy.tiers_listing(session, actor.now, outsider)
        edits.append(time.perf_counter() - started)
        before, after = last_two_documents(found)
        started = time.perf_counter()
        with found.db.transaction() as session:  # the baseline: another tier's description
            actor = Actor(ACTOR, datetime.now(UTC))
            policy_changes.new_version(
                session, actor, found.approval_rule, reason="bench_scale: baseline",
                base_version=policy.latest(session).version, activate_now=True,
                patch={"tiers": {"public": {"description": f"bench_scale {i}"}}})
        changes_of_one_field.append(time.perf_counter() - started)
    diff_s = median_time(lambda: changes.diff(before, after), 21)
    delta = changes.diff(before, after)
    size = len(json.dumps(delta))
    edit_s, field_s = statistics.median(edits), statistics.median(changes_of_one_field)
    print(f"allowlist edits: {length:,} organizations listed; one more put on or taken off in "
          f"{edit_s * 1e3:.1f} ms (median of {len(edits)}, best {min(edits) * 1e3:.1f}); "
          f"the diff of the two versions {diff_s * 1e3:.2f} ms ({len(delta)} change, "
          f"{size:,} B of JSON)")
    print(f"  baseline: a new version changing another tier's description, activated, "
          f"interleaved: {field_s * 1e3:.1f} ms (best {min(changes_of_one_field) * 1e3:.1f})")
    return {"length": length, "edit_ms": edit_s * 1e3, "field_ms": field_s * 1e3,
            "diff_ms": diff_s * 1e3, "diff_bytes": size}


def last_two_documents(found: Services) -> tuple[dict[str, Any], dict[str, Any]]:
    with found.db.sessions() as session:
        newest = policy.latest(session)
        return policy.get_version(session, newest.version - 1).document, newest.document


# -- the summary ------------------------------------------------------------------------------


def summary(results: list[Figures]) -> None:
    if not results:
        return
    first = results[0]
    print("\nsummary (spreads against the smallest size)")
    print(f"{'size':>10} {'grown s':>7} {'tokens/s':>9} {'healthz/s':>9} {'ratio':>6} "
          f"{'spread':>7} "
          f"{'ratio spread':>12} {'list ms':>8} {'list B':>7} {'decisions/s':>11} "
          f"{'allowlist':>9} {'edit ms':>8} {'baseline':>8} {'diff ms':>8}")
    for row in results:
        i, s, e = row.issuance, row.status, row.edits
        print(f"{row.size:>10,} {row.seed_s:7.1f} {i['rate']:9,.0f} {i['healthz']:9,.0f} "
              f"{i['ratio']:6.2f} "
              f"{i['rate'] / first.issuance['rate'] - 1:+7.1%} "
              f"{i['ratio'] / first.issuance['ratio'] - 1:+12.1%} {s['rebuild_ms']:8.1f} "
              f"{s['bytes']:7,} {row.decisions['rate']:11,.0f} {e['length']:9,} "
              f"{e['edit_ms']:8.1f} {e['field_ms']:8.1f} {e['diff_ms']:8.2f}")
    last = results[-1]
    spread = max(abs(r.issuance["rate"] / first.issuance["rate"] - 1) for r in results)
    ratios = max(abs(r.issuance["ratio"] / first.issuance["ratio"] - 1) for r in results)
    goals = [
        (f"issuance within {ISSUANCE_SPREAD_GOAL:.0%} from {first.size:,} to {last.size:,}: "
         f"largest spread {spread:.1%} (of the ratio to /healthz: {ratios:.1%})",
         spread <= ISSUANCE_SPREAD_GOAL),
        (f"status list of {last.status['tokens']:,} tokens "
         f"({last.status['revoked'] / last.status['tokens']:.1%} revoked): "
         f"{last.status['bytes']:,} B (goal <= {STATUS_BYTES_GOAL:,})",
         last.status["bytes"] <= STATUS_BYTES_GOAL),
        (f"  published in {last.status['rebuild_ms']:.1f} ms (goal <= {STATUS_MS_GOAL:g})",
         last.status["rebuild_ms"] <= STATUS_MS_GOAL),
        (f"decisions with {last.decisions['orgs']:,} organizations on allowlists: "
         f"{last.decisions['rate']:,.0f}/s (goal >= {DECISIONS_GOAL:,})",
         last.decisions["rate"] >= DECISIONS_GOAL),
    ]
    growth = last.edits["edit_ms"] / first.edits["edit_ms"]
    listed = last.edits["length"] / first.edits["length"]
    goals.append((f"allowlist edit at {last.edits['length']:,} entries: {growth:.2f}x the "
                  f"edit at {first.edits['length']:,} (the list {listed:,.0f}x longer; goal: "
                  f"within {1 + ISSUANCE_SPREAD_GOAL:.1f}x); "
                  f"{last.edits['edit_ms'] / last.edits['field_ms']:.2f}x a one-field change "
                  f"of the same policy", growth <= 1 + ISSUANCE_SPREAD_GOAL))
    sizes = {r.edits["diff_bytes"] for r in results}
    goals.append((f"  the diff of its two versions: {max(sizes):,} B of JSON at every size "
                  f"(one change)", len(sizes) == 1))
    diff_growth = last.edits["diff_ms"] / first.edits["diff_ms"]
    goals.append((f"  the time to compute it: {last.edits['diff_ms']:.2f} ms, {diff_growth:.1f}x "
                  f"(goal: within {1 + ISSUANCE_SPREAD_GOAL:.1f}x)",
                  diff_growth <= 1 + ISSUANCE_SPREAD_GOAL))
    if last.size < STATUS_GOAL_TOKENS:
        print(f"(the status list and decision goals are set at {STATUS_GOAL_TOKENS:,} tokens "
              f"and 10,000 organizations; the largest size here is {last.size:,})")
    for text, met in goals:
        print(f"  {'PASS' if met else 'MISS'}  {text}")


if __name__ == "__main__":
    main()
