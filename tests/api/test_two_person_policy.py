"""Two-person control on policy changes: an activation (now or scheduled), a rollback, a
re-imposition or a tier grant asked for by one admin answers 202 and changes nothing until a
second admin approves it; then it is applied as the approver's act, and the activation and
the audit trail name both. The asker cannot approve, may withdraw; another admin may reject;
a request is decided once, and not after seven days. A change that could not be applied is
refused when asked, leaving no request. Which actions wait is a setting."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from entitlements.audit.models import AuditEvent
from entitlements.policy.models import PolicyActivation, PolicyChangeRequest
from tests.support.admin_api import DOC, Api, staff_of, tiers_of
from tests.support.factories import admin_key
from tests.support.helpers import basic

#: alice asks (she may approve too, so that approving her own request is refused by the
#: two-person rule, not by her roles); bob and carol approve; erin only edits; victor reads;
#: olga owns.
ROLES = {
    "alice": ("policy_editor", "policy_approver"),
    "bob": ("policy_approver",),
    "carol": ("policy_approver",),
    "erin": ("policy_editor",),
    "victor": ("viewer",),
    "olga": ("owner",),
}
#: DOC, and a tier for allowlisted organizations only (what tier grants are for).
CATALOG = {"tiers": {**DOC["tiers"], "partners": {"status": "allowlist_only"}},
           "models": DOC["models"]}
SUSPEND = {"tiers": {"restricted": {"status": "suspended"}}}
PENDING = "/policy/changes?state=pending"


class AdminApi(Api):
    """The admin API as admin ``name``, whose key acts with ``roles``, and what only these
    tests ask of it."""

    def ask(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A change that must wait: 202, with the request's address in Location."""
        response = self.raw("POST", path, json=body)
        assert response.status_code == 202, response.get_json()
        request = response.get_json()
        assert response.headers["Location"].endswith(f"/admin/policy/changes/{request['id']}")
        assert (request["state"], request["requested_by"]) == ("pending", self.name)
        return request

    def decide(self, request_id: str, verdict: str = "approve", expect: int = 200
               ) -> dict[str, Any]:
        return self("POST", f"/policy/changes/{request_id}/{verdict}",
                    {"reason": f"{verdict} by {self.name}"}, expect)

    def requests(self) -> int:
        """How many change requests exist, whatever their state."""
        return len(self("GET", "/policy/changes")["items"])


@pytest.fixture
def staff(client, admin, db, clock) -> dict[str, AdminApi]:
    return staff_of(AdminApi, ROLES, client, admin, db, clock)


@pytest.fixture
def alice(staff) -> AdminApi:
    return staff["alice"]


@pytest.fixture
def bob(staff) -> AdminApi:
    return staff["bob"]


@pytest.fixture
def cast(alice, bob, admin) -> dict[str, Any]:
    """Org B (verified, with a client) under CATALOG, version 2: alice asked, bob approved
    (at once, when the rule does not cover activations)."""
    admin.gateway()
    b = admin.partner("Org B", tiers=())
    created = alice.new_version("the test policy", document=CATALOG, activate_now=True)
    if created["approval"] is not None:
        bob.decide(created["approval"]["id"])
    assert alice.active() == created["version"]["version"] == 2
    return {"B": b, "version": 2}


def suspended_version(api: AdminApi) -> int:
    """A version suspending restricted, not activated."""
    return api.new_version("suspend restricted", patch=SUSPEND)["version"]["version"]


def token_answer(client, partner, scope: str):
    return client.post("/oauth/token", data={"grant_type": "client_credentials",
                                             "scope": scope},
                       headers=basic(partner.client_id, partner.client_secret))


# -- asked by one, applied when a second approves -----------------------------------------------


def test_an_activation_waits_for_a_second_admin_and_names_both(alice, bob, cast, clock):
    b, start = cast["B"], cast["version"]
    created = alice.new_version("suspend restricted", patch=SUSPEND)["version"]
    number = created["version"]
    before = alice.written()

    request = alice.ask(f"/policy/versions/{number}/activate", {"reason": "export order"})
    assert (request["action"], request["params"], request["reason"], request["decided_by"],
            request["result"]) == ("activate", {"version": number, "at": None,
                                                "on_pending": None}, "export order", None, None)
    assert request["requested_at"] == clock.now().isoformat()
    assert request["expires_at"] == (clock.now() + timedelta(days=7)).isoformat()
    shown = alice("GET", f"/policy/changes/{request['id']}")
    assert shown["diff"] == created["diff"] == [
        {"path": "/tiers/restricted/status", "before": "open", "after": "suspended"}]
    assert [r["id"] for r in alice("GET", PENDING)["items"]] == [request["id"]]
    # Nothing changed but the request and its audit event.
    versions, activations, events, revoked = before
    assert alice.written() == (versions, activations, events + 1, revoked)
    assert alice.active() == start
    assert tiers_of(alice.token(b)) == ["public", "restricted"]

    approved = bob.decide(request["id"])
    assert (approved["id"], approved["state"], approved["decided_by"],
            approved["decision_reason"]) == (request["id"], "approved", "admin:bob",
                                             "approve by admin:bob")
    activation = approved["result"]["activation"]
    assert (activation["version"], activation["kind"], activation["created_by"],
            activation["approved_by"], activation["reason"]) == (
        number, "activate", "admin:alice", "admin:bob", "export order")
    assert alice.activation(activation["id"]) == activation
    assert alice.active() == number
    assert tiers_of(alice.token(b)) == ["public"]
    assert alice("GET", PENDING)["items"] == []
    assert request["id"] in [r["id"] for r in alice("GET", "/policy/changes?state=approved")[
        "items"]]

    [asked] = alice.audit("policy.change_requested", request["id"])
    assert (asked["actor"], asked["actor_role"], asked["target_kind"], asked["reason"],
            asked["details"]) == ("admin:alice", "policy_editor", "policy_change",
                                  "export order", {"action": "activate",
                                                   "params": request["params"]})
    [decided] = alice.audit("policy.change_approved", request["id"])
    assert (decided["actor"], decided["actor_role"]) == ("admin:bob", "policy_approver")
    assert {k: decided["details"][k] for k in ("action", "requested_by", "decided_by")} == {
        "action": "activate", "requested_by": "admin:alice", "decided_by": "admin:bob"}
    assert decided["details"]["result"] == approved["result"]
    activated = alice.audit("policy.activated", str(number))[0]
    assert activated["actor"] == "admin:bob"
    assert (activated["details"]["before"], activated["details"]["after"]) == (start, number)
    assert activated["details"]["approval"] == {
        "request": request["id"], "requested_by": "admin:alice", "approved_by": "admin:bob"}
    assert alice("GET", "/audit/verify")["ok"] is True


def test_a_version_created_to_be_activated_now_waits_too(alice, bob, cast):
    created = alice("POST", "/policy/versions", {
        "base_version": cast["version"], "reason": "suspend now", "patch": SUSPEND,
        "activate_now": True}, 201)
    number, request = created["version"]["version"], created["approval"]
    assert created["activation"] is None
    assert (request["action"], request["params"]["version"], request["state"]) == (
        "activate", number, "pending")
    assert alice.latest() == number and alice.active() == cast["version"]
    bob.decide(request["id"])
    assert alice.active() == number


@pytest.mark.parametrize(("who", "code"), [
    pytest.param("alice", "two_person_rule", id="the-asker"),
    pytest.param("erin", "forbidden_role", id="an-editor"),
    pytest.param("victor", "forbidden_role", id="a-viewer"),
])
def test_who_may_not_approve_changes_nothing(staff, cast, who, code):
    alice = staff["alice"]
    number = suspended_version(alice)
    request = alice.ask(f"/policy/versions/{number}/activate", {"reason": "order"})
    before = alice.written()
    problem = staff[who].problem("POST", f"/policy/changes/{request['id']}/approve",
                                 {"reason": "mine"}, 403, code)
    if code == "two_person_rule":
        assert "cannot approve it" in problem["detail"]
    assert alice.written() == before
    assert alice.active() == cast["version"]
    assert alice("GET", f"/policy/changes/{request['id']}")["state"] == "pending"
    assert alice.audit("policy.change_approved", request["id"]) == []
    # A second admin still may.
    staff["bob"].decide(request["id"])
    assert alice.active() == number


def test_a_viewer_cannot_ask(staff, cast):
    number = suspended_version(staff["alice"])
    before = staff["alice"].written(), staff["alice"].requests()
    staff["victor"].problem("POST", f"/policy/versions/{number}/activate", {"reason": "x"},
                            403, "forbidden_role")
    assert (staff["alice"].written(), staff["alice"].requests()) == before


#: Who may turn a waiting change down: the editor who asked withdraws it; an owner or a
#: policy approver rejects it.
REJECTERS = [
    pytest.param("alice", "withdrawn", id="withdrawn-by-the-asker"),
    pytest.param("olga", "rejected", id="rejected-by-an-owner"),
    pytest.param("bob", "rejected", id="rejected-by-a-policy-approver"),
]


@pytest.mark.parametrize(("who", "state"), REJECTERS)
def test_a_request_withdrawn_or_rejected_is_never_applied(staff, cast, clock, who, state):
    alice, decider = staff["alice"], staff[who]
    number = suspended_version(alice)
    request = alice.ask(f"/policy/versions/{number}/activate", {"reason": "order"})
    versions, activations, _, revoked = alice.written()

    decided = decider.decide(request["id"], "reject")
    assert (decided["state"], decided["decided_by"], decided["decided_at"],
            decided["decision_reason"], decided["result"]) == (
        state, decider.name, clock.now().isoformat(), f"reject by {decider.name}", None)
    assert alice.written()[:2] == (versions, activations)
    assert alice.written()[3] == revoked
    assert alice.active() == cast["version"]
    [event] = alice.audit(f"policy.change_{state}", request["id"])
    assert (event["actor"], event["details"]["requested_by"],
            event["details"]["decided_by"]) == (decider.name, "admin:alice", decider.name)
    assert alice("GET", PENDING)["items"] == []
    assert [r["id"] for r in alice("GET", f"/policy/changes?state={state}")["items"]] == [
        request["id"]]

    # Decided once: neither approving nor rejecting it again does anything.
    before = alice.written()
    problem = staff["carol"].problem("POST", f"/policy/changes/{request['id']}/approve",
                                     {"reason": "late"}, 409, "not_pending")
    assert f"already {state}" in problem["detail"]
    staff["olga"].problem("POST", f"/policy/changes/{request['id']}/reject",
                          {"reason": "late"}, 409, "not_pending")
    alice.problem("POST", f"/policy/changes/{request['id']}/reject", {"reason": "again"}, 409,
                  "not_pending")
    assert alice.written() == before and alice.active() == cast["version"]


def test_an_approved_request_cannot_be_approved_or_rejected_again(staff, cast):
    alice, bob = staff["alice"], staff["bob"]
    number = suspended_version(alice)
    request = alice.ask(f"/policy/versions/{number}/activate", {"reason": "order"})
    bob.decide(request["id"])
    before = alice.written()
    staff["carol"].problem("POST", f"/policy/changes/{request['id']}/approve",
                           {"reason": "me too"}, 409, "not_pending")
    alice.problem("POST", f"/policy/changes/{request['id']}/reject", {"reason": "undo"}, 409,
                  "not_pending")
    assert alice.written() == before
    assert alice("GET", f"/policy/changes/{request['id']}")["decided_by"] == "admin:bob"
    staff["olga"].problem("POST", "/policy/changes/pcr_nope/approve", {"reason": "?"}, 404,
                          "not_found")


@pytest.mark.parametrize(("waited", "status"), [
    pytest.param(timedelta(days=7, seconds=-1), 200, id="just-in-time"),
    pytest.param(timedelta(days=7), 409, id="seven-days"),
    pytest.param(timedelta(days=30), 409, id="a-month"),
])
def test_a_request_older_than_seven_days_cannot_be_approved(alice, bob, cast, clock, waited,
                                                            status):
    number = suspended_version(alice)
    request = alice.ask(f"/policy/versions/{number}/activate", {"reason": "order"})
    clock.advance(seconds=waited.total_seconds())
    if status == 200:
        bob.decide(request["id"])
        assert alice.active() == number
        return
    before = alice.written()
    problem = bob.problem("POST", f"/policy/changes/{request['id']}/approve", {"reason": "ok"},
                          409, "request_expired")
    assert "older than 7 days; ask again" in problem["detail"]
    assert alice.written() == before
    assert alice.active() == cast["version"]
    shown = alice("GET", f"/policy/changes/{request['id']}")
    assert (shown["decided_by"], shown["state"]) == (None, "expired")
    listed = {state: [r["id"] for r in alice("GET", f"/policy/changes?state={state}")["items"]]
              for state in ("pending", "expired")}
    assert listed == {"pending": [], "expired": [request["id"]]}


# -- a change that could not be applied is refused when asked ------------------------------------


def bad(path: str, body: dict[str, Any], status: int, code: str, id: str):
    """A change asked for with ``{number}`` (a version not active), ``{org}`` (an
    organization) and ``{past}`` (a second ago) filled in."""
    return pytest.param(path, body, status, code, id=id)


BAD_CHANGES = [
    bad("/policy/versions/99/activate", {"reason": "?"}, 404, "unknown_version",
        "unknown-version"),
    bad("/policy/versions/{number}/activate", {"reason": "late", "at": "{past}"}, 400,
        "schedule_in_past", "schedule-in-past"),
    bad("/policy/versions/99/activate", {"reason": "?", "revoke_disallowed": True}, 404,
        "unknown_version", "reimpose-unknown-version"),
    bad("/policy/rollback", {"version": 99, "reason": "?"}, 404, "unknown_version",
        "rollback-unknown-version"),
    bad("/policy/versions/2/activate", {"reason": "again"}, 409, "already_active",
        "already-active"),
    bad("/organizations/org_nope/tiers", {"tier": "partners"}, 404, "not_found",
        "grant-unknown-organization"),
    bad("/organizations/{org}/tiers", {"tier": "nope"}, 404, "not_found",
        "grant-unknown-tier"),
    bad("/policy/versions", {"base_version": "{number}", "reason": "late", "activate_at": "{past}",
                             "patch": {"tiers": {"public": {"description": "x"}}}},
        400, "schedule_in_past", "new-version-scheduled-in-the-past"),
]


def filled(value: Any, values: dict[str, Any]) -> Any:
    if value == "{number}":
        return values["number"]
    return value.format(**values) if isinstance(value, str) else value


@pytest.mark.parametrize(("path", "body", "status", "code"), BAD_CHANGES)
def test_a_bad_change_is_refused_when_asked_and_leaves_no_request(alice, admin, cast, clock,
                                                                  path, body, status, code):
    values = {"number": suspended_version(alice), "org": admin.org("Org C", tiers=()),
              "past": (clock.now() - timedelta(seconds=1)).isoformat()}
    before, asked = alice.written(), alice.requests()
    alice.problem("POST", filled(path, values), {k: filled(v, values) for k, v in body.items()},
                  status, code)
    assert alice.written() == before, "no version, activation or audit event"
    assert alice.requests() == asked, "no request row"
    assert alice.active() == cast["version"] and alice.latest() == values["number"]
    assert alice("GET", "/audit/verify")["ok"] is True


# -- each kind of change waits, then does what it does -------------------------------------------


def test_a_scheduled_activation_approved_takes_effect_when_due(alice, bob, cast, clock):
    b, start = cast["B"], cast["version"]
    number = suspended_version(alice)
    at = clock.now() + timedelta(hours=1)
    request = alice.ask(f"/policy/versions/{number}/activate",
                        {"reason": "from midnight", "at": at.isoformat()})
    assert (request["action"], request["params"]["at"]) == ("schedule", at.isoformat())
    clock.advance(minutes=10)
    activation = bob.decide(request["id"])["result"]["activation"]
    assert (activation["version"], activation["activate_at"], activation["created_by"],
            activation["approved_by"]) == (number, at.isoformat(), "admin:alice", "admin:bob")
    scheduled = alice.audit("policy.scheduled", str(number))[0]
    assert (scheduled["actor"], scheduled["details"]["approval"]["requested_by"]) == (
        "admin:bob", "admin:alice")
    clock.advance(minutes=49, seconds=59)
    assert alice.active() == start
    assert tiers_of(alice.token(b)) == ["public", "restricted"]
    clock.advance(seconds=1)
    assert alice.active() == number
    assert tiers_of(alice.token(b)) == ["public"]


def test_a_rollback_waits_then_rolls_back(alice, bob, cast):
    b, start = cast["B"], cast["version"]
    request = alice.ask(f"/policy/versions/{suspended_version(alice)}/activate",
                        {"reason": "order"})
    bob.decide(request["id"])
    assert tiers_of(alice.token(b)) == ["public"]
    before = alice.written()

    request = alice.ask("/policy/rollback", {"version": start, "reason": "lifted"})
    assert (request["action"], request["params"]) == (
        "rollback", {"version": start, "on_pending": None})
    assert alice.written()[:2] == before[:2], "no version made while it waits"
    assert alice.active() == start + 1
    assert tiers_of(alice.token(b)) == ["public"]

    result = bob.decide(request["id"])["result"]
    assert result["version"] == start + 2
    assert (result["activation"]["kind"], result["activation"]["created_by"],
            result["activation"]["approved_by"]) == ("rollback", "admin:alice", "admin:bob")
    assert alice.active() == start + 2
    assert alice("GET", f"/policy/versions/{start + 2}")["document"] == alice(
        "GET", f"/policy/versions/{start}")["document"]
    assert tiers_of(alice.token(b)) == ["public", "restricted"]
    [event] = alice.audit("policy.rolled_back")
    assert (event["actor"], event["details"]["approval"]["requested_by"]) == (
        "admin:bob", "admin:alice")


def test_a_reimposition_waits_then_revokes_the_disallowed_tokens(alice, bob, cast):
    b, start = cast["B"], cast["version"]
    everything = alice.token(b)
    public = alice.token(b, "tier:public")
    restricted = alice.token(b, "tier:restricted")
    number = suspended_version(alice)

    request = alice.ask(f"/policy/versions/{number}/activate",
                        {"reason": "export order", "revoke_disallowed": True})
    assert (request["action"], request["params"]) == (
        "reimpose", {"version": number, "on_pending": None})
    assert alice.revoked(everything, public, restricted) == [False, False, False]
    assert alice.active() == start

    effects = bob.decide(request["id"])["result"]
    assert {k: effects[k] for k in ("before", "after", "checked", "revoked")} == {
        "before": start, "after": number, "checked": 3, "revoked": 2}
    assert sorted(effects["jtis"]) == sorted([everything["jti"], restricted["jti"]])
    assert effects["approval"] == {"request": request["id"], "requested_by": "admin:alice",
                                   "approved_by": "admin:bob"}
    assert alice.revoked(everything, public, restricted) == [True, False, True]
    assert alice.active() == number
    activation = alice.activation(effects["activation"])
    assert (activation["kind"], activation["created_by"], activation["approved_by"]) == (
        "reimpose", "admin:alice", "admin:bob")
    [event] = alice.audit("policy.reimposed")
    assert (event["actor"], event["reason"], event["details"]) == (
        "admin:bob", "export order", effects)


def test_a_tier_grant_waits_then_the_token_has_the_tier(alice, bob, cast, admin):
    c = admin.partner("Org C", tiers=())
    start = cast["version"]
    assert tiers_of(alice.token(c)) == ["public", "restricted"]

    request = alice.ask(f"/organizations/{c.org_id}/tiers", {"tier": "partners"})
    assert (request["action"], request["params"]) == (
        "allowlist", {"organization_id": c.org_id, "tier": "partners", "add": True,
                      "on_pending": None})
    assert alice("GET", f"/organizations/{c.org_id}")["tiers"] == []
    assert token_answer(alice.client, c, "tier:partners").status_code == 400
    assert alice.latest() == start

    result = bob.decide(request["id"])["result"]
    assert result == {"version": start + 1, "organization_id": c.org_id, "tier": "partners",
                      "granted": True}
    assert alice("GET", f"/organizations/{c.org_id}")["tiers"] == ["partners"]
    assert tiers_of(alice.token(c)) == ["partners", "public", "restricted"]
    [granted] = alice.audit("organization.tier_granted")
    assert (granted["actor"], granted["organization_id"], granted["details"]) == (
        "admin:bob", c.org_id, {"tier": "partners", "policy_version": start + 1, "approval": {
            "request": request["id"], "requested_by": "admin:alice",
            "approved_by": "admin:bob"}})
    [activation] = [a for a in alice("GET", "/policy")["activations"]
                    if a["version"] == start + 1]
    assert (activation["created_by"], activation["approved_by"]) == (
        "admin:alice", "admin:bob")


def test_the_same_change_asked_twice_waits_once(staff, cast, admin):
    alice, bob, erin = staff["alice"], staff["bob"], staff["erin"]
    c = admin.partner("Org C", tiers=())
    first = alice.ask(f"/organizations/{c.org_id}/tiers", {"tier": "partners"})
    before = (alice.written(), alice.requests())
    problem = erin.problem("POST", f"/organizations/{c.org_id}/tiers", {"tier": "partners"},
                           409, "already_pending")
    assert first["id"] in problem["detail"] and "admin:alice" in problem["detail"]
    assert (alice.written(), alice.requests()) == before
    bob.decide(first["id"], "reject")
    again = alice.ask(f"/organizations/{c.org_id}/tiers", {"tier": "partners"})
    assert again["id"] != first["id"], "once decided, the same change may be asked again"


def test_the_same_change_asked_at_once_waits_once(live_server, db, clock, admin, cast):
    c = admin.partner("Org C", tiers=())
    with db.transaction() as session:
        keys = [admin_key(session, clock.now(), f"editor{i}", ("policy_editor",)).secret
                for i in range(4)]

    def ask(key: str) -> requests.Response:
        return requests.post(f"{live_server.url}/admin/organizations/{c.org_id}/tiers",
                             json={"tier": "partners"}, timeout=30,
                             headers={"Authorization": f"Bearer {key}"})

    answers = race([partial(ask, key) for key in keys])
    assert Counter(a.status_code for a in answers) == {202: 1, 409: 3}
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PolicyChangeRequest).where(
            PolicyChangeRequest.action == "allowlist")) == 1


# -- which actions wait is a setting -------------------------------------------------------------


@pytest.mark.settings(two_person_policy="rollback")
def test_only_the_actions_the_setting_names_wait(alice, bob, cast, admin):
    start = cast["version"]
    number = suspended_version(alice)
    activation = alice("POST", f"/policy/versions/{number}/activate", {"reason": "now"}, 201)
    assert (activation["version"], activation["created_by"], activation["approved_by"]) == (
        number, "admin:alice", None)
    assert alice.active() == number
    org = admin.org("Org C", tiers=())
    alice("POST", f"/organizations/{org}/tiers", {"tier": "partners"}, 201)
    assert alice.requests() == 0

    request = alice.ask("/policy/rollback", {"version": start, "reason": "back"})
    assert alice.active() == number + 1, "the grant's version is still active"
    bob.decide(request["id"])
    assert alice.active() == number + 2


@pytest.mark.settings(two_person_policy="none")
def test_with_none_nothing_waits(alice, cast, admin, clock):
    start = cast["version"]
    number = suspended_version(alice)
    alice("POST", f"/policy/versions/{number}/activate", {"reason": "now"}, 201)
    later = (clock.now() + timedelta(hours=1)).isoformat()
    alice("POST", f"/policy/versions/{start}/activate", {"reason": "later", "at": later}, 201)
    alice("POST", "/policy/rollback", {"version": start, "reason": "back", "on_pending": "keep"},
          201)
    alice("POST", f"/policy/versions/{number}/activate",
          {"reason": "again", "revoke_disallowed": True, "on_pending": "keep"}, 201)
    org = admin.org("Org C", tiers=())
    alice("POST", f"/organizations/{org}/tiers", {"tier": "partners", "on_pending": "keep"},
          201)
    assert alice.requests() == 0
    assert alice.audit("policy.change_requested") == []


# -- two approvers at once: one wins -------------------------------------------------------------

ROUNDS = 5
APPROVERS = ("bob", "carol", "dave", "frank")


def race(calls: list) -> list[requests.Response]:
    """Every call at once: each waits at a barrier, then sends its request."""
    barrier = threading.Barrier(len(calls))

    def run(call) -> requests.Response:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_two_admins_approving_at_once_one_wins(live_server, db, clock):
    with db.transaction() as session:
        keys = {name: admin_key(session, clock.now(), name, roles).secret for name, roles in
                [("alice", ("policy_editor",)), *((n, ("policy_approver",)) for n in APPROVERS)]}

    def post(who: str, path: str, body: dict[str, Any]) -> requests.Response:
        return requests.post(f"{live_server.url}/admin{path}", json=body, timeout=30,
                             headers={"Authorization": f"Bearer {keys[who]}"})

    latest = 1
    for round_ in range(ROUNDS):
        created = post("alice", "/policy/versions", {
            "base_version": latest, "reason": f"round {round_}", "activate_now": True,
            "patch": {"tiers": {"public": {"description": f"round {round_}"}}}})
        assert created.status_code == 201, created.text
        latest = created.json()["version"]["version"]
        request_id = created.json()["approval"]["id"]
        path = f"/policy/changes/{request_id}/approve"
        answers = race([partial(post, who, path, {"reason": "race"}) for who in APPROVERS])
        statuses = Counter(a.status_code for a in answers)
        assert statuses == {200: 1, 409: len(APPROVERS) - 1}, statuses
        [winner] = [a.json() for a in answers if a.status_code == 200]
        for loser in (a for a in answers if a.status_code == 409):
            assert loser.json()["type"] == "urn:entitlements:problem:not_pending", loser.text
        with db.sessions() as session:
            activations = session.scalars(select(PolicyActivation).where(
                PolicyActivation.version == latest)).all()
            assert [(a.created_by, a.approved_by) for a in activations] == [
                ("admin:alice", winner["decided_by"])]
            stored = session.get(PolicyChangeRequest, request_id)
            assert (stored.state, stored.decided_by) == ("approved", winner["decided_by"])
            assert session.scalar(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == "policy.change_approved",
                AuditEvent.target == request_id)) == 1
        answer = requests.get(f"{live_server.url}/admin/policy", timeout=30,
                              headers={"Authorization": f"Bearer {keys['bob']}"})
        assert answer.json()["active_version"] == latest


# -- the contract says so ------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/admin/policy/versions/{number}/activate",
    "/admin/policy/rollback",
    "/admin/organizations/{org_id}/tiers",
])
def test_the_openapi_document_says_a_change_may_wait(client, path):
    operation = client.get("/admin/openapi.json").get_json()["paths"][path]["post"]
    accepted = operation["responses"]["202"]
    assert "second admin" in accepted["description"]
    assert "application/json" in accepted["content"]
    assert {"403", "404", "409"} <= set(operation["responses"])


def test_the_openapi_document_lists_the_decisions(client):
    paths = client.get("/admin/openapi.json").get_json()["paths"]
    approve = paths["/admin/policy/changes/{request_id}/approve"]["post"]
    assert {"200", "403", "404", "409"} <= set(approve["responses"])
    assert "approve_policy" in approve["description"]
    assert "get" in paths["/admin/policy/changes"]
