"""From application to a person token, over a real loopback socket, the way the parties
do it: admins onboard the organization with evidence (DNS via a fake resolver, GLEIF via
`responses`), two different admins raise its trust, a verifier's SD-JWT VC proves a
person's citizenship, and the partner's backend exchanges its IdP's ID token with
Authlib's OAuth client. A gateway then checks the token with PyJWKClient."""

from __future__ import annotations

import time

import jwt
import pytest
import requests
import responses
from authlib.integrations.requests_client import OAuth2Session
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer

from entitlements.organizations.lei import GLEIF_API
from tests.support.factories import admin_key, client_keypair
from tests.support.fakes import BANK_LEI, FakeResolver, record

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
VERIFIER = "https://id-verifier.example"
IDP = "https://login.acme.example"


class AdminApi:
    def __init__(self, base: str, key: str) -> None:
        self.base, self.headers = base, {"Authorization": f"Bearer {key}"}

    def post(self, path: str, body: dict | None = None, expect: int = 200) -> dict:
        response = requests.post(self.base + "/admin" + path, json=body or {},
                                 headers=self.headers, timeout=10)
        assert response.status_code == expect, response.text
        return response.json()


@pytest.fixture
def admins_pair(db, clock, live_server) -> tuple[AdminApi, AdminApi]:
    with db.transaction() as session:
        alice = admin_key(session, clock.now(), "alice").secret
        bob = admin_key(session, clock.now(), "bob").secret
    return AdminApi(live_server.url, alice), AdminApi(live_server.url, bob)


def onboard(alice: AdminApi, bob: AdminApi, dns: FakeResolver) -> str:
    org = alice.post("/organizations", {"name": "Acme Labs Inc.", "country": "US"}, 201)
    org_id = org["id"]
    assert org["status"] == "applied"
    alice.post(f"/organizations/{org_id}/review", {"reason": "application received"})
    challenge = alice.post(f"/organizations/{org_id}/evidence/domain",
                           {"domain": "acme.example"}, 201)
    dns.records[challenge["details"]["record"]] = [challenge["details"]["value"]]
    assert alice.post(f"/evidence/{challenge['id']}/check")["status"] == "verified"
    assert alice.post(f"/organizations/{org_id}/evidence/lei", {"lei": BANK_LEI},
                      201)["status"] == "verified"
    alice.post(f"/organizations/{org_id}/evidence/agreement", {"reference": "MSA-2026-014"},
               201)
    assert alice.post(f"/organizations/{org_id}/verify",
                      {"reason": "evidence complete"})["status"] == "verified"
    trust = alice.post(f"/organizations/{org_id}/trust-requests",
                       {"level": "trusted", "reason": "domestic lab partner"}, 201)
    alice.post(f"/trust-requests/{trust['id']}/approve", {"reason": "self"}, 403)
    assert bob.post(f"/trust-requests/{trust['id']}/approve",
                    {"reason": "second admin agrees"})["trust_level"] == "trusted"
    for tier in ("public", "restricted"):  # allowlist edits: a second admin approves each
        change = alice.post(f"/organizations/{org_id}/tiers", {"tier": tier}, 202)
        alice.post(f"/policy/changes/{change['id']}/approve", {"reason": "self"}, 403)
        approved = bob.post(f"/policy/changes/{change['id']}/approve", {"reason": "agreed"})
        assert (approved["state"], approved["result"]["tier"]) == ("approved", tier)
    return org_id


def sd_jwt_vc(verifier_key, holder_key, nonce: str, audience: str) -> str:
    """A verifier's credential; the holder discloses only the nationalities."""
    now = int(time.time())
    issued = SDJWTIssuer(
        {"iss": VERIFIER, "vct": "urn:example:citizenship", "iat": now - 60,
         "exp": now + 86400 * 30, "assurance_level": "high",
         SDObj("nationalities"): ["US"], SDObj("given_name"): "Alice"},
        JWK.from_pyca(verifier_key), holder_key=JWK.from_pyca(holder_key), sign_alg="ES256",
        extra_header_parameters={"typ": "dc+sd-jwt", "kid": "verifier-1"}).sd_jwt_issuance
    holder = SDJWTHolder(issued)
    holder.create_presentation({"nationalities": True}, nonce=nonce, aud=audience,
                               holder_key=JWK.from_pyca(holder_key), sign_alg="ES256")
    return holder.sd_jwt_presentation


@responses.activate
def test_from_application_to_a_token_with_trust_and_citizenship(
        live_server, admin, admins_pair, clock, gateway):
    responses.add_passthru("http://127.0.0.1")
    responses.get(f"{GLEIF_API}/lei-records/{BANK_LEI}", json=record(BANK_LEI))
    dns = live_server.app.extensions["entitlements"].dns = FakeResolver()
    alice, bob = admins_pair
    admin.gateway()
    org_id = onboard(alice, bob, dns)

    registration = alice.post("/clients", {"organization_id": org_id, "name": "backend"}, 201)
    client_id, secret = registration["client_id"], registration["client_secret"]
    verifier_key, verifier_jwks = client_keypair("verifier-1")
    alice.post("/attestation-issuers", {
        "issuer": VERIFIER, "name": "ID Verifier", "jwks": verifier_jwks,
        "formats": ["sd-jwt-vc"], "nationalities": ["US"], "assurance_levels": ["high"],
        "max_age_days": 365}, 201)
    idp_key, idp_jwks = client_keypair("idp-1")
    alice.post(f"/organizations/{org_id}/identity-providers",
               {"issuer": IDP, "audiences": ["acme-portal"], "jwks": idp_jwks}, 201)

    # The partner's backend: a nonce, then the person's attestation.
    auth = (client_id, secret)
    nonce = requests.post(live_server.url + "/attestations/nonce", auth=auth,
                          timeout=10).json()["nonce"]
    holder_key, _ = client_keypair("holder")
    facts = requests.post(live_server.url + "/attestations", auth=auth, timeout=10, data={
        "format": "sd-jwt-vc", "idp_issuer": IDP, "idp_subject": "alice",
        "credential": sd_jwt_vc(verifier_key, holder_key, nonce, live_server.url)})
    assert facts.status_code == 200, facts.text
    assert (facts.json()["nationalities"], facts.json()["assurance_level"]) == (["US"], "high")

    # Then the person's ID token for an entitlement token, with Authlib's OAuth client.
    now = int(clock.now().timestamp())
    id_token = jwt.encode({"iss": IDP, "sub": "alice", "aud": "acme-portal", "iat": now,
                           "exp": now + 300, "jti": "login-1"}, idp_key, algorithm="ES256",
                          headers={"kid": "idp-1"})
    session = OAuth2Session(client_id, secret, token_endpoint_auth_method="client_secret_basic")
    token = session.fetch_token(live_server.url + "/oauth/token", grant_type=EXCHANGE,
                                subject_token=id_token, subject_token_type=ID_TOKEN,
                                scope="tier:public tier:restricted")
    claims = gateway().verify(token["access_token"])
    assert claims["sub"] == facts.json()["person_id"]
    assert claims["org"] == {"id": org_id, "trust": "trusted"}
    assert claims["entitlements"] == ["public", "restricted"]
    assert [(c["nationality"], c["level"]) for c in claims["citizenship"]] == [("US", "high")]
    assert claims["act"] == {"sub": client_id}
    assert "Alice" not in str(claims)
