"""Organizations' identity providers through the admin API, and their keys at token exchange."""

from __future__ import annotations

import jwt
import pytest
import responses
from jwt.algorithms import ECAlgorithm
from sqlalchemy import func, select

from entitlements.audit.models import AuditEvent
from entitlements.identity_providers.models import IdentityProvider, UsedSubjectToken
from entitlements.persons.models import Person
from tests.support.factories import admin_key, client_keypair
from tests.support.helpers import audit_events, basic

PROBLEM = "application/problem+json"
IDP = "https://login.acme.example"
JWKS_URI = f"{IDP}/.well-known/jwks.json"
AUDIENCE = "acme-portal"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
FIELDS = {"id", "organization_id", "issuer", "audiences", "jwks_uri", "has_jwks", "status",
          "sign_in", "created_at", "updated_at"}


@pytest.fixture
def alice(db, clock) -> dict[str, str]:
    with db.transaction() as session:
        key = admin_key(session, clock.now(), "alice").secret
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def org_id(admin) -> str:
    return admin.org("Acme Labs")


def count(db, model) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def audit_count(db, action: str) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == action))


def idp_body(**overrides) -> dict:
    _, jwks = client_keypair("idp-1")
    body = {"issuer": IDP, "audiences": [AUDIENCE], "jwks": jwks}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def register(client, headers, org_id: str, **overrides):
    return client.post(f"/admin/organizations/{org_id}/identity-providers", headers=headers,
                       json=idp_body(**overrides))


def test_register_list_and_show_an_identity_provider(client, db, clock, alice, org_id):
    created = register(client, alice, org_id, audiences=["portal-b", "portal-a", "portal-b"])
    assert created.status_code == 201, created.get_json()
    row = created.get_json()
    assert set(row) == FIELDS
    assert row["id"].startswith("idp_")
    assert (row["organization_id"], row["issuer"], row["audiences"]) == (
        org_id, IDP, ["portal-a", "portal-b"])
    assert (row["jwks_uri"], row["has_jwks"], row["status"]) == (None, True, "active")
    assert row["created_at"] == row["updated_at"] == clock.now().isoformat()
    listed = client.get(f"/admin/organizations/{org_id}/identity-providers", headers=alice)
    assert listed.status_code == 200 and listed.get_json() == {"items": [row], "next_cursor": None}
    shown = client.get(f"/admin/identity-providers/{row['id']}", headers=alice)
    assert shown.status_code == 200 and shown.get_json() == row
    assert "jwks" not in shown.get_json()


def test_an_organization_without_identity_providers_lists_none(client, alice, org_id):
    listed = client.get(f"/admin/organizations/{org_id}/identity-providers", headers=alice)
    assert listed.status_code == 200 and listed.get_json()["items"] == []


def test_suspend_and_reinstate_are_audited_with_the_admin(client, db, clock, alice, org_id):
    idp_id = register(client, alice, org_id).get_json()["id"]
    created_at = clock.now().isoformat()
    clock.advance(60)
    suspended = client.post(f"/admin/identity-providers/{idp_id}/suspend", headers=alice,
                            json={"reason": "signing key leaked"})
    assert suspended.status_code == 200, suspended.get_json()
    assert suspended.get_json()["status"] == "suspended"
    shown = client.get(f"/admin/identity-providers/{idp_id}", headers=alice).get_json()
    assert shown["status"] == "suspended"
    assert (shown["created_at"], shown["updated_at"]) == (created_at, clock.now().isoformat())
    reinstated = client.post(f"/admin/identity-providers/{idp_id}/reinstate", headers=alice,
                             json={"reason": "keys rotated"})
    assert reinstated.status_code == 200 and reinstated.get_json()["status"] == "active"
    with db.sessions() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.target == idp_id)
                                 .order_by(AuditEvent.seq)).all()
    assert [(e.action, e.actor, e.reason) for e in events] == [
        ("idp.registered", "admin:alice", None),
        ("idp.suspended", "admin:alice", "signing key leaked"),
        ("idp.reinstated", "admin:alice", "keys rotated"),
    ]
    assert events[0].details == {"organization_id": org_id, "issuer": IDP,
                                 "audiences": [AUDIENCE], "jwks_uri": None}


def _private_jwks() -> dict:
    private, _ = client_keypair("idp-1")
    return {"keys": [{**ECAlgorithm.to_jwk(private, as_dict=True), "kid": "idp-1"}]}


@pytest.mark.parametrize(("overrides", "problem", "field"), [
    pytest.param({"issuer": "http://login.acme.example"}, "invalid_input", "issuer",
                 id="issuer-not-https"),
    pytest.param({"issuer": None}, "invalid_input", "issuer", id="no-issuer"),
    pytest.param({"jwks_uri": JWKS_URI}, "invalid_input", None, id="both-jwks-and-uri"),
    pytest.param({"jwks": None}, "invalid_input", None, id="neither-jwks-nor-uri"),
    pytest.param({"jwks": None, "jwks_uri": "http://login.acme.example/jwks"},
                 "invalid_input", None, id="jwks-uri-not-https"),
    pytest.param({"jwks": _private_jwks()}, "invalid_input", None, id="private-key"),
    pytest.param({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}, "invalid_input", None,
                 id="symmetric-key"),
    pytest.param({"jwks": {"keys": []}}, "invalid_input", None, id="empty-jwks"),
    pytest.param({"jwks": {}}, "invalid_input", None, id="empty-jwks-object"),
    pytest.param({"jwks": {}, "jwks_uri": JWKS_URI}, "invalid_input", None,
                 id="empty-jwks-and-uri"),
    pytest.param({"jwks": {"keys": [{"kty": "oct", "kid": "k1"}]}}, "invalid_input", None,
                 id="key-without-material"),
    pytest.param({"audiences": []}, "invalid_input", "audiences", id="no-audiences"),
    pytest.param({"audiences": None}, "invalid_input", "audiences", id="audiences-missing"),
    pytest.param({"audiences": [f"portal-{i}" for i in range(11)]}, "invalid_input",
                 "audiences", id="eleven-audiences"),
    pytest.param({"audiences": [""]}, "invalid_input", "audiences", id="empty-audience"),
    pytest.param({"status": "active"}, "invalid_input", "status", id="unknown-field"),
])
def test_refused_registrations_are_precise_problems_and_write_nothing(
        client, db, alice, org_id, overrides, problem, field):
    before = audit_events(db)
    response = register(client, alice, org_id, **overrides)
    assert response.status_code == 400, response.get_json()
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert (body["status"], body["type"]) == (400, f"urn:entitlements:problem:{problem}")
    assert body["detail"]
    if field:
        assert field in body["errors"]
    assert count(db, IdentityProvider) == 0
    assert audit_events(db) == before


def test_registering_for_an_unknown_organization_is_not_found(client, db, alice):
    before = audit_events(db)
    response = register(client, alice, "org_nope")
    assert response.status_code == 404 and response.mimetype == PROBLEM
    assert response.get_json()["type"] == "urn:entitlements:problem:not_found"
    assert "org_nope" in response.get_json()["detail"]
    assert count(db, IdentityProvider) == 0 and audit_events(db) == before
    listed = client.get("/admin/organizations/org_nope/identity-providers", headers=alice)
    assert listed.status_code == 404 and listed.mimetype == PROBLEM


def test_an_issuer_belongs_to_one_organization_only(client, db, admin, alice, org_id):
    assert register(client, alice, org_id).status_code == 201
    other = admin.org("Globex")
    for target in (org_id, other):
        response = register(client, alice, target)
        assert response.status_code == 409 and response.mimetype == PROBLEM
        body = response.get_json()
        assert body["type"] == "urn:entitlements:problem:conflict" and IDP in body["detail"]
    assert count(db, IdentityProvider) == 1
    assert audit_count(db, "idp.registered") == 1
    listed = client.get(f"/admin/organizations/{other}/identity-providers", headers=alice)
    assert listed.get_json()["items"] == []


def test_suspending_twice_is_a_conflict(client, db, alice, org_id):
    idp_id = register(client, alice, org_id).get_json()["id"]
    path = f"/admin/identity-providers/{idp_id}"
    assert client.post(f"{path}/suspend", headers=alice,
                       json={"reason": "breach"}).status_code == 200
    again = client.post(f"{path}/suspend", headers=alice, json={"reason": "twice"})
    assert again.status_code == 409 and again.mimetype == PROBLEM
    assert again.get_json()["type"] == "urn:entitlements:problem:conflict"
    active = client.post(f"{path}/reinstate", headers=alice, json={"reason": "fixed"})
    assert active.status_code == 200
    reinstate_again = client.post(f"{path}/reinstate", headers=alice, json={"reason": "again"})
    assert reinstate_again.status_code == 409 and reinstate_again.mimetype == PROBLEM
    assert (audit_count(db, "idp.suspended"), audit_count(db, "idp.reinstated")) == (1, 1)


@pytest.mark.parametrize(("method", "path", "body"), [
    pytest.param("get", "/admin/identity-providers/idp_nope", None, id="show"),
    pytest.param("post", "/admin/identity-providers/idp_nope/suspend", {"reason": "r"},
                 id="suspend"),
    pytest.param("post", "/admin/identity-providers/idp_nope/reinstate", {"reason": "r"},
                 id="reinstate"),
])
def test_an_unknown_identity_provider_is_not_found(client, db, alice, method, path, body):
    before = audit_events(db)
    response = getattr(client, method)(path, headers=alice, json=body)
    assert response.status_code == 404 and response.mimetype == PROBLEM
    body = response.get_json()
    assert body["type"] == "urn:entitlements:problem:not_found" and "idp_nope" in body["detail"]
    assert audit_events(db) == before


@pytest.mark.parametrize("body", [
    pytest.param({}, id="missing-reason"),
    pytest.param({"reason": ""}, id="empty-reason"),
    pytest.param({"reason": "x" * 501}, id="reason-too-long"),
])
def test_a_status_change_needs_a_reason(client, db, alice, org_id, body):
    idp_id = register(client, alice, org_id).get_json()["id"]
    response = client.post(f"/admin/identity-providers/{idp_id}/suspend", headers=alice,
                           json=body)
    assert response.status_code == 400 and response.mimetype == PROBLEM
    problem = response.get_json()
    assert problem["type"] == "urn:entitlements:problem:invalid_input"
    assert "reason" in problem["errors"]
    shown = client.get(f"/admin/identity-providers/{idp_id}", headers=alice).get_json()
    assert shown["status"] == "active" and audit_count(db, "idp.suspended") == 0


@pytest.mark.parametrize(("method", "path", "body"), [
    pytest.param("post", "/admin/organizations/{org}/identity-providers", "idp", id="register"),
    pytest.param("get", "/admin/organizations/{org}/identity-providers", None, id="list"),
    pytest.param("get", "/admin/identity-providers/{idp}", None, id="show"),
    pytest.param("post", "/admin/identity-providers/{idp}/suspend", {"reason": "r"},
                 id="suspend"),
    pytest.param("post", "/admin/identity-providers/{idp}/reinstate", {"reason": "r"},
                 id="reinstate"),
])
def test_identity_provider_endpoints_need_an_admin_key(client, db, alice, org_id, method,
                                                       path, body):
    idp_id = register(client, alice, org_id, issuer="https://login.other.example").get_json()[
        "id"]
    path = path.format(org=org_id, idp=idp_id)
    body = idp_body() if body == "idp" else body
    refusals = audit_count(db, "admin.auth_refused")
    response = getattr(client, method)(path, json=body)
    assert response.status_code == 401 and response.mimetype == PROBLEM
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="entitlements-admin"'
    assert response.get_json()["type"] == "urn:entitlements:problem:unauthorized"
    assert audit_count(db, "admin.auth_refused") == refusals + 1
    assert count(db, IdentityProvider) == 1
    assert (audit_count(db, "idp.registered"), audit_count(db, "idp.suspended")) == (1, 0)


# -- keys from a jwks_uri at token exchange ----------------------------------------------------


def id_token(private, clock, *, kid: str = "idp-1", jti: str = "id-1", **overrides) -> str:
    now = int(clock.now().timestamp())
    claims = {"iss": IDP, "sub": "alice", "aud": AUDIENCE, "iat": now - 5, "exp": now + 600,
              "jti": jti, **overrides}
    return jwt.encode(claims, private, algorithm="ES256", headers={"kid": kid})


def exchange(client, partner, token: str):
    form = {"grant_type": EXCHANGE, "subject_token": token, "subject_token_type": ID_TOKEN}
    return client.post("/oauth/token", data=form,
                       headers=basic(partner.client_id, partner.client_secret))


def register_by_uri(client, alice, org_id: str) -> dict:
    created = register(client, alice, org_id, jwks=None, jwks_uri=JWKS_URI)
    assert created.status_code == 201, created.get_json()
    return created.get_json()


@responses.activate(assert_all_requests_are_fired=True)
def test_an_id_token_is_checked_against_the_keys_at_the_jwks_uri(client, db, clock, alice,
                                                                 partner):
    private, jwks = client_keypair("idp-1")
    responses.get(JWKS_URI, json=jwks)
    row = register_by_uri(client, alice, partner.org_id)
    assert (row["jwks_uri"], row["has_jwks"]) == (JWKS_URI, False)
    assert len(responses.calls) == 0, "registration does not fetch the keys"

    response = exchange(client, partner, id_token(private, clock))
    assert response.status_code == 200, response.get_json()
    claims = jwt.decode(response.get_json()["access_token"],
                        options={"verify_signature": False})
    with db.sessions() as session:
        person = session.get(Person, claims["sub"])
    assert (person.organization_id, person.idp_issuer, person.idp_subject) == (
        partner.org_id, IDP, "alice")
    assert len(responses.calls) == 1

    for jti in ("id-2", "id-3"):
        unknown = exchange(client, partner, id_token(private, clock, kid="idp-9", jti=jti))
        assert unknown.status_code == 400
        assert (unknown.get_json()["error"], unknown.get_json()["reason"]) == (
            "invalid_request", "unknown_key")
    assert len(responses.calls) <= 2, "unknown kids refetch at most once per cool-down"
    assert {c.request.url for c in responses.calls} == {JWKS_URI}


@responses.activate(assert_all_requests_are_fired=True)
def test_an_unfetchable_jwks_uri_refuses_the_exchange_with_one_audit_row(client, db, clock,
                                                                         alice, partner):
    private, _ = client_keypair("idp-1")
    responses.get(JWKS_URI, status=500)
    register_by_uri(client, alice, partner.org_id)
    before = (audit_events(db), count(db, Person), count(db, UsedSubjectToken))
    response = exchange(client, partner, id_token(private, clock))
    assert response.status_code == 400
    body = response.get_json()
    assert (body["error"], body["reason"]) == ("invalid_request", "idp_keys_unavailable"), body
    assert (audit_events(db), count(db, Person), count(db, UsedSubjectToken)) == (
        before[0] + 1, before[1], before[2])
    with db.sessions() as session:
        event = session.scalars(select(AuditEvent)
                                .where(AuditEvent.action == "grant.refused")).one()
    assert event.action == "grant.refused"
    assert event.details["reason"] == "idp_keys_unavailable"
    assert len(responses.calls) == 1
