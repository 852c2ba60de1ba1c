"""A person signs in with a real browser, by keyboard: the authorization request, the
organization picker, the organization's own provider (a real one on loopback), the consent
page, and back to the app with a code that gives their entitlement token. The pages load
nothing from elsewhere and break no rule of their Content-Security-Policy."""

from __future__ import annotations

from urllib.parse import urlencode

import jwt
import requests

from tests.support.helpers import basic
from tests.support.signin import APP_REDIRECT, pkce, query


def test_a_person_signs_in_and_consents_from_the_keyboard(page, live_server, web_app):
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text)
            if message.type == "error" else None)
    foreign: list[str] = []
    page.on("request", lambda request: foreign.append(request.url) if not request.url.startswith(
        (live_server.url, "http://127.0.0.1", APP_REDIRECT)) else None)
    verifier, challenge = pkce()
    page.goto(live_server.url + "/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": web_app.client_id, "redirect_uri": APP_REDIRECT,
        "scope": "openid tier:public", "state": "st", "nonce": "nn",
        "code_challenge": challenge, "code_challenge_method": "S256"}))
    assert page.title().startswith("Sign in")
    page.keyboard.type("alice@acme.example")  # the e-mail field has the focus
    page.keyboard.press("Enter")
    page.wait_for_url("**/consent")
    assert page.get_by_role("heading", name="Allow test client?").is_visible()
    assert page.get_by_role("cell", name="public").is_visible()
    assert page.get_by_label("Remember this choice").is_checked()
    page.get_by_role("button", name="Allow").focus()
    with page.expect_request(lambda request: request.url.startswith(APP_REDIRECT)) as back:
        page.keyboard.press("Enter")  # the app itself is not running: its address is enough
    answer = query(back.value.url)
    assert answer["state"] == "st" and answer["iss"] == live_server.url
    tokens = requests.post(live_server.url + "/oauth/token", timeout=10, data={
        "grant_type": "authorization_code", "code": answer["code"],
        "redirect_uri": APP_REDIRECT, "code_verifier": verifier},
        headers=basic(web_app.client_id, web_app.client_secret)).json()
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert claims["entitlements"] == ["public"]
    assert problems == [] and foreign == []


def test_every_field_has_a_label_and_errors_are_pages(page, live_server, web_app):
    page.goto(live_server.url + "/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": web_app.client_id,
        "redirect_uri": "https://evil.example/cb", "code_challenge": pkce()[1],
        "code_challenge_method": "S256"}))
    assert page.url.startswith(live_server.url)  # no redirect to an unregistered URI
    assert page.get_by_role("alert").is_visible()
    page.route(lambda url: url.startswith(APP_REDIRECT), lambda route: route.abort())
    page.goto(live_server.url + "/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": web_app.client_id, "redirect_uri": APP_REDIRECT,
        "scope": "openid", "code_challenge": pkce()[1], "code_challenge_method": "S256"}))
    assert page.url.startswith(live_server.url + "/signin/"), page.url
    for field in page.locator("input:not([type=hidden]), select").all():
        field_id = field.get_attribute("id")
        assert field_id and page.locator(f"label[for={field_id}]").count() == 1
