"""The story end to end, in a real browser: a US citizen signs in through their
organization's provider, presents a citizenship credential from their wallet, consents, and
the gateway SDK allows frontier-2 with the app's token; a foreign national declines (their
credential would not qualify) and frontier-2 falls back to base-1; and a refresh after the
citizen's attestation expires is refused with its reason."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from entitlements.attestations import issuers
from entitlements.gateway.gateway import Gateway
from entitlements.policy import service as policy
from tests.support.factories import GATEWAY, client_keypair
from tests.support.helpers import basic
from tests.support.interop import CATALOG, ServiceTime, change_policy
from tests.support.signin import APP_REDIRECT, pkce, query
from tests.support.upstream import SignIn
from tests.support.wallet import VERIFIER, Wallet

CITIZENS = {"nationalities": ["US"], "min_level": "substantial",
            "organization_subjects": "deny"}


@pytest.fixture
def story(live_server, admin, db, acme_org, clock):
    document = json.loads(json.dumps(CATALOG))
    document["tiers"]["restricted"]["citizenship"] = CITIZENS
    change_policy(db, admin, "export control order", document=document)
    private, jwks = client_keypair("verifier-1")
    with db.transaction() as session:
        policy.grant_tier(session, admin.actor(), acme_org, "restricted")
        issuers.register(session, admin.actor(), issuer=VERIFIER, name="Verifier", jwks=jwks,
                         formats=["sd-jwt-vc"], nationalities=["US", "CA"],
                         assurance_levels=["high"], max_age_days=365)
    app = admin.client(acme_org, grant_types=["authorization_code", "refresh_token"],
                       redirect_uris=[APP_REDIRECT])
    wallet = Wallet(private, "redirect_uri:" + live_server.url + "/oauth/vp/response", clock)
    sdk = Gateway(live_server.url, GATEWAY, clock=ServiceTime(clock), poll_interval=None)
    assert sdk.refresh()
    yield app, wallet, sdk
    sdk.close()


def sign_in(page, live_server, app, email: str, present) -> dict:
    """Through the pages by keyboard; ``present(request)`` answers the wallet request (or
    returns False to decline). The app's tokens."""
    verifier, challenge = pkce()
    page.goto(live_server.url + "/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": app.client_id, "redirect_uri": APP_REDIRECT,
        "scope": "openid tier:public tier:restricted", "state": "st",
        "code_challenge": challenge, "code_challenge_method": "S256"}))
    page.keyboard.type(email)
    page.keyboard.press("Enter")
    page.wait_for_url("**/citizenship")
    link = page.get_by_role("link", name="Open the wallet on this device").get_attribute("href")
    assert page.locator("figure.qr svg").count() == 1  # the same request, for a phone
    request = {k: v[0] for k, v in parse_qs(urlsplit(link).query).items()}
    if present(request):
        page.reload()  # what its meta refresh does a moment later
    else:
        page.get_by_role("button", name="Continue without").click()
    page.wait_for_url("**/consent")
    with page.expect_request(lambda r: r.url.startswith(APP_REDIRECT)) as back:
        page.get_by_role("button", name="Allow").click()
    code = query(back.value.url)["code"]
    return requests.post(live_server.url + "/oauth/token", timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": APP_REDIRECT,
        "code_verifier": verifier}, headers=basic(app.client_id, app.client_secret)).json()


def answer(request: dict, presentation: str) -> requests.Response:
    return requests.post(request["response_uri"], timeout=10, data={
        "state": request["state"], "vp_token": json.dumps({"citizenship": [presentation]})})


def test_citizen_gets_frontier_foreigner_falls_back_and_expiry_ends_refresh(
        chromium, live_server, story, upstream, clock):
    app, wallet, sdk = story

    def us_citizen(request: dict) -> bool:
        assert answer(request, wallet.present(wallet.issue(), request["nonce"])).ok
        return True

    citizen = chromium.new_context().new_page()
    tokens = sign_in(citizen, live_server, app, "alice@acme.example", us_citizen)
    assert sdk.decide(tokens["access_token"], "frontier-2").outcome == "allow"

    upstream.signs_in = SignIn("bob")

    def foreign_national(request: dict) -> bool:
        french = wallet.issue(jti="cred-2", disclosable={"nationalities": ["FR"]})
        refused = answer(request, wallet.present(french, request["nonce"]))
        assert refused.status_code == 400  # FR is not a nationality the verifier attests
        return False  # so they go on without

    foreigner = chromium.new_context().new_page()
    theirs = sign_in(foreigner, live_server, app, "bob@acme.example", foreign_national)
    routed = sdk.decide(theirs["access_token"], "frontier-2")
    assert (routed.outcome, routed.model, routed.reason) == ("fallback", "base-1",
                                                             "tier_not_in_token")

    clock.advance(hours=2)  # past the citizen's credential (one hour)
    refused = requests.post(live_server.url + "/oauth/token", timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=basic(app.client_id, app.client_secret))
    assert (refused.status_code, refused.json()["error"], refused.json()["reason"]) == (
        400, "invalid_grant", "expired")
