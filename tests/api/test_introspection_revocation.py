"""RFC 7662 introspection and RFC 7009 revocation of our JWT access tokens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from entitlements.audit.models import AuditEvent
from entitlements.oauth.errors import CLIENT_AUTHENTICATION_FAILED
from entitlements.signing.keystore import FileKeyStore
from tests.support.factories import GATEWAY, Partner
from tests.support.helpers import assertion_form, basic, client_assertion

TOKEN = "/oauth/token"
INTROSPECT = "/oauth/introspect"
REVOKE = "/oauth/revoke"
CANNOT_AUTHENTICATE = ("The client cannot authenticate with methods: "
                       "['client_secret_basic', 'client_secret_post', 'private_key_jwt']")
INACTIVE = {"active": False}


@pytest.fixture
def owner(admin) -> Partner:
    admin.gateway()
    return admin.partner(tiers=("public", "restricted"))


@pytest.fixture
def gateway(admin) -> Partner:
    """A resource server's client, allowed to introspect any token."""
    return admin.client(admin.org("Gateway Operator"), may_introspect=True)


@pytest.fixture
def token(client, owner) -> str:
    response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=auth(owner))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def auth(partner: Partner) -> dict[str, str]:
    return basic(partner.client_id, partner.client_secret)


def introspect(client, token: str, partner: Partner) -> Any:
    return client.post(INTROSPECT, data={"token": token}, headers=auth(partner))


def revoke(client, token: str, partner: Partner, **extra: str) -> Any:
    return client.post(REVOKE, data={"token": token, **extra}, headers=auth(partner))


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def events(db, action: str) -> list[AuditEvent]:
    with db.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                    .order_by(AuditEvent.seq)))


# -- introspection ---------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    pytest.param({}, id="no-credentials"),
    pytest.param(basic("cli_nobody", "secret"), id="unknown-client"),
    pytest.param({"Authorization": "Bearer abc"}, id="bearer-is-not-client-auth"),
])
def test_introspection_requires_client_authentication(client, token, db, headers):
    response = client.post(INTROSPECT, data={"token": token}, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert "active" not in response.get_json()
    assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert [e.outcome for e in events(db, "introspection.refused")] == ["failure"]


def test_introspection_with_a_wrong_secret(client, token, owner):
    response = client.post(INTROSPECT, data={"token": token},
                           headers=basic(owner.client_id, "wrong"))
    assert response.status_code == 401
    assert response.get_json() == {"error": "invalid_client",
                                   "error_description": CLIENT_AUTHENTICATION_FAILED}


def test_active_token_introspects_with_its_claims(client, token, owner, settings):
    response = introspect(client, token, owner)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    claims = claims_of(token)
    assert body["active"] is True and body["token_type"] == "Bearer"
    for name in ("iss", "sub", "aud", "exp", "iat", "jti", "client_id", "scope",
                 "entitlements", "org"):
        assert body[name] == claims[name], name
    assert body["iss"] == settings.issuer and body["aud"] == GATEWAY
    assert body["sub"] == body["client_id"] == owner.client_id
    assert body["scope"] == "tier:public tier:restricted"
    assert body["entitlements"] == ["public", "restricted"]
    assert body["org"] == {"id": owner.org_id, "trust": "verified"}
    assert body["exp"] - body["iat"] == settings.access_token_ttl


def test_gateway_may_introspect_any_token(client, token, gateway, owner):
    body = introspect(client, token, gateway).get_json()
    assert body["active"] is True and body["client_id"] == owner.client_id


def test_another_partner_sees_an_inactive_token(client, token, admin):
    stranger = admin.partner("Stranger Inc")
    assert introspect(client, token, stranger).get_json() == INACTIVE


def test_introspection_with_private_key_jwt(client, token, admin, settings, clock):
    """A private_key_jwt gateway authenticates with an assertion whose aud is the endpoint."""
    signer = admin.partner("Signing Gateway", auth_method="private_key_jwt", may_introspect=True)
    assertion = client_assertion(signer, f"{settings.issuer}{INTROSPECT}", clock.now())
    response = client.post(INTROSPECT, data=assertion_form(assertion, token=token))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["active"] is True


@dataclass
class Ctx:
    client: Any
    admin: Any
    clock: Any
    settings: Any
    keys_dir: Any
    owner: Partner


def _expired(c: Ctx, token: str) -> str:
    c.clock.advance(c.settings.access_token_ttl + 1)
    return token


def _signature_altered(_c: Ctx, token: str) -> str:
    head, payload, signature = token.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return ".".join([head, payload, signature[:middle] + flipped + signature[middle + 1:]])


def _foreign_key_same_kid(_c: Ctx, token: str) -> str:
    impostor = ec.generate_private_key(ec.SECP256R1())
    header = jwt.get_unverified_header(token)
    return jwt.encode(claims_of(token), impostor, algorithm="ES256", headers=header)


def _server_signed(c: Ctx, token: str, typ: str = "at+jwt", **changes: Any) -> str:
    """Signed with the server's real key: the signature is good, something else is not."""
    header = jwt.get_unverified_header(token)
    key = FileKeyStore(c.keys_dir).load(header["kid"])
    headers = {"kid": header["kid"], "typ": typ}
    return jwt.encode({**claims_of(token), **changes}, key, algorithm="ES256", headers=headers)


def _revoked(c: Ctx, token: str) -> str:
    assert revoke(c.client, token, c.owner).status_code == 200
    return token


def _suspended(c: Ctx, token: str) -> str:
    c.admin.suspend(c.owner.org_id)
    return token


def _client_revoked(c: Ctx, token: str) -> str:
    c.admin.revoke_client(c.owner.client_id)
    return token


@pytest.mark.parametrize("spoil", [
    pytest.param(_expired, id="expired"),
    pytest.param(_signature_altered, id="signature-altered"),
    pytest.param(_foreign_key_same_kid, id="signed-by-another-key-same-kid"),
    pytest.param(lambda c, t: _server_signed(c, t, jti="never-issued"), id="jti-never-issued"),
    pytest.param(lambda c, t: _server_signed(c, t, iss="https://evil.test"), id="other-issuer"),
    pytest.param(lambda c, t: _server_signed(c, t, typ="JWT"), id="not-an-access-token-typ"),
    pytest.param(lambda c, t: "garbage", id="garbage"),
    pytest.param(lambda c, t: "", id="empty"),
    pytest.param(lambda c, t: t + "." + t, id="two-tokens-glued"),
    pytest.param(_revoked, id="revoked"),
    pytest.param(_suspended, id="organization-suspended"),
    pytest.param(_client_revoked, id="client-revoked"),
])
def test_inactive_tokens(client, admin, clock, settings, keys_dir, owner, gateway, token,
                         spoil: Callable[[Ctx, str], str]):
    ctx = Ctx(client, admin, clock, settings, keys_dir, owner)
    assert introspect(client, token, gateway).get_json()["active"] is True
    response = introspect(client, spoil(ctx, token), gateway)
    assert response.status_code == 200
    assert response.get_json() == INACTIVE


@pytest.mark.parametrize(("disable", "description"), [
    pytest.param(lambda admin, gw: admin.revoke_client(gw.client_id), "The client is revoked.",
                 id="client-revoked"),
    pytest.param(lambda admin, gw: admin.suspend(gw.org_id),
                 "The client's organization is suspended.", id="organization-suspended"),
])
def test_a_disabled_gateway_can_no_longer_introspect(client, admin, gateway, token, disable,
                                                     description):
    """Revoking a gateway's client must end its access to other partners' token claims."""
    disable(admin, gateway)
    response = introspect(client, token, gateway)
    assert response.status_code == 401
    assert response.get_json() == {"error": "invalid_client", "error_description": description}


# -- revocation ------------------------------------------------------------------------------


def test_owner_revokes_and_the_revocation_is_audited(client, db, token, owner, gateway, clock):
    response = revoke(client, token, owner)
    assert response.status_code == 200 and response.get_json() == {}
    assert introspect(client, token, gateway).get_json() == INACTIVE
    [event] = events(db, "token.revoked")
    assert event.actor == owner.client_id and event.target == claims_of(token)["jti"]
    assert event.details == {"client_id": owner.client_id, "subject": owner.client_id}
    assert (event.target_kind, event.organization_id) == ("token", owner.org_id)
    assert event.at == clock.now()


def test_revoking_twice_is_harmless(client, db, token, owner):
    assert revoke(client, token, owner).status_code == 200
    second = revoke(client, token, owner)
    assert second.status_code == 200 and second.get_json() == {}
    assert len(events(db, "token.revoked")) == 1


@pytest.mark.parametrize("value", [
    pytest.param("garbage", id="garbage"),
    pytest.param("a.b.c", id="three-dots"),
])
def test_revoking_an_unknown_token_is_200(client, db, owner, value):
    """RFC 7009 section 2.2: an invalid token is no error."""
    response = revoke(client, value, owner)
    assert response.status_code == 200 and response.get_json() == {}
    assert events(db, "token.revoked") == []


def test_a_wrong_hint_only_orders_the_search(client, db, token, owner, gateway):
    """RFC 7009 section 2.1: an access token sent with token_type_hint=refresh_token is
    still found, and revoked."""
    response = revoke(client, token, owner, token_type_hint="refresh_token")
    assert response.status_code == 200
    assert introspect(client, token, gateway).get_json()["active"] is False


def test_an_unknown_hint_is_unsupported(client, db, token, owner, gateway):
    """RFC 7009 section 2.2.1: unsupported_token_type is a 400 like other OAuth errors."""
    response = revoke(client, token, owner, token_type_hint="id_token")
    assert response.get_json() == {"error": "unsupported_token_type"}
    assert response.status_code == 400
    assert introspect(client, token, gateway).get_json()["active"] is True


def test_another_client_cannot_revoke(client, db, token, admin, gateway):
    stranger = admin.partner("Stranger Inc")
    response = revoke(client, token, stranger)
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid_grant"}
    assert introspect(client, token, gateway).get_json()["active"] is True
    assert events(db, "token.revoked") == []
    assert [e.details["claimed_client_id"] for e in events(db, "revocation.refused")] == [
        stranger.client_id]


@pytest.mark.parametrize("headers", [
    pytest.param({}, id="no-credentials"),
    pytest.param(basic("cli_nobody", "secret"), id="unknown-client"),
])
def test_revocation_requires_client_authentication(client, token, gateway, headers):
    response = client.post(REVOKE, data={"token": token}, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert introspect(client, token, gateway).get_json()["active"] is True


def test_revocation_without_token_parameter(client, owner):
    response = client.post(REVOKE, data={"token_type_hint": "access_token"}, headers=auth(owner))
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"
