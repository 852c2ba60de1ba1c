"""The device authorization grant (RFC 8628) with a stock client: requests-oauth2client asks,
the person confirms the user code in a browser, signs in and consents, and the client's
polling job gets the tokens. Its waits move the test's clock instead of sleeping."""

from __future__ import annotations

import jwt
from requests_oauth2client import DeviceAuthorizationPollingJob, OAuth2Client

from tests.support.signin import Browser


class ClockedPolling(DeviceAuthorizationPollingJob):
    """The stock polling job, waiting on the service's clock instead of the wall's."""

    clock = None

    def sleep(self) -> None:
        type(self).clock.advance(self.interval)


def test_a_cli_signs_a_person_in_with_the_device_flow(live_server, admin, acme_org, clock):
    cli_client = admin.client(acme_org, "none", grant_types=[
        "urn:ietf:params:oauth:grant-type:device_code", "refresh_token"])
    client = OAuth2Client(token_endpoint=live_server.url + "/oauth/token",
                          device_authorization_endpoint=live_server.url +
                          "/oauth/device_authorization", client_id=cli_client.client_id,
                          testing=True)  # plain http on loopback
    asked = client.authorize_device(scope="openid tier:public")
    assert asked.verification_uri == live_server.url + "/device"
    ClockedPolling.clock = clock
    polling = ClockedPolling(client, asked)
    assert polling() is None  # authorization_pending: nobody has confirmed yet

    browser = Browser(live_server.url)
    page = browser.get(asked.verification_uri_complete)
    assert asked.user_code in page.response.text
    picker = browser.post("/device", {"csrf_token": page.csrf, "user_code": asked.user_code})
    consent = browser.sign_in(picker.location, "alice@acme.example")
    done = browser.consent(consent.location)
    assert done.response.status_code == 200 and "Device connected" in done.response.text

    token = polling()
    assert token is not None and token.refresh_token
    claims = jwt.decode(token.access_token, options={"verify_signature": False})
    assert claims["entitlements"] == ["public"] and claims["act"] == {
        "sub": cli_client.client_id}
    assert jwt.decode(str(token.id_token), options={"verify_signature": False})["sub"] == \
        claims["sub"]
