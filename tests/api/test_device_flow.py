"""The device flow's refusals (RFC 8628 3.5): pending, slow_down (and a longer interval),
denied, expired, unknown or another client's device code; and the user-code page's."""

from __future__ import annotations

import pytest
import requests

from tests.support.signin import Browser

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def device_client(admin, acme_org):
    return admin.client(acme_org, "none", grant_types=[DEVICE])


def ask(live_server, client, **form: str) -> dict:
    answer = requests.post(live_server.url + "/oauth/device_authorization", timeout=10,
                           data={"client_id": client.client_id, "scope": "tier:public",
                                 **form})
    assert answer.status_code == 200, answer.text
    return answer.json()


def poll(live_server, client, device_code: str) -> requests.Response:
    return requests.post(live_server.url + "/oauth/token", timeout=10, data={
        "grant_type": DEVICE, "device_code": device_code, "client_id": client.client_id})


def error(response: requests.Response) -> str:
    assert response.status_code == 400, response.text
    return response.json()["error"]


def test_polling_too_fast_is_told_to_slow_down_and_the_interval_grows(
        live_server, device_client, clock):
    asked = ask(live_server, device_client)
    assert asked["interval"] == 5 and asked["expires_in"] == 600
    assert error(poll(live_server, device_client, asked["device_code"])) == \
        "authorization_pending"
    assert error(poll(live_server, device_client, asked["device_code"])) == "slow_down"
    clock.advance(6)  # the slow_down made the interval 10 s: still too fast
    assert error(poll(live_server, device_client, asked["device_code"])) == "slow_down"
    clock.advance(16)  # and now 15 s
    assert error(poll(live_server, device_client, asked["device_code"])) == \
        "authorization_pending"


def test_an_expired_code_is_expired_token(live_server, device_client, clock):
    asked = ask(live_server, device_client)
    clock.advance(601)
    assert error(poll(live_server, device_client, asked["device_code"])) == "expired_token"
    page = Browser(live_server.url).get(asked["verification_uri_complete"])
    refused = Browser(live_server.url)
    form = refused.get("/device")
    answer = refused.post("/device", {"csrf_token": form.csrf, "user_code": asked["user_code"]})
    assert page.response.status_code == 200 and answer.response.status_code == 400
    assert "unknown_user_code" in answer.response.text


def test_a_denied_device_is_access_denied(live_server, device_client, clock):
    asked = ask(live_server, device_client)
    browser = Browser(live_server.url)
    page = browser.get("/device")
    picker = browser.post("/device", {"csrf_token": page.csrf, "user_code": asked["user_code"]})
    consent = browser.sign_in(picker.location, "alice@acme.example")
    assert "A device asked for this" in browser.get(consent.location).response.text
    done = browser.consent(consent.location, decision="deny")
    assert "Device not connected" in done.response.text
    assert error(poll(live_server, device_client, asked["device_code"])) == "access_denied"


def test_unknown_or_another_clients_device_code_is_invalid_grant(
        live_server, device_client, admin, acme_org):
    asked = ask(live_server, device_client)
    other = admin.client(acme_org, "none", grant_types=[DEVICE])
    assert error(poll(live_server, other, asked["device_code"])) == "invalid_grant"
    assert error(poll(live_server, device_client, "nonsense")) == "invalid_grant"


def test_a_client_without_the_grant_is_refused(live_server, admin, acme_org):
    web = admin.client(acme_org, grant_types=["authorization_code"],
                       redirect_uris=["https://app.acme.example/callback"])
    refused = requests.post(live_server.url + "/oauth/device_authorization", timeout=10,
                            data={"scope": "tier:public"},
                            auth=(web.client_id, web.client_secret))
    assert (refused.status_code, refused.json()["error"]) == (400, "unauthorized_client")


def test_the_code_form_needs_its_csrf_token(live_server, device_client):
    asked = ask(live_server, device_client)
    browser = Browser(live_server.url)
    browser.get("/device")
    refused = browser.post("/device", {"user_code": asked["user_code"]})
    assert refused.response.status_code == 400 and "csrf" in refused.response.text
