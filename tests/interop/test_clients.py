"""Third-party OAuth clients and a PyJWT gateway against the live server over real HTTP."""

from __future__ import annotations

import base64
import time
from urllib.parse import parse_qs

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc.jwk import ECKey
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session as OAuthlibSession

from entitlements.oauth.errors import CLIENT_AUTHENTICATION_FAILED
from tests.support.factories import GATEWAY

TIERS = ("public", "restricted")
SCOPE = "tier:public tier:restricted"
ENDPOINTS = ("issuer", "token_endpoint", "jwks_uri", "introspection_endpoint",
             "revocation_endpoint")
NO_CLIENT = CLIENT_AUTHENTICATION_FAILED


pytestmark = pytest.mark.partner(tiers=TIERS)


@pytest.fixture
def introspector(admin):
    """A gateway's own client, allowed to introspect any token."""
    return admin.client(admin.org("Gateway Operator"), may_introspect=True)


def assert_entitlements(claims: dict, partner, scope: str = SCOPE) -> None:
    assert claims["sub"] == claims["client_id"] == partner.client_id
    assert claims["aud"] == GATEWAY
    assert claims["scope"] == scope
    assert claims["entitlements"] == [s.removeprefix("tier:") for s in scope.split()]
    assert claims["org"] == {"id": partner.org_id, "trust": "verified"}
    assert claims["ent_ver"] == 1


def assert_invalid_client(response: requests.Response, description: str) -> None:
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client", "error_description": description}
    assert response.headers["WWW-Authenticate"] == (
        f'Basic error="invalid_client", error_description="{description}"'
    )


def assert_sent_credentials(request: requests.PreparedRequest, partner, method: str) -> None:
    """The client really used the method under test."""
    form = parse_qs(request.body if isinstance(request.body, str) else request.body.decode())
    if method == "client_secret_basic":
        raw = base64.b64decode(request.headers["Authorization"].removeprefix("Basic "))
        assert raw.decode() == f"{partner.client_id}:{partner.client_secret}"
        assert "client_secret" not in form
    elif method == "client_secret_post":
        assert "Authorization" not in request.headers
        assert form["client_secret"] == [partner.client_secret]
    else:
        header = jwt.get_unverified_header(form["client_assertion"][0])
        assert header["kid"] == partner.kid and header["alg"] == "ES256"
        assert "client_secret" not in form and "Authorization" not in request.headers


# Discovery -----------------------------------------------------------------------------

def test_discovery_documents_agree_and_validate(live_server, admin):
    """RFC 8414 and OpenID discovery name the same endpoints; Authlib validates RFC 8414."""
    admin.gateway()
    oauth_doc = requests.get(live_server.url + "/.well-known/oauth-authorization-server",
                             timeout=5)
    oidc_doc = requests.get(live_server.url + "/.well-known/openid-configuration", timeout=5)
    assert oauth_doc.status_code == oidc_doc.status_code == 200
    rfc8414, oidc = oauth_doc.json(), oidc_doc.json()
    assert {k: rfc8414[k] for k in ENDPOINTS} == {k: oidc[k] for k in ENDPOINTS}
    assert rfc8414["issuer"] == live_server.url
    assert rfc8414["token_endpoint"] == live_server.url + "/oauth/token"
    assert rfc8414["grant_types_supported"] == [
        "client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange",
        "authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"]
    assert rfc8414["authorization_endpoint"] == live_server.url + "/oauth/authorize"
    assert rfc8414["response_types_supported"] == ["code"]
    assert rfc8414["code_challenge_methods_supported"] == ["S256"]
    assert "tier:public" in rfc8414["scopes_supported"]
    assert set(rfc8414["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic", "client_secret_post", "private_key_jwt", "none"}
    AuthorizationServerMetadata(rfc8414).validate()  # every Authlib RFC 8414 check
    OpenIDProviderMetadata(oidc).validate()  # and every OpenID Connect Discovery check


def test_discovered_endpoints_answer(live_server):
    """Each advertised endpoint exists: the JWKS serves keys, the others demand a client."""
    doc = requests.get(live_server.url + "/.well-known/oauth-authorization-server",
                       timeout=5).json()
    assert requests.get(doc["jwks_uri"], timeout=5).json()["keys"]
    for name in ("token_endpoint", "introspection_endpoint", "revocation_endpoint"):
        form = {"grant_type": "client_credentials", "token": "x"}
        assert_invalid_client(requests.post(doc[name], data=form, timeout=5), NO_CLIENT)


# Authlib client ------------------------------------------------------------------------

def authlib_session(partner, method: str, token_endpoint: str) -> OAuth2Session:
    if method != "private_key_jwt":
        return OAuth2Session(partner.client_id, partner.client_secret,
                             token_endpoint_auth_method=method)
    return key_session(partner, token_endpoint)  # Authlib's defaults: an hour-long assertion


def key_session(partner, token_endpoint: str, **auth: object) -> OAuth2Session:
    """Authlib private_key_jwt with the partner's EC key; the assertion names its kid."""
    session = OAuth2Session(partner.client_id, ECKey.import_key(partner.private_key),
                            token_endpoint_auth_method="private_key_jwt")
    session.register_client_auth_method(PrivateKeyJWT(
        token_endpoint, alg="ES256", headers={"kid": partner.kid}, **auth))
    return session


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post",
                                    "private_key_jwt"])
def test_authlib_client_gets_a_token_gateways_accept(live_server, admin, gateway, method):
    """Authlib's OAuth2Session with each auth method; PyJWT verifies via discovered JWKS."""
    admin.gateway()
    partner = admin.partner(tiers=TIERS, auth_method=method)
    token_endpoint = live_server.url + "/oauth/token"
    session = authlib_session(partner, method, token_endpoint)
    sent: list[requests.PreparedRequest] = []
    session.hooks["response"].append(lambda response, **_: sent.append(response.request))

    token = session.fetch_token(token_endpoint, grant_type="client_credentials", scope=SCOPE)

    assert token["token_type"] == "Bearer" and token["scope"] == SCOPE
    assert_entitlements(gateway().verify(token["access_token"]), partner)
    assert_sent_credentials(sent[-1], partner, method)


def test_authlib_private_key_jwt_with_its_defaults_gets_a_token(live_server, admin):
    """Authlib's PrivateKeyJWT unchanged (exp = iat + 3600, aud = the token endpoint)."""
    admin.gateway()
    partner = admin.partner(auth_method="private_key_jwt")
    token_endpoint = live_server.url + "/oauth/token"
    token = key_session(partner, token_endpoint).fetch_token(token_endpoint,
                                                             grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and token["scope"] == "tier:public"


def test_an_assertion_beyond_the_maximum_lifetime_is_refused(live_server, admin):
    admin.gateway()
    partner = admin.partner(auth_method="private_key_jwt")
    token_endpoint = live_server.url + "/oauth/token"
    session = key_session(partner, token_endpoint, claims={"exp": int(time.time()) + 7200})
    received: list[requests.Response] = []
    session.hooks["response"].append(lambda response, **_: received.append(response))
    with pytest.raises(OAuthError) as refused:
        session.fetch_token(token_endpoint, grant_type="client_credentials")
    assert (refused.value.error, refused.value.description) == (
        "invalid_client", CLIENT_AUTHENTICATION_FAILED)
    assert_invalid_client(received[-1], CLIENT_AUTHENTICATION_FAILED)


# requests-oauthlib ---------------------------------------------------------------------

@pytest.mark.parametrize(("method", "include_client_id"), [
    ("client_secret_basic", None),  # requests-oauthlib's default: HTTP Basic from the secret
    ("client_secret_post", True),   # client_id and client_secret in the form body
])
def test_requests_oauthlib_backend_client(live_server, admin, gateway, monkeypatch, method,
                                          include_client_id):
    """requests-oauthlib's BackendApplicationClient gets a token gateways accept."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # http on loopback only
    admin.gateway()
    partner = admin.partner(tiers=TIERS, auth_method=method)
    session = OAuthlibSession(client=BackendApplicationClient(client_id=partner.client_id),
                              scope=SCOPE.split())
    sent: list[requests.PreparedRequest] = []
    session.hooks["response"].append(lambda response, **_: sent.append(response.request))
    token = session.fetch_token(live_server.url + "/oauth/token",
                                client_id=partner.client_id,
                                client_secret=partner.client_secret,
                                include_client_id=include_client_id)
    assert token["token_type"] == "Bearer"
    assert token["scope"] == SCOPE.split()
    assert_entitlements(gateway().verify(token["access_token"]), partner)
    assert_sent_credentials(sent[-1], partner, method)


# Introspection and revocation ----------------------------------------------------------

def test_introspect_revoke_introspect(oauth, partner):
    """RFC 7662 then RFC 7009 by the token's own client; revocation shows at once."""
    token = oauth.access_token(partner)
    active = oauth.introspect(partner, token)
    assert active.status_code == 200 and active.headers["Cache-Control"] == "no-store"
    body = active.json()
    assert body["active"] is True and body["token_type"] == "Bearer"
    assert body["jti"] == jwt.decode(token, options={"verify_signature": False})["jti"]
    assert_entitlements(body, partner)

    revoked = oauth.revoke(partner, token)
    assert revoked.status_code == 200
    assert oauth.introspect(partner, token).json() == {"active": False}
    assert oauth.revoke(partner, token).status_code == 200  # idempotent (RFC 7009 2.2)


def test_gateway_client_introspects_any_token(oauth, partner, introspector):
    """A client registered with may_introspect sees other clients' tokens."""
    token = oauth.access_token(partner)
    body = oauth.introspect(introspector, token).json()
    assert body["active"] is True
    assert_entitlements(body, partner)


def test_other_client_cannot_see_or_revoke_a_token(oauth, partner, admin):
    """An ordinary client learns nothing about, and cannot revoke, another's token."""
    stranger = admin.partner(name="Other Labs")
    token = oauth.access_token(partner)
    assert oauth.introspect(stranger, token).json() == {"active": False}
    refused = oauth.revoke(stranger, token)
    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_grant"}
    assert oauth.introspect(partner, token).json()["active"] is True


@pytest.mark.parametrize(("disable", "description"), [
    pytest.param(lambda admin, p: admin.suspend(p.org_id),
                 "The client's organization is suspended.", id="org-suspended"),
    pytest.param(lambda admin, p: admin.revoke_client(p.client_id),
                 "The client is revoked.", id="client-revoked"),
])
def test_disabled_client_loses_tokens_and_access(oauth, partner, introspector, admin, disable,
                                                 description):
    """Suspension or client revocation deactivates live tokens and refuses new ones."""
    token = oauth.access_token(partner)
    assert oauth.introspect(introspector, token).json()["active"] is True
    disable(admin, partner)
    assert oauth.introspect(introspector, token).json() == {"active": False}
    assert_invalid_client(oauth.token(partner), description)


@pytest.mark.parametrize(("disable", "description"), [
    pytest.param(lambda admin, p: admin.suspend(p.org_id),
                 "The client's organization is suspended.", id="org-suspended"),
    pytest.param(lambda admin, p: admin.revoke_client(p.client_id),
                 "The client is revoked.", id="client-revoked"),
])
def test_disabled_gateway_client_can_no_longer_introspect(oauth, partner, introspector, admin,
                                                          disable, description):
    """A revoked or suspended introspection client must stop authenticating at all."""
    token = oauth.access_token(partner)
    disable(admin, introspector)
    assert_invalid_client(oauth.introspect(introspector, token), description)
