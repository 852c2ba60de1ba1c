"""DPoP with a stock client: requests-oauth2client gets DPoP-bound tokens (client credentials,
the device flow and its refreshes, nonces from the server), then calls a gateway protected by
the SDK's authorization service and the service's own userinfo, proving its key each time."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import jwt
import pytest
import requests
from requests_oauth2client import (
    ClientSecretBasic,
    DeviceAuthorizationPollingJob,
    DPoPKey,
    OAuth2Client,
)

from entitlements.app import create_app
from entitlements.base.settings import load_settings
from entitlements.gateway.dpop import DpopOptions
from entitlements.gateway.gateway import Gateway
from entitlements.kernel.dpop import token_hash
from tests.support.factories import GATEWAY
from tests.support.live import LiveServer, free_port, serving
from tests.support.signin import Browser

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"
NODE_CLIENT = Path(__file__).parents[1] / "support" / "node" / "dpop_client.mjs"


def backend(server_url: str, partner, **options) -> OAuth2Client:
    return OAuth2Client(token_endpoint=server_url + "/oauth/token",
                        auth=ClientSecretBasic(partner.client_id, partner.client_secret),
                        testing=True, **options)  # testing: plain http on loopback


def authz_gateway(live_server, sdk_clock, **dpop) -> Gateway:
    sdk = Gateway(live_server.url, GATEWAY, clock=sdk_clock, poll_interval=None,
                  dpop=DpopOptions(**dpop))
    assert sdk.refresh()
    return sdk


def call(url: str, token, model: str = "frontier-2") -> requests.Response:
    return requests.post(url + "/v1/chat", auth=token, timeout=5,
                         headers={"X-Entitlements-Model": model})


def test_a_bound_token_calls_a_gateway_behind_the_authorization_service(
        live_server, world, sdk_clock):
    client = backend(live_server.url, world, dpop_bound_access_tokens=True)
    token = client.client_credentials(resource=GATEWAY)
    assert token.token_type == "DPoP"
    claims = jwt.decode(token.access_token, options={"verify_signature": False})
    assert claims["cnf"] == {"jkt": token.dpop_key.dpop_jkt}
    with serving(authz_gateway(live_server, sdk_clock)) as url:
        allowed = call(url, token)
        assert allowed.status_code == 200, allowed.text
        assert allowed.headers["X-Entitlements-Model"] == "frontier-2"
        as_bearer = requests.post(url + "/v1/chat", timeout=5, headers={
            "Authorization": f"Bearer {token.access_token}",
            "X-Entitlements-Model": "frontier-2"})
        assert as_bearer.status_code == 401
        assert as_bearer.json()["reason"] == "dpop_bound_token_as_bearer"
        assert as_bearer.headers["WWW-Authenticate"].startswith('DPoP error="invalid_token"')
        assert 'algs="ES256 ES384 EdDSA RS256 PS256"' in as_bearer.headers["WWW-Authenticate"]


def test_a_replayed_request_is_refused_at_the_gateway(live_server, world, sdk_clock):
    token = backend(live_server.url, world).client_credentials(resource=GATEWAY, dpop=True)
    with serving(authz_gateway(live_server, sdk_clock)) as url:
        first = call(url, token)
        assert first.status_code == 200
        sent = first.request.headers
        replay = requests.post(url + "/v1/chat", timeout=5, headers={
            "Authorization": sent["Authorization"], "DPoP": sent["DPoP"],
            "X-Entitlements-Model": "frontier-2"})
        assert (replay.status_code, replay.json()["reason"]) == (401, "dpop_replayed")
        assert 'error="invalid_dpop_proof"' in replay.headers["WWW-Authenticate"]


def test_the_client_follows_the_gateways_nonce(live_server, world, sdk_clock):
    token = backend(live_server.url, world).client_credentials(resource=GATEWAY, dpop=True)
    with serving(authz_gateway(live_server, sdk_clock, require_nonce=True)) as url:
        answered = call(url, token)  # 401 use_dpop_nonce, then again with the nonce
        assert answered.status_code == 200, answered.text
        assert token.dpop_key.rs_nonce


def test_the_authorization_service_checks_the_proxied_url(live_server, world, sdk_clock):
    """Behind a proxy: the proof names the public URL the proxy forwards in its headers."""
    key = DPoPKey.generate()
    token = backend(live_server.url, world).client_credentials(resource=GATEWAY,
                                                               dpop_key=key)
    with serving(authz_gateway(live_server, sdk_clock)) as url:
        public = "https://models.example/v1/chat"
        proof = key.proof(htm="POST", htu=public, ath=token_hash(token.access_token))
        allowed = requests.get(url + "/check", timeout=5, headers={
            "Authorization": f"DPoP {token.access_token}", "DPoP": str(proof),
            "X-Forwarded-Method": "POST", "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "models.example", "X-Forwarded-Uri": "/v1/chat?stream=1",
            "X-Entitlements-Model": "frontier-2"})
        assert allowed.status_code == 200, allowed.text
        other = key.proof(htm="POST", htu=public, ath=token_hash(token.access_token))
        wrong = requests.get(url + "/check", timeout=5, headers={
            "Authorization": f"DPoP {token.access_token}", "DPoP": str(other),
            "X-Forwarded-Method": "POST", "X-Original-URL": "https://models.example/v2/x",
            "X-Entitlements-Model": "frontier-2"})
        assert (wrong.status_code, wrong.json()["reason"]) == (401, "dpop_wrong_htu")


@pytest.fixture
def nonce_server(db_url, keys_dir, clock, db):
    port = free_port()
    settings = load_settings({}, database_url=db_url, keys_dir=str(keys_dir),
                             issuer=f"http://127.0.0.1:{port}", client_cache_ttl=0,
                             policy_cache_ttl=0, dpop_nonces=True,
                             dpop_nonce_secret="a shared secret of the instances, 32+")
    app = create_app(settings, clock=clock, db=db)
    with LiveServer(app, port) as server:
        yield server
    app.extensions["entitlements"].close()


def test_the_client_follows_the_servers_nonce(nonce_server, admin):
    admin.gateway()
    partner = admin.partner("Nonce Co")
    token = backend(nonce_server.url, partner).client_credentials(dpop=True)
    assert token.token_type == "DPoP"
    assert token.dpop_key.as_nonce  # it was asked for one, and used it


class ClockedPolling(DeviceAuthorizationPollingJob):
    """The stock polling job, waiting on the service's clock instead of the wall's."""

    clock = None

    def sleep(self) -> None:
        type(self).clock.advance(self.interval)


def test_a_device_signs_in_with_a_bound_token_and_refreshes_with_its_key(
        live_server, admin, acme_org, clock):
    device = admin.client(acme_org, "none", grant_types=[DEVICE, "refresh_token"])
    client = OAuth2Client(token_endpoint=live_server.url + "/oauth/token",
                          device_authorization_endpoint=live_server.url +
                          "/oauth/device_authorization", client_id=device.client_id,
                          testing=True)
    asked = client.authorize_device(scope="openid tier:public")
    ClockedPolling.clock = clock
    polling = ClockedPolling(client, asked, dpop=True)  # device_code() defaults to no DPoP
    browser = Browser(live_server.url)
    page = browser.get(asked.verification_uri_complete)
    picker = browser.post("/device", {"csrf_token": page.csrf, "user_code": asked.user_code})
    browser.consent(browser.sign_in(picker.location, "alice@acme.example").location)
    token = polling()
    assert token is not None and token.token_type == "DPoP"
    jkt = token.dpop_key.dpop_jkt
    assert jwt.decode(token.access_token, options={"verify_signature": False})["cnf"] == {
        "jkt": jkt}

    userinfo = requests.get(live_server.url + "/oauth/userinfo", auth=token, timeout=5)
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["entitlements"] == ["public"]

    # The public client's refresh token is bound to the same key: another key is refused,
    # its own key refreshes (requests-oauth2client reuses the token's key).
    stranger = client.token_request({"grant_type": "refresh_token",
                                     "refresh_token": token.refresh_token},
                                    dpop_key=DPoPKey.generate()) if False else None
    assert stranger is None
    refused = requests.post(live_server.url + "/oauth/token", timeout=5, data={
        "grant_type": "refresh_token", "refresh_token": token.refresh_token,
        "client_id": device.client_id}, headers={"DPoP": str(DPoPKey.generate().proof(
            htm="POST", htu=live_server.url + "/oauth/token"))})
    assert (refused.status_code, refused.json()["error"], refused.json()["reason"]) == (
        400, "invalid_dpop_proof", "dpop_key_mismatch")
    refreshed = client.refresh_token(token)
    assert refreshed.token_type == "DPoP"
    assert jwt.decode(refreshed.access_token, options={"verify_signature": False})["cnf"] == {
        "jkt": jkt}


@pytest.fixture(scope="session")
def openid_client(tmp_path_factory) -> Path:
    """panva's openid-client (v6), installed from the npm registry once per run."""
    where = tmp_path_factory.mktemp("node")
    shutil.copy(NODE_CLIENT, where / NODE_CLIENT.name)
    subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund",
                    "openid-client@6"], cwd=where, check=True, timeout=300)
    return where / NODE_CLIENT.name


def test_openid_clients_dpop_handle_gets_a_bound_token_the_gateway_accepts(
        live_server, world, sdk_clock, openid_client):
    with serving(authz_gateway(live_server, sdk_clock)) as url:
        ran = subprocess.run(["node", str(openid_client), live_server.url, world.client_id,
                              world.client_secret, url + "/v1/chat"],
                             capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    seen = json.loads(ran.stdout)
    assert seen["token_type"].lower() == "dpop"
    assert set(seen["cnf"]) == {"jkt"}
    assert (seen["status"], seen["model"]) == (200, "base-1")
