"""`entitlements policy ...` and `entitlements tokens revoke`, run in-process with click's
CliRunner on the test database (the CLI keeps the system clock)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.support.cli import ACTOR, Run, as_json, failed, ok
from tests.support.helpers import basic
from tests.support.markers import ONE_ADMIN

pytestmark = ONE_ADMIN

VERIFIED = ["government_partner", "trusted", "verified"]
DOC = {
    "tiers": {"public": {"description": "for everyone"},
              "restricted": {"description": "sensitive"},
              "early-access": {"status": "suspended"}},
    "models": {"base-1": {"tier": "public"},
               "frontier-2": {"tier": "restricted", "fallback": "base-1"}},
}


def iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def soon(**delta: float) -> str:
    return iso(datetime.now(UTC) + timedelta(**delta))


def write(tmp_path: Path, name: str, value: Any) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(value))
    return str(path)


@pytest.fixture
def applied(cli: Run, tmp_path: Path) -> int:
    """DOC as version 2, active."""
    return as_json(cli("policy", "apply", "--document", write(tmp_path, "doc.json", DOC),
                       "--reason", "catalog", "--activate-now", "--json"))["version"]


def written(cli: Run) -> tuple[int, int]:
    """How many versions and audit events there are."""
    return (len(as_json(cli("policy", "versions", "--json"))),
            len(as_json(cli("audit", "list", "--limit", "10000", "--json"))))


def test_show_versions_and_version(cli: Run):
    shown = as_json(cli("policy", "show", "--json"))
    assert (shown["active_version"], shown["latest_version"]) == (1, 1)
    [first] = shown["activations"]
    assert (first["version"], first["kind"], first["created_by"], first["cancelled_at"]) == (
        1, "activate", "migration:0008", None)
    assert ok(cli("policy", "show")).strip() == "active version 1, latest 1, 0 scheduled"
    [summary] = as_json(cli("policy", "versions", "--json"))
    assert (summary["version"], summary["base_version"], summary["author"]) == (
        1, None, "migration:0008")
    assert "document" not in summary
    version = as_json(cli("policy", "version", "1", "--json"))
    assert set(version["document"]["tiers"]) == {"public", "restricted", "early-access"}
    assert {t["status"] for t in version["document"]["tiers"].values()} == {"allowlist_only"}
    assert version["diff"] == [] and version["document"]["models"] == {}
    assert json.loads(ok(cli("policy", "version", "1"))) == version["document"]
    assert "no policy version 5" in failed(cli("policy", "version", "5"))


def test_apply_a_document_then_a_patch(cli: Run, tmp_path: Path):
    created = as_json(cli("policy", "apply", "--document", write(tmp_path, "d.json", DOC),
                          "--reason", "catalog", "--json"))
    assert (created["version"], created["base_version"], created["author"],
            created["reason"]) == (2, 1, ACTOR, "catalog")
    assert created["document"]["models"]["frontier-2"] == {
        "tier": "restricted", "fallback": "base-1", "released_at": None}
    assert as_json(cli("policy", "show", "--json"))["active_version"] == 1

    patch = write(tmp_path, "p.json", {"tiers": {"early-access": {"status": "open"}}})
    line = ok(cli("policy", "apply", "--patch", patch, "--reason", "open", "--activate-now"))
    assert line.strip() == "version 3 created (active now); 1 change(s)"
    assert as_json(cli("policy", "show", "--json"))["active_version"] == 3
    assert as_json(cli("policy", "version", "3", "--json"))["diff"] == [
        {"path": "/tiers/early-access/status", "before": "suspended", "after": "open"}]
    events = as_json(cli("audit", "list", "--json"))
    assert [e["action"] for e in events[:3]] == [
        "policy.activated", "policy.version_created", "policy.version_created"]
    assert {e["actor"] for e in events[:3]} == {ACTOR}

    before = written(cli)
    line = failed(cli("policy", "apply", "--patch", patch, "--base", "2", "--reason", "late"))
    assert "version 2 is not the latest version (the latest is 3)" in line
    assert "the change leaves the policy as it is" in failed(
        cli("policy", "apply", "--patch", patch, "--reason", "again"))
    assert "give either a whole 'document' or a 'patch'" in failed(
        cli("policy", "apply", "--reason", "nothing"))
    (tmp_path / "bad.json").write_text("{nope")
    assert "is not valid JSON" in failed(cli("policy", "apply", "--patch",
                                             str(tmp_path / "bad.json"), "--reason", "x"))
    assert "must hold a JSON object" in failed(cli(
        "policy", "apply", "--patch", write(tmp_path, "list.json", []), "--reason", "x"))
    assert "cannot read" in failed(cli("policy", "apply", "--patch",
                                       str(tmp_path / "missing.json"), "--reason", "x"))
    assert written(cli) == before


def test_set_tier(cli: Run, org_id: str, applied: int):
    changed = as_json(cli(
        "policy", "set-tier", "restricted", "--status", "allowlist_only", "--allow", org_id,
        "--trust", "trusted", "--trust", "government_partner", "--citizenship", "US",
        "--citizenship", "CA", "--min-level", "high", "--organization-subjects", "deny",
        "--max-lifetime", "600", "--description", "export controlled", "--reason", "rules",
        "--activate-now", "--json"))
    assert changed["version"] == applied + 1
    assert changed["document"]["tiers"]["restricted"] == {
        "description": "export controlled", "status": "allowlist_only",
        "trust_levels": ["trusted", "government_partner"],
        "citizenship": {"nationalities": ["US", "CA"], "min_level": "high",
                        "organization_subjects": "deny"},
        "allowlist": [org_id], "windows": [], "max_token_lifetime": 600,
        "sender_constraint": None}
    dropped = as_json(cli("policy", "set-tier", "restricted", "--no-citizenship",
                          "--reason", "lifted", "--json"))
    assert dropped["document"]["tiers"]["restricted"]["citizenship"] is None
    assert dropped["document"]["tiers"]["restricted"]["allowlist"] == [org_id]
    assert dropped["diff"] == [{"path": "/tiers/restricted/citizenship",
                                "before": changed["document"]["tiers"]["restricted"][
                                    "citizenship"], "after": None}]
    raised = as_json(cli("policy", "set-tier", "restricted", "--citizenship", "US",
                         "--reason", "again", "--json"))
    lowered = as_json(cli("policy", "set-tier", "restricted", "--min-level", "low",
                          "--reason", "only the level", "--json"))
    assert lowered["diff"] == [{"path": "/tiers/restricted/citizenship/min_level",
                                "before": "substantial", "after": "low"}]
    assert raised["document"]["tiers"]["restricted"]["citizenship"]["nationalities"] == ["US"]
    new_tier = as_json(cli("policy", "set-tier", "eu", "--reason", "new tier", "--json"))
    assert new_tier["document"]["tiers"]["eu"]["status"] == "open"
    bound = as_json(cli("policy", "set-tier", "eu", "--sender-constraint", "dpop",
                        "--reason", "holders only", "--json"))
    assert bound["diff"] == [{"path": "/tiers/eu/sender_constraint", "before": None,
                              "after": "dpop"}]
    unbound = as_json(cli("policy", "set-tier", "eu", "--sender-constraint", "none",
                          "--reason", "any token", "--json"))
    assert unbound["document"]["tiers"]["eu"]["sender_constraint"] is None
    before = written(cli)
    assert "unknown organizations on allowlists: org_nope" in failed(cli(
        "policy", "set-tier", "eu", "--allow", "org_nope", "--reason", "x"))
    assert "no tier named 'nonesuch'" in failed(cli(
        "policy", "set-tier", "nonesuch", "--no-citizenship", "--reason", "x"))
    assert "give no citizenship options with it" in failed(cli(
        "policy", "set-tier", "restricted", "--no-citizenship", "--min-level", "high",
        "--reason", "x"))
    assert "nationalities" in failed(cli(  # no requirement to change the level of
        "policy", "set-tier", "eu", "--min-level", "high", "--reason", "x"))
    assert "the fallback chain of 'base-1'" in failed(cli(
        "policy", "set-tier", "public", "--status", "suspended", "--reason", "x"))
    assert written(cli) == before


def test_add_window(cli: Run, applied: int):
    starts, ends = soon(days=1), soon(days=2)
    added = as_json(cli("policy", "add-window", "early-access", "--starts", starts,
                        "--ends", ends, "--trust", "government_partner", "--reason", "preview",
                        "--json"))
    assert added["document"]["tiers"]["early-access"]["windows"] == [
        {"starts_at": starts, "ends_at": ends, "trust_levels": ["government_partner"]}]
    again = as_json(cli("policy", "add-window", "early-access", "--starts", ends,
                        "--reason", "everyone", "--json"))
    assert again["document"]["tiers"]["early-access"]["windows"][1] == {
        "starts_at": ends, "ends_at": None, "trust_levels": None}
    assert "no tier named 'nonesuch'" in failed(cli(
        "policy", "add-window", "nonesuch", "--starts", starts, "--reason", "x"))


def test_set_model_and_remove_model(cli: Run, applied: int):
    added = as_json(cli("policy", "set-model", "preview-3", "--tier", "early-access",
                        "--fallback", "frontier-2", "--reason", "preview", "--json"))
    assert added["document"]["models"]["preview-3"] == {
        "tier": "early-access", "fallback": "frontier-2", "released_at": None}
    released = soon(days=3)
    later = as_json(cli("policy", "set-model", "next-4", "--tier", "public", "--fallback",
                        "base-1", "--released-at", released, "--reason", "next", "--json"))
    assert later["document"]["models"]["next-4"]["released_at"] == released
    before = written(cli)
    assert "model 'frontier-2' falls back to unknown model 'base-1'" in failed(cli(
        "policy", "remove-model", "base-1", "--reason", "x"))
    assert "model 'x' names unknown tier 'nope'" in failed(cli(
        "policy", "set-model", "x", "--tier", "nope", "--reason", "x"))
    assert "the fallback chain of 'solo' ends in 'solo'" in failed(cli(
        "policy", "set-model", "solo", "--tier", "public", "--released-at", released,
        "--reason", "x"))
    assert written(cli) == before
    removed = as_json(cli("policy", "remove-model", "preview-3", "--reason", "gone", "--json"))
    assert "preview-3" not in removed["document"]["models"]
    assert removed["diff"][0]["path"] == "/models/preview-3"


def test_activate_schedule_and_cancel(cli: Run, applied: int):
    activated = as_json(cli("policy", "activate", "1", "--reason", "back", "--json"))
    assert (activated["version"], activated["kind"], activated["created_by"]) == (
        1, "activate", ACTOR)
    assert as_json(cli("policy", "show", "--json"))["active_version"] == 1
    at = soon(hours=1)
    scheduled = as_json(cli("policy", "activate", str(applied), "--reason", "later",
                            "--at", at, "--json"))
    assert scheduled["activate_at"] == at
    assert ok(cli("policy", "show")).strip() == f"active version 1, latest {applied}, 1 scheduled"
    [event] = as_json(cli("audit", "list", "--action", "policy.scheduled", "--json"))
    assert (event["details"]["before"], event["details"]["after"]) == (1, applied)
    assert f"activation {scheduled['id']} (version {applied}" in failed(cli(
        "policy", "activate", "1", "--reason", "urgent"))
    kept = as_json(cli("policy", "activate", "1", "--reason", "urgent", "--on-pending", "keep",
                       "--json"))
    [event] = as_json(cli("audit", "list", "--action", "policy.activated", "--json"))[:1]
    assert event["details"]["activation"] == kept["id"]
    assert event["details"]["pending"] == {"decision": "keep", "activations": [scheduled["id"]]}
    cancelled = as_json(cli("policy", "cancel", str(scheduled["id"]), "--reason", "no",
                            "--json"))
    assert cancelled["id"] == scheduled["id"] and cancelled["cancelled_at"]
    assert ok(cli("policy", "show")).strip() == f"active version 1, latest {applied}, 0 scheduled"
    assert f"activation {scheduled['id']} is not pending" in failed(cli(
        "policy", "cancel", str(scheduled["id"]), "--reason", "again"))
    assert "no activation 999" in failed(cli("policy", "cancel", "999", "--reason", "x"))
    assert "no policy version 99" in failed(cli("policy", "activate", "99", "--reason", "x"))
    assert ("revoke_disallowed (--revoke-disallowed) applies to an immediate activation"
            in failed(cli("policy", "activate", str(applied), "--reason", "x",
                          "--revoke-disallowed", "--at", at)))
    human = ok(cli("policy", "activate", str(applied), "--reason", "again"))
    assert human.startswith(f"version {applied} active from ")


def test_rollback(cli: Run, tmp_path: Path, applied: int):
    cli("policy", "set-tier", "restricted", "--status", "suspended", "--reason", "x",
        "--activate-now")
    rolled = as_json(cli("policy", "rollback", str(applied), "--reason", "lifted", "--json"))
    assert (rolled["version"], rolled["base_version"], rolled["reason"]) == (
        applied + 2, applied + 1, f"rollback to version {applied}: lifted")
    assert as_json(cli("policy", "show", "--json"))["active_version"] == applied + 2
    assert as_json(cli("policy", "version", str(applied + 2), "--json"))["document"] == (
        as_json(cli("policy", "version", str(applied), "--json"))["document"])
    [event] = as_json(cli("audit", "list", "--action", "policy.rolled_back", "--json"))
    assert (event["details"]["before"], event["details"]["after"]) == (applied + 1,
                                                                      applied + 2)
    assert ok(cli("policy", "rollback", "1", "--reason", "all the way")).strip() == (
        f"version {applied + 3} (a copy of 1) is active")


def test_dry_run(cli: Run, org_id: str, applied: int):
    person = as_json(cli("persons", "create", "--org", org_id, "--json"))["id"]
    proposed = as_json(cli("policy", "set-tier", "restricted", "--status", "suspended",
                           "--reason", "x", "--json"))["version"]
    before = written(cli)
    result = as_json(cli("policy", "dry-run", str(proposed), "--json"))
    assert (result["from_version"], result["to_version"]) == (applied, proposed)
    assert result["organizations"] == [{"id": org_id, "gains": [], "loses": ["restricted"]}]
    assert result["persons"] == [{"id": person, "gains": [], "loses": ["restricted"]}]
    assert result["counts"] == {"organizations": 1, "persons": 1}
    human = ok(cli("policy", "dry-run", str(proposed))).splitlines()
    assert human == [f"organization {org_id}: +- -restricted",
                     f"person {person}: +- -restricted"]
    at = soon(days=1)
    assert as_json(cli("policy", "dry-run", str(proposed), "--at", at, "--json"))["at"] == at
    assert ok(cli("policy", "dry-run", str(applied))).strip() == "no change for anyone"
    assert written(cli) == before


def test_explain(cli: Run, org_id: str, applied: int):
    client_id = as_json(cli("clients", "create", "--org", org_id, "--json"))["client_id"]
    person = as_json(cli("persons", "create", "--org", org_id, "--json"))["id"]
    cli("policy", "set-tier", "restricted", "--citizenship", "US", "--organization-subjects",
        "deny", "--reason", "citizens", "--activate-now")
    by_org = as_json(cli("policy", "explain", "--org", org_id, "--model", "frontier-2",
                         "--tier", "public", "--tier", "restricted", "--json"))
    assert by_org["granted"] == ["public"]
    assert by_org["denied"]["restricted"]["reason"] == "person_subject_required"
    assert by_org["model"] == {
        "outcome": "fallback", "requested": "frontier-2", "tier": "restricted",
        "route_to": "base-1", "reason": "person_subject_required",
        "message": "only tokens for verified persons may use this tier"}
    by_client = as_json(cli("policy", "explain", "--client", client_id, "--json"))
    assert by_client["subject"] == {"organization_id": org_id}
    assert by_client["granted"] == ["public"]
    by_person = as_json(cli("policy", "explain", "--person", person, "--model", "frontier-2",
                            "--json"))
    assert by_person["subject"] == {"person_id": person, "organization_id": org_id}
    assert by_person["model"]["reason"] == "citizenship_not_verified"
    human = ok(cli("policy", "explain", "--org", org_id, "--model", "frontier-2")).splitlines()
    assert human == ["granted: public", "denied early-access: tier_suspended",
                     "denied restricted: person_subject_required",
                     "model frontier-2: fallback -> base-1 (person_subject_required)"]
    assert "name exactly one of organization_id, client_id or person_id" in failed(cli(
        "policy", "explain", "--org", org_id, "--person", person))
    assert "no person with id 'per_nope'" in failed(cli("policy", "explain", "--person",
                                                        "per_nope"))


def _token(client, clock, partner, scope: str | None = None) -> dict:
    clock.set(datetime.now(UTC))  # the app's clock catches up with the CLI's
    form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    response = client.post("/oauth/token", data=form,
                           headers=basic(partner.client_id, partner.client_secret))
    assert response.status_code == 200, response.get_json()
    return jwt.decode(response.get_json()["access_token"], options={"verify_signature": False})


def test_reimpose_and_revoke_tokens(cli: Run, admin, client, clock, applied: int, db):
    from entitlements.tokens.models import IssuedToken

    admin.gateway()
    a, b = admin.partner("Org A", tiers=()), admin.partner("Org B", tiers=())
    a_all, a_public = _token(client, clock, a), _token(client, clock, a, "tier:public")
    b_all = _token(client, clock, b)
    assert a_all["entitlements"] == ["public", "restricted"]
    proposed = as_json(cli("policy", "set-tier", "restricted", "--status", "suspended",
                           "--reason", "incident", "--json"))["version"]
    effects = as_json(cli("policy", "activate", str(proposed), "--reason", "incident",
                          "--revoke-disallowed", "--json"))
    assert {k: effects[k] for k in ("before", "after", "checked", "revoked", "reasons")} == {
        "before": applied, "after": proposed, "checked": 3, "revoked": 2,
        "reasons": {"tier_suspended": 2}}
    assert sorted(effects["jtis"]) == sorted([a_all["jti"], b_all["jti"]])
    [event] = as_json(cli("audit", "list", "--action", "policy.reimposed", "--json"))
    assert event["details"] == effects

    b_public = _token(client, clock, b)
    assert b_public["entitlements"] == ["public"]
    assert as_json(cli("tokens", "revoke", "--client", b.client_id, "--reason", "leak",
                       "--json")) == {"revoked": 1}
    assert ok(cli("tokens", "revoke", "--org", a.org_id, "--tier", "public",
                  "--reason", "x")).strip() == "1 token(s) revoked"
    assert as_json(cli("tokens", "revoke", "--tier", "public", "--reason", "x",
                       "--json")) == {"revoked": 0}
    events = as_json(cli("audit", "list", "--action", "tokens.revoked", "--json"))
    assert [e["details"]["filters"] for e in events] == [
        {"tier": "public"}, {"organization_id": a.org_id, "tier": "public"},
        {"client_id": b.client_id}]
    with db.sessions() as session:
        assert all(session.get(IssuedToken, t["jti"]).revoked_at is not None
                   for t in (a_all, a_public, b_all, b_public))


def test_revoke_a_persons_tokens(cli: Run, org_id: str):
    person = as_json(cli("persons", "create", "--org", org_id, "--json"))["id"]
    assert as_json(cli("tokens", "revoke", "--person", person, "--reason", "left",
                       "--json")) == {"revoked": 0}
    [event] = as_json(cli("audit", "list", "--action", "tokens.revoked", "--json"))
    assert event["details"]["filters"] == {"subject": person}


# -- errors: one line on stderr, exit 1, nothing written -----------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(lambda v: ("policy", "set-model", "base-1", "--tier", "public", "--fallback",
                            "frontier-2", "--reason", "x"),
                 "fallback cycle: base-1 -> frontier-2 -> base-1", id="fallback-cycle"),
    pytest.param(lambda v: ("policy", "add-window", "early-access", "--starts", soon(days=2),
                            "--ends", soon(days=1), "--reason", "x"),
                 "windows.0.ends_at: a window must end after it starts", id="window-order"),
    pytest.param(lambda v: ("policy", "rollback", "42", "--reason", "x"),
                 "no policy version 42", id="rollback-unknown"),
    pytest.param(lambda v: ("policy", "activate", str(v), "--reason", "x", "--at",
                            soon(hours=-1)),
                 "cannot schedule in the past", id="schedule-in-past"),
    pytest.param(lambda v: ("policy", "apply", "--patch", "/dev/null", "--reason", "x",
                            "--activate-at", soon(hours=-1)),
                 "is not valid JSON", id="apply-bad-file"),
    pytest.param(lambda v: ("tokens", "revoke", "--reason", "x"),
                 "name at least one of organization_id, client_id, subject, tier",
                 id="revoke-no-filter"),
    pytest.param(lambda v: ("policy", "explain", "--model", "base-1"),
                 "name exactly one of organization_id, client_id or person_id",
                 id="explain-no-subject"),
])
def test_errors_are_one_line_on_stderr(cli: Run, applied: int, args, message):
    before = written(cli)
    line = failed(cli(*args(applied)))
    assert message in line
    assert written(cli) == before


@pytest.mark.parametrize("command", [("activate", "{v}", "--reason", "x"), ("dry-run", "{v}")])
def test_a_time_outside_utc_is_a_usage_error(cli: Run, applied: int, command):
    before = written(cli)
    args = [a.format(v=applied) for a in command]
    result = cli("policy", *args, "--at", "9999-12-31T23:59:59-1200")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "Invalid value for '--at': the time is out of range once converted to UTC" in (
        result.stderr)
    assert written(cli) == before


def test_scheduling_a_new_version_in_the_past_keeps_nothing(cli: Run, tmp_path: Path,
                                                             applied: int):
    before = written(cli)
    patch = write(tmp_path, "p.json", {"tiers": {"early-access": {"status": "open"}}})
    line = failed(cli("policy", "apply", "--patch", patch, "--reason", "x", "--activate-at",
                      soon(hours=-1)))
    assert "cannot schedule in the past" in line
    assert written(cli) == before


def test_activate_now_and_activate_at_together_are_refused(cli: Run, tmp_path: Path,
                                                           applied: int):
    patch = write(tmp_path, "p.json", {"tiers": {"early-access": {"status": "open"}}})
    failed(cli("policy", "apply", "--patch", patch, "--reason", "x", "--activate-now",
               "--activate-at", soon(days=1)))


def test_an_urgent_edit_builds_on_the_active_version(cli: Run, applied: int):
    """A version scheduled for later stays out of an --on-active edit, and says it is
    pending until the admin decides about it."""
    scheduled = as_json(cli("policy", "set-tier", "early-access", "--status", "open",
                            "--reason", "later", "--activate-at", soon(hours=1), "--json"))
    assert "would replace this activation when due" in failed(cli(
        "policy", "set-tier", "restricted", "--status", "suspended", "--on-active",
        "--activate-now", "--reason", "urgent"))
    urgent = as_json(cli("policy", "set-tier", "restricted", "--status", "suspended",
                         "--on-active", "--activate-now", "--on-pending", "cancel",
                         "--reason", "urgent", "--json"))
    assert urgent["base_version"] == applied != scheduled["version"]
    assert urgent["diff"] == [{"path": "/tiers/restricted/status", "before": "open",
                               "after": "suspended"}]
    assert ok(cli("policy", "show")).strip() == (
        f"active version {urgent['version']}, latest {urgent['version']}, 0 scheduled")
