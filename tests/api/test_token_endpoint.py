"""The token endpoint through the Flask test client: grants, scopes, audiences, headers."""

from __future__ import annotations

import jwt
import pytest

from tests.support.factories import GATEWAY, OTHER_GATEWAY
from tests.support.helpers import FORM, assertion_form, basic, client_assertion, decode_with_jwks

TOKEN = "/oauth/token"


pytestmark = pytest.mark.partner(tiers=("public", "restricted"))


def test_client_secret_basic_gets_a_signed_rfc9068_token(client, partner, settings, clock):
    response = client.post(TOKEN, data={"grant_type": "client_credentials"},
                           headers=basic(partner.client_id, partner.client_secret))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == settings.access_token_ttl
    assert body["scope"] == "tier:public tier:restricted"

    token = body["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt" and header["alg"] == "ES256" and header["kid"]
    claims = decode_with_jwks(token, client.get("/jwks.json").get_json(), settings.issuer,
                              GATEWAY)
    assert claims["sub"] == claims["client_id"] == partner.client_id
    assert claims["entitlements"] == ["public", "restricted"]
    assert claims["org"] == {"id": partner.org_id, "trust": "verified"}
    assert claims["ent_ver"] == 1
    assert claims["exp"] - claims["iat"] == settings.access_token_ttl
    assert claims["iat"] == int(clock.now().timestamp())


def test_client_secret_post(client, admin):
    admin.gateway()
    partner = admin.partner(auth_method="client_secret_post")
    response = client.post(TOKEN, data={"grant_type": "client_credentials",
                                        "client_id": partner.client_id,
                                        "client_secret": partner.client_secret})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["scope"] == "tier:public"


def test_private_key_jwt(client, admin, settings, clock):
    admin.gateway()
    partner = admin.partner(auth_method="private_key_jwt")
    assertion = client_assertion(partner, settings.token_endpoint, clock.now())
    response = client.post(TOKEN, data=assertion_form(assertion, grant_type="client_credentials"))
    assert response.status_code == 200, response.get_json()


def test_subset_of_tiers(client, partner):
    response = client.post(TOKEN, data={"grant_type": "client_credentials",
                                        "scope": "tier:restricted"},
                           headers=basic(partner.client_id, partner.client_secret))
    assert response.get_json()["scope"] == "tier:restricted"


def test_resource_picks_audience(client, partner, admin, settings):
    admin.gateway(OTHER_GATEWAY, default=False)
    response = client.post(TOKEN, data={"grant_type": "client_credentials",
                                        "resource": OTHER_GATEWAY},
                           headers=basic(partner.client_id, partner.client_secret))
    claims = jwt.decode(response.get_json()["access_token"], options={"verify_signature": False})
    assert claims["aud"] == OTHER_GATEWAY


def test_default_tiers_of_the_client(client, admin):
    admin.gateway()
    org_id = admin.org(tiers=("public", "restricted"))
    partner = admin.client(org_id, default_tiers=["public"])
    response = client.post(TOKEN, data={"grant_type": "client_credentials"},
                           headers=basic(partner.client_id, partner.client_secret))
    assert response.get_json()["scope"] == "tier:public"


@pytest.mark.parametrize(("form", "status", "error", "description"), [
    pytest.param({"scope": "tier:early-access"}, 400, "invalid_scope",
                 "The organization is not entitled to 'tier:early-access' (not_on_allowlist).",
                 id="not-entitled"),
    pytest.param({"scope": "tier:nonesuch"}, 400, "invalid_scope", "Unknown tier 'nonesuch'.",
                 id="unknown-tier"),
    pytest.param({"scope": "openid"}, 400, "invalid_scope",
                 "Unknown scope 'openid'; scopes look like 'tier:public'.", id="foreign-scope"),
    pytest.param({"resource": "https://nowhere.test/"}, 400, "invalid_target",
                 "Unknown resource 'https://nowhere.test/'.", id="unknown-resource"),
    pytest.param({"resource": [GATEWAY, OTHER_GATEWAY]}, 400, "invalid_target",
                 "Only one 'resource' may be requested per token.", id="two-resources"),
    pytest.param({"grant_type": "password"}, 400, "unsupported_grant_type", None,
                 id="unsupported-grant"),
    pytest.param({"scope": ["tier:public", "tier:public"]}, 400, "invalid_request",
                 "Parameter 'scope' is repeated.", id="repeated-parameter"),
])
def test_refusals(client, partner, db, form, status, error, description):
    data = {"grant_type": "client_credentials", **form}
    response = client.post(TOKEN, data=data,
                           headers=basic(partner.client_id, partner.client_secret))
    assert response.status_code == status
    body = response.get_json()
    assert body["error"] == error
    if description:
        assert body["error_description"] == description
    assert _token_count(db) == 0


def _token_count(db) -> int:
    from sqlalchemy import func, select

    from entitlements.tokens.models import IssuedToken

    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(IssuedToken))


def test_wrong_content_type(client, partner):
    response = client.post(TOKEN, json={"grant_type": "client_credentials"},
                           headers=basic(partner.client_id, partner.client_secret))
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_form_type_constant_is_what_we_send(client, partner):
    response = client.post(TOKEN, data="grant_type=client_credentials", content_type=FORM,
                           headers=basic(partner.client_id, partner.client_secret))
    assert response.status_code == 200
