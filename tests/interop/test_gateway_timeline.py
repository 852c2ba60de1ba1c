"""The story's timeline once more, end to end: the real service on loopback and the gateway
SDK, whose decisions change on its first poll after each admin action. (The wall-clock lags,
with a poller and the production cache periods, are measured by
scripts/bench_propagation.py.)"""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
import requests

from entitlements.gateway.gateway import Gateway
from entitlements.policy import service as policy
from tests.support.factories import GATEWAY
from tests.support.interop import CATALOG, change_policy, token_for
from tests.support.markers import ONE_ADMIN

pytestmark = ONE_ADMIN

IDP = "https://login.a.example"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


def person_token(live_server, partner, idp_key, subject: str, now: int) -> str:
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
    now = int(clock.now().timestamp())
    admin.person(parties["A"].org_id, IDP, "citizen", nationalities=("US",))
    parties["tokens"] = {
        "A": token_for(live_server, parties["A"]), "D": token_for(live_server, parties["D"]),
        "G": token_for(live_server, parties["G"]),
        "citizen": person_token(live_server, parties["A"], idp_key, "citizen", now),
        "stranger": person_token(live_server, parties["A"], idp_key, "stranger", now)}
    return parties


def test_the_timeline_through_the_gateway(live_server, cast, db, admin, clock, sdk_clock):
    gateway = Gateway(live_server.url, GATEWAY, clock=sdk_clock, poll_interval=None)
    tokens = cast["tokens"]

    def step(action, *checks) -> None:
        action()
        gateway.refresh()  # the gateway's next poll
        for who, model, expected in checks:
            decision = gateway.decide(tokens[who], model)
            assert (decision.outcome, decision.model, decision.reason) == expected, who

    for who in tokens:
        assert gateway.decide(tokens[who], "frontier-2").outcome == "allow", who
    step(lambda: change_policy(db, admin, "citizenship", patch={"tiers": {"restricted": {
             "citizenship": {"nationalities": ["US"], "min_level": "substantial",
                             "organization_subjects": "deny"}}}}),
         ("A", "frontier-2", ("fallback", "base-1", "person_subject_required")),
         ("stranger", "frontier-2", ("fallback", "base-1", "citizenship_not_verified")),
         ("citizen", "frontier-2", ("allow", "frontier-2", None)))
    step(lambda: change_policy(db, admin, "suspend", patch={"tiers": {
             "restricted": {"status": "suspended"}, "early-access": {"status": "suspended"}}}),
         ("citizen", "frontier-2", ("fallback", "base-1", "tier_suspended")),
         ("G", "preview-3", ("fallback", "base-1", "tier_suspended")))
    allow = sorted(cast[n].org_id for n in "ABC")
    step(lambda: change_policy(db, admin, "allowlist", patch={"tiers": {"restricted": {
             "status": "allowlist_only", "allowlist": allow, "citizenship": None}}}),
         ("A", "frontier-2", ("allow", "frontier-2", None)),
         ("D", "frontier-2", ("fallback", "base-1", "not_on_allowlist")))
    with db.transaction() as session:
        first = policy.list_versions(session).items[1].version  # "all open"
    step(lambda: _rollback(db, admin, first),
         ("D", "frontier-2", ("allow", "frontier-2", None)),
         ("G", "preview-3", ("allow", "preview-3", None)))
    opens = clock.now() + timedelta(seconds=2)
    step(lambda: change_policy(db, admin, "windows", patch={"tiers": {"early-access": {
             "windows": [{"starts_at": opens.isoformat(),
                          "trust_levels": ["government_partner"]},
                         {"starts_at": (opens + timedelta(days=30)).isoformat()}]}}}),
         ("A", "preview-3", ("fallback", "frontier-2", "outside_window")),
         ("G", "preview-3", ("fallback", "frontier-2", "outside_window")))
    step(lambda: clock.advance(2),  # the window opens, with no admin action at all
         ("G", "preview-3", ("allow", "preview-3", None)),
         ("A", "preview-3", ("fallback", "frontier-2", "outside_window")))


def _rollback(db, admin, version: int) -> None:
    with db.transaction() as session:
        policy.rollback(session, admin.actor(), version, "lifted")
