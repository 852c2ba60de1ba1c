"""People sign in: the authorization endpoint with PKCE, brokered to the organization's own
provider (a real one on loopback), consent, the code at the token endpoint, an ID token and
the person's entitlement token; and the refusals, each an error page or an error sent back
to a matched redirect URI."""

from __future__ import annotations

import jwt
import pytest
import requests
from sqlalchemy import select

from entitlements.audit.models import AuditEvent
from entitlements.identity_providers import service as idps
from entitlements.kernel.claims import tier_scope
from entitlements.operations.registry import set_idp_status
from tests.support.helpers import basic
from tests.support.signin import APP_REDIRECT, Browser, pkce, query


def start(browser: Browser, client_id: str, challenge: str, **extra: str):
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": APP_REDIRECT,
              "scope": "openid tier:public", "state": "s-1", "nonce": "n-1",
              "code_challenge": challenge, "code_challenge_method": "S256", **extra}
    return browser.authorize(**params)


def redeem(service: str, client, code: str, verifier: str, **extra: str):
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": APP_REDIRECT,
            "code_verifier": verifier, **extra}
    return requests.post(service + "/oauth/token", data=form, timeout=10,
                         headers=basic(client.client_id, client.client_secret))


def signed_in_code(live_server, web_app, browser: Browser | None = None):
    browser = browser or Browser(live_server.url)
    verifier, challenge = pkce()
    picker = start(browser, web_app.client_id, challenge)
    assert picker.response.status_code == 302
    consent = browser.sign_in(picker.location, "alice@acme.example")
    back = browser.consent(consent.location)
    return browser, verifier, query(back.location), back.location


def test_a_person_signs_in_and_the_app_gets_an_id_token_and_their_entitlements(
        live_server, web_app, upstream):
    _, verifier, answer, location = signed_in_code(live_server, web_app)
    assert location.startswith(APP_REDIRECT + "?")
    assert answer["state"] == "s-1" and answer["iss"] == live_server.url  # RFC 9207
    tokens = redeem(live_server.url, web_app, answer["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    body = tokens.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "openid tier:public"
    keys = jwt.PyJWKClient(live_server.url + "/jwks.json")
    id_token = jwt.decode(body["id_token"], keys.get_signing_key_from_jwt(body["id_token"]),
                          algorithms=["RS256"], audience=web_app.client_id,
                          issuer=live_server.url)
    assert id_token["nonce"] == "n-1" and id_token["sub"].startswith("per_")
    assert id_token["acr"] == "urn:example:loa:2" and id_token["amr"] == ["pwd", "otp"]
    assert id_token["at_hash"] and "auth_time" in id_token
    access = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert access["sub"] == id_token["sub"] and access["act"] == {"sub": web_app.client_id}
    assert access["entitlements"] == ["public"] and access["scope"] == tier_scope("public")
    assert upstream.authorization_requests[0]["code_challenge_method"] == "S256"


def test_a_replayed_code_is_refused_and_revokes_what_it_issued(live_server, web_app):
    _, verifier, answer, _ = signed_in_code(live_server, web_app)
    first = redeem(live_server.url, web_app, answer["code"], verifier)
    assert first.status_code == 200
    again = redeem(live_server.url, web_app, answer["code"], verifier)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")
    introspected = requests.post(live_server.url + "/oauth/introspect", timeout=10,
                                 data={"token": first.json()["access_token"]},
                                 headers=basic(web_app.client_id, web_app.client_secret))
    assert introspected.json()["active"] is False


def test_a_wrong_code_verifier_is_refused(live_server, web_app):
    _, _, answer, _ = signed_in_code(live_server, web_app)
    refused = redeem(live_server.url, web_app, answer["code"], pkce()[0])
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")


def test_a_remembered_consent_and_session_skip_straight_to_the_app(live_server, web_app):
    browser, _, _, _ = signed_in_code(live_server, web_app)
    again = start(browser, web_app.client_id, pkce()[1], state="s-2")
    assert again.location.startswith(APP_REDIRECT + "?")
    assert query(again.location)["state"] == "s-2" and "code" in query(again.location)


def test_prompt_none_without_a_session_answers_login_required(live_server, web_app):
    refused = start(Browser(live_server.url), web_app.client_id, pkce()[1], prompt="none")
    assert refused.location.startswith(APP_REDIRECT + "?")
    assert query(refused.location)["error"] == "login_required"
    assert query(refused.location)["iss"] == live_server.url


@pytest.mark.parametrize("change", [
    {"redirect_uri": "https://evil.example/callback"},
    {"client_id": "cli_unknown"},
    {"redirect_uri": ""},
])
def test_an_unmatched_client_or_redirect_uri_gets_a_page_never_a_redirect(
        live_server, web_app, change):
    change = dict(change)
    client_id = change.pop("client_id", web_app.client_id)
    refused = start(Browser(live_server.url), client_id, pkce()[1], **change)
    assert refused.response.status_code == 400
    assert "Location" not in refused.response.headers
    assert refused.response.headers["Content-Type"].startswith("text/html")
    assert "frame-ancestors 'none'" in refused.response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(("change", "error"), [
    ({"code_challenge": "", "code_challenge_method": ""}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"scope": "openid tier:nonexistent"}, "invalid_scope"),
    ({"scope": "openid profile"}, "invalid_scope"),
    ({"prompt": "select_account"}, "invalid_request"),
    ({"resource": "https://unknown.example"}, "invalid_target"),
    ({"response_type": "token"}, "unsupported_response_type"),
])
def test_a_bad_request_of_a_matched_client_goes_back_with_its_error(
        live_server, web_app, change, error):
    refused = start(Browser(live_server.url), web_app.client_id, pkce()[1], **change)
    assert refused.response.status_code == 302, refused.response.text
    answer = query(refused.location)
    assert refused.location.startswith(APP_REDIRECT + "?")
    assert answer["error"] == error and answer["state"] == "s-1"


def back_from_upstream(live_server, web_app) -> tuple[Browser, str]:
    """A sign-in sent to the organization's provider and answered: the browser, and the
    callback URL (with the provider's code and state) it is about to follow."""
    browser = Browser(live_server.url)
    picker = start(browser, web_app.client_id, pkce()[1])
    page = browser.get(picker.location)
    sent = browser.post(picker.location, {"csrf_token": page.csrf, "by": "email",
                                          "email": "alice@acme.example"})
    return browser, browser.get(sent.location).location


def test_a_tampered_upstream_state_is_refused(live_server, web_app, upstream):
    browser, callback = back_from_upstream(live_server, web_app)
    forged = callback.replace("state=", "state=x")
    refused = browser.get(forged)
    assert refused.response.status_code == 400 and "state_mismatch" in refused.response.text


def test_a_code_the_provider_refuses_stops_the_sign_in_with_a_page(live_server, web_app,
                                                                   upstream):
    browser, callback = back_from_upstream(live_server, web_app)
    upstream.codes.clear()  # the provider no longer knows the code: invalid_grant
    refused = browser.get(callback)
    assert refused.response.status_code == 400 and "upstream_error" in refused.response.text


def test_a_form_without_its_csrf_token_is_refused(live_server, web_app):
    browser = Browser(live_server.url)
    picker = start(browser, web_app.client_id, pkce()[1])
    refused = browser.post(picker.location, {"by": "email", "email": "alice@acme.example"})
    assert refused.response.status_code == 400 and "csrf" in refused.response.text


def test_another_browser_cannot_continue_a_sign_in(live_server, web_app):
    picker = start(Browser(live_server.url), web_app.client_id, pkce()[1])
    stranger = Browser(live_server.url).get(picker.location)
    assert stranger.response.status_code == 400
    assert "other_browser" in stranger.response.text


def test_an_unknown_domain_says_so_on_the_picker(live_server, web_app):
    browser = Browser(live_server.url)
    picker = start(browser, web_app.client_id, pkce()[1])
    page = browser.get(picker.location)
    refused = browser.post(picker.location, {"csrf_token": page.csrf, "by": "email",
                                             "email": "bob@elsewhere.example"})
    assert refused.response.status_code == 400
    assert "No organization here has verified the domain elsewhere.example" in \
        refused.response.text


def test_denying_consent_sends_access_denied(live_server, web_app):
    browser = Browser(live_server.url)
    picker = start(browser, web_app.client_id, pkce()[1])
    consent = browser.sign_in(picker.location, "alice@acme.example")
    back = browser.consent(consent.location, decision="deny")
    assert query(back.location)["error"] == "access_denied"


def test_admins_see_and_withdraw_consents_and_the_next_sign_in_asks_again(
        live_server, web_app, api):
    browser, _, _, _ = signed_in_code(live_server, web_app)
    [consent] = api("GET", "/consents")["items"]
    assert consent["client_id"] == web_app.client_id
    assert consent["scope"] == "openid tier:public"
    withdrawn = api("POST", f"/consents/{consent['id']}/withdraw", {"reason": "asked to"})
    assert withdrawn["withdrawn_at"] is not None
    assert api("GET", "/consents")["items"] == []
    again = start(browser, web_app.client_id, pkce()[1])
    assert "/consent" in again.location and not again.location.startswith(APP_REDIRECT)
    api.problem("POST", f"/consents/{consent['id']}/withdraw", {"reason": "again"}, 409,
                "conflict")


def test_admins_enable_sign_in_through_an_organizations_provider(api, admin, upstream):
    org_id = admin.org("Beta Corp")
    idp = api("POST", f"/organizations/{org_id}/identity-providers",
              {"issuer": upstream.issuer, "audiences": ["portal"],
               "jwks_uri": upstream.issuer + "/jwks"}, expect=201)
    assert idp["sign_in"] is None
    enabled = api("PUT", f"/identity-providers/{idp['id']}/sign-in",
                  {"client_id": "ours", "client_secret": "never-shown"})
    assert enabled["sign_in"]["authorization_endpoint"] == upstream.issuer + "/authorize"
    assert enabled["sign_in"]["has_client_secret"] is True
    assert "never-shown" not in str(enabled)
    [event] = api("GET", "/audit?action=idp.sign_in_enabled")["items"]
    assert "never-shown" not in str(event) and event["details"]["client_secret"] == "sealed"


def test_a_provider_whose_discovery_fails_is_refused_and_nothing_changes(api, admin):
    org_id = admin.org("Gamma Corp")
    idp = api("POST", f"/organizations/{org_id}/identity-providers",
              {"issuer": "https://nowhere.invalid", "audiences": ["portal"],
               "jwks_uri": "https://nowhere.invalid/jwks"}, expect=201)
    api.problem("PUT", f"/identity-providers/{idp['id']}/sign-in", {"client_id": "ours"},
                400, "invalid_input")
    assert api("GET", f"/identity-providers/{idp['id']}")["sign_in"] is None


def push(live_server, client, challenge: str, **extra: str):
    form = {"response_type": "code", "client_id": client.client_id,
            "redirect_uri": APP_REDIRECT, "scope": "openid tier:public", "state": "s-p",
            "nonce": "n-p", "code_challenge": challenge, "code_challenge_method": "S256",
            **extra}
    return requests.post(live_server.url + "/oauth/par", data=form, timeout=10,
                         headers=basic(client.client_id, client.client_secret))


def test_a_pushed_request_signs_in_with_only_its_request_uri(live_server, web_app):
    verifier, challenge = pkce()
    pushed = push(live_server, web_app, challenge)
    assert pushed.status_code == 201, pushed.text
    body = pushed.json()
    assert body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert body["expires_in"] == 60
    browser = Browser(live_server.url)
    picker = browser.authorize(client_id=web_app.client_id, request_uri=body["request_uri"])
    consent = browser.sign_in(picker.location, "alice@acme.example")
    back = query(browser.consent(consent.location).location)
    assert back["state"] == "s-p"
    assert redeem(live_server.url, web_app, back["code"], verifier).status_code == 200
    reused = Browser(live_server.url).authorize(client_id=web_app.client_id,
                                                request_uri=body["request_uri"])
    assert reused.response.status_code == 400 and "invalid_request_uri" in reused.response.text


def test_pushed_requests_are_checked_like_any_other(live_server, web_app, admin, acme_org):
    refused = push(live_server, web_app, pkce()[1], redirect_uri="https://evil.example/cb")
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_request")
    other = admin.client(acme_org, grant_types=["authorization_code"],
                         redirect_uris=[APP_REDIRECT])
    mismatch = push(live_server, web_app, pkce()[1], client_id=other.client_id)
    assert (mismatch.status_code, mismatch.json()["error"]) == (400, "invalid_request")
    unauthenticated = requests.post(live_server.url + "/oauth/par", timeout=10,
                                    data={"client_id": web_app.client_id})
    assert unauthenticated.status_code == 401


def test_a_client_that_must_push_cannot_send_a_request_directly(live_server, admin, acme_org):
    strict = admin.client(acme_org, grant_types=["authorization_code"],
                          redirect_uris=[APP_REDIRECT], require_par=True)
    refused = start(Browser(live_server.url), strict.client_id, pkce()[1])
    assert refused.response.status_code == 400 and "par_required" in refused.response.text
    assert push(live_server, strict, pkce()[1]).status_code == 201


def test_userinfo_answers_for_a_persons_live_token_only(live_server, web_app, admin,
                                                        acme_org):
    backend_client = admin.client(acme_org)
    _, verifier, answer, _ = signed_in_code(live_server, web_app)
    tokens = redeem(live_server.url, web_app, answer["code"], verifier).json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    info = requests.get(live_server.url + "/oauth/userinfo", headers=bearer, timeout=10)
    assert info.status_code == 200 and info.headers["Cache-Control"] == "no-store"
    body = info.json()
    id_token = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert body["sub"] == id_token["sub"] and body["entitlements"] == ["public"]
    assert body["org"]["trust"] == "verified"
    backend = requests.post(live_server.url + "/oauth/token", timeout=10,
                            data={"grant_type": "client_credentials"},
                            headers=basic(backend_client.client_id,
                                          backend_client.client_secret)).json()
    for presented in ({"Authorization": f"Bearer {backend['access_token']}"},
                      {"Authorization": "Bearer not-a-token"}, {}):
        refused = requests.get(live_server.url + "/oauth/userinfo", headers=presented,
                               timeout=10)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_session_ends_when_its_provider_is_suspended(live_server, web_app, admin, acme_org,
                                                       db):
    browser, _, _, _ = signed_in_code(live_server, web_app)
    with db.transaction() as session:
        [idp] = idps.list_for(session, acme_org).items
        set_idp_status(session, admin.actor(), idp.id, "suspended", "breach")
    again = start(browser, web_app.client_id, pkce()[1])
    assert "/signin/" in again.location and not again.location.startswith(APP_REDIRECT)
    with db.sessions() as session:
        signed = [e for e in session.scalars(select(AuditEvent).where(
            AuditEvent.action == "person.signed_in"))]
    assert len(signed) == 1 and signed[0].details["client_id"] == web_app.client_id


def test_refused_sign_in_steps_are_audited_and_a_waiting_device_is_not(live_server, web_app,
                                                                      db, admin, acme_org):
    browser = Browser(live_server.url)
    picker = start(browser, web_app.client_id, pkce()[1])
    browser.post(picker.location, {"by": "email", "email": "alice@acme.example"})  # no csrf
    browser.get("/signin/callback?state=forged&code=x")
    device = admin.client(acme_org, "none",
                          grant_types=["urn:ietf:params:oauth:grant-type:device_code"])
    asked = requests.post(live_server.url + "/oauth/device_authorization", timeout=10,
                          data={"client_id": device.client_id}).json()
    polled = requests.post(live_server.url + "/oauth/token", timeout=10, data={
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "device_code": asked["device_code"], "client_id": device.client_id})
    assert polled.json()["error"] == "authorization_pending"
    with db.sessions() as session:
        refused = [(e.action, e.reason.split(":")[0]) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.outcome == "failure"))]
    assert ("signin.refused", "csrf") in refused
    assert ("signin.refused", "state_mismatch") in refused
    assert not [r for r in refused if r[1] == "authorization_pending"]


def test_a_revoked_client_starts_no_sign_in(live_server, web_app, admin):
    admin.revoke_client(web_app.client_id)
    refused = start(Browser(live_server.url), web_app.client_id, pkce()[1])
    assert refused.response.status_code == 400 and "client_inactive" in refused.response.text


def test_an_expired_code_or_another_redirect_uri_is_invalid_grant(live_server, web_app,
                                                                  clock):
    _, verifier, answer, _ = signed_in_code(live_server, web_app)
    other = redeem(live_server.url, web_app, answer["code"], verifier,
                   redirect_uri="https://app.acme.example/other")
    assert (other.status_code, other.json()["error"]) == (400, "invalid_grant")
    clock.advance(61)  # codes live 60 s
    late = redeem(live_server.url, web_app, answer["code"], verifier)
    assert (late.status_code, late.json()["error"]) == (400, "invalid_grant")


def test_a_person_sees_and_withdraws_their_own_consents(live_server, web_app, api):
    browser, _, _, _ = signed_in_code(live_server, web_app)
    page = browser.get("/signin/consents")
    assert page.response.status_code == 200 and "test client" in page.response.text
    [consent] = api("GET", "/consents")["items"]
    withdraw = f"/signin/consents/{consent['id']}/withdraw"
    assert browser.post(withdraw, {"csrf_token": "forged"}).response.status_code == 400
    stranger = Browser(live_server.url)
    assert stranger.post(withdraw, {"csrf_token": page.csrf}).response.status_code == 400
    done = browser.post(withdraw, {"csrf_token": page.csrf})
    assert done.location.endswith("/signin/consents")
    assert "You have not allowed any application" in browser.get("/signin/consents").response.text
    assert api("GET", "/consents")["items"] == []
    again = start(browser, web_app.client_id, pkce()[1])
    assert "/consent" in again.location and not again.location.startswith(APP_REDIRECT)


def test_a_pushed_requests_errors_are_answered_not_redirected(live_server, web_app):
    """RFC 9126 2.3: the client hears of a bad pushed request in the response itself."""
    refused = push(live_server, web_app, pkce()[1], scope="tier:nonesuch")
    assert refused.status_code == 400 and not refused.history
    assert refused.json()["error"] == "invalid_scope"
