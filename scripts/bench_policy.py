#!/usr/bin/env python3
"""Benchmark the entitlement policy engine, one thread, against a bare loop in the same run.

- decisions: ``decide_model`` for a random subject (of 10,000 organizations and 100,000
  persons) and a random model (of a 300-model catalog over 100 tier rules); also ``decide``
  for one tier and for all tiers. Subjects and choices are built before timing;
- baseline: the same loop doing one dict lookup and one call of an empty function;
- status list: 1,000,000 tokens with 1% revoked at random, its sizes and encode time;
- snapshot: compiling the 100-tier document plus signing it as an ES256 JWS.

    .venv/bin/python scripts/bench_policy.py [--seconds 3] [--seed 1] [--repeats 15]

Needs no database and no network.
"""

from __future__ import annotations

import argparse
import random
import statistics
import string
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from entitlements.kernel.policy import Citizenship, Subject, decide, decide_model
from entitlements.kernel.status_list import INVALID, StatusList
from entitlements.policy.document import compile_policy
from entitlements.tokens.status_lists import encode_status_list_token

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ALL_LEVELS = ("unverified", "verified", "trusted", "government_partner")
LEVEL_SETS = (("verified", "trusted", "government_partner"), ("trusted", "government_partner"),
              ("government_partner",), ALL_LEVELS)
ORG_LEVELS = (("unverified", 5), ("verified", 60), ("trusted", 25), ("government_partner", 10))
NATIONALITIES = ("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR",
                 "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI",
                 "SK", "CH", "NO", "GB")
PUBLIC_TIER, PUBLIC_MODEL = "public", "public-base"
ISSUER = "https://entitlements.bench"

DECISIONS_GOAL = 100_000
STATUS_GOAL_BYTES = 20_000
CHUNK = 1_000


def main() -> None:
    args = _parse_args()
    rng = random.Random(args.seed)
    print(f"bench_policy: seed {args.seed}, {args.seconds:g}s per measurement, one thread, "
          f"Python {sys.version.split()[0]}")
    orgs, persons = population(rng, args.orgs, args.persons)
    document = policy_document(rng, [org.organization_id for org in orgs], args.tiers, args.models)
    policy = compile_policy(1, document, now=NOW)
    rules = Counter(rule.status for rule in policy.tiers.values())
    print(f"population: {len(orgs):,} organizations, {len(persons):,} persons; policy: "
          f"{len(policy.tiers)} tiers ({_counts(rules)}; "
          f"{sum(r.citizenship is not None for r in policy.tiers.values())} with citizenship, "
          f"{sum(bool(r.windows) for r in policy.tiers.values())} with windows, "
          f"{sum(len(r.allowlist) for r in policy.tiers.values()):,} allowlist entries), "
          f"{len(policy.models)} models")
    chains = _chain_lengths(policy)
    print(f"  fallback chains: mean {statistics.mean(chains):.1f} models, max {max(chains)}")

    decisions = _decisions(rng, policy, orgs + persons, args)
    status = _status_list(rng, args)
    snapshot = _snapshot(document, args)
    _summary(decisions, status, snapshot)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per timed measurement")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--tiers", type=int, default=100)
    parser.add_argument("--models", type=int, default=300)
    parser.add_argument("--samples", type=int, default=100_000,
                        help="pre-built (subject, choice) pairs, cycled while timing")
    parser.add_argument("--tokens", type=int, default=1_000_000, help="status list size")
    parser.add_argument("--revoked", type=float, default=0.01, help="share revoked")
    parser.add_argument("--repeats", type=int, default=15, help="snapshot publications")
    args = parser.parse_args()
    if args.seconds <= 0 or args.repeats < 1 or args.samples < 1 or args.tiers < 2:
        parser.error("--seconds, --repeats and --samples must be positive, --tiers >= 2")
    return args


# -- the population and the policy ------------------------------------------------------

def population(rng: random.Random, n_orgs: int, n_persons: int
               ) -> tuple[list[Subject], list[Subject]]:
    levels, weights = zip(*ORG_LEVELS, strict=True)
    orgs = []
    for i in range(n_orgs):
        # One organization in five holds a citizenship attestation about all its users.
        attested = _facts(rng, rng.randint(1, 2)) if rng.random() < 0.2 else ()
        orgs.append(Subject(f"org-{i:05d}-{_suffix(rng)}", rng.choices(levels, weights)[0],
                            False, attested))
    persons = []
    for _ in range(n_persons):
        org = rng.choice(orgs)
        persons.append(Subject(org.organization_id, org.trust_level, True,
                               _facts(rng, rng.choice((0, 1, 1, 1, 2)))))
    return orgs, persons


def _facts(rng: random.Random, count: int) -> tuple[Citizenship, ...]:
    """Verified citizenship facts; about one in eight has expired."""
    return tuple(Citizenship(rng.choice(NATIONALITIES), rng.randint(0, 2),
                             NOW + timedelta(days=rng.randint(-50, 350)))
                 for _ in range(count))


def _suffix(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase + string.digits, k=8))


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def policy_document(rng: random.Random, org_ids: list[str], n_tiers: int, n_models: int
                    ) -> dict[str, Any]:
    """``n_tiers`` rules (one universal public tier) and ``n_models`` models, a few per tier,
    each tier's models chained newest to oldest; a tier's oldest model falls back to the
    oldest model of an earlier tier or to the public model (so every chain ends there)."""
    tiers: dict[str, Any] = {PUBLIC_TIER: {"status": "open", "trust_levels": list(LEVEL_SETS[0]),
                                           "description": "everyone verified"}}
    for i in range(1, n_tiers):
        tiers[f"t{i:03d}"] = _rule(rng, org_ids)
    names = list(tiers)
    models: dict[str, Any] = {PUBLIC_MODEL: {"tier": PUBLIC_TIER, "fallback": None,
                                             "released_at": _iso(NOW - timedelta(days=400))}}
    oldest: list[str] = [PUBLIC_MODEL]
    per_tier = [n_models // n_tiers + (i < n_models % n_tiers) for i in range(n_tiers)]
    per_tier[0] -= 1  # the public model
    for name, count in zip(names[1:], per_tier[1:], strict=True):
        below = rng.choice(oldest) if rng.random() < 0.5 else PUBLIC_MODEL
        for k in range(count):
            model_id = f"m-{name}-{k}"
            released = NOW + timedelta(days=rng.choice((-300, -30, -1, 20)) if k else -100)
            models[model_id] = {"tier": name, "fallback": below,
                                "released_at": _iso(released)}
            below = model_id
            if k == 0:
                oldest.append(model_id)
    for k in range(per_tier[0]):
        models[f"m-{PUBLIC_TIER}-{k}"] = {"tier": PUBLIC_TIER, "fallback": PUBLIC_MODEL,
                                          "released_at": _iso(NOW - timedelta(days=10 * k))}
    return {"tiers": tiers, "models": models}


def _chain_lengths(policy: Any) -> list[int]:
    """How many models each model's fallback chain visits, itself included."""
    lengths = []
    for model in policy.models.values():
        length = 1
        while model.fallback is not None:
            model, length = policy.models[model.fallback], length + 1
        lengths.append(length)
    return lengths


def _rule(rng: random.Random, org_ids: list[str]) -> dict[str, Any]:
    status = rng.choices(("open", "allowlist_only", "suspended"), (60, 30, 10))[0]
    rule: dict[str, Any] = {"status": status, "trust_levels": list(rng.choice(LEVEL_SETS)),
                            "description": f"{status} bench tier"}
    if status == "allowlist_only":
        rule["allowlist"] = rng.sample(org_ids, min(len(org_ids), rng.randint(100, 1000)))
    if rng.random() < 0.3:
        rule["citizenship"] = {
            "nationalities": rng.sample(NATIONALITIES, rng.randint(1, 5)),
            "min_level": rng.choice(("low", "substantial", "high")),
            "organization_subjects": rng.choice(("allow", "attestation", "deny"))}
    if rng.random() < 0.3:
        rule["windows"] = [_window(rng) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.5:
        rule["max_token_lifetime"] = rng.choice((300, 900, 3600))
    return rule


def _window(rng: random.Random) -> dict[str, Any]:
    starts = NOW + timedelta(days=rng.randint(-60, 10))
    ends = None if rng.random() < 0.3 else starts + timedelta(days=rng.randint(5, 90))
    return {"starts_at": _iso(starts), "ends_at": None if ends is None else _iso(ends),
            "trust_levels": None if rng.random() < 0.5 else list(rng.choice(LEVEL_SETS))}


def _counts(counter: Counter) -> str:
    return ", ".join(f"{count} {name}" for name, count in sorted(counter.items()))


# -- decisions --------------------------------------------------------------------------

def _empty(policy: Any, subject: Any, choice: Any, now: Any) -> None:
    """The baseline's call."""


def timed(body: Callable[[list], None], pairs: list, seconds: float) -> float:
    """Run ``body`` over chunks of ``pairs`` (cycling) for ``seconds``; iterations/s."""
    chunks = [pairs[i:i + CHUNK] for i in range(0, len(pairs), CHUNK)]
    body(chunks[0])  # warm up
    count, index = 0, 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        chunk = chunks[index]
        body(chunk)
        count += len(chunk)
        index = (index + 1) % len(chunks)
    return count / (time.perf_counter() - start)


def model_draws(rng: random.Random, policy: Any, subjects: list[Subject], samples: int
                ) -> list[tuple[Subject, str]]:
    """``samples`` (subject, model id) pairs drawn at random, built before timing."""
    model_ids = list(policy.models)
    picked = [rng.choice(subjects) for _ in range(samples)]
    return list(zip(picked, [rng.choice(model_ids) for _ in picked], strict=True))


def model_rates(policy: Any, by_model: list[tuple[Subject, str]], seconds: float
                ) -> dict[str, float]:
    """``decide_model`` over ``by_model`` and the baseline loop over the same pairs (a dict
    lookup and an empty call), each for ``seconds``: iterations/s of both."""
    now, models = NOW, policy.models

    def baseline(chunk: list) -> None:
        for subject, model_id in chunk:
            _empty(policy, subject, models[model_id], now)

    def models_body(chunk: list) -> None:
        for subject, model_id in chunk:
            decide_model(policy, subject, model_id, now)

    rates = {"baseline": timed(baseline, by_model, seconds)}
    rates["decide_model"] = timed(models_body, by_model, seconds)
    return rates


def _decisions(rng: random.Random, policy: Any, subjects: list[Subject],
               args: argparse.Namespace) -> dict[str, float]:
    tier_names = list(policy.tiers)
    by_model = model_draws(rng, policy, subjects, args.samples)
    picked = [subject for subject, _ in by_model]
    by_tier = list(zip(picked, [[rng.choice(tier_names)] for _ in picked], strict=True))
    by_all = [(subject, None) for subject in picked]
    now = NOW

    def tiers_body(chunk: list) -> None:
        for subject, requested in chunk:
            decide(policy, subject, requested, now)

    outcomes = Counter(decide_model(policy, s, m, now).outcome for s, m in by_model[:20_000])
    reasons = Counter(decide(policy, s, None, now).denied.get(name, "granted")
                      for s, _ in by_all[:2_000] for name in tier_names)
    persons = sum(s.is_person for s in picked)
    print(f"workload: {args.samples:,} pre-built draws ({persons:,} person subjects); "
          f"decide_model outcomes: {_counts(outcomes)}")
    print(f"  per-tier verdicts over all tiers: {_counts(reasons)}")

    rates = model_rates(policy, by_model, args.seconds)
    rates["decide_one"] = timed(tiers_body, by_tier, args.seconds)
    rates["decide_all"] = timed(tiers_body, by_all, args.seconds)
    base = rates["baseline"]
    print("decisions, one thread")
    print(f"  baseline (dict lookup + empty call) {base:12,.0f} /s   1.00 of baseline")
    for key, label in (("decide_model", "decide_model(subject, model)"),
                       ("decide_one", "decide(subject, [one tier])"),
                       ("decide_all", f"decide(subject, None) {len(tier_names)} tiers")):
        rate = rates[key]
        print(f"  {label:35} {rate:12,.0f} /s   {rate / base:.3f} of baseline "
              f"({1e6 / rate:.2f} us, {base / rate:.1f}x the baseline iteration)")
    return rates


# -- status list ------------------------------------------------------------------------

def median_time(call: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _status_list(rng: random.Random, args: argparse.Namespace) -> dict[str, float]:
    status_list = StatusList(args.tokens, 1)
    revoked = rng.sample(range(args.tokens), round(args.tokens * args.revoked))
    for index in revoked:
        status_list.set(index, INVALID)
    raw = status_list.to_bytes()
    claim = status_list.encode()
    compressed = len(zlib.compress(raw, 9))
    encode_s = median_time(status_list.encode, 5)
    key = ec.generate_private_key(ec.SECP256R1())

    def sign() -> str:
        return encode_status_list_token(status_list, private_key=key, algorithm="ES256",
                                        kid="k", issuer=ISSUER, uri=f"{ISSUER}/status/1",
                                        issued_at=int(NOW.timestamp()), expires_at=None,
                                        ttl=300)

    token = sign()
    token_s = median_time(sign, 5)
    print(f"status list: {args.tokens:,} tokens, {len(revoked):,} revoked "
          f"({args.revoked:.1%}), 1 bit each")
    print(f"  raw {len(raw):,} B   zlib(9) {compressed:,} B   lst (base64url) "
          f"{len(claim['lst']):,} chars   signed token {len(token):,} B")
    print(f"  encode {encode_s * 1e3:.1f} ms   encode + sign ES256 {token_s * 1e3:.1f} ms "
          f"(median of 5)")
    return {"raw": len(raw), "compressed": compressed, "lst": len(claim["lst"]),
            "encode_s": encode_s, "token_s": token_s}


# -- snapshot ---------------------------------------------------------------------------

def _snapshot(document: dict[str, Any], args: argparse.Namespace) -> dict[str, float]:
    key = ec.generate_private_key(ec.SECP256R1())
    headers = {"typ": "entitlements-policy+jwt", "kid": "k"}
    iat = int(NOW.timestamp())

    def publish(version: int) -> tuple[str, float, float]:
        start = time.perf_counter()
        policy = compile_policy(version, document, now=NOW)
        compiled = time.perf_counter()
        claims = {"iss": ISSUER, "iat": iat, "ver": policy.version,
                  "tiers": policy.document["tiers"], "models": policy.document["models"]}
        token = jwt.encode(claims, key, algorithm="ES256", headers=headers)
        end = time.perf_counter()
        return token, compiled - start, end - compiled

    publish(0)  # warm up
    runs = [publish(version) for version in range(1, args.repeats + 1)]
    token = runs[-1][0]
    compile_s = statistics.median(r[1] for r in runs)
    sign_s = statistics.median(r[2] for r in runs)
    total_s = statistics.median(r[1] + r[2] for r in runs)
    print(f"policy snapshot: compile_policy + ES256 JWS, median of {args.repeats}")
    print(f"  compile {compile_s * 1e3:.1f} ms   sign {sign_s * 1e3:.1f} ms   total "
          f"{total_s * 1e3:.1f} ms   snapshot {len(token):,} B "
          f"({len(zlib.compress(token.encode(), 9)):,} B zlib)")
    return {"compile_s": compile_s, "sign_s": sign_s, "total_s": total_s, "size": len(token)}


# -- summary ----------------------------------------------------------------------------

def _summary(decisions: dict[str, float], status: dict[str, float],
             snapshot: dict[str, float]) -> None:
    rate = decisions["decide_model"]
    print("summary")
    print(f"  decide_model decisions/s       {rate:12,.0f}   goal >= {DECISIONS_GOAL:,}: "
          f"{'PASS' if rate >= DECISIONS_GOAL else 'MISS'}   "
          f"({rate / decisions['baseline']:.3f} of baseline "
          f"{decisions['baseline']:,.0f}/s)")
    print(f"  decide one tier /s             {decisions['decide_one']:12,.0f}")
    print(f"  decide all tiers /s            {decisions['decide_all']:12,.0f}")
    small = status["compressed"] <= STATUS_GOAL_BYTES
    print(f"  status list compressed bytes   {status['compressed']:12,}   goal <= "
          f"{STATUS_GOAL_BYTES:,}: {'PASS' if small else 'MISS'}   "
          f"(raw {status['raw']:,}, lst {status['lst']:,} chars)")
    print(f"  status list encode ms          {status['encode_s'] * 1e3:12.1f}")
    print(f"  snapshot publish ms            {snapshot['total_s'] * 1e3:12.1f}   "
          f"(compile {snapshot['compile_s'] * 1e3:.1f} + sign {snapshot['sign_s'] * 1e3:.1f})")
    print(f"  snapshot size bytes            {snapshot['size']:12,}")


if __name__ == "__main__":
    main()
