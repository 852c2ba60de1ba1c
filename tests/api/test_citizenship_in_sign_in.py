"""Citizenship proven in the sign-in (OpenID for Verifiable Presentations 1.0): when a tier
asked for needs a citizenship the person has not proven, the flow asks their wallet (a
scripted one) with a DCQL query, response_mode direct_post; the presentation is checked
(issuer, key binding to this request's nonce and audience, freshness, single use) and kept
as the person's attestation. A person may decline and gets the other tiers."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import jwt
import pytest
import requests

from entitlements.attestations import issuers
from entitlements.policy import service as policy
from tests.support.admin_api import CITIZENS_ONLY
from tests.support.factories import client_keypair
from tests.support.helpers import basic
from tests.support.interop import change_policy
from tests.support.signin import APP_REDIRECT, Browser, pkce, query
from tests.support.wallet import VERIFIER, Wallet

SCOPE = "openid tier:public tier:restricted"


@pytest.fixture
def citizens_only(admin, acme_org, db):
    change_policy(db, admin, "export control", patch=CITIZENS_ONLY)
    with db.transaction() as session:
        policy.grant_tier(session, admin.actor(), acme_org, "restricted")


@pytest.fixture
def wallet(db, admin, clock, live_server):
    private, jwks = client_keypair("verifier-1")
    with db.transaction() as session:
        issuers.register(session, admin.actor(), issuer=VERIFIER, name="Verifier", jwks=jwks,
                         formats=["sd-jwt-vc"], nationalities=["US", "CA"],
                         assurance_levels=["high"], max_age_days=365)
    return Wallet(private, "redirect_uri:" + live_server.url + "/oauth/vp/response", clock)


def to_citizenship_page(live_server, web_app):
    browser = Browser(live_server.url)
    verifier, challenge = pkce()
    picker = browser.authorize(response_type="code", client_id=web_app.client_id,
                               redirect_uri=APP_REDIRECT, scope=SCOPE, state="st",
                               code_challenge=challenge, code_challenge_method="S256")
    asked = browser.sign_in(picker.location, "alice@acme.example")
    assert asked.location.endswith("/citizenship"), asked.location
    page = browser.get(asked.location)
    assert page.response.status_code == 200
    link = page.response.text.split('href="openid4vp://?', 1)[1].split('"', 1)[0]
    request = {k: v[0] for k, v in parse_qs(link.replace("&amp;", "&")).items()}
    return browser, verifier, asked.location, request


def answer(request: dict, vp_token: dict) -> requests.Response:
    return requests.post(request["response_uri"], timeout=10,
                         data={"state": request["state"], "vp_token": json.dumps(vp_token)})


def finish(live_server, web_app, browser, verifier, consent_url) -> dict:
    back = browser.consent(consent_url)
    code = query(back.location)["code"]
    tokens = requests.post(live_server.url + "/oauth/token", timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": APP_REDIRECT,
        "code_verifier": verifier}, headers=basic(web_app.client_id, web_app.client_secret))
    return jwt.decode(tokens.json()["access_token"], options={"verify_signature": False})


def test_a_wallet_presentation_opens_the_tier_that_needs_citizenship(
        live_server, web_app, citizens_only, wallet):
    browser, verifier, page_url, request = to_citizenship_page(live_server, web_app)
    assert request["response_mode"] == "direct_post" and request["response_type"] == "vp_token"
    assert request["client_id"] == "redirect_uri:" + request["response_uri"]
    dcql = json.loads(request["dcql_query"])
    assert dcql["credentials"][0]["format"] == "dc+sd-jwt"
    assert dcql["credentials"][0]["claims"] == [{"path": ["nationalities"]}]
    presentation = wallet.present(wallet.issue(), request["nonce"])
    answered = answer(request, {"citizenship": [presentation]})
    assert answered.status_code == 200, answered.text
    assert answered.json()["redirect_uri"].endswith("/citizenship")
    moved = browser.get(page_url)  # the waiting page moves on
    assert moved.location.endswith("/consent")
    claims = finish(live_server, web_app, browser, verifier, moved.location)
    assert claims["entitlements"] == ["public", "restricted"]
    assert claims["citizenship"][0]["nationality"] == "US"
    replayed = answer(request, {"citizenship": [presentation]})
    assert replayed.status_code == 400 and replayed.json()["reason"] == "invalid_state"


@pytest.mark.parametrize(("bend", "reason"), [
    ({"nonce": "another-nonce"}, "nonce_mismatch"),
    ({"audience": "redirect_uri:https://evil.example/vp"}, "wrong_audience"),
    ({"vct": "urn:other:type"}, "wrong_vct"),
])
def test_a_presentation_for_another_request_is_refused(live_server, web_app, citizens_only,
                                                       wallet, bend, reason):
    _, _, _, request = to_citizenship_page(live_server, web_app)
    bend = dict(bend)  # the parameters are shared by both databases' runs
    nonce = bend.pop("nonce", request["nonce"])
    issued = wallet.issue(vct=bend.pop("vct")) if "vct" in bend else wallet.issue()
    refused = answer(request, {"citizenship": [wallet.present(issued, nonce, **bend)]})
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_request"
    assert refused.json()["reason"]


def test_declining_gets_the_tiers_that_need_no_citizenship(live_server, web_app,
                                                           citizens_only, wallet):
    browser, verifier, page_url, _ = to_citizenship_page(live_server, web_app)
    page = browser.get(page_url)
    declined = browser.post(page_url, {"csrf_token": page.csrf, "decision": "decline"})
    consent_page = browser.get(declined.location)
    assert "citizenship_not_verified" in consent_page.response.text
    claims = finish(live_server, web_app, browser, verifier, declined.location)
    assert claims["entitlements"] == ["public"]


def test_a_malformed_vp_token_is_refused(live_server, web_app, citizens_only, wallet):
    _, _, _, request = to_citizenship_page(live_server, web_app)
    for token in ({"other": ["x"]}, {"citizenship": "not-a-list"}, {"citizenship": [1]}):
        refused = answer(request, token)
        assert refused.status_code == 400
