"""The story's timeline, one step of the injected clock at a time: all open; restricted
requires citizenship (re-imposed, with revocation); both tiers suspended; an allowlist of
three trusted organizations; fully lifted (rollback); an early-access window that opens
for government partners, then for everyone. At each step: what tokens are issued, what
explain says, and what the signed snapshot and status list say, verified with the
published keys."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote

import jwt
import pytest

from entitlements.kernel.status_list import StatusList
from tests.support.factories import admin_key
from tests.support.helpers import basic
from tests.support.markers import ONE_ADMIN

pytestmark = ONE_ADMIN

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
IDP = "https://login.a.example"
VERIFIED = ["government_partner", "trusted", "verified"]


def tier(status="open", **rule):
    return {"status": status, "trust_levels": VERIFIED, "citizenship": None, "allowlist": [],
            "windows": [], "max_token_lifetime": None, "sender_constraint": None, **rule}


ALL_OPEN = {
    "tiers": {"public": tier(), "restricted": tier(), "early-access": tier()},
    "models": {"base-1": {"tier": "public"},
               "frontier-2": {"tier": "restricted", "fallback": "base-1"},
               "preview-3": {"tier": "early-access", "fallback": "frontier-2"}},
}


class World:
    """The admin API, the token endpoint and the published documents, for one test."""

    def __init__(self, client, admin, db, clock) -> None:
        self.client, self.admin, self.db, self.clock = client, admin, db, clock
        with db.transaction() as session:
            key = admin_key(session, clock.now(), "alice").secret
        self.headers = {"Authorization": f"Bearer {key}"}
        #: What each token granted, when: (at, "organizations" or "persons", id, tiers).
        self.granted: list[tuple[datetime, str, str, list[str]]] = []

    def api(self, method: str, path: str, body=None, expect=200):
        response = self.client.open("/admin" + path, method=method, json=body,
                                    headers=self.headers)
        assert response.status_code == expect, response.get_json()
        if method == "POST" and path.startswith("/policy/") and path != "/policy/explain":
            # A change at this instant: what was granted earlier in it is no longer what
            # the instant stands for.
            self.granted = [g for g in self.granted if g[0] != self.clock.now()]
        return response.get_json()

    def _granted(self, response, scope) -> dict:
        body = response.get_json() | {"status": response.status_code}
        if response.status_code == 200 and scope is None:
            claims = jwt.decode(body["access_token"], options={"verify_signature": False})
            kind, subject = ("persons", claims["sub"]) if "act" in claims else (
                "organizations", claims["org"]["id"])
            self.granted.append((self.clock.now(), kind, subject, claims["entitlements"]))
        return body

    def new_version(self, reason: str, *, document=None, patch=None, **extra) -> int:
        latest = self.api("GET", "/policy")["latest_version"]
        body = {"base_version": latest, "reason": reason, **extra}
        body.update({"document": document} if document is not None else {"patch": patch})
        return self.api("POST", "/policy/versions", body, 201)["version"]["version"]

    def token(self, partner, scope=None) -> dict:
        form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
        response = self.client.post("/oauth/token", data=form,
                                    headers=basic(partner.client_id, partner.client_secret))
        return self._granted(response, scope)

    def person_token(self, partner, idp_key, subject: str, scope=None) -> dict:
        now = int(self.clock.now().timestamp())
        id_token = jwt.encode({"iss": IDP, "sub": subject, "aud": "portal", "iat": now,
                               "exp": now + 300, "jti": f"{subject}-{now}"},
                              idp_key, algorithm="ES256", headers={"kid": "idp-1"})
        form = {"grant_type": EXCHANGE, "subject_token": id_token,
                "subject_token_type": ID_TOKEN, **({"scope": scope} if scope else {})}
        response = self.client.post("/oauth/token", data=form,
                                    headers=basic(partner.client_id, partner.client_secret))
        return self._granted(response, scope)

    def explain(self, **body) -> dict:
        return self.api("POST", "/policy/explain", body)

    def verified(self, path: str, typ: str) -> dict:
        """A published document, its signature checked with the published JWKS."""
        response = self.client.get(path)
        assert response.status_code == 200 and response.headers["ETag"]
        token = response.get_data(as_text=True)
        header = jwt.get_unverified_header(token)
        assert header["typ"] == typ
        jwks = self.client.get("/jwks.json").get_json()
        key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
        return jwt.decode(token, jwt.PyJWK(key).key, algorithms=[key["alg"]],
                          options={"verify_exp": False, "verify_iat": False})

    def snapshot(self) -> dict:
        return self.verified("/policy", "entitlements-policy+jwt")

    def revoked(self, access_token: str) -> bool:
        ref = jwt.decode(access_token, options={"verify_signature": False})["status"]
        uri = ref["status_list"]["uri"]
        claims = self.verified(uri[uri.index("/status-lists"):], "statuslist+jwt")
        assert claims["sub"] == uri
        return StatusList.decode(claims["status_list"]).get(ref["status_list"]["idx"]) == 1


def tiers_of(token: dict) -> list[str]:
    return jwt.decode(token["access_token"], options={"verify_signature": False})[
        "entitlements"]


@pytest.fixture
def world(client, admin, db, clock):
    return World(client, admin, db, clock)


@pytest.fixture
def cast(world, admin, db, clock):
    """Organizations A, B, C (trusted), D (verified), G (government partner); A's IdP; a
    person with verified US citizenship and one without."""
    admin.gateway()
    parties = {}
    for name, level in (("A", "trusted"), ("B", "trusted"), ("C", "trusted"), ("D", None),
                        ("G", "government_partner")):
        parties[name] = admin.partner(f"Org {name}", tiers=())
        if level:
            admin.raise_trust(parties[name].org_id, level)
    parties["idp_key"] = admin.identity_provider(parties["A"].org_id, IDP)
    parties["citizen"] = admin.person(parties["A"].org_id, IDP, "citizen",
                                      nationalities=("US",))
    return parties


def test_the_timeline(world, cast, clock):
    a, d, g = cast["A"], cast["D"], cast["G"]
    key = cast["idp_key"]

    # 1. All open.
    open_version = world.new_version("all open", document=ALL_OPEN, activate_now=True)
    org_token = world.token(a)
    assert tiers_of(org_token) == ["early-access", "public", "restricted"]
    citizen, stranger = (world.person_token(a, key, "citizen"),
                         world.person_token(a, key, "stranger"))
    assert "restricted" in tiers_of(citizen) and "restricted" in tiers_of(stranger)
    assert world.explain(organization_id=d.org_id, model="frontier-2")["model"]["outcome"] == (
        "allow")
    snap = world.snapshot()
    assert snap["ver"] == open_version
    assert {n: t["status"] for n, t in snap["tiers"].items()} == {
        "early-access": "open", "public": "open", "restricted": "open"}
    assert snap["models"]["frontier-2"]["fallback"] == "base-1"
    assert not world.revoked(org_token["access_token"])

    # 2. A minute later (the tokens above still live): restricted requires verified
    #    citizenship, re-imposed with revocation.
    clock.advance(minutes=1)
    citizenship_version = world.new_version("restricted requires citizenship", patch={
        "tiers": {"restricted": {"citizenship": {"nationalities": ["US"],
                                                 "min_level": "substantial",
                                                 "organization_subjects": "deny"}}}})
    effects = world.api("POST", f"/policy/versions/{citizenship_version}/activate",
                        {"reason": "export control order", "revoke_disallowed": True}, 201)
    assert effects["after"] == citizenship_version and effects["revoked"] == 2
    assert world.revoked(stranger["access_token"]) and world.revoked(org_token["access_token"])
    assert not world.revoked(citizen["access_token"])
    assert "restricted" in tiers_of(world.person_token(a, key, "citizen"))
    assert "restricted" not in tiers_of(world.person_token(a, key, "stranger"))
    refused = world.person_token(a, key, "stranger", scope="tier:restricted")
    assert refused["error"] == "invalid_scope" and "citizenship_not_verified" in (
        refused["error_description"])
    assert "restricted" not in tiers_of(world.token(a))
    why = world.explain(organization_id=d.org_id, model="frontier-2")["model"]
    assert (why["outcome"], why["route_to"], why["reason"]) == (
        "fallback", "base-1", "person_subject_required")

    # 3. Both restricted and early-access suspended; their live tokens revoked in bulk.
    clock.advance(hours=1)
    live = world.person_token(a, key, "citizen")
    world.new_version("suspend both", activate_now=True, patch={
        "tiers": {"restricted": {"status": "suspended"}, "early-access": {"status": "suspended"}}})
    assert world.api("POST", "/tokens/revoke", {"tier": "restricted", "reason": "suspension"})[
        "revoked"] >= 1
    assert world.revoked(live["access_token"])
    snap = world.snapshot()
    assert (snap["tiers"]["restricted"]["status"], snap["tiers"]["early-access"]["status"]) == (
        "suspended", "suspended")
    assert tiers_of(world.token(g)) == ["public"]
    why = world.explain(person_id=cast["citizen"], model="preview-3")["model"]
    assert (why["outcome"], why["route_to"], why["reason"]) == (
        "fallback", "base-1", "tier_suspended")

    # 4. Restricted opens to an allowlist of three trusted organizations (A, B, C).
    clock.advance(hours=1)
    allow = sorted(cast[n].org_id for n in "ABC")
    world.new_version("allowlist", activate_now=True, patch={"tiers": {"restricted": {
        "status": "allowlist_only", "allowlist": allow, "citizenship": None,
        "trust_levels": ["government_partner", "trusted"]}}})
    assert "restricted" in tiers_of(world.token(cast["B"]))
    assert "restricted" not in tiers_of(world.token(d))
    assert world.explain(organization_id=d.org_id, tiers=["restricted"])["denied"][
        "restricted"]["reason"] == "not_on_allowlist"
    assert world.snapshot()["tiers"]["restricted"]["allowlist"] == allow

    # 5. Fully lifted: roll back to the all-open version.
    clock.advance(hours=1)
    rolled = world.api("POST", "/policy/rollback", {"version": open_version,
                                                     "reason": "lifted"}, 201)
    assert rolled["version"]["document"] == world.api(
        "GET", f"/policy/versions/{open_version}")["document"]
    assert tiers_of(world.token(d)) == ["early-access", "public", "restricted"]
    assert world.snapshot()["ver"] == rolled["version"]["version"]

    # 6. Early access: government partners from one date, everyone from a later one.
    clock.advance(hours=1)
    start = clock.now() + timedelta(hours=1)
    world.new_version("early access windows", activate_now=True, patch={"tiers": {
        "early-access": {"windows": [
            {"starts_at": start.isoformat(), "trust_levels": ["government_partner"]},
            {"starts_at": (start + timedelta(days=30)).isoformat()}]}}})
    assert "early-access" not in tiers_of(world.token(g))
    clock.advance(hours=1)
    assert "early-access" in tiers_of(world.token(g))
    assert "early-access" not in tiers_of(world.token(a))
    why = world.explain(organization_id=a.org_id, model="preview-3")["model"]
    assert (why["outcome"], why["route_to"], why["reason"]) == (
        "fallback", "frontier-2", "outside_window")
    clock.advance(days=30)
    assert "early-access" in tiers_of(world.token(a))
    same_as_granted_then(world)


def same_as_granted_then(world: World) -> None:
    """Who could use what at each instant a token was issued, rebuilt from history, is what
    the token granted then."""
    assert len(world.granted) >= 12
    assert {kind for _, kind, _, _ in world.granted} == {"organizations", "persons"}
    for at, kind, subject, tiers in world.granted:
        rebuilt = world.api("GET", "/reports/who-could?at=" + quote(at.isoformat()))
        row = next(r for r in rebuilt[kind] if r["id"] == subject)
        assert (at, kind, subject, row["tiers"]) == (at, kind, subject, tiers)


def test_an_organization_attestation_admits_its_client_credentials(world, cast, clock):
    a, d = cast["A"], cast["D"]
    world.new_version("attested organizations only", activate_now=True, document={
        **ALL_OPEN, "tiers": {**ALL_OPEN["tiers"], "restricted": tier(citizenship={
            "nationalities": ["US"], "min_level": "high",
            "organization_subjects": "attestation"})}})
    assert "restricted" not in tiers_of(world.token(a))
    assert world.explain(organization_id=a.org_id, tiers=["restricted"])["denied"][
        "restricted"]["reason"] == "organization_attestation_required"
    world.api("POST", f"/organizations/{a.org_id}/evidence/citizenship", {
        "reference": "ATTEST-2026-7", "nationalities": ["US"], "level": "high",
        "expires_at": (clock.now() + timedelta(days=90)).isoformat()}, 201)
    assert "restricted" in tiers_of(world.token(a))
    assert "restricted" not in tiers_of(world.token(d))
    clock.advance(days=91)  # the attestation expires: no job needed
    after = world.token(a)
    assert after["status"] == 200, after
    assert "restricted" not in tiers_of(after)


def test_explain_at_a_time_before_any_policy_is_not_found(world, cast):
    body = world.api("POST", "/policy/explain", {"organization_id": cast["A"].org_id,
                                                 "at": "1960-01-01T00:00:00+00:00"}, 404)
    assert body["type"] == "urn:entitlements:problem:no_active_version"
