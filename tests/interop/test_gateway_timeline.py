"""The story's timeline once more, end to end: the real service on loopback, the gateway
SDK polling it every second, and at each admin action the time until the gateway's decision
changes (at most two seconds)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
import requests

from entitlements.gateway.gateway import Gateway
from entitlements.policy import service as policy
from tests.factories import GATEWAY
from tests.interop.conftest import CATALOG, change_policy, token_for

IDP = "https://login.a.example"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


def person_token(live_server, partner, idp_key, subject: str) -> str:
    now = int(time.time())
    id_token = jwt.encode({"iss": IDP, "sub": subject, "aud": "portal", "iat": now,
                           "exp": now + 300, "jti": f"{subject}-{now}"}, idp_key,
                          algorithm="ES256", headers={"kid": "idp-1"})
    response = requests.post(live_server.url + "/oauth/token", timeout=5, data={
        "grant_type": EXCHANGE, "subject_token": id_token,
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token"},
        auth=(partner.client_id, partner.client_secret))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture
def cast(live_server, admin, db, clock):
    admin.gateway()
    change_policy(db, admin, "all open", document=CATALOG)
    parties = {}
    for name, level in (("A", "trusted"), ("B", "trusted"), ("C", "trusted"), ("D", None),
                        ("G", "government_partner")):
        parties[name] = admin.partner(f"Org {name}", tiers=())
        if level:
            admin.raise_trust(parties[name].org_id, level)
    idp_key = admin.identity_provider(parties["A"].org_id, IDP)
    admin.person(parties["A"].org_id, IDP, "citizen", nationalities=("US",))
    parties["tokens"] = {
        "A": token_for(live_server, parties["A"]), "D": token_for(live_server, parties["D"]),
        "G": token_for(live_server, parties["G"]),
        "citizen": person_token(live_server, parties["A"], idp_key, "citizen"),
        "stranger": person_token(live_server, parties["A"], idp_key, "stranger")}
    return parties


def lag_until(gateway: Gateway, token: str, model: str, expected: tuple, start: float) -> float:
    while time.monotonic() - start < 5.0:
        decision = gateway.decide(token, model)
        if (decision.outcome, decision.model, decision.reason) == expected:
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"still {decision} after 5 s, expected {expected}")


def test_the_timeline_through_the_gateway(live_server, cast, db, admin):
    live_server.app.extensions["entitlements"].policies._schedule.ttl = 0.5
    gateway = Gateway(live_server.url, GATEWAY, poll_interval=1.0)
    tokens, lags = cast["tokens"], {}

    def step(name, action, *checks):
        start = time.monotonic()
        action()
        lags[name] = max(lag_until(gateway, tokens[who], model, expected, start)
                         for who, model, expected in checks)

    try:
        for who in tokens:
            assert gateway.decide(tokens[who], "frontier-2").outcome == "allow", who
        step("restricted requires citizenship",
             lambda: change_policy(db, admin, "citizenship", patch={"tiers": {"restricted": {
                 "citizenship": {"nationalities": ["US"], "min_level": "substantial",
                                 "organization_subjects": "deny"}}}}),
             ("A", "frontier-2", ("fallback", "base-1", "person_subject_required")),
             ("stranger", "frontier-2", ("fallback", "base-1", "citizenship_not_verified")),
             ("citizen", "frontier-2", ("allow", "frontier-2", None)))
        step("both tiers suspended",
             lambda: change_policy(db, admin, "suspend", patch={"tiers": {
                 "restricted": {"status": "suspended"}, "early-access": {"status": "suspended"}}}),
             ("citizen", "frontier-2", ("fallback", "base-1", "tier_suspended")),
             ("G", "preview-3", ("fallback", "base-1", "tier_suspended")))
        allow = sorted(cast[n].org_id for n in "ABC")
        step("allowlist of three trusted organizations",
             lambda: change_policy(db, admin, "allowlist", patch={"tiers": {"restricted": {
                 "status": "allowlist_only", "allowlist": allow, "citizenship": None}}}),
             ("A", "frontier-2", ("allow", "frontier-2", None)),
             ("D", "frontier-2", ("fallback", "base-1", "not_on_allowlist")))
        with db.transaction() as session:
            first = policy.list_versions(session)[1].version  # "all open"
        step("fully lifted",
             lambda: _rollback(db, admin, first),
             ("D", "frontier-2", ("allow", "frontier-2", None)),
             ("G", "preview-3", ("allow", "preview-3", None)))
        opens = datetime.now(UTC) + timedelta(seconds=2)
        step("early access for government partners",
             lambda: change_policy(db, admin, "windows", patch={"tiers": {"early-access": {
                 "windows": [{"starts_at": opens.isoformat(),
                              "trust_levels": ["government_partner"]},
                             {"starts_at": (opens + timedelta(days=30)).isoformat()}]}}}),
             ("A", "preview-3", ("fallback", "frontier-2", "outside_window")))
        time.sleep(max(0.0, (opens - datetime.now(UTC)).total_seconds()))
        lags["the window opens"] = lag_until(gateway, tokens["G"], "preview-3",
                                             ("allow", "preview-3", None), time.monotonic())
        assert gateway.decide(tokens["A"], "preview-3").outcome == "fallback"
    finally:
        gateway.close()
    print("\nadmin action -> gateway decision lag (s):",
          {k: round(v, 2) for k, v in lags.items()})
    assert max(lags.values()) <= 2.0


def _rollback(db, admin, version: int) -> None:
    with db.transaction() as session:
        policy.rollback(session, admin.actor(), version, "lifted")
