"""Evidence through the admin API: DNS challenges (a fake resolver), LEIs (GLEIF via
`responses`), agreements; every check recorded and audited, outages record nothing."""

from __future__ import annotations

import pytest
import responses
from sqlalchemy import func, select

from entitlements.audit.models import AuditEvent
from entitlements.organizations.lei import GLEIF_API
from entitlements.organizations.models import Evidence
from tests.support.factories import admin_key
from tests.support.fakes import BANK_LEI, record

PROBLEM = "application/problem+json"


@pytest.fixture
def alice(db, clock) -> dict[str, str]:
    with db.transaction() as session:
        key = admin_key(session, clock.now(), "alice").secret
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def org_id(client, alice) -> str:
    created = client.post("/admin/organizations", headers=alice,
                          json={"name": "Acme Labs Inc.", "country": "US"})
    return created.get_json()["id"]


def evidence_rows(db) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(Evidence))


def checks(db, outcome: str) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "organization.evidence_checked", AuditEvent.outcome == outcome))


def test_domain_challenge_verifies_once_the_txt_record_is_published(client, db, alice, org_id,
                                                                    dns):
    issued = client.post(f"/admin/organizations/{org_id}/evidence/domain", headers=alice,
                         json={"domain": "Acme.Example."})
    assert issued.status_code == 201
    challenge = issued.get_json()
    assert (challenge["value"], challenge["status"]) == ("acme.example", "pending")
    record_name = challenge["details"]["record"]
    assert record_name == "_entitlements-challenge.acme.example"

    not_yet = client.post(f"/admin/evidence/{challenge['id']}/check", headers=alice)
    assert not_yet.get_json()["status"] == "failed"
    dns.records[record_name] = ["v=spf1 -all", challenge["details"]["value"]]
    done = client.post(f"/admin/evidence/{challenge['id']}/check", headers=alice)
    assert done.get_json()["status"] == "verified"
    assert done.get_json()["checked_by"] == "admin:alice"
    assert (checks(db, "failure"), checks(db, "success")) == (1, 1)


def test_a_wrong_value_does_not_verify(client, alice, org_id, dns):
    issued = client.post(f"/admin/organizations/{org_id}/evidence/domain", headers=alice,
                         json={"domain": "acme.example"}).get_json()
    dns.records[issued["details"]["record"]] = ["entitlements-verification=someone-elses"]
    checked = client.post(f"/admin/evidence/{issued['id']}/check", headers=alice)
    assert checked.get_json()["status"] == "failed"


def test_a_dns_outage_is_a_retryable_problem_and_records_nothing(client, db, alice, org_id,
                                                                 dns):
    issued = client.post(f"/admin/organizations/{org_id}/evidence/domain", headers=alice,
                         json={"domain": "acme.example"}).get_json()
    dns.down = True
    response = client.post(f"/admin/evidence/{issued['id']}/check", headers=alice)
    assert response.status_code == 503 and response.mimetype == PROBLEM
    assert response.get_json()["type"] == "urn:entitlements:problem:dns_unavailable"
    listed = client.get(f"/admin/organizations/{org_id}/evidence", headers=alice).get_json()
    assert [e["status"] for e in listed["items"]] == ["pending"]
    assert checks(db, "failure") + checks(db, "success") == 0


@pytest.mark.parametrize("domain", ["not a domain", "localhost", "-bad.example", "a..b",
                                    "x" * 250 + ".com"])
def test_bad_domains_are_refused(client, db, alice, org_id, domain):
    response = client.post(f"/admin/organizations/{org_id}/evidence/domain", headers=alice,
                           json={"domain": domain})
    assert response.status_code == 400 and response.mimetype == PROBLEM
    assert evidence_rows(db) == 0


@responses.activate(assert_all_requests_are_fired=True)
def test_an_lei_matching_the_application_is_verified(client, alice, org_id):
    responses.get(f"{GLEIF_API}/lei-records/{BANK_LEI}",
                  json=record(BANK_LEI, name="ACME LABS, INC."))
    checked = client.post(f"/admin/organizations/{org_id}/evidence/lei", headers=alice,
                          json={"lei": BANK_LEI})
    assert checked.status_code == 201
    body = checked.get_json()
    assert (body["kind"], body["value"], body["status"]) == ("lei", BANK_LEI, "verified")
    assert body["details"]["mismatches"] == []


@responses.activate(assert_all_requests_are_fired=True)
@pytest.mark.parametrize(("overrides", "mismatches"), [
    pytest.param({"name": "Other Corp"}, ["legal_name"], id="other-name"),
    pytest.param({"country": "DE"}, ["country"], id="other-country"),
    pytest.param({"registration": "LAPSED"}, ["registration_status"], id="lapsed"),
    pytest.param({"name": "Other", "country": "FR", "entity_status": "INACTIVE"},
                 ["legal_name", "country", "registration_status"], id="all-wrong"),
])
def test_an_lei_that_does_not_match_is_recorded_as_failed(client, db, alice, org_id,
                                                         overrides, mismatches):
    responses.get(f"{GLEIF_API}/lei-records/{BANK_LEI}",
                  json=record(BANK_LEI, **{"name": "Acme Labs Inc.", **overrides}))
    body = client.post(f"/admin/organizations/{org_id}/evidence/lei", headers=alice,
                       json={"lei": BANK_LEI}).get_json()
    assert body["status"] == "failed" and body["details"]["mismatches"] == mismatches
    assert checks(db, "failure") == 1


@responses.activate(assert_all_requests_are_fired=False)
@pytest.mark.parametrize(("lei", "reply", "status", "problem"), [
    pytest.param("5493001KJTIIGC8Y1R13", None, 400, "invalid_lei", id="bad-check-digits"),
    pytest.param(BANK_LEI, {"status": 404, "json": {"errors": []}}, 404, "lei_not_found",
                 id="not-in-registry"),
    pytest.param(BANK_LEI, {"status": 502, "body": "bad gateway"}, 503, "registry_unavailable",
                 id="registry-down"),
])
def test_lei_refusals_record_nothing(client, db, alice, org_id, lei, reply, status, problem):
    if reply:
        responses.get(f"{GLEIF_API}/lei-records/{lei}", **reply)
    response = client.post(f"/admin/organizations/{org_id}/evidence/lei", headers=alice,
                           json={"lei": lei})
    assert response.status_code == status and response.mimetype == PROBLEM
    assert response.get_json()["type"] == f"urn:entitlements:problem:{problem}"
    assert evidence_rows(db) == 0
    assert len(responses.calls) == (1 if reply else 0)


def test_agreement_is_recorded_by_the_admin(client, alice, org_id):
    body = client.post(f"/admin/organizations/{org_id}/evidence/agreement", headers=alice,
                       json={"reference": "MSA-2026-0042"}).get_json()
    assert (body["kind"], body["value"], body["status"], body["checked_by"]) == (
        "agreement", "MSA-2026-0042", "verified", "admin:alice")


def test_evidence_of_an_unknown_organization_is_not_found(client, alice):
    response = client.post("/admin/organizations/org_nope/evidence/agreement", headers=alice,
                           json={"reference": "x"})
    assert response.status_code == 404 and response.mimetype == PROBLEM
