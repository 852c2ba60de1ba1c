"""Persons and attestation issuers through the admin API."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from entitlements.attestations.models import AttestationIssuer
from entitlements.persons.models import Person
from tests.support.factories import admin_key, client_keypair

PROBLEM = "application/problem+json"
IDP = "https://login.acme.example"


@pytest.fixture
def alice(db, clock) -> dict[str, str]:
    with db.transaction() as session:
        key = admin_key(session, clock.now(), "alice").secret
    return {"Authorization": f"Bearer {key}"}


def count(db, model) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def issuer_body(**overrides) -> dict:
    _, jwks = client_keypair("verifier-key-1")
    body = {"issuer": "https://verifier.example", "name": "Example Verifier", "jwks": jwks,
            "formats": ["jwt", "sd-jwt-vc"], "nationalities": ["US", "CA"],
            "assurance_levels": ["substantial", "high"], "max_age_days": 365}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def test_persons_are_created_by_idp_subject_or_by_our_id(client, alice, admin):
    org_id = admin.org("Acme Labs")
    known = client.post(f"/admin/organizations/{org_id}/persons", headers=alice,
                        json={"idp_issuer": IDP, "idp_subject": "u-123"})
    assert known.status_code == 201
    assert known.get_json()["id"].startswith("per_")
    bare = client.post(f"/admin/organizations/{org_id}/persons", headers=alice, json={})
    assert bare.status_code == 201 and bare.get_json()["idp_subject"] is None
    listed = client.get(f"/admin/organizations/{org_id}/persons",
                        headers=alice).get_json()["items"]
    assert {p["id"] for p in listed} == {known.get_json()["id"], bare.get_json()["id"]}
    shown = client.get(f"/admin/persons/{known.get_json()['id']}", headers=alice).get_json()
    assert (shown["idp_issuer"], shown["idp_subject"]) == (IDP, "u-123")


@pytest.mark.parametrize(("body", "status"), [
    pytest.param({"idp_issuer": IDP}, 400, id="issuer-without-subject"),
    pytest.param({"idp_subject": "u-1"}, 400, id="subject-without-issuer"),
    pytest.param({"idp_issuer": "http://login.acme.example", "idp_subject": "u-1"}, 400,
                 id="issuer-not-https"),
    pytest.param({"idp_issuer": IDP, "idp_subject": "u-123"}, 409, id="duplicate"),
    pytest.param({"name": "Jane"}, 400, id="personal-data-field-refused"),
])
def test_person_refusals(client, db, alice, admin, body, status):
    org_id = admin.org("Acme Labs")
    client.post(f"/admin/organizations/{org_id}/persons", headers=alice,
                json={"idp_issuer": IDP, "idp_subject": "u-123"})
    response = client.post(f"/admin/organizations/{org_id}/persons", headers=alice, json=body)
    assert response.status_code == status and response.mimetype == PROBLEM
    assert count(db, Person) == 1


def test_persons_of_an_unknown_organization(client, alice):
    response = client.post("/admin/organizations/org_nope/persons", headers=alice, json={})
    assert response.status_code == 404 and response.mimetype == PROBLEM


def test_issuer_registration_suspension_and_reinstatement(client, alice):
    created = client.post("/admin/attestation-issuers", headers=alice, json=issuer_body())
    assert created.status_code == 201
    row = created.get_json()
    assert (row["status"], row["has_jwks"], row["nationalities"]) == ("active", True,
                                                                      ["CA", "US"])
    assert "jwks" not in row
    suspended = client.post(f"/admin/attestation-issuers/{row['id']}/suspend", headers=alice,
                            json={"reason": "key compromise reported"})
    assert suspended.get_json()["status"] == "suspended"
    again = client.post(f"/admin/attestation-issuers/{row['id']}/suspend", headers=alice,
                        json={"reason": "twice"})
    assert again.status_code == 409
    reinstated = client.post(f"/admin/attestation-issuers/{row['id']}/reinstate",
                             headers=alice, json={"reason": "keys rotated"})
    assert reinstated.get_json()["status"] == "active"
    listed = client.get("/admin/attestation-issuers", headers=alice).get_json()
    assert [i["issuer"] for i in listed["items"]] == ["https://verifier.example"]


@pytest.mark.parametrize("overrides", [
    pytest.param({"jwks": None}, id="no-keys"),
    pytest.param({"jwks_uri": "https://verifier.example/jwks"}, id="both-keys"),
    pytest.param({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}, id="symmetric-key"),
    pytest.param({"jwks": None, "jwks_uri": "http://verifier.example/jwks"},
                 id="jwks-uri-not-https"),
    pytest.param({"issuer": "http://verifier.example"}, id="issuer-not-https"),
    pytest.param({"formats": ["mdoc"]}, id="unknown-format"),
    pytest.param({"formats": []}, id="no-format"),
    pytest.param({"nationalities": ["usa"]}, id="bad-nationality"),
    pytest.param({"assurance_levels": ["ultra"]}, id="unknown-level"),
    pytest.param({"max_age_days": 0}, id="age-zero"),
    pytest.param({"max_age_days": "365"}, id="age-as-string"),
])
def test_issuer_refusals_write_nothing(client, db, alice, overrides):
    response = client.post("/admin/attestation-issuers", headers=alice,
                           json=issuer_body(**overrides))
    assert response.status_code == 400, response.get_json()
    assert response.mimetype == PROBLEM
    assert count(db, AttestationIssuer) == 0


def test_a_duplicate_issuer_is_a_conflict(client, db, alice):
    client.post("/admin/attestation-issuers", headers=alice, json=issuer_body())
    response = client.post("/admin/attestation-issuers", headers=alice, json=issuer_body())
    assert response.status_code == 409 and count(db, AttestationIssuer) == 1
