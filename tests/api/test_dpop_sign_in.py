"""DPoP in people's sign-in: an authorization code redeemed with a proof gives bound tokens;
a public client's refresh token is bound to that key, a confidential client's is not; and
userinfo takes a bound token only with the DPoP scheme and a proof of its key."""

from __future__ import annotations

import jwt
import pytest
import requests

from tests.support.dpop import ProofKey
from tests.support.signin import APP_REDIRECT, Browser, code_for, pkce, query

GRANTS = ["authorization_code", "refresh_token"]


@pytest.fixture
def native(admin, acme_org):
    return admin.client(acme_org, "none", grant_types=GRANTS, redirect_uris=[APP_REDIRECT])


@pytest.fixture
def web(admin, acme_org):
    return admin.client(acme_org, grant_types=GRANTS, redirect_uris=[APP_REDIRECT])


@pytest.fixture
def key() -> ProofKey:
    return ProofKey()


def token(live_server, client, key: ProofKey | None, clock, **form) -> requests.Response:
    endpoint = live_server.url + "/oauth/token"
    headers = {"DPoP": key.proof("POST", endpoint, now=clock.now().timestamp())} if key else {}
    auth = (client.client_id, client.client_secret) if client.client_secret else None
    if auth is None:
        form["client_id"] = client.client_id
    return requests.post(endpoint, data=form, auth=auth, headers=headers, timeout=10)


def signed_in(live_server, client, key, clock) -> dict:
    code, verifier = code_for(live_server.url, client.client_id)
    answer = token(live_server, client, key, clock, grant_type="authorization_code",
                   code=code, redirect_uri=APP_REDIRECT, code_verifier=verifier)
    assert answer.status_code == 200, answer.text
    return answer.json()


def jkt_of(access_token: str) -> str | None:
    return jwt.decode(access_token, options={"verify_signature": False}).get("cnf", {}).get(
        "jkt")


def test_a_public_clients_tokens_and_refresh_token_are_bound(live_server, native, key, clock):
    first = signed_in(live_server, native, key, clock)
    assert first["token_type"] == "DPoP" and jkt_of(first["access_token"]) == key.jkt
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    without = token(live_server, native, None, clock, **refresh)
    assert (without.status_code, without.json()["error"], without.json()["reason"]) == (
        400, "invalid_dpop_proof", "dpop_proof_required")
    other = token(live_server, native, ProofKey(), clock, **refresh)
    assert other.json()["reason"] == "dpop_key_mismatch"
    # Neither refusal used the refresh token up: its holder's key still refreshes.
    again = token(live_server, native, key, clock, **refresh)
    assert again.status_code == 200, again.text
    assert again.json()["token_type"] == "DPoP" and jkt_of(again.json()["access_token"]) == (
        key.jkt)
    next_refresh = {"grant_type": "refresh_token", "refresh_token": again.json()["refresh_token"]}
    assert token(live_server, native, ProofKey(), clock, **next_refresh).json()["reason"] == (
        "dpop_key_mismatch")


def test_a_confidential_clients_refresh_token_is_not_bound(live_server, web, key, clock):
    first = signed_in(live_server, web, key, clock)
    assert first["token_type"] == "DPoP"
    plain = token(live_server, web, None, clock, grant_type="refresh_token",
                  refresh_token=first["refresh_token"]).json()
    assert plain["token_type"] == "Bearer" and jkt_of(plain["access_token"]) is None
    other_key = ProofKey()
    rebound = token(live_server, web, other_key, clock, grant_type="refresh_token",
                    refresh_token=plain["refresh_token"]).json()
    assert jkt_of(rebound["access_token"]) == other_key.jkt


def test_a_code_redeemed_without_a_proof_gives_bearer_tokens(live_server, native, clock):
    first = signed_in(live_server, native, None, clock)
    assert first["token_type"] == "Bearer" and jkt_of(first["access_token"]) is None
    again = token(live_server, native, None, clock, grant_type="refresh_token",
                  refresh_token=first["refresh_token"])
    assert again.status_code == 200 and again.json()["token_type"] == "Bearer"


def userinfo(live_server, scheme: str, access_token: str, proof: str | None = None
             ) -> requests.Response:
    headers = {"Authorization": f"{scheme} {access_token}"}
    if proof:
        headers["DPoP"] = proof
    return requests.get(live_server.url + "/oauth/userinfo", headers=headers, timeout=10)


def test_userinfo_takes_a_bound_token_with_its_proof_only(live_server, native, key, clock):
    access = signed_in(live_server, native, key, clock)["access_token"]
    url, now = live_server.url + "/oauth/userinfo", clock.now().timestamp()
    answered = userinfo(live_server, "DPoP", access, key.proof("GET", url, now=now,
                                                              token=access))
    assert answered.status_code == 200 and answered.json()["entitlements"] == ["public"]
    cases = [
        (userinfo(live_server, "Bearer", access), "invalid_token",
         "dpop_bound_token_as_bearer"),
        (userinfo(live_server, "DPoP", access), "invalid_dpop_proof", "dpop_proof_required"),
        (userinfo(live_server, "DPoP", access, key.proof("GET", url, now=now)),
         "invalid_dpop_proof", "dpop_wrong_ath"),
        (userinfo(live_server, "DPoP", access, ProofKey().proof("GET", url, now=now,
                                                                 token=access)),
         "invalid_dpop_proof", "dpop_key_mismatch"),
        (userinfo(live_server, "DPoP", access, key.proof("POST", url, now=now, token=access)),
         "invalid_dpop_proof", "dpop_wrong_htm"),
    ]
    for response, error, reason in cases:
        assert response.status_code == 401, (reason, response.text)
        assert (response.json()["error"], response.json()["reason"]) == (error, reason)
        assert response.headers["WWW-Authenticate"].startswith(f'DPoP error="{error}"')


def test_userinfo_refuses_the_dpop_scheme_for_a_bearer_token(live_server, native, clock):
    access = signed_in(live_server, native, None, clock)["access_token"]
    refused = userinfo(live_server, "DPoP", access)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert userinfo(live_server, "Bearer", access).status_code == 200


def test_a_code_asked_with_dpop_jkt_is_redeemed_only_by_that_key(live_server, native, key,
                                                                 clock):
    code, verifier = code_for(live_server.url, native.client_id, dpop_jkt=key.jkt)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": APP_REDIRECT,
            "code_verifier": verifier}
    without = token(live_server, native, None, clock, **form)
    assert (without.status_code, without.json()["reason"]) == (400, "dpop_proof_required")
    stranger = token(live_server, native, ProofKey(), clock, **form)
    assert stranger.json()["reason"] == "dpop_key_mismatch"
    redeemed = token(live_server, native, key, clock, **form)
    assert redeemed.status_code == 200, redeemed.text
    assert jkt_of(redeemed.json()["access_token"]) == key.jkt


def test_a_malformed_dpop_jkt_goes_back_to_the_client(live_server, native):
    browser = Browser(live_server.url)
    refused = browser.authorize(response_type="code", client_id=native.client_id,
                                redirect_uri=APP_REDIRECT, scope="openid tier:public",
                                code_challenge=pkce()[1], code_challenge_method="S256",
                                state="s", dpop_jkt="not a thumbprint")
    back = query(refused.location)
    assert (back["error"], back["state"]) == ("invalid_request", "s")


def test_a_proof_with_the_pushed_request_binds_the_code(live_server, web, key, clock):
    verifier, challenge = pkce()
    par = live_server.url + "/oauth/par"
    form = {"response_type": "code", "client_id": web.client_id, "redirect_uri": APP_REDIRECT,
            "scope": "openid tier:public", "code_challenge": challenge,
            "code_challenge_method": "S256"}
    auth = (web.client_id, web.client_secret)
    mismatch = requests.post(par, data={**form, "dpop_jkt": ProofKey().jkt}, auth=auth,
                             timeout=10, headers={"DPoP": key.proof(
                                 "POST", par, now=clock.now().timestamp())})
    assert (mismatch.status_code, mismatch.json()["error"], mismatch.json()["reason"]) == (
        400, "invalid_dpop_proof", "dpop_key_mismatch")
    pushed = requests.post(par, data=form, auth=auth, timeout=10, headers={
        "DPoP": key.proof("POST", par, now=clock.now().timestamp())})
    assert pushed.status_code == 201, pushed.text
    browser = Browser(live_server.url)
    picker = browser.authorize(client_id=web.client_id, request_uri=pushed.json()["request_uri"])
    consent = browser.sign_in(picker.location, "alice@acme.example")
    code = query(browser.consent(consent.location).location)["code"]
    redeem = {"grant_type": "authorization_code", "code": code, "redirect_uri": APP_REDIRECT,
              "code_verifier": verifier}
    assert token(live_server, web, ProofKey(), clock, **redeem).json()["reason"] == (
        "dpop_key_mismatch")
    assert token(live_server, web, key, clock, **redeem).json()["token_type"] == "DPoP"
