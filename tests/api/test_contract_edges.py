"""The contract at its edges: booleans are JSON booleans, nothing an OAuth or partner
endpoint answers may be cached, and an admin's refused change is audited with the admin's
name and never the body."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from entitlements.audit.models import AuditEvent
from tests.support.helpers import basic


@pytest.mark.parametrize("value", [1, 0, "true", "false", "yes", None])
def test_booleans_are_strict(api, value):
    problem = api.problem("POST", "/organizations", {"name": "Strict Co", "onboard": value},
                          400, "invalid_input")
    assert "onboard" in problem["errors"]


def test_a_json_boolean_is_taken(api):
    assert api("POST", "/organizations", {"name": "Strict Co", "onboard": True},
               expect=201)["status"] == "verified"


def test_no_oauth_or_partner_answer_may_be_cached(client, partner):
    auth = basic(partner.client_id, partner.client_secret)
    token = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                        headers=auth).get_json()["access_token"]
    answers = {
        "token": client.post("/oauth/token", data={"grant_type": "client_credentials"},
                             headers=auth),
        "introspect": client.post("/oauth/introspect", data={"token": token}, headers=auth),
        "revoke": client.post("/oauth/revoke", data={"token": token}, headers=auth),
        "nonce": client.post("/attestations/nonce", headers=auth),
        "attestation refused": client.post("/attestations", data={"credential": "x"},
                                           headers=auth),
        "explain": client.post("/policy/explain", data={"model": "base-1"}, headers=auth),
        "explain refused": client.post("/policy/explain", data="model=a&model=b",
                                       content_type="application/x-www-form-urlencoded",
                                       headers=auth),
        "unauthenticated": client.post("/policy/explain", data={"model": "base-1"}),
    }
    assert {name: a.headers.get("Cache-Control") for name, a in answers.items()} == {
        name: "no-store" for name in answers}
    assert answers["attestation refused"].status_code >= 400
    assert answers["explain refused"].status_code == 400


def test_an_admins_refused_change_is_audited_without_the_body(api, db):
    api("POST", "/organizations", {"name": "Taken", "onboard": True}, expect=201)
    api.problem("POST", "/organizations", {"name": "Taken", "onboard": True}, 409, "conflict")
    api.problem("POST", "/clients", {"organization_id": "org_nope", "name": "c",
                                     "client_secret": "s3cret-in-body"}, 400, "invalid_input")
    with db.sessions() as session:
        refused = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "admin.refused").order_by(AuditEvent.at)).all()
    assert [(e.actor, e.reason, e.details["status"]) for e in refused] == [
        ("admin:alice", "conflict", 409), ("admin:alice", "invalid_input", 400)]
    assert refused[1].details["fields"] == ["client_secret"]
    assert all("s3cret" not in str(e.details) and "Taken" not in str(e.details)
               for e in refused)
