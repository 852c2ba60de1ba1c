"""The policy admin API (/admin/policy, /admin/tokens/revoke): versions by document and by
merge patch with optimistic concurrency, activation now and later, cancellation, rollback,
dry runs, re-imposition and bulk revocation; refusals write nothing, and every change
leaves an audit event with its before and after."""

from __future__ import annotations

from datetime import timedelta

import pytest

from entitlements.audit.models import AuditEvent
from tests.support.admin_api import CITIZENS_ONLY, DOC, PROBLEM, VERIFIED, claims, tiers_of
from tests.support.markers import ONE_ADMIN

pytestmark = ONE_ADMIN

# -- versions ------------------------------------------------------------------------------------


def test_a_version_from_a_whole_document_then_from_a_patch(api, admin):
    assert api("GET", "/policy") | {"activations": None} == {
        "active_version": 1, "latest_version": 1, "activations": None}
    created = api.new_version("catalog", document=DOC)
    version = created["version"]
    assert created["activation"] is None, "not activated unless asked"
    assert (version["version"], version["base_version"], version["author"],
            version["reason"]) == (2, 1, "admin:alice", "catalog")
    assert version["document"]["tiers"]["early-access"] == {
        "description": "", "status": "suspended", "trust_levels": VERIFIED,
        "citizenship": None, "allowlist": [], "windows": [], "max_token_lifetime": None,
        "sender_constraint": None}
    assert version["document"]["models"]["frontier-2"] == {
        "tier": "restricted", "fallback": "base-1", "released_at": None}
    assert {"path": "/tiers/early-access/status", "before": "allowlist_only",
            "after": "suspended"} in version["diff"]
    assert {"path": "/models/base-1", "before": None,
            "after": {"tier": "public", "fallback": None, "released_at": None}} in (
        version["diff"])
    assert api.active() == 1 and api.latest() == 2
    assert api("GET", "/policy/versions/2") == version

    patched = api.new_version("open early access", activate_now=True, patch={
        "tiers": {"early-access": {"status": "open"}},
        "models": {"preview-3": None}})
    assert patched["version"]["base_version"] == 2
    assert patched["version"]["diff"] == [
        {"path": "/models/preview-3", "before": DOC["models"]["preview-3"] | {
            "released_at": None}, "after": None},
        {"path": "/tiers/early-access/status", "before": "suspended", "after": "open"}]
    document = patched["version"]["document"]
    assert set(document["models"]) == {"base-1", "frontier-2"}
    assert document["tiers"]["public"] == version["document"]["tiers"]["public"]
    activation = patched["activation"]
    assert (activation["version"], activation["kind"], activation["cancelled_at"]) == (
        3, "activate", None)
    assert api.active() == 3
    assert [v["version"] for v in api("GET", "/policy/versions")["items"]] == [1, 2, 3]
    assert "document" not in api("GET", "/policy/versions")["items"][0]

    created_events = api.events("policy.version_created")
    assert [(e.target, e.reason, e.details["base_version"]) for e in created_events] == [
        ("2", "catalog", 1), ("3", "open early access", 2)]
    assert created_events[1].details["diff"] == patched["version"]["diff"]
    [activated] = api.events("policy.activated")
    assert (activated.target, activated.actor, activated.details["before"],
            activated.details["after"], activated.details["activation"]) == (
        "3", "admin:alice", 1, 3, activation["id"])


def test_a_stale_base_version_is_a_conflict_and_writes_nothing(api):
    api.new_version("catalog", document=DOC, activate_now=True)
    before = api.written()
    problem = api.problem("POST", "/policy/versions", {
        "base_version": 1, "reason": "late", "patch": {"tiers": {"public": {
            "status": "suspended"}}}}, 409, "stale_version")
    assert "version 1 is not the latest version (the latest is 2)" in problem["detail"]
    api.problem("POST", "/policy/versions", {"base_version": 7, "reason": "future",
                                             "document": DOC}, 409, "stale_version")
    assert api.written() == before
    assert api.latest() == 2


@pytest.mark.parametrize("patch", [
    pytest.param({}, id="empty"),
    pytest.param({"tiers": {"public": {"status": "allowlist_only"}}}, id="same-value"),
    pytest.param({"tiers": {"public": {"windows": []}}, "models": {"gone": None}},
                 id="default-and-absent"),
])
def test_a_patch_that_changes_nothing_is_refused(api, patch):
    before = api.written()
    problem = api.problem("POST", "/policy/versions", {
        "base_version": 1, "reason": "noop", "patch": patch}, 400, "no_change")
    assert problem["detail"] == "the change leaves the policy as it is"
    assert api.written() == before


@pytest.mark.parametrize(("body", "code", "detail"), [
    pytest.param({"document": {"tiers": {"public": {}}, "models": {
        "a": {"tier": "public", "fallback": "b"}, "b": {"tier": "public", "fallback": "a"}}}},
        "invalid_catalog", "fallback cycle: a -> b -> a", id="cycle"),
    pytest.param({"document": {"tiers": {"public": {}}, "models": {
        "a": {"tier": "hidden"}}}}, "invalid_catalog", "model 'a' names unknown tier 'hidden'",
        id="unknown-tier"),
    pytest.param({"patch": {"models": {"x": {"tier": "public", "fallback": "nope"}}}},
                 "invalid_catalog", "model 'x' falls back to unknown model 'nope'",
                 id="dangling"),
    pytest.param({"patch": {"models": {"x": {"tier": "public"}}}}, "invalid_catalog",
                 "the fallback chain of 'x' ends in 'x'", id="not-universal"),
    pytest.param({"patch": {"tiers": {"public": {"windows": [
        {"starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}]}}}},
        "invalid_policy", "a window must end after it starts", id="window"),
    pytest.param({"patch": {"tiers": {"public": {"status": "closed"}}}}, "invalid_policy",
                 "tiers.public", id="status"),
    pytest.param({"patch": {"tiers": None}}, "invalid_policy", "tiers: Missing data",
                 id="no-tiers"),
    pytest.param({"patch": {"tiers": {"public": {"allowlist": ["org_nope"]}}}},
                 "unknown_organization", "unknown organizations on allowlists: org_nope",
                 id="unknown-org"),
    pytest.param({}, "invalid_input", "give either a whole 'document' or a 'patch'",
                 id="neither"),
    pytest.param({"document": DOC, "patch": {}}, "invalid_input",
                 "give either a whole 'document' or a 'patch'", id="both"),
])
def test_an_invalid_version_is_refused_with_no_row_written(api, body, code, detail):
    before = api.written()
    problem = api.problem("POST", "/policy/versions", {"base_version": 1, "reason": "bad",
                                                       "activate_now": True, **body}, 400, code)
    assert detail in problem["detail"]
    assert api.written() == before


def test_an_allowlist_may_name_known_organizations(api, admin):
    org_id = admin.org("Listed Org", tiers=())
    created = api.new_version("allowlist", patch={"tiers": {"restricted": {
        "allowlist": [org_id]}}})
    assert created["version"]["document"]["tiers"]["restricted"]["allowlist"] == [org_id]
    before = api.written()
    problem = api.problem("POST", "/policy/versions", {
        "base_version": 2, "reason": "typo", "patch": {"tiers": {"restricted": {
            "allowlist": [org_id, "org_typo"]}}}}, 400, "unknown_organization")
    assert problem["detail"] == "unknown organizations on allowlists: org_typo"
    assert api.written() == before


# -- activation: now, scheduled, cancelled; rollback ---------------------------------------------


def test_scheduling_in_the_past_is_refused(api, clock):
    created = api.new_version("catalog", document=DOC)["version"]["version"]
    before = api.written()
    past = (clock.now() - timedelta(seconds=1)).isoformat()
    problem = api.problem("POST", f"/policy/versions/{created}/activate",
                          {"reason": "late", "at": past}, 400, "schedule_in_past")
    assert "cannot schedule in the past" in problem["detail"]
    # Creating and scheduling in one call: the version is not kept either.
    api.problem("POST", "/policy/versions", {"base_version": created, "reason": "late",
                                             "patch": {"tiers": {"early-access": {
                                                 "status": "open"}}},
                                             "activate_at": past}, 400, "schedule_in_past")
    assert api.written() == before
    api.problem("POST", "/policy/versions", {
        "base_version": created, "reason": "both", "document": DOC, "activate_now": True,
        "activate_at": (clock.now() + timedelta(hours=1)).isoformat()}, 400, "invalid_input")
    assert api.written() == before


def test_a_scheduled_activation_takes_effect_when_the_clock_passes_it(api, cast, clock):
    b, start = cast["B"], cast["version"]
    assert tiers_of(api.token(b)) == ["public", "restricted"]
    at = clock.now() + timedelta(hours=1)
    created = api.new_version("suspend restricted tomorrow", activate_at=at.isoformat(),
                              patch={"tiers": {"restricted": {"status": "suspended"}}})
    scheduled = created["activation"]
    assert (scheduled["version"], scheduled["kind"], scheduled["activate_at"]) == (
        start + 1, "activate", at.isoformat())
    [event] = api.events("policy.scheduled")
    assert (event.target, event.details["before"], event.details["after"],
            event.details["activate_at"]) == (f"{start + 1}", start, start + 1,
                                              at.isoformat())
    assert api.active() == start and api.latest() == start + 1
    clock.advance(minutes=59)
    assert tiers_of(api.token(b)) == ["public", "restricted"]
    clock.advance(minutes=1)
    assert api.active() == start + 1
    assert tiers_of(api.token(b)) == ["public"]
    assert api("POST", "/policy/explain", {"organization_id": b.org_id, "tiers": [
        "restricted"]})["denied"]["restricted"]["reason"] == "tier_suspended"


def test_cancelling_a_scheduled_activation(api, cast, clock):
    b, start = cast["B"], cast["version"]
    at = clock.now() + timedelta(hours=1)
    created = api.new_version("suspend restricted later", activate_at=at.isoformat(),
                              patch={"tiers": {"restricted": {"status": "suspended"}}})
    activation = created["activation"]["id"]
    cancelled = api("POST", f"/policy/activations/{activation}/cancel",
                    {"reason": "changed our mind"})
    assert cancelled["id"] == activation and cancelled["cancelled_at"] == (
        clock.now().isoformat())
    [event] = api.events("policy.schedule_cancelled")
    assert (event.target, event.target_kind, event.reason, event.details) == (
        str(activation), "policy_activation", "changed our mind",
        {"activation": activation, "version": start + 1, "activate_at": at.isoformat()})
    clock.advance(hours=2)
    assert api.active() == start
    assert tiers_of(api.token(b)) == ["public", "restricted"]

    before = api.written()
    problem = api.problem("POST", f"/policy/activations/{activation}/cancel",
                          {"reason": "again"}, 409, "not_pending")
    assert problem["detail"] == f"activation {activation} is not pending"
    past = api("GET", "/policy")["activations"][-2]  # the cast's immediate activation
    assert past["version"] == start
    api.problem("POST", f"/policy/activations/{past['id']}/cancel", {"reason": "too late"},
                409, "not_pending")
    api.problem("POST", "/policy/activations/9999/cancel", {"reason": "?"}, 404, "not_found")
    assert api.written() == before


def test_activating_an_unknown_version_is_not_found(api):
    before = api.written()
    problem = api.problem("POST", "/policy/versions/99/activate", {"reason": "?"}, 404,
                          "unknown_version")
    assert problem["detail"] == "no policy version 99"
    api.problem("POST", "/policy/versions/99/activate",
                {"reason": "?", "revoke_disallowed": True}, 404, "unknown_version")
    api.problem("POST", "/policy/versions/99/dry-run", {}, 404, "unknown_version")
    huge = "9" * 30  # beyond the integer column: a 404, not a database error
    api.problem("POST", f"/policy/versions/{huge}/activate", {"reason": "?"}, 404,
                "unknown_version")
    api.problem("GET", f"/policy/versions/{huge}", None, 404, "unknown_version")
    api.problem("GET", "/policy/versions/99", None, 404, "unknown_version")
    assert api.written() == before


def test_activating_an_earlier_version_now(api, cast):
    b, start = cast["B"], cast["version"]
    api.new_version("suspend restricted", activate_now=True,
                    patch={"tiers": {"restricted": {"status": "suspended"}}})
    assert tiers_of(api.token(b)) == ["public"]
    activation = api("POST", f"/policy/versions/{start}/activate", {"reason": "undo"}, 201)
    assert (activation["version"], activation["kind"]) == (start, "activate")
    assert api.active() == start and api.latest() == start + 1
    assert tiers_of(api.token(b)) == ["public", "restricted"]
    event = api.events("policy.activated")[-1]
    assert (event.reason, event.details["before"], event.details["after"]) == (
        "undo", start + 1, start)


def test_rollback_to_an_unknown_version_is_not_found(api):
    before = api.written()
    problem = api.problem("POST", "/policy/rollback", {"version": 42, "reason": "?"}, 404,
                          "unknown_version")
    assert problem["detail"] == "no policy version 42"
    assert api.written() == before


def test_rollback_makes_a_new_version_with_the_old_document_and_activates_it(api, cast):
    b, start = cast["B"], cast["version"]
    changed = api.new_version("suspend restricted", activate_now=True,
                              patch={"tiers": {"restricted": {"status": "suspended"}}})
    assert tiers_of(api.token(b)) == ["public"]
    rolled = api("POST", "/policy/rollback", {"version": start, "reason": "lifted"}, 201)
    version, activation = rolled["version"], rolled["activation"]
    assert (version["version"], version["base_version"]) == (start + 2, start + 1)
    assert version["reason"] == f"rollback to version {start}: lifted"
    assert version["document"] == api("GET", f"/policy/versions/{start}")["document"]
    assert version["diff"] == [{"path": d["path"], "before": d["after"], "after": d["before"]}
                               for d in changed["version"]["diff"]]
    assert (activation["version"], activation["kind"], activation["reason"]) == (
        start + 2, "rollback", "lifted")
    assert api.active() == start + 2
    assert tiers_of(api.token(b)) == ["public", "restricted"]
    [event] = api.events("policy.rolled_back")
    assert (event.target, event.reason, event.details["before"], event.details["after"]) == (
        f"{start + 2}", "lifted", start + 1, start + 2)
    assert api.events("policy.version_created")[-1].details["diff"] == version["diff"]


# -- dry run and re-imposition -------------------------------------------------------------------


def test_a_dry_run_lists_gains_and_losses_and_writes_nothing(api, cast, clock):
    a, b, start = cast["A"], cast["B"], cast["version"]
    proposed = api.new_version("citizens only; early access opens", patch={
        "tiers": {**CITIZENS_ONLY["tiers"], "early-access": {"status": "open"}}})
    number = proposed["version"]["version"]
    before = api.written()
    result = api("POST", f"/policy/versions/{number}/dry-run", {})
    assert (result["from_version"], result["to_version"], result["at"],
            result["truncated"]) == (start, number, clock.now().isoformat(), False)
    assert result["organizations"] == sorted([
        {"id": a.org_id, "gains": ["early-access"], "loses": ["restricted"]},
        {"id": b.org_id, "gains": ["early-access"], "loses": ["restricted"]}],
        key=lambda c: c["id"])
    assert result["persons"] == sorted([
        {"id": cast["citizen"], "gains": ["early-access"], "loses": []},
        {"id": cast["stranger"], "gains": ["early-access"], "loses": ["restricted"]}],
        key=lambda c: c["id"])
    assert result["counts"] == {"organizations": 2, "persons": 2}
    assert api.written() == before and api.active() == start

    # At a later time, against the same active version; and nobody changes for a no-op.
    later = (clock.now() + timedelta(days=1)).isoformat()
    assert api("POST", f"/policy/versions/{number}/dry-run", {"at": later})["at"] == later
    same = api("POST", f"/policy/versions/{start}/dry-run", {})
    assert (same["organizations"], same["persons"], same["counts"]) == (
        [], [], {"organizations": 0, "persons": 0})


def test_reimposition_revokes_only_disallowed_tokens_in_one_audited_event(api, cast):
    a, b, key, start = cast["A"], cast["B"], cast["idp_key"], cast["version"]
    a_all = api.token(a)
    a_public = api.token(a, "tier:public")
    b_restricted = api.token(b, "tier:restricted")
    citizen = api.person_token(a, key, "citizen")
    stranger = api.person_token(a, key, "stranger")
    stranger_public = api.person_token(a, key, "stranger", "tier:public")
    assert tiers_of(a_all) == tiers_of(citizen) == tiers_of(stranger) == [
        "public", "restricted"]
    number = api.new_version("citizens only", patch=CITIZENS_ONLY)["version"]["version"]
    events_before = len(api.events())

    effects = api("POST", f"/policy/versions/{number}/activate",
                  {"reason": "export control order", "revoke_disallowed": True}, 201)
    doomed = [a_all, b_restricted, stranger]
    assert {k: effects[k] for k in ("before", "after", "checked", "revoked")} == {
        "before": start, "after": number, "checked": 6, "revoked": 3}
    assert effects["reasons"] == {"person_subject_required": 2, "citizenship_not_verified": 1}
    assert sorted(effects["jtis"]) == sorted(t["jti"] for t in doomed)
    assert api.revoked(a_all, a_public, b_restricted, citizen, stranger, stranger_public) == [
        True, False, True, False, True, False]
    assert api.active() == number

    new_events = api.events()[events_before:]
    assert [e.action for e in new_events] == ["policy.reimposed"]
    [event] = new_events
    assert (event.target, event.reason, event.actor) == (
        f"{number}", "export control order", "admin:alice")
    assert event.details == effects
    [activation] = [x for x in api("GET", "/policy")["activations"]
                    if x["id"] == effects["activation"]]
    assert (activation["version"], activation["kind"]) == (number, "reimpose")

    # Issuance follows the new version at once.
    assert tiers_of(api.person_token(a, key, "citizen")) == ["public", "restricted"]
    assert tiers_of(api.person_token(a, key, "stranger")) == ["public"]


def test_reimposition_is_immediate_only(api, cast, clock):
    before = api.written()
    api.problem("POST", f"/policy/versions/{cast['version']}/activate", {
        "reason": "x", "revoke_disallowed": True,
        "at": (clock.now() + timedelta(hours=1)).isoformat()}, 400, "invalid_input")
    assert api.written() == before


def test_reimposition_without_revocation_activates_and_keeps_tokens(api, cast):
    a = cast["A"]
    token = api.token(a)
    number = api.new_version("suspend restricted", patch={
        "tiers": {"restricted": {"status": "suspended"}}})["version"]["version"]
    activation = api("POST", f"/policy/versions/{number}/activate",
                     {"reason": "soft", "revoke_disallowed": False}, 201)
    assert activation["kind"] == "activate"
    assert api.revoked(token) == [False]
    assert tiers_of(api.token(a)) == ["public"]


# -- bulk revocation -----------------------------------------------------------------------------


def test_bulk_revocation_by_organization_client_person_and_tier(api, cast, admin):
    a, b, key = cast["A"], cast["B"], cast["idp_key"]
    a2 = admin.client(a.org_id)
    a_public = api.token(a, "tier:public")
    a_restricted = api.token(a, "tier:public tier:restricted")
    a2_public = api.token(a2, "tier:public")
    b_restricted = api.token(b, "tier:restricted")
    b_public = api.token(b, "tier:public")
    citizen = api.person_token(a, key, "citizen")
    stranger = api.person_token(a, key, "stranger", "tier:public")
    everyone = [a_public, a_restricted, a2_public, b_restricted, b_public, citizen, stranger]
    revoked: set[str] = set()

    def revoke(expected: list[dict], **filters: str) -> None:
        result = api("POST", "/tokens/revoke", {"reason": "incident", **filters})
        assert result == {"revoked": len(expected)}, filters
        revoked.update(t["jti"] for t in expected)
        assert api.revoked(*everyone) == [t["jti"] in revoked for t in everyone]
        event = api.events("tokens.revoked")[-1]
        assert (event.reason, event.details["count"], event.details["more"]) == (
            "incident", len(expected), False)
        assert sorted(event.details["jtis"]) == sorted(t["jti"] for t in expected)
        renamed = {("subject" if k == "person_id" else k): v for k, v in filters.items()}
        assert event.details["filters"] == renamed

    revoke([a2_public], client_id=a2.client_id)
    revoke([citizen], person_id=cast["citizen"])
    revoke([b_restricted, b_public], organization_id=b.org_id)
    revoke([a_restricted], tier="restricted")
    revoke([], tier="restricted")
    revoke([stranger], organization_id=a.org_id, person_id=cast["stranger"])
    revoke([a_public], organization_id=a.org_id, tier="public")
    assert len(api.events("tokens.revoked")) == 7


def test_bulk_revocation_by_tier_matches_whole_tier_names(api, cast):
    a = cast["A"]
    api.new_version("look-alike tiers", activate_now=True, patch={"tiers": {
        "eu_west": {}, "euxwest": {}, "eu": {}}})
    underscore = api.token(a, "tier:eu_west")
    lookalike = api.token(a, "tier:euxwest")
    prefix = api.token(a, "tier:eu")
    assert api("POST", "/tokens/revoke", {"reason": "x", "tier": "eu_west"}) == {"revoked": 1}
    assert api.revoked(underscore, lookalike, prefix) == [True, False, False]
    assert api("POST", "/tokens/revoke", {"reason": "x", "tier": "eu"}) == {"revoked": 1}
    assert api.revoked(lookalike, prefix) == [False, True]


def test_bulk_revocation_skips_expired_tokens(api, cast, clock):
    token = api.token(cast["B"])
    clock.advance(seconds=int(claims(token["access_token"])["exp"] - clock.now().timestamp()))
    assert api("POST", "/tokens/revoke", {"reason": "x", "organization_id": cast["B"].org_id}
               ) == {"revoked": 0}
    assert api.revoked(token) == [False]


@pytest.mark.parametrize("body", [
    pytest.param({"reason": "everything"}, id="none"),
    pytest.param({"reason": "everything", "tier": None, "client_id": None}, id="nulls"),
])
def test_bulk_revocation_needs_a_filter(api, cast, body):
    token = api.token(cast["B"])
    before = api.written()
    problem = api.problem("POST", "/tokens/revoke", body, 400, "no_filter")
    assert problem["detail"] == "name at least one of organization_id, client_id, subject, tier"
    assert api.written() == before
    assert api.revoked(token) == [False]


# -- bad requests write nothing ------------------------------------------------------------------


ENDPOINTS = [
    ("POST", "/policy/versions"),
    ("POST", "/policy/versions/1/activate"),
    ("POST", "/policy/versions/1/dry-run"),
    ("POST", "/policy/rollback"),
    ("POST", "/policy/activations/1/cancel"),
    ("POST", "/policy/explain"),
    ("POST", "/tokens/revoke"),
]
UNKNOWN_FIELD = {
    "/policy/versions": {"base_version": 1, "reason": "x", "document": DOC, "sneaky": 1},
    "/policy/versions/1/activate": {"reason": "x", "sneaky": 1},
    "/policy/versions/1/dry-run": {"sneaky": 1},
    "/policy/rollback": {"version": 1, "reason": "x", "sneaky": 1},
    "/policy/activations/1/cancel": {"reason": "x", "sneaky": 1},
    "/policy/explain": {"organization_id": "org_x", "sneaky": 1},
    "/tokens/revoke": {"reason": "x", "tier": "public", "sneaky": 1},
}


@pytest.mark.parametrize(("method", "path"), ENDPOINTS, ids=[p for _, p in ENDPOINTS])
def test_malformed_bodies_are_problems_and_write_nothing(api, method, path):
    before = api.written()
    cases = [
        (dict(data="{not json", content_type="application/json"), 400, "malformed_json"),
        (dict(json=["a", "list"]), 400, "malformed_json"),
        (dict(json="a string"), 400, "malformed_json"),
        (dict(data="reason=x", content_type="application/x-www-form-urlencoded"), 415,
         "unsupported_media_type"),
        (dict(data='{"reason": "x"}', content_type="text/plain"), 415,
         "unsupported_media_type"),
        (dict(), 415, "unsupported_media_type"),
        (dict(json=UNKNOWN_FIELD[path]), 400, "invalid_input"),
    ]
    for kwargs, status, code in cases:
        response = api.raw(method, path, **kwargs)
        assert response.status_code == status, (kwargs, response.get_json())
        assert response.mimetype == PROBLEM
        assert response.get_json()["type"] == f"urn:entitlements:problem:{code}", kwargs
    response = api.raw(method, path, json=UNKNOWN_FIELD[path])
    assert response.get_json()["errors"] == {"sneaky": ["Unknown field."]}
    assert api.written() == before


@pytest.mark.parametrize("body", [
    pytest.param({"base_version": "1", "reason": "x", "document": DOC}, id="string-version"),
    pytest.param({"base_version": 1, "reason": "", "document": DOC}, id="empty-reason"),
    pytest.param({"base_version": 1, "document": DOC}, id="no-reason"),
    pytest.param({"reason": "x", "document": DOC}, id="no-base"),
    pytest.param({"base_version": 1, "reason": "x", "document": []}, id="list-document"),
    pytest.param({"base_version": 1, "reason": "x", "document": DOC,
                  "activate_at": "2030-01-01T00:00:00"}, id="naive-time"),
])
def test_a_version_body_failing_validation_writes_nothing(api, body):
    before = api.written()
    api.problem("POST", "/policy/versions", body, 400, "invalid_input")
    assert api.written() == before


def test_the_admin_api_needs_an_admin_key(api, client):
    for method, path in [("GET", "/admin/policy"), *((m, "/admin" + p) for m, p in ENDPOINTS)]:
        response = client.open(path, method=method, json={})
        assert response.status_code == 401 and response.mimetype == PROBLEM, path
    assert api.latest() == 1


# -- every change is audited ---------------------------------------------------------------------


def test_every_admin_change_leaves_an_audit_event(api, cast, clock, admin):
    a, start = cast["A"], cast["version"]
    api.token(a)  # opens the ledger's stream before we count

    def changed(call, *actions: str) -> list[AuditEvent]:
        count = len(api.events())
        call()
        events = api.events()[count:]
        assert [e.action for e in events] == list(actions)
        assert all(e.actor == "admin:alice" for e in events)
        return events

    [created] = changed(lambda: api.new_version("v", patch={
        "tiers": {"early-access": {"status": "open"}}}), "policy.version_created")
    assert created.details["diff"] == [{"path": "/tiers/early-access/status",
                                        "before": "suspended", "after": "open"}]
    [activated] = changed(lambda: api("POST", f"/policy/versions/{start + 1}/activate",
                                      {"reason": "go"}, 201), "policy.activated")
    assert (activated.details["before"], activated.details["after"]) == (start, start + 1)
    at = (clock.now() + timedelta(hours=1)).isoformat()
    [scheduled] = changed(lambda: api("POST", f"/policy/versions/{start}/activate",
                                      {"reason": "later", "at": at}, 201), "policy.scheduled")
    assert (scheduled.details["before"], scheduled.details["after"]) == (start + 1, start)
    changed(lambda: api("POST", f"/policy/activations/{scheduled.details['activation']}/cancel",
                        {"reason": "no"}), "policy.schedule_cancelled")
    created, rolled = changed(lambda: api("POST", "/policy/rollback",
                                          {"version": start, "reason": "back"}, 201),
                              "policy.version_created", "policy.rolled_back")
    assert created.details["diff"] == [{"path": "/tiers/early-access/status",
                                        "before": "open", "after": "suspended"}]
    assert (rolled.details["before"], rolled.details["after"]) == (start + 1, start + 2)
    [reimposed] = changed(lambda: api("POST", f"/policy/versions/{start + 1}/activate",
                                      {"reason": "again", "revoke_disallowed": True}, 201),
                          "policy.reimposed")
    assert (reimposed.details["before"], reimposed.details["after"]) == (start + 2, start + 1)
    changed(lambda: api("POST", "/tokens/revoke", {"reason": "r", "client_id": a.client_id}),
            "tokens.revoked")
    created, activated, granted = changed(
        lambda: api("POST", f"/organizations/{a.org_id}/tiers", {"tier": "restricted"}, 201),
        "policy.version_created", "policy.activated", "organization.tier_granted")
    # A grant builds on the active version (start + 1, re-imposed), not the latest one,
    # and its diff is against that version: the grant alone.
    assert created.details["base_version"] == start + 1
    assert created.details["diff"] == [
        {"path": f"/tiers/restricted/allowlist/{a.org_id}", "before": None, "after": a.org_id}]
    assert granted.details == {"tier": "restricted", "policy_version": start + 3}
    changed(lambda: api("DELETE", f"/organizations/{a.org_id}/tiers/restricted"),
            "policy.version_created", "policy.activated", "organization.tier_revoked")
    # Reads and dry runs write nothing.
    changed(lambda: api("POST", f"/policy/versions/{start}/dry-run", {}))
    changed(lambda: api("GET", "/policy/versions"))
    changed(lambda: api("POST", "/policy/explain", {"organization_id": a.org_id}))


def test_granting_a_tier_does_not_activate_a_pending_version(api, cast, clock, admin):
    """An allowlist edit is a new version built on the latest, activated at once: when the
    latest is still pending (scheduled for later), its other changes must not take effect
    early."""
    b, start = cast["B"], cast["version"]
    api.new_version("suspend restricted tomorrow",
                    activate_at=(clock.now() + timedelta(days=1)).isoformat(),
                    patch={"tiers": {"restricted": {"status": "suspended"}}})
    other = admin.org("Other Org", tiers=())
    api("POST", f"/organizations/{other}/tiers", {"tier": "public", "on_pending": "keep"}, 201)
    assert api.latest() == start + 2
    assert tiers_of(api.token(b)) == ["public", "restricted"]
    granted = api("GET", f"/policy/versions/{start + 2}")
    assert granted["base_version"] == start, "built on the active version, and says so"
    assert [d["path"] for d in granted["diff"]] == [f"/tiers/public/allowlist/{other}"]


def test_rollback_while_an_equal_version_is_pending(api, cast, clock):
    b, start = cast["B"], cast["version"]
    api.new_version("suspend restricted", activate_now=True,
                    patch={"tiers": {"restricted": {"status": "suspended"}}})
    api.new_version("lift tomorrow", activate_at=(clock.now() + timedelta(days=1)).isoformat(),
                    patch={"tiers": {"restricted": {"status": "open"}}})
    assert tiers_of(api.token(b)) == ["public"]
    api("POST", "/policy/rollback", {"version": start, "reason": "lift now",
                                     "on_pending": "keep"}, 201)
    assert tiers_of(api.token(b)) == ["public", "restricted"]


def test_explain_and_the_dry_run_tell_bearer_from_dpop_bound_tokens(api, cast):
    a = cast["A"]
    proposed = api.new_version("restricted needs DPoP", patch={
        "tiers": {"restricted": {"sender_constraint": "dpop"}}})
    number = proposed["version"]["version"]
    result = api("POST", f"/policy/versions/{number}/dry-run", {})
    change = next(c for c in result["organizations"] if c["id"] == a.org_id)
    assert change == {"id": a.org_id, "gains": [], "loses": ["restricted"],
                      "dpop_bound": {"gains": [], "loses": []}}
    api("POST", f"/policy/versions/{number}/activate", {"reason": "holders only"}, expect=201)
    bearer = api("POST", "/policy/explain", {"organization_id": a.org_id,
                                             "tiers": ["restricted"]})
    assert bearer["token"] == "bearer"
    assert bearer["denied"]["restricted"]["reason"] == "dpop_required"
    bound = api("POST", "/policy/explain", {"organization_id": a.org_id,
                                            "tiers": ["restricted"], "dpop_bound": True})
    assert (bound["token"], bound["granted"], bound["denied"]) == ("dpop", ["restricted"], {})
