"""Searching the audit log (GET /admin/audit): by organization, time, actor, action (exact or
``prefix.*``), target, target kind and outcome; every event naming a plain target id with its
kind and the organization it concerns; grant events saying why; keyset pagination that reads
every matching event once, newest first, while new events are written."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select

from entitlements.attestations.models import VerifiedAttestation
from entitlements.audit.targets import KINDS
from entitlements.base.pages import encode_cursor
from entitlements.clients.models import OAuthClient
from entitlements.identity_providers.models import IdentityProvider
from entitlements.persons.models import Person
from tests.support.admin_api import Api
from tests.support.factories import admin_key
from tests.support.helpers import basic, problem_code
from tests.support.markers import ONE_ADMIN

pytestmark = ONE_ADMIN


def search(api: Api, **query: Any) -> list[dict]:
    """Every event matching ``query``, page by page (at most 1000 a page)."""
    found, cursor = [], None
    while True:
        page = page_of(api, **query, limit=query.pop("limit", 1000),
                       **({"cursor": cursor} if cursor else {}))
        found += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def page_of(api: Api, **query: Any) -> dict:
    response = api.client.get("/admin/audit", headers=api.headers, query_string=query)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert set(body) == {"items", "next_cursor"}
    return body


def refused(api: Api, code: str, **query: Any) -> dict:
    response = api.client.get("/admin/audit", headers=api.headers, query_string=query)
    assert response.status_code == 400, response.get_json()
    assert problem_code(response) == code
    return response.get_json()


def key_of(event: dict) -> tuple[str, str, int]:
    return event["at"], event["stream"], event["seq"]


def newest_first(events: list[dict]) -> bool:
    """Ordered by (at, stream, seq), descending: the times compared as instants."""
    keys = [(datetime.fromisoformat(e["at"]), e["stream"], e["seq"]) for e in events]
    return keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys)


def revoke(api: Api, **filters: str) -> int:
    return api("POST", "/tokens/revoke", {"reason": "incident", **filters})["revoked"]


# -- by organization -------------------------------------------------------------------------


def test_events_about_an_organization_are_found_by_its_id(api, cast, db):
    a, b = cast["A"], cast["B"]
    client_token = api.token(a, "tier:public")
    person_token = api.person_token(a, cast["idp_key"], "citizen")
    api.token(b, "tier:public")
    assert revoke(api, organization_id=a.org_id) == 2

    found = search(api, organization_id=a.org_id)
    assert found and newest_first(found)
    assert {e["organization_id"] for e in found} == {a.org_id}
    actions = [(e["action"], e["target_kind"], e["target"]) for e in found]
    with db.sessions() as session:
        idp_id = session.scalar(select(IdentityProvider.id)
                                .where(IdentityProvider.organization_id == a.org_id))
    expected = {
        ("organization.created", "organization", a.org_id),  # its lifecycle
        ("organization.trust_requested", "organization", a.org_id),
        ("organization.trust_raised", "organization", a.org_id),
        ("client.created", "client", a.client_id),  # its client
        ("idp.registered", "identity_provider", idp_id),
        ("person.created", "person", cast["citizen"]),  # its persons
        ("person.created", "person", cast["stranger"]),
        ("grant.issued", "client", a.client_id),  # grants to its client
        ("grant.issued", "person", cast["citizen"]),  # and to a person through it
        ("tokens.revoked", "organization", a.org_id),  # a bulk revocation by organization
    }
    assert expected <= set(actions), expected - set(actions)
    grants = {e["details"]["jti"] for e in found if e["action"] == "grant.issued"}
    assert grants == {client_token["jti"], person_token["jti"]}
    [revocation] = [e for e in found if e["action"] == "tokens.revoked"]
    assert revocation["target"] == a.org_id  # not "organization_id:org_..."
    assert revocation["details"]["filters"] == {"organization_id": a.org_id}
    assert sorted(revocation["details"]["jtis"]) == sorted(
        [client_token["jti"], person_token["jti"]])
    # Nothing about B, and B's search finds nothing of A's.
    assert not any(e["target"] in (b.org_id, b.client_id) for e in found)
    assert a.org_id not in {e["organization_id"] for e in search(api, organization_id=b.org_id)}


def test_every_event_names_a_plain_target_its_kind_and_organization(api, cast, db, admin):
    a, b = cast["A"], cast["B"]
    api.token(a)
    api.token(b)
    api.person_token(a, cast["idp_key"], "citizen")
    api("POST", f"/clients/{admin.client(b.org_id).client_id}/revoke", {"reason": "gone"})
    revoke(api, client_id=a.client_id)
    revoke(api, person_id=cast["citizen"])
    revoke(api, tier="public")
    revoke(api, organization_id=b.org_id, tier="restricted")
    with db.sessions() as session:
        org_of = {c.client_id: c.organization_id for c in session.scalars(select(OAuthClient))}
        org_of |= {p.id: p.organization_id for p in session.scalars(select(Person))}
        org_of |= {i.id: i.organization_id for i in session.scalars(select(IdentityProvider))}
    org_of |= {a.org_id: a.org_id, b.org_id: b.org_id}
    events = search(api)
    assert len(events) > 20
    for event in events:
        if event["target"] is None:
            assert event["target_kind"] is None and event["organization_id"] is None, event
            continue
        kind, target = event["target_kind"], event["target"]
        assert kind in KINDS, event
        if kind != "resource":  # a gateway's id is its URI
            assert ":" not in target, event
        if kind in ("organization", "client", "person", "identity_provider"):
            assert event["organization_id"] == org_of[target], event
        if kind == "tier":
            assert event["organization_id"] is None, event


def test_a_bulk_revocation_names_the_most_specific_thing_it_names(api, cast):
    a, b = cast["A"], cast["B"]
    for token in (api.token(a), api.token(b), api.person_token(a, cast["idp_key"], "citizen")):
        assert token["jti"]
    revoke(api, client_id=a.client_id)
    revoke(api, person_id=cast["citizen"])
    revoke(api, tier="public")
    revoke(api, organization_id=b.org_id, tier="restricted")
    events = search(api, action="tokens.revoked")
    assert [(e["target_kind"], e["target"], e["organization_id"]) for e in events] == [
        ("organization", b.org_id, b.org_id),
        ("tier", "public", None),
        ("person", cast["citizen"], a.org_id),
        ("client", a.client_id, a.org_id),
    ]
    # Found by the organization they concern, and by their kind.
    assert [e["target"] for e in search(api, action="tokens.revoked",
                                         organization_id=a.org_id)] == [
        cast["citizen"], a.client_id]
    assert [e["target"] for e in search(api, action="tokens.revoked",
                                         target_kind="tier")] == ["public"]


# -- grants say why ----------------------------------------------------------------------------


def test_a_client_grant_says_which_policy_and_trust_decided_it(api, cast):
    b = cast["B"]
    token = api.token(b, "tier:public")
    [event] = search(api, action="grant.issued", target=b.client_id)
    assert (event["actor"], event["target_kind"], event["organization_id"]) == (
        b.client_id, "client", b.org_id)
    details = event["details"]
    assert (details["jti"], details["sub"], details["tiers"]) == (token["jti"], b.client_id,
                                                                  ["public"])
    assert details["policy_version"] == cast["version"]
    assert details["trust_level"] == "verified"
    assert not {"attestations", "attestation_issuers", "identity_provider_id"} & set(details)


def test_a_person_grant_names_the_person_and_what_their_citizenship_rests_on(api, cast, db):
    a = cast["A"]
    token = api.person_token(a, cast["idp_key"], "citizen")
    assert token["sub"] == cast["citizen"]
    [event] = search(api, action="grant.issued", target_kind="person")
    with db.sessions() as session:
        attestation = session.scalars(select(VerifiedAttestation).where(
            VerifiedAttestation.person_id == cast["citizen"])).one()
        idp_id = session.scalar(select(IdentityProvider.id)
                                .where(IdentityProvider.organization_id == a.org_id))
    assert (event["target"], event["target_kind"], event["organization_id"], event["actor"]) == (
        cast["citizen"], "person", a.org_id, a.client_id)
    details = event["details"]
    assert details["jti"] == token["jti"] and details["sub"] == cast["citizen"]
    assert details["policy_version"] == cast["version"]
    assert details["trust_level"] == "trusted"
    assert details["attestations"] == [attestation.id]
    assert details["attestation_issuers"] == [attestation.issuer_id]
    assert details["identity_provider_id"] == idp_id
    # A person with no verified citizenship: the lists are there, and empty.
    api.person_token(a, cast["idp_key"], "stranger")
    [stranger] = search(api, action="grant.issued", target=cast["stranger"])
    assert (stranger["details"]["attestations"], stranger["details"]["attestation_issuers"],
            stranger["details"]["identity_provider_id"]) == ([], [], idp_id)


# -- time, actor, action, target, outcome ------------------------------------------------------


def test_since_and_until_bound_the_time(api, clock):
    times = []
    for name in ("First", "Second", "Third"):
        times.append(clock.now())
        api("POST", "/organizations", {"name": name}, 201)
        clock.advance(minutes=10)
    t0, t1, t2 = times

    everything = search(api, action="organization.applied")
    assert len(everything) == 3
    by_time = {e["at"]: e["target"] for e in everything}
    assert sorted(by_time) == sorted(t.isoformat() for t in times)

    def targets(**query: Any) -> list[str]:
        return [e["target"] for e in search(api, action="organization.applied", **query)]

    first, second, third = (by_time[t.isoformat()] for t in times)
    assert targets(since=t1.isoformat()) == [third, second]  # since is included
    assert targets(until=t2.isoformat()) == [second, first]  # until is not
    assert targets(since=t1.isoformat(), until=t2.isoformat()) == [second]
    assert targets(since=(t1 + timedelta(seconds=1)).isoformat()) == [third]
    assert targets(since=t0.isoformat(), until=t0.isoformat()) == []
    # The same instant written with another offset bounds the same.
    plus5 = timezone(timedelta(hours=5))
    assert targets(since=t1.astimezone(plus5).isoformat(),
                   until=t2.astimezone(plus5).isoformat()) == [second]
    refused(api, "invalid_input", since=t1.replace(tzinfo=None).isoformat())
    refused(api, "invalid_input", until="yesterday")


def test_the_actor_filter(api, db, clock, client):
    with db.transaction() as session:
        bob = admin_key(session, clock.now(), "bob").secret
    api("POST", "/organizations", {"name": "Alice's"}, 201)
    made = client.post("/admin/organizations", headers={"Authorization": f"Bearer {bob}"},
                       json={"name": "Bob's"})
    assert made.status_code == 201
    found = search(api, actor="admin:bob")
    assert [(e["action"], e["target"]) for e in found] == [("organization.applied",
                                                            made.get_json()["id"])]
    assert all(e["actor"] == "admin:alice" for e in search(api, action="organization.applied",
                                                          actor="admin:alice"))
    assert search(api, actor="admin:nobody") == []
    assert search(api, actor="admin:BOB") == []


def test_the_action_filter_exact_and_by_prefix(api, cast):
    api.new_version("another", patch={"tiers": {"public": {"description": "again"}}},
                    activate_now=True)
    api("POST", f"/organizations/{cast['B'].org_id}/tiers", {"tier": "restricted"}, 201)
    exact = search(api, action="policy.version_created")
    assert len(exact) >= 3 and {e["action"] for e in exact} == {"policy.version_created"}
    prefixed = search(api, action="policy.*")
    actions = {e["action"] for e in prefixed}
    assert {"policy.version_created", "policy.activated"} <= actions
    assert all(a.startswith("policy.") for a in actions)
    assert "organization.tier_granted" not in actions
    assert {e["action"] for e in search(api, action="organization.*")} >= {
        "organization.created", "organization.tier_granted"}
    # A prefix is literal: LIKE's wildcards in it match only themselves.
    assert search(api, action="polic_.*") == []
    assert search(api, action="p%.*") == []
    assert search(api, action="policy") == []  # no star: an exact action
    assert search(api, action="policy.version") == []


def test_an_action_prefix_is_case_sensitive_like_an_exact_action(api, cast):
    assert search(api, action="POLICY.version_created") == []
    assert search(api, action="POLICY.*") == []


def test_the_target_and_target_kind_filters(api, cast):
    a = cast["A"]
    api.token(a)
    clients = search(api, target_kind="client")
    assert clients and {e["target_kind"] for e in clients} == {"client"}
    assert {e["target"] for e in clients} == {a.client_id, cast["B"].client_id}
    about = search(api, target=a.client_id)
    assert {e["action"] for e in about} == {"client.created", "grant.issued"}
    assert search(api, target_kind="person", organization_id=cast["B"].org_id) == []
    assert {e["target"] for e in search(api, target_kind="person")} == {
        cast["citizen"], cast["stranger"]}
    refused(api, "invalid_input", target_kind="org")


def test_the_outcome_filter_finds_refusals(api, cast, client):
    b = cast["B"]
    wrong = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                        headers=basic(b.client_id, "not-the-secret"))
    assert wrong.status_code == 401
    refused(api, "invalid_input", limit=0)  # an admin's refused request is audited too
    failures = search(api, outcome="failure")
    assert {e["outcome"] for e in failures} == {"failure"}
    [grant] = [e for e in failures if e["action"] == "grant.refused"]
    assert grant["reason"].startswith("invalid_client")
    assert grant["details"]["claimed_client_id"] == b.client_id
    assert "admin.refused" in {e["action"] for e in failures}
    successes = search(api, outcome="success")
    assert successes and {e["outcome"] for e in successes} == {"success"}
    assert not {e["action"] for e in successes} & {"grant.refused", "admin.refused"}
    refused(api, "invalid_input", outcome="refused")


# -- pages ---------------------------------------------------------------------------------------


def test_pages_read_every_event_once_newest_first_while_events_are_written(api, cast, clock):
    b = cast["B"]
    for _ in range(5):
        clock.advance(seconds=1)
        api.token(b)
    query = {"organization_id": b.org_id}
    everything = search(api, **query)
    assert len(everything) >= 7 and newest_first(everything)
    collected, cursor, pages = [], None, 0
    while True:
        page = page_of(api, **query, limit=2, **({"cursor": cursor} if cursor else {}))
        pages += 1
        assert len(page["items"]) <= 2
        collected += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(page["items"]) == 2
        clock.advance(seconds=1)
        api.token(b)  # new events about B, newer than any page holds
        if pages == 1:
            api("POST", f"/organizations/{b.org_id}/tiers", {"tier": "restricted"}, 201)
    assert [key_of(e) for e in collected] == [key_of(e) for e in everything]
    assert pages == (len(everything) + 1) // 2
    assert len(search(api, **query)) > len(everything)  # the new ones are there to find


def test_the_last_page_has_no_cursor_and_a_limit_of_all(api, cast):
    everything = search(api, organization_id=cast["A"].org_id)
    whole = page_of(api, organization_id=cast["A"].org_id, limit=len(everything))
    assert whole["next_cursor"] is None
    assert [key_of(e) for e in whole["items"]] == [key_of(e) for e in everything]
    short = page_of(api, organization_id=cast["A"].org_id, limit=len(everything) - 1)
    assert short["next_cursor"] is not None
    rest = page_of(api, organization_id=cast["A"].org_id, cursor=short["next_cursor"])
    assert [key_of(e) for e in short["items"] + rest["items"]] == [key_of(e) for e in everything]
    assert rest["next_cursor"] is None


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("cursor", [
    pytest.param("garbage!!", id="garbage"),
    pytest.param("x", id="one-char"),
    pytest.param(_b64({"at": "2025-01-01"}), id="an-object"),
    pytest.param(encode_cursor(["alice"]), id="another-lists-shape"),
    pytest.param(encode_cursor(["2025-01-01T00:00:00+00:00", "main", 3]),
                 id="time-as-text"),
    pytest.param(encode_cursor([1735689600, "main", 3]), id="time-as-number"),
    pytest.param(_b64([{"t": "2025-01-01T00:00:00"}, "main", 3]), id="naive-time"),
    pytest.param(_b64([{"t": "2025-01-01T00:00:00+00:00"}, "main", "3"]), id="seq-as-text"),
    pytest.param(_b64([{"t": "2025-01-01T00:00:00+00:00"}, "main", True]), id="seq-as-bool"),
    pytest.param(_b64([{"t": "2025-01-01T00:00:00+00:00"}, "main", 3, 4]), id="too-long"),
    pytest.param(_b64([{"t": "not a time"}, "main", 3]), id="bad-time"),
    pytest.param("A" * 513, id="too-long-cursor"),
])
def test_an_invalid_cursor_is_refused(api, cast, cursor):
    problem = refused(api, "invalid_cursor" if len(cursor) <= 512 else "invalid_input",
                      cursor=cursor, limit=2)
    assert problem["status"] == 400


def test_a_cursor_from_another_list_is_refused(api, cast, db, clock):
    with db.transaction() as session:
        admin_key(session, clock.now(), "bob")
    admins = api("GET", "/admins?limit=1")
    assert admins["next_cursor"]
    refused(api, "invalid_cursor", cursor=admins["next_cursor"])
    jobs_cursor = encode_cursor([clock.now(), "job_x"])
    refused(api, "invalid_cursor", cursor=jobs_cursor)


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "many"])
def test_a_limit_out_of_range_is_refused(api, limit):
    problem = refused(api, "invalid_input", limit=limit)
    assert "limit" in problem["errors"]


def test_limits_at_the_bounds_are_accepted(api, cast):
    assert len(page_of(api, limit=1)["items"]) == 1
    assert page_of(api, limit=1000)["next_cursor"] is None
