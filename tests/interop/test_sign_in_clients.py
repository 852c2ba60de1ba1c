"""Stock clients complete the code flow unchanged: Authlib's OAuth2Session with PKCE for a
web app (confidential) and for a native app (public, loopback redirect on any port, RFC
8252); the ID token checks out with PyJWT's PyJWKClient and Authlib's OIDC claims rules."""

from __future__ import annotations

import jwt
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken

from tests.support.signin import APP_REDIRECT, Browser, query

NATIVE_REDIRECT = "http://127.0.0.1/callback"


def browse(live_server, url: str) -> str:
    """A person signs in at ``url`` and consents: where the app is sent back."""
    browser = Browser(live_server.url)
    picker = browser.get(url)
    consent = browser.sign_in(picker.location, "alice@acme.example")
    return browser.consent(consent.location).location


def check_id_token(live_server, token: dict, client_id: str, nonce: str) -> dict:
    keys = jwt.PyJWKClient(live_server.url + "/jwks.json")
    id_token = token["id_token"]
    claims = jwt.decode(id_token, keys.get_signing_key_from_jwt(id_token),
                        algorithms=["RS256"], audience=client_id, issuer=live_server.url)
    standard = CodeIDToken(claims, jwt.get_unverified_header(id_token),
                           {"iss": {"value": live_server.url},
                                        "aud": {"value": client_id},
                                        "nonce": {"value": nonce}},
                           {"access_token": token["access_token"]})
    standard.validate(now=claims["iat"])  # at_hash, nonce, auth_time, azp, exp
    return claims


def test_authlib_web_app_completes_the_code_flow_with_pkce(live_server, web_app):
    client = OAuth2Session(web_app.client_id, web_app.client_secret,
                           scope="openid tier:public", redirect_uri=APP_REDIRECT,
                           code_challenge_method="S256")
    verifier, nonce = generate_token(48), generate_token(16)
    url, state = client.create_authorization_url(live_server.url + "/oauth/authorize",
                                                 code_verifier=verifier, nonce=nonce)
    back = browse(live_server, url)
    assert query(back)["iss"] == live_server.url
    token = client.fetch_token(live_server.url + "/oauth/token", authorization_response=back,
                               code_verifier=verifier, state=state)
    claims = check_id_token(live_server, token, web_app.client_id, nonce)
    assert claims["sub"].startswith("per_") and token["scope"] == "openid tier:public"


def test_a_native_app_signs_in_as_a_public_client_on_any_loopback_port(
        live_server, admin, acme_org):
    native = admin.client(acme_org, "none", redirect_uris=[NATIVE_REDIRECT])
    assert native.client_secret is None
    redirect_uri = "http://127.0.0.1:51234/callback"  # the port the app got when it ran
    client = OAuth2Session(native.client_id, scope="openid tier:public",
                           redirect_uri=redirect_uri, code_challenge_method="S256",
                           token_endpoint_auth_method="none")
    verifier, nonce = generate_token(48), generate_token(16)
    url, state = client.create_authorization_url(live_server.url + "/oauth/authorize",
                                                 code_verifier=verifier, nonce=nonce)
    back = browse(live_server, url)
    assert back.startswith(redirect_uri + "?")
    token = client.fetch_token(live_server.url + "/oauth/token", authorization_response=back,
                               code_verifier=verifier, state=state)
    check_id_token(live_server, token, native.client_id, nonce)
    assert jwt.decode(token["access_token"], options={"verify_signature": False})[
        "entitlements"] == ["public"]
