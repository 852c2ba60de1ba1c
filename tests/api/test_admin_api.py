"""The admin REST API: authentication, problem+json errors, lifecycle, two-person rule."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import responses
from sqlalchemy import func, select

from entitlements.admins import service as admins
from entitlements.admins.models import Admin as AdminRow
from entitlements.audit.models import AuditEvent
from entitlements.base.actor import Actor
from entitlements.organizations import service as organizations
from entitlements.organizations.lei import GLEIF_API
from entitlements.organizations.models import Organization
from tests.support.factories import admin_key
from tests.support.fakes import BANK_LEI, record

PROBLEM = "application/problem+json"


@pytest.fixture
def keys(db, clock) -> dict[str, str]:
    """Two admins (alice, bob) and a revoked key."""
    issued = {}
    with db.transaction() as session:
        for name in ("alice", "bob", "mallory"):
            issued[name] = admin_key(session, clock.now(), name)
        admins.revoke(session, Actor("cli:root", clock.now()), issued["mallory"].key.id)
    return {name: key.secret for name, key in issued.items()}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def audit_count(db, action: str) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == action))


@pytest.mark.parametrize("headers", [
    pytest.param({}, id="no-header"),
    pytest.param({"Authorization": "Bearer eak_not-a-real-key"}, id="unknown-key"),
    pytest.param({"Authorization": "Basic YWxpY2U6c2VjcmV0"}, id="wrong-scheme"),
    pytest.param("revoked", id="revoked-key"),
])
def test_admin_endpoints_need_a_valid_key(client, db, keys, headers):
    if headers == "revoked":
        headers = bearer(keys["mallory"])
    before = audit_count(db, "admin.auth_refused")
    response = client.get("/admin/organizations", headers=headers)
    assert response.status_code == 401
    assert response.mimetype == PROBLEM
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="entitlements-admin"'
    body = response.get_json()
    assert body["status"] == 401 and body["type"] == "urn:entitlements:problem:unauthorized"
    assert audit_count(db, "admin.auth_refused") == before + 1


def test_lifecycle_through_the_api_is_audited_with_the_admin(client, db, keys):
    alice = bearer(keys["alice"])
    created = client.post("/admin/organizations", headers=alice,
                          json={"name": "Acme Labs", "country": "US"})
    assert created.status_code == 201, created.get_json()
    org = created.get_json()
    assert (org["status"], org["trust_level"], org["country"]) == ("applied", "unverified", "US")
    for action, status in (("review", "under_review"), ("verify", "verified"),
                           ("suspend", "suspended"), ("reinstate", "verified")):
        moved = client.post(f"/admin/organizations/{org['id']}/{action}", headers=alice,
                            json={"reason": f"{action} it", "evidence": {"lei": "checked"}})
        assert moved.status_code == 200, moved.get_json()
        assert moved.get_json()["status"] == status
    history = client.get(f"/admin/organizations/{org['id']}/history",
                         headers=alice).get_json()["items"]
    assert [h["action"] for h in history] == ["apply", "review", "verify", "suspend",
                                              "reinstate"]
    assert {h["actor"] for h in history} == {"admin:alice"}
    assert history[2]["evidence"] == {"lei": "checked"}


@responses.activate(assert_all_requests_are_fired=True)
def test_two_person_rule_through_the_api(client, keys, db, clock, app):
    alice, bob = bearer(keys["alice"]), bearer(keys["bob"])
    with db.transaction() as session:
        org_id = organizations.create(session, Actor("cli:root", clock.now()), "Acme Labs",
                                      country="US").id
    request = client.post(f"/admin/organizations/{org_id}/trust-requests", headers=alice,
                          json={"level": "trusted", "reason": "domestic lab, LEI checked"})
    assert request.status_code == 201
    request_id = request.get_json()["id"]
    self_approval = client.post(f"/admin/trust-requests/{request_id}/approve", headers=alice,
                                json={"reason": "looks fine"})
    assert self_approval.status_code == 403
    assert self_approval.get_json()["type"] == "urn:entitlements:problem:two_person_rule"
    unproven = client.post(f"/admin/trust-requests/{request_id}/approve", headers=bob,
                           json={"reason": "agreed"})
    assert unproven.status_code == 409
    assert unproven.get_json()["type"] == "urn:entitlements:problem:evidence_missing"
    assert unproven.get_json()["detail"].endswith("agreement, domain, lei")
    _prove(client, app, alice, org_id)
    approved = client.post(f"/admin/trust-requests/{request_id}/approve", headers=bob,
                           json={"reason": "agreed"})
    assert approved.status_code == 200
    assert approved.get_json()["trust_level"] == "trusted"
    history = client.get(f"/admin/organizations/{org_id}/history", headers=bob).get_json()["items"]
    assert history[-1]["actor"] == "admin:alice" and history[-1]["approved_by"] == "admin:bob"
    considered = history[-1]["evidence"]["verified_evidence"]
    assert sorted(e["kind"] for e in considered) == ["agreement", "domain", "lei"]


class _PublishedEverything:
    """A resolver that finds whatever record is asked for: the value set by the test."""

    value = ""

    def txt(self, name: str) -> list[str]:
        return [self.value]


def _prove(client, app, admin_headers, org_id) -> None:
    """Verified domain, LEI and agreement evidence, as trust 'trusted' requires by default."""
    resolver = app.extensions["entitlements"].dns = _PublishedEverything()
    challenge = client.post(f"/admin/organizations/{org_id}/evidence/domain",
                            headers=admin_headers, json={"domain": "acme.example"}).get_json()
    resolver.value = challenge["details"]["value"]
    checked = client.post(f"/admin/evidence/{challenge['id']}/check", headers=admin_headers)
    assert checked.get_json()["status"] == "verified"
    responses.get(f"{GLEIF_API}/lei-records/{BANK_LEI}", json=record(BANK_LEI, "Acme Labs"))
    lei = client.post(f"/admin/organizations/{org_id}/evidence/lei", headers=admin_headers,
                      json={"lei": BANK_LEI})
    assert lei.get_json()["status"] == "verified"
    agreement = client.post(f"/admin/organizations/{org_id}/evidence/agreement",
                            headers=admin_headers, json={"reference": "MSA-1"})
    assert agreement.get_json()["status"] == "verified"


@pytest.mark.parametrize(("kwargs", "status", "problem"), [
    pytest.param({"data": "not json", "content_type": "text/plain"}, 415,
                 "unsupported_media_type", id="text-plain"),
    pytest.param({"data": "{not json", "content_type": "application/json"}, 400,
                 "malformed_json", id="malformed-json"),
    pytest.param({"json": ["a", "list"]}, 400, "malformed_json", id="not-an-object"),
    pytest.param({"json": {"name": "X", "colour": "red"}}, 400, "invalid_input",
                 id="unknown-field"),
    pytest.param({"json": {"country": "US"}}, 400, "invalid_input", id="missing-name"),
    pytest.param({"json": {"name": "X", "country": "usa"}}, 400, "invalid_input",
                 id="bad-country"),
    pytest.param({"json": {"name": "x" * 201}}, 400, "invalid_input", id="name-too-long"),
    pytest.param({"data": "{" + " " * 70_000 + "}", "content_type": "application/json"}, 413,
                 None, id="oversize"),
])
def test_bad_bodies_are_precise_problems_and_change_nothing(client, db, keys, kwargs, status,
                                                            problem):
    response = client.post("/admin/organizations", headers=bearer(keys["alice"]), **kwargs)
    assert response.status_code == status
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status and body["detail"]
    if problem:
        assert body["type"] == f"urn:entitlements:problem:{problem}"
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Organization)) == 0


def test_field_errors_are_listed(client, keys):
    response = client.post("/admin/organizations", headers=bearer(keys["alice"]),
                           json={"name": "", "onboard": "perhaps"})
    assert response.status_code == 400
    assert set(response.get_json()["errors"]) == {"name", "onboard"}


@pytest.mark.parametrize(("method", "path", "body", "status", "problem"), [
    pytest.param("get", "/admin/organizations/org_nope", None, 404, "not_found",
                 id="unknown-org"),
    pytest.param("post", "/admin/organizations/org_nope/verify", {"reason": "r"}, 404,
                 "not_found", id="verify-unknown-org"),
    pytest.param("post", "/admin/trust-requests/trq_nope/approve", {"reason": "r"}, 404,
                 "not_found", id="unknown-trust-request"),
    pytest.param("get", "/admin/clients/cli_nope", None, 404, "not_found", id="unknown-client"),
    pytest.param("post", "/admin/organizations/{org}/suspend", {"reason": "r"}, 409,
                 "invalid_transition", id="suspend-an-application"),
    pytest.param("post", "/admin/organizations/{org}/tiers", {"tier": "platinum"}, 404,
                 "not_found", id="unknown-tier"),
    pytest.param("post", "/admin/organizations/{org}/fly", {"reason": "r"}, 404, None,
                 id="unknown-action"),
])
def test_unknown_ids_and_refused_moves(client, db, keys, method, path, body, status, problem):
    alice = bearer(keys["alice"])
    org = client.post("/admin/organizations", headers=alice, json={"name": "Applicant"})
    path = path.format(org=org.get_json()["id"])
    response = getattr(client, method)(path, headers=alice, json=body)
    assert response.status_code == status
    assert response.mimetype == PROBLEM
    if problem:
        assert response.get_json()["type"] == f"urn:entitlements:problem:{problem}"
    with db.sessions() as session:
        assert session.scalar(select(Organization.status)) == "applied"


def test_clients_through_the_api_show_the_secret_once(client, keys, admin):
    org_id = admin.org("Acme Labs")
    alice = bearer(keys["alice"])
    created = client.post("/admin/clients", headers=alice, json={"organization_id": org_id})
    assert created.status_code == 201
    secret = created.get_json()["client_secret"]
    assert secret and len(secret) >= 43
    client_id = created.get_json()["client_id"]
    shown = client.get(f"/admin/clients/{client_id}", headers=alice)
    listed = client.get("/admin/clients", headers=alice)
    for response in (shown, listed):
        assert secret not in response.get_data(as_text=True)
        assert "sha256$" not in response.get_data(as_text=True)
    revoked = client.post(f"/admin/clients/{client_id}/revoke", headers=alice,
                          json={"reason": "rotated out"})
    assert revoked.get_json()["status"] == "revoked"


def test_audit_endpoints(client, keys, admin):
    admin.org("Acme Labs")
    alice = bearer(keys["alice"])
    events = client.get("/admin/audit?action=organization.created&limit=5", headers=alice)
    assert [e["action"] for e in events.get_json()["items"]] == ["organization.created"]
    assert client.get("/admin/audit/verify", headers=alice).get_json()["ok"] is True
    bad = client.get("/admin/audit?limit=0", headers=alice)
    assert bad.status_code == 400 and bad.mimetype == PROBLEM


def test_openapi_document_describes_every_admin_route(client, app):
    document = client.get("/admin/openapi.json").get_json()
    assert document["openapi"] == "3.1.0"
    assert document["components"]["securitySchemes"]["adminKey"]["scheme"] == "bearer"
    assert "OrganizationCreate" in document["components"]["schemas"]
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    routes = {(method, _openapi_path(rule.rule)) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/admin") and rule.endpoint != "admin_openapi.openapi"
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == documented


def _openapi_path(rule: str) -> str:
    path = re.sub(r"<any\([^)]*\):(\w+)>", r"{\1}", rule)
    path = re.sub(r"<\w+:(\w+)>", r"{\1}", path)
    return path.replace("<", "{").replace(">", "}")


def test_organizations_imported_as_a_job(api, client):
    body = {"organizations": [{"name": "Acme Labs", "country": "US"},
                              {"name": "Borealis AI", "onboard": True}]}
    started = api.raw("POST", "/organizations/import", json=body)
    assert started.status_code == 202 and started.headers["Location"].startswith("/admin/jobs/")
    job_id = started.get_json()["id"]
    client.application.extensions["entitlements"].jobs.wait(job_id, timeout=30)
    job = api("GET", f"/jobs/{job_id}")
    assert (job["kind"], job["state"], job["done"], job["total"], job["result"]) == (
        "import", "done", 2, 2, {"created": 2, "skipped": [], "skipped_count": 0})
    statuses = {o["name"]: o["status"] for o in api("GET", "/organizations")["items"]}
    assert statuses == {"Acme Labs": "applied", "Borealis AI": "verified"}
    api.problem("POST", "/organizations/import", {"organizations": [{"country": "US"}]}, 400,
                "invalid_input")
    api.problem("POST", "/organizations/import", {"organizations": []}, 400, "invalid_input")
    assert len(api("GET", "/jobs")["items"]) == 1


def test_an_owner_issues_an_admin_key_through_the_api(api, client, db, clock):
    with db.transaction() as session:
        admins.add(session, Actor("cli:root", clock.now()), "bob", ["viewer", "key_admin"])
    issued = api("POST", "/admins/bob/keys", {"roles": ["viewer"]}, 201)
    assert (issued["name"], issued["roles"]) == ("bob", ["viewer"])
    me = client.get("/admin/me", headers={"Authorization": f"Bearer {issued['key']}"})
    assert (me.status_code, me.get_json()["roles"]) == (200, ["viewer"])
    api.problem("POST", "/admins/bob/keys", {"roles": ["owner"]}, 400, "role_not_held")


def test_two_owners_disabling_each_other_at_once_leave_one(live_server, db, clock):
    with db.transaction() as session:
        keys = [admin_key(session, clock.now(), name, ("owner",)).secret
                for name in ("o1", "o2")]
    start = threading.Barrier(2)

    def disable(key: str, other: str) -> int:
        start.wait(timeout=30)
        return requests.patch(f"{live_server.url}/admin/admins/{other}",
                              json={"status": "disabled"}, timeout=30,
                              headers={"Authorization": f"Bearer {key}"}).status_code

    with ThreadPoolExecutor(2) as pool:
        answers = sorted(pool.map(disable, keys, ["o2", "o1"]))
    # The loser is the last owner (409), or was disabled before its key was read (401).
    assert answers in ([200, 401], [200, 409])
    with db.sessions() as session:
        owners = session.scalars(select(AdminRow).where(AdminRow.status == "active")).all()
        assert len(owners) == 1
