"""A change activated now, or scheduled, that an activation already scheduled for later
would silently replace when due: refused until the admin says keep or cancel, on every
path that activates (versions, activation, rollback, re-imposition, tier grants)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.admin_api import DOC, Api
from tests.support.markers import ONE_ADMIN

pytestmark = ONE_ADMIN

SUSPEND = {"tiers": {"restricted": {"status": "suspended"}}}
OPEN_EARLY = {"tiers": {"early-access": {"status": "open"}}}
DESCRIBE = {"tiers": {"public": {"description": "described anew"}}}


def urgent_version(api: Api) -> int:
    """Suspend restricted, built on the active version (2), not the scheduled one (3)."""
    body = {"base_version": api.active(), "reason": "suspend restricted", "patch": SUSPEND,
            "on_active": True}
    version = api("POST", "/policy/versions", body, 201)["version"]
    assert version["base_version"] == 2
    assert version["document"]["tiers"]["early-access"]["status"] != "open"
    return version["version"]


@pytest.fixture
def scheduled(api, clock) -> dict:
    """Version 2 (DOC) active; version 3 (early access opens) scheduled an hour ahead."""
    api.new_version("the catalog", document=DOC, activate_now=True)
    at = clock.now() + timedelta(hours=1)
    return api.new_version("open early access later", patch=OPEN_EARLY,
                           activate_at=at.isoformat())["activation"]


def test_an_urgent_change_is_refused_until_the_admin_decides(api, clock, scheduled):
    before = api.written()
    urgent = urgent_version(api)
    problem = api.problem("POST", f"/policy/versions/{urgent}/activate", {"reason": "order"},
                          409, "pending_activations")
    assert problem["pending_count"] == 1
    assert problem["pending"] == [{"activation": scheduled["id"], "version": 3,
                                   "activate_at": scheduled["activate_at"]}]
    assert f"activation {scheduled['id']} (version 3" in problem["detail"]
    assert api.active() == 2 and api.written()[1] == before[1], "no activation written"
    written = api.written()
    api.problem("POST", "/policy/versions", {
        "base_version": api.latest(), "reason": "x", "patch": DESCRIBE, "activate_now": True},
        409, "pending_activations")
    assert api.written() == written, "the version is not created either"
    api.problem("POST", "/policy/rollback", {"version": 1, "reason": "x"}, 409,
                "pending_activations")
    api.problem("POST", f"/policy/versions/{urgent}/activate",
                {"reason": "x", "revoke_disallowed": True}, 409, "pending_activations")
    api.problem("POST", f"/policy/versions/{urgent}/activate",
                {"reason": "x", "on_pending": "maybe"}, 400, "invalid_input")


def test_keep_lets_the_scheduled_activation_replace_it_when_due(api, clock, scheduled):
    urgent = urgent_version(api)
    api("POST", f"/policy/versions/{urgent}/activate",
        {"reason": "order", "on_pending": "keep"}, 201)
    assert api.active() == urgent
    event = api.events("policy.activated")[-1]
    assert event.details["pending"] == {"decision": "keep", "activations": [scheduled["id"]]}
    clock.advance(hours=1)
    assert api.active() == 3, "kept: it replaces the urgent change when due, as warned"


def test_cancel_cancels_the_scheduled_activation_in_the_same_change(api, clock, scheduled):
    urgent = urgent_version(api)
    api("POST", f"/policy/versions/{urgent}/activate",
        {"reason": "order", "on_pending": "cancel"}, 201)
    [cancelled] = [a for a in api("GET", "/policy")["activations"]
                   if a["id"] == scheduled["id"]]
    assert cancelled["cancelled_at"] is not None
    event = api.events("policy.schedule_cancelled")[-1]
    assert (event.reason, event.details["activation"]) == ("superseded: order", scheduled["id"])
    clock.advance(hours=2)
    assert api.active() == urgent


def test_scheduling_after_every_pending_activation_needs_no_decision(api, clock, scheduled):
    later = (clock.now() + timedelta(hours=2)).isoformat()
    number = urgent_version(api)
    api("POST", f"/policy/versions/{number}/activate", {"reason": "x", "at": later}, 201)
    earlier = (clock.now() + timedelta(minutes=30)).isoformat()
    api.problem("POST", f"/policy/versions/{number}/activate", {"reason": "x", "at": earlier},
                409, "pending_activations")


def test_tier_grants_decide_too(api, admin, clock, scheduled):
    org = admin.org("Acme", ())
    api.problem("POST", f"/organizations/{org}/tiers", {"tier": "restricted"}, 409,
                "pending_activations")
    api("POST", f"/organizations/{org}/tiers", {"tier": "restricted", "on_pending": "keep"},
        201)
    api.problem("DELETE", f"/organizations/{org}/tiers/restricted", None, 409,
                "pending_activations")
    api.problem("DELETE", f"/organizations/{org}/tiers/restricted?on_pending=soon", None, 400,
                "invalid_input")
    api("DELETE", f"/organizations/{org}/tiers/restricted?on_pending=cancel")
    assert all(a["cancelled_at"] for a in api("GET", "/policy")["activations"]
               if a["id"] == scheduled["id"])


def test_the_dry_run_names_what_would_replace_it(api, scheduled):
    urgent = urgent_version(api)
    report = api("POST", f"/policy/versions/{urgent}/dry-run", {})
    assert report["replaced_later_by"] == [{"activation": scheduled["id"], "version": 3,
                                           "activate_at": scheduled["activate_at"]}]


def test_building_on_the_active_version_is_said_not_assumed(api, clock, scheduled):
    """An admin who read version 2 when it was also the latest must hear that version 3 came
    since (a lost update otherwise); building on the active one is a choice, said out loud."""
    written = api.written()
    problem = api.problem("POST", "/policy/versions", {"base_version": 2, "reason": "x",
                                                       "patch": DESCRIBE}, 409, "stale_version")
    assert "version 2 is not the latest version (the latest is 3)" in problem["detail"]
    problem = api.problem("POST", "/policy/versions", {
        "base_version": 3, "reason": "x", "patch": DESCRIBE, "on_active": True}, 409,
        "stale_version")
    assert "version 3 is not the active version (the active is 2)" in problem["detail"]
    assert api.written() == written
    urgent_version(api)  # 4, on 2 (active); the latest is now 4
    on_latest = api("POST", "/policy/versions", {"base_version": 4, "reason": "x",
                                                 "patch": DESCRIBE}, 201)["version"]
    assert (on_latest["version"], on_latest["base_version"]) == (5, 4)


def test_an_activation_about_to_fall_due_cannot_be_cancelled(api, clock, scheduled):
    """Within the margin some processes and gateways may already have taken it."""
    clock.advance(minutes=59, seconds=52)
    problem = api.problem("POST", f"/policy/activations/{scheduled['id']}/cancel",
                          {"reason": "too late"}, 409, "too_late_to_cancel")
    assert "activate the policy you want after it instead" in problem["detail"]
    urgent = urgent_version(api)
    api.problem("POST", f"/policy/versions/{urgent}/activate",
                {"reason": "x", "on_pending": "cancel"}, 409, "too_late_to_cancel")
    assert api.active() == 2
    clock.advance(seconds=8)
    assert api.active() == 3


FAR = "9999-12-31T23:59:59-12:00"  # parses, but lies past the last instant UTC can hold


@pytest.mark.parametrize(("path", "body", "code"), [
    ("/policy/versions/2/activate", {"reason": "x", "at": FAR}, "invalid_input"),
    ("/policy/versions/2/dry-run", {"at": FAR}, "invalid_input"),
    ("/policy/explain", {"organization_id": "org_x", "tiers": ["public"], "at": FAR},
     "invalid_input"),
    ("/policy/versions", {"base_version": 2, "reason": "x", "activate_at": FAR,
                          "patch": DESCRIBE}, "invalid_input"),
    ("/policy/versions", {"base_version": 2, "reason": "x", "patch": {"tiers": {"public": {
        "windows": [{"starts_at": "0001-01-01T00:00:00+12:00"}]}}}}, "invalid_policy"),
])
def test_a_time_outside_utc_is_a_400_and_changes_nothing(api, path, body, code):
    api.new_version("the catalog", document=DOC, activate_now=True)
    written = api.written()
    problem = api.problem("POST", path, body, 400, code)
    assert "out of range once converted to UTC" in str(problem)
    assert api.written() == written
