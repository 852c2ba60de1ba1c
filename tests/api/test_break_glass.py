"""The break-glass kill switch: one admin suspends tiers at once (a new version, active now,
the live tokens resting on those tiers revoked), a signed notice goes out, and the version
before it comes back at the deadline unless a second admin confirms it; anyone allowed to
break glass may revert it first. Refusals write nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import jwt
import pytest

from tests.support.admin_api import DOC, Api, staff_of, tiers_of
from tests.support.helpers import basic, eventually
from tests.support.recipient import Recipient

#: alice breaks glass (and may confirm, so that confirming her own is refused by the
#: two-person rule, not by her roles); bob and carol confirm; victor reads.
ROLES = {
    "alice": ("policy_editor", "policy_approver"),
    "bob": ("policy_approver",),
    "carol": ("policy_approver",),
    "victor": ("viewer",),
}
WINDOW = timedelta(seconds=3600)  # ENTITLEMENTS_BREAK_GLASS_WINDOW's default
NOTICE_TYP = "entitlements-notice+jwt"


class AdminApi(Api):
    """The admin API as admin ``name``, whose key acts with ``roles``, and what only these
    tests ask of it."""

    def break_glass(self, *tiers: str, reason: str = "order received at night") -> dict:
        return self("POST", "/policy/break-glass", {"tiers": list(tiers), "reason": reason},
                    201)

    def glass(self, glass_id: str) -> dict[str, Any]:
        return self("GET", f"/policy/break-glass/{glass_id}")

    def decide(self, glass_id: str, verdict: str, expect: int = 200) -> dict[str, Any]:
        return self("POST", f"/policy/break-glass/{glass_id}/{verdict}",
                    {"reason": f"{verdict} by {self.name}"}, expect)

    def notices(self) -> list[dict[str, Any]]:
        return self("GET", "/notices")["items"]

    def refused(self, partner, scope: str) -> dict[str, Any]:
        """A token request the policy refuses: its OAuth error."""
        response = self.client.post("/oauth/token", data={
            "grant_type": "client_credentials", "scope": scope},
            headers=basic(partner.client_id, partner.client_secret))
        assert response.status_code == 400, response.get_json()
        return response.get_json()


@pytest.fixture
def staff(client, admin, db, clock) -> dict[str, AdminApi]:
    return staff_of(AdminApi, ROLES, client, admin, db, clock)


@pytest.fixture
def alice(staff) -> AdminApi:
    return staff["alice"]


@pytest.fixture
def bob(staff) -> AdminApi:
    return staff["bob"]


def catalog(alice: AdminApi, bob: AdminApi) -> int:
    """DOC as version 2, active (alice asked, bob approved): public and restricted open,
    early-access suspended; frontier-2 falls back to base-1, a public model."""
    created = alice.new_version("the test policy", document=DOC, activate_now=True)
    bob("POST", f"/policy/changes/{created['approval']['id']}/approve", {"reason": "ok"})
    assert alice.active() == 2
    return 2


@pytest.fixture
def cast(alice, bob, admin) -> dict[str, Any]:
    """Org B (verified, with a client) under DOC, version 2."""
    admin.gateway()
    b = admin.partner("Org B", tiers=())
    return {"B": b, "version": catalog(alice, bob)}


@pytest.fixture
def broken(alice, cast) -> dict[str, Any]:
    """B's tokens (every tier, public only, restricted only), then restricted broken."""
    b = cast["B"]
    tokens = {"all": alice.token(b), "public": alice.token(b, "tier:public"),
              "restricted": alice.token(b, "tier:restricted")}
    assert tiers_of(tokens["all"]) == ["public", "restricted"]
    return {**cast, "tokens": tokens, "glass": alice.break_glass("restricted")}


# -- breaking the glass --------------------------------------------------------------------------


def test_breaking_the_glass_suspends_the_tier_at_once(alice, broken, clock):
    b, start, glass, tokens = broken["B"], broken["version"], broken["glass"], broken["tokens"]
    now = clock.now()
    assert {k: glass[k] for k in ("tiers", "reason", "broken_by", "broken_at",
                                  "previous_version", "version", "deadline", "state",
                                  "decided_by", "decided_at")} == {
        "tiers": ["restricted"], "reason": "order received at night", "broken_by": "admin:alice",
        "broken_at": now.isoformat(), "previous_version": start, "version": start + 1,
        "deadline": (now + WINDOW).isoformat(), "state": "pending", "decided_by": None,
        "decided_at": None}

    # A new version with the tier suspended, active now; no second admin asked.
    assert alice.active() == start + 1
    version = alice("GET", f"/policy/versions/{start + 1}")
    assert version["diff"] == [
        {"path": "/tiers/restricted/status", "before": "open", "after": "suspended"}]
    assert version["base_version"] == start
    assert alice("GET", "/policy/changes?state=pending")["items"] == []
    [activation] = [a for a in alice("GET", "/policy")["activations"]
                    if a["version"] == start + 1]
    assert (activation["kind"], activation["created_by"], activation["approved_by"],
            activation["activate_at"]) == ("break_glass", "admin:alice", None, now.isoformat())
    # The version before it is scheduled to come back at the deadline.
    lapse = alice.activation(glass["lapse_activation_id"])
    assert (lapse["version"], lapse["kind"], lapse["activate_at"], lapse["cancelled_at"]) == (
        start, "lapse", glass["deadline"], None)

    # Live tokens that carried the tier are revoked; no new one gets it.
    assert alice.revoked(tokens["all"], tokens["public"], tokens["restricted"]) == [
        True, False, True]
    assert alice.refused(b, "tier:restricted") == {
        "error": "invalid_scope",
        "error_description": "The organization is not entitled to 'tier:restricted' "
                             "(tier_suspended)."}
    assert tiers_of(alice.token(b)) == ["public"]

    [event] = alice.audit("policy.break_glass")
    assert (event["actor"], event["target"], event["target_kind"], event["reason"]) == (
        "admin:alice", glass["id"], "break_glass", "order received at night")
    details = event["details"]
    assert (details["tiers"], details["deadline"], details["lapse_activation"],
            details["before"], details["after"], details["revoked"]) == (
        ["restricted"], glass["deadline"], glass["lapse_activation_id"], start, start + 1, 2)
    assert sorted(details["jtis"]) == sorted([tokens["all"]["jti"],
                                              tokens["restricted"]["jti"]])

    assert alice.glass(glass["id"]) == glass
    assert alice("GET", "/policy/break-glass")["items"] == [glass]
    assert alice.notices() == [], "no ENTITLEMENTS_NOTIFY_URL, no notice"
    assert alice("GET", "/audit/verify")["ok"] is True


# -- the notice ----------------------------------------------------------------------------------


@pytest.fixture
def recipient() -> Iterator[Recipient]:
    with Recipient() as running:
        yield running


@pytest.fixture
def noticed(make_app, settings, recipient, admin, db, clock) -> dict[str, Any]:
    """The service with ENTITLEMENTS_NOTIFY_URL set to ``recipient``, its staff, and DOC."""
    app = make_app(settings=settings.with_overrides(notify_url=recipient.url))
    staff = staff_of(AdminApi, ROLES, app.test_client(), admin, db, clock)
    catalog(staff["alice"], staff["bob"])
    return {"app": app, "staff": staff, "sender": app.extensions["entitlements"].notices}


def delivered(sender, alice: AdminApi, count: int) -> list[dict[str, Any]]:
    """Deliver what is due now (the service may have started on it in the background after
    the change: a notice is leased, so it is sent once either way); the notices once
    ``count`` of them are delivered."""
    sender.deliver_due()
    assert eventually(lambda: sum(n["delivered_at"] is not None for n in alice.notices())
                      == count)
    return alice.notices()


def verified(jws: str, jwks: dict[str, Any], issuer: str) -> dict[str, Any]:
    header = jwt.get_unverified_header(jws)
    assert header["typ"] == NOTICE_TYP
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    return jwt.decode(jws, jwt.PyJWK(key).key, algorithms=[header["alg"]], issuer=issuer,
                      options={"require": ["iss", "iat"]})


def test_the_break_glass_notice_is_signed_and_delivered(noticed, recipient, settings, clock):
    alice, bob, sender = noticed["staff"]["alice"], noticed["staff"]["bob"], noticed["sender"]
    glass = alice.break_glass("restricted")
    [notice] = delivered(sender, alice, 1)
    assert (notice["kind"], notice["subject_id"], notice["recipient"], notice["attempts"],
            notice["delivered_at"], notice["next_attempt_at"], notice["last_error"]) == (
        "break_glass", glass["id"], recipient.url, 1, clock.now().isoformat(), None, None)

    [posted] = recipient.received
    assert (posted["path"], posted["type"]) == ("/hook", "application/json")
    body = posted["body"]
    assert (body["notice"], body["kind"], body["subject_id"]) == (
        notice["id"], "break_glass", glass["id"])
    assert {k: body["payload"][k] for k in ("break_glass", "tiers", "reason", "broken_by",
                                            "deadline", "state", "version",
                                            "previous_version")} == {
        "break_glass": glass["id"], "tiers": ["restricted"], "reason": glass["reason"],
        "broken_by": "admin:alice", "deadline": glass["deadline"], "state": "pending",
        "version": glass["version"], "previous_version": glass["previous_version"]}

    # The signed member says the same, under the key the service publishes.
    jwks = alice.client.get("/jwks.json").get_json()
    claims = verified(body["jws"], jwks, settings.issuer)
    assert claims == {"iss": settings.issuer, "iat": int(clock.now().timestamp()),
                      **{k: v for k, v in body.items() if k != "jws"}}
    head, _, signature = body["jws"].split(".")
    forged = jwt.utils.base64url_encode(json.dumps(
        {**claims, "payload": {**claims["payload"], "tiers": []}}).encode()).decode()
    with pytest.raises(jwt.InvalidSignatureError):
        verified(f"{head}.{forged}.{signature}", jwks, settings.issuer)

    # The second admin's confirmation is told too.
    bob.decide(glass["id"], "confirm")
    notices = delivered(sender, alice, 2)
    assert [n["kind"] for n in notices] == ["break_glass_confirmed", "break_glass"]
    confirmed = recipient.received[-1]["body"]
    assert (confirmed["kind"], confirmed["payload"]["state"],
            confirmed["payload"]["decided_by"]) == ("break_glass_confirmed", "confirmed",
                                                    "admin:bob")
    assert verified(confirmed["jws"], jwks, settings.issuer)["subject_id"] == glass["id"]
    assert len(recipient.received) == 2, "each notice is sent once"


def test_a_recipient_that_fails_gets_the_notice_again_later(noticed, recipient, clock):
    alice, sender = noticed["staff"]["alice"], noticed["sender"]
    recipient.status = 500
    glass = alice.break_glass("restricted")
    sender.deliver_due()
    assert eventually(lambda: alice.notices()[0]["last_error"] is not None)
    [notice] = alice.notices()
    assert (notice["subject_id"], notice["attempts"], notice["delivered_at"],
            notice["last_error"], notice["next_attempt_at"]) == (
        glass["id"], 1, None, "the recipient answered 500",
        (clock.now() + timedelta(seconds=30)).isoformat())
    assert len(recipient.received) == 1

    recipient.status = 200
    assert alice("POST", "/notices/deliver") == {"deliveries": []}, "not due again yet"
    clock.advance(seconds=30)
    # An admin who may break the glass sends what is due now, without waiting for the ticker.
    assert alice("POST", "/notices/deliver") == {"deliveries": [
        {"notice": notice["id"], "delivered": True, "error": None}]}
    [notice] = alice.notices()
    assert (notice["attempts"], notice["delivered_at"], notice["next_attempt_at"],
            notice["last_error"]) == (2, clock.now().isoformat(), None, None)
    assert [b["body"]["notice"] for b in recipient.received] == [notice["id"]] * 2


# -- a second admin confirms, or it lapses, or someone reverts it --------------------------------


def test_the_breaker_cannot_confirm_a_second_admin_can(staff, broken, clock):
    alice, bob, glass = staff["alice"], staff["bob"], broken["glass"]
    b, start = broken["B"], broken["version"]
    before = alice.written()
    problem = alice.problem("POST", f"/policy/break-glass/{glass['id']}/confirm",
                            {"reason": "me"}, 403, "two_person_rule")
    assert "cannot confirm it" in problem["detail"]
    staff["victor"].problem("POST", f"/policy/break-glass/{glass['id']}/confirm",
                            {"reason": "me"}, 403, "forbidden_role")
    assert alice.written() == before
    assert alice.glass(glass["id"]) == glass
    assert alice.activation(glass["lapse_activation_id"])["cancelled_at"] is None

    clock.advance(minutes=30)
    confirmed = bob.decide(glass["id"], "confirm")
    assert (confirmed["state"], confirmed["decided_by"], confirmed["decided_at"],
            confirmed["decision_reason"]) == ("confirmed", "admin:bob",
                                              clock.now().isoformat(), "confirm by admin:bob")
    lapse = alice.activation(glass["lapse_activation_id"])
    assert lapse["cancelled_at"] == clock.now().isoformat()
    [event] = alice.audit("policy.break_glass_confirmed")
    assert (event["actor"], event["target"], event["details"]) == (
        "admin:bob", glass["id"], {"broken_by": "admin:alice", "decided_by": "admin:bob",
                                   "tiers": ["restricted"]})

    # Past the deadline the kill switch is still in force.
    clock.advance(hours=2)
    assert alice.active() == start + 1
    assert alice.glass(glass["id"])["state"] == "confirmed"
    assert alice.refused(b, "tier:restricted")["error"] == "invalid_scope"
    before = alice.written()
    staff["carol"].problem("POST", f"/policy/break-glass/{glass['id']}/confirm",
                           {"reason": "again"}, 409, "not_pending")
    alice.problem("POST", f"/policy/break-glass/{glass['id']}/revert", {"reason": "undo"},
                  409, "not_pending")
    assert alice.written() == before


def test_unconfirmed_it_lapses_at_the_deadline(staff, broken, clock):
    alice, glass = staff["alice"], broken["glass"]
    b, start = broken["B"], broken["version"]
    clock.advance(seconds=WINDOW.total_seconds() - 1)
    assert alice.active() == start + 1
    assert alice.glass(glass["id"])["state"] == "pending"
    assert alice.refused(b, "tier:restricted")["error"] == "invalid_scope"

    clock.advance(seconds=1)
    assert alice.active() == start, "the version before it is back"
    assert tiers_of(alice.token(b, "tier:restricted")) == ["restricted"]
    assert tiers_of(alice.token(b)) == ["public", "restricted"]
    assert alice.glass(glass["id"])["state"] == "lapsed"
    assert [g["state"] for g in alice("GET", "/policy/break-glass")["items"]] == ["lapsed"]

    before = alice.written()
    problem = staff["bob"].problem("POST", f"/policy/break-glass/{glass['id']}/confirm",
                                   {"reason": "too late"}, 409, "not_pending")
    assert problem["detail"] == f"break-glass {glass['id']} is lapsed"
    alice.problem("POST", f"/policy/break-glass/{glass['id']}/revert", {"reason": "late"},
                  409, "not_pending")
    assert alice.written() == before
    assert alice.active() == start


@pytest.mark.parametrize("who", [
    pytest.param("alice", id="by-the-breaker"),
    pytest.param("carol", id="by-another-admin"),
])
def test_reverting_brings_the_previous_policy_back_now(staff, broken, clock, who):
    alice, reverter, glass = staff["alice"], staff[who], broken["glass"]
    b, start = broken["B"], broken["version"]
    clock.advance(minutes=5)
    reverted = reverter.decide(glass["id"], "revert")
    assert (reverted["state"], reverted["decided_by"], reverted["decided_at"]) == (
        "reverted", reverter.name, clock.now().isoformat())

    # The earlier policy, as a new version, active now.
    assert alice.active() == start + 2
    assert alice("GET", f"/policy/versions/{start + 2}")["document"] == alice(
        "GET", f"/policy/versions/{start}")["document"]
    [activation] = [a for a in alice("GET", "/policy")["activations"]
                    if a["version"] == start + 2]
    assert (activation["kind"], activation["created_by"]) == ("rollback", reverter.name)
    assert alice.activation(glass["lapse_activation_id"])["cancelled_at"] == (
        clock.now().isoformat())
    assert tiers_of(alice.token(b, "tier:restricted")) == ["restricted"]
    [event] = alice.audit("policy.break_glass_reverted")
    assert (event["actor"], event["details"]["broken_by"]) == (reverter.name, "admin:alice")

    clock.advance(hours=2)
    assert alice.active() == start + 2
    assert alice.glass(glass["id"])["state"] == "reverted"
    staff["bob"].problem("POST", f"/policy/break-glass/{glass['id']}/confirm",
                         {"reason": "late"}, 409, "not_pending")


def test_a_viewer_cannot_revert(staff, broken):
    alice, glass = staff["alice"], broken["glass"]
    before = alice.written()
    staff["victor"].problem("POST", f"/policy/break-glass/{glass['id']}/revert",
                            {"reason": "x"}, 403, "forbidden_role")
    assert alice.written() == before and alice.glass(glass["id"])["state"] == "pending"
    alice.problem("POST", "/policy/break-glass/brk_nope/revert", {"reason": "x"}, 404,
                  "not_found")
    alice.problem("GET", "/policy/break-glass/brk_nope", None, 404, "not_found")


# -- refusals write nothing ----------------------------------------------------------------------


@pytest.mark.parametrize(("who", "tiers", "status", "code"), [
    pytest.param("alice", ["nope"], 404, "unknown_tier", id="unknown-tier"),
    pytest.param("alice", ["restricted", "nope"], 404, "unknown_tier", id="one-unknown"),
    pytest.param("alice", [], 400, "invalid_input", id="no-tier"),
    pytest.param("alice", ["early-access"], 409, "already_suspended", id="already-suspended"),
    pytest.param("alice", ["public"], 400, "invalid_catalog", id="fallback-tier"),
    pytest.param("victor", ["restricted"], 403, "forbidden_role", id="a-viewer"),
])
def test_a_refused_break_glass_writes_nothing(staff, cast, who, tiers, status, code):
    alice, b = staff["alice"], cast["B"]
    token = alice.token(b)
    before = alice.written()
    staff[who].problem("POST", "/policy/break-glass", {"tiers": tiers, "reason": "x"}, status,
                       code)
    assert alice.written() == before, "no version, activation, audit event or revocation"
    assert alice.revoked(token) == [False]
    assert alice.active() == cast["version"]
    assert alice("GET", "/policy/break-glass")["items"] == []
    assert alice.audit("policy.break_glass") == []


def test_the_tier_the_fallback_chains_end_in_cannot_be_broken(alice, cast):
    """frontier-2 falls back to base-1, a public model: with public suspended some
    organizations would have no model left."""
    problem = alice.problem("POST", "/policy/break-glass",
                            {"tiers": ["public"], "reason": "x"}, 400, "invalid_catalog")
    assert "the fallback chain of 'base-1' ends in 'base-1'" in problem["detail"]
    assert tiers_of(alice.token(cast["B"])) == ["public", "restricted"]


def test_a_second_tier_already_suspended_is_suspended_with_the_first(alice, cast):
    glass = alice.break_glass("early-access", "restricted")
    assert glass["tiers"] == ["early-access", "restricted"]
    assert alice("GET", f"/policy/versions/{glass['version']}")["diff"] == [
        {"path": "/tiers/restricted/status", "before": "open", "after": "suspended"}]


def test_the_deadline_follows_the_setting(make_app, settings, admin, db, clock):
    app = make_app(settings=settings.with_overrides(break_glass_window=600))
    staff = staff_of(AdminApi, ROLES, app.test_client(), admin, db, clock)
    catalog(staff["alice"], staff["bob"])
    glass = staff["alice"].break_glass("restricted")
    assert datetime.fromisoformat(glass["deadline"]) == clock.now() + timedelta(seconds=600)
    clock.advance(seconds=600)
    assert staff["alice"].glass(glass["id"])["state"] == "lapsed"
    assert staff["alice"].active() == glass["previous_version"]


@pytest.mark.parametrize(("ending", "tiers_after"), [
    pytest.param("lapse", ["beta", "public", "restricted"], id="nobody-confirms"),
    pytest.param("revert", ["beta", "public", "restricted"], id="reverted"),
    pytest.param("confirm", ["public"], id="confirmed"),
])
def test_a_kill_switch_broken_while_another_waits_supersedes_it(staff, admin, clock, ending,
                                                                tiers_after):
    """The second takes over the first's tiers and its lapse: unconfirmed, both tiers come
    back (never one kill switch restored by the other's lapse); confirmed, both stay."""
    alice, bob = staff["alice"], staff["bob"]
    admin.gateway()
    b = admin.partner("Org B", tiers=())
    catalog(alice, bob)
    created = alice.new_version("a beta tier", patch={"tiers": {"beta": {}}},
                                activate_now=True)
    bob("POST", f"/policy/changes/{created['approval']['id']}/approve", {"reason": "ok"})
    assert tiers_of(alice.token(b)) == ["beta", "public", "restricted"]
    first = alice.break_glass("restricted")
    clock.advance(minutes=10)
    second = alice.break_glass("beta")
    assert second["tiers"] == ["beta", "restricted"]
    assert second["previous_version"] == first["previous_version"]
    assert alice.glass(first["id"])["state"] == "superseded"
    assert alice.audit("policy.break_glass_superseded")
    assert tiers_of(alice.token(b)) == ["public"]
    staff["carol"].problem("POST", f"/policy/break-glass/{first['id']}/revert",
                           {"reason": "x"}, 409, "not_pending")
    if ending != "lapse":
        staff["carol"].decide(second["id"], ending)
    clock.advance(hours=2)  # every deadline passed
    assert alice.glass(second["id"])["state"] == {"lapse": "lapsed", "revert": "reverted",
                                                  "confirm": "confirmed"}[ending]
    assert tiers_of(alice.token(b)) == tiers_after
