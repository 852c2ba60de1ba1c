"""The organization lifecycle and the two-person rule, from the command line."""

from __future__ import annotations

import pytest

from tests.support.cli import ACTOR, Run, as_json, failed, ok

NAME = "Acme Labs"


def test_cli_lifecycle_with_the_two_person_rule(cli: Run, monkeypatch):
    monkeypatch.setenv("ENTITLEMENTS_EVIDENCE_TRUSTED", "agreement")
    org = as_json(cli("orgs", "apply", NAME, "--country", "DE", "--json"))
    org_id = org["id"]
    assert (org["status"], org["trust_level"], org["country"], org["tiers"]) == (
        "applied", "unverified", "DE", [])
    assert ok(cli("orgs", "review", org_id, "--reason", "papers in")).strip() == (
        f"organization {org_id} is now under_review")
    shown = as_json(cli("orgs", "verify", org_id, "--reason", "papers checked", "--json"))
    assert (shown["status"], shown["trust_level"]) == ("verified", "verified")

    asked = as_json(cli("--actor", "alice", "orgs", "request-trust", org_id, "trusted",
                        "--reason", "audit passed", "--json"))
    assert (asked["state"], asked["level"], asked["requested_by"], asked["organization_id"]) == (
        "pending", "trusted", "alice", org_id)
    line = failed(cli("--actor", "alice", "orgs", "approve-trust", asked["id"], "--reason", "me"))
    assert "two-person rule" in line
    [listed] = as_json(cli("orgs", "trust-requests", "--json"))
    assert (listed["id"], listed["state"]) == (asked["id"], "pending")
    assert as_json(cli("orgs", "show", org_id, "--json"))["trust_level"] == "verified"

    unproven = failed(cli("--actor", "bob", "orgs", "approve-trust", asked["id"],
                          "--reason", "report read"))
    assert unproven.endswith("raising trust to trusted needs verified evidence of: agreement")
    agreement = as_json(cli("orgs", "record-agreement", org_id, "MSA-7", "--json"))
    assert (agreement["kind"], agreement["status"]) == ("agreement", "verified")
    raised = as_json(cli("--actor", "bob", "orgs", "approve-trust", asked["id"],
                         "--reason", "report read", "--json"))
    assert (raised["id"], raised["status"], raised["trust_level"]) == (
        org_id, "verified", "trusted")
    [listed] = as_json(cli("orgs", "trust-requests", "--state", "approved", "--json"))
    assert (listed["state"], listed["decided_by"], listed["decision_reason"]) == (
        "approved", "bob", "report read")
    assert as_json(cli("orgs", "trust-requests", "--state", "pending", "--json")) == []

    revoked = as_json(cli("orgs", "revoke", org_id, "--reason", "fraud", "--json"))
    assert (revoked["status"], revoked["trust_level"]) == ("revoked", "trusted")
    assert "cannot reinstate an organization that is revoked" in failed(
        cli("orgs", "reinstate", org_id, "--reason", "oops"))

    history = as_json(cli("orgs", "history", org_id, "--json"))
    assert [(c["action"], c["from_status"], c["to_status"], c["from_trust"], c["to_trust"],
             c["actor"], c["approved_by"], c["reason"]) for c in history] == [
        ("apply", "applied", "applied", "unverified", "unverified", ACTOR, None,
         "application received"),
        ("review", "applied", "under_review", "unverified", "unverified", ACTOR, None,
         "papers in"),
        ("verify", "under_review", "verified", "unverified", "verified", ACTOR, None,
         "papers checked"),
        ("raise_trust", "verified", "verified", "verified", "trusted", "alice", "bob",
         "audit passed"),
        ("revoke", "verified", "revoked", "trusted", "trusted", ACTOR, None, "fraud"),
    ]
    assert history[0]["evidence"] == {"country": "DE"}
    assert [c["at"] for c in history] == sorted(c["at"] for c in history)
    human = ok(cli("orgs", "history", org_id)).splitlines()
    assert len(human) == 5
    assert "raise_trust" in human[3] and "by alice approved by bob: audit passed" in human[3]
    actions = [e["action"] for e in as_json(cli("audit", "list", "--json"))]
    assert actions == ["organization.revoked", "organization.trust_raised",
                       "organization.evidence_checked", "organization.trust_requested",
                       "organization.verified",
                       "organization.under_review", "organization.applied"]


def test_cli_reject_and_lower_trust(cli: Run):
    org_id = as_json(cli("orgs", "create", NAME, "--json"))["id"]
    asked = as_json(cli("--actor", "alice", "orgs", "request-trust", org_id,
                        "government_partner", "--reason", "ministry contract", "--json"))
    rejected = as_json(cli("--actor", "alice", "orgs", "reject-trust", asked["id"],
                           "--reason", "withdrawn", "--json"))
    assert (rejected["state"], rejected["decided_by"]) == ("rejected", "alice")
    assert "is already rejected" in failed(
        cli("--actor", "bob", "orgs", "approve-trust", asked["id"], "--reason", "late"))
    assert as_json(cli("orgs", "show", org_id, "--json"))["trust_level"] == "verified"

    lowered = as_json(cli("orgs", "lower-trust", org_id, "unverified", "--reason", "lapsed",
                          "--json"))
    assert (lowered["status"], lowered["trust_level"]) == ("verified", "unverified")
    assert "is not lower than unverified" in failed(
        cli("orgs", "lower-trust", org_id, "unverified", "--reason", "again"))
    last = as_json(cli("orgs", "history", org_id, "--json"))[-1]
    assert (last["action"], last["actor"], last["from_trust"], last["to_trust"]) == (
        "lower_trust", ACTOR, "verified", "unverified")


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(("orgs", "apply", "Other", "--country", "usa"),
                 "country must be an ISO 3166-1 alpha-2 code", id="apply-bad-country"),
    pytest.param(("orgs", "apply", NAME), "an organization named 'Acme Labs' already exists",
                 id="apply-duplicate"),
    pytest.param(("orgs", "verify", "{org}", "--reason", "skip review"),
                 "cannot verify an organization that is applied", id="verify-applied"),
    pytest.param(("orgs", "suspend", "{org}", "--reason", "x"),
                 "cannot suspend an organization that is applied", id="suspend-applied"),
    pytest.param(("orgs", "review", "{org}", "--reason", " "),
                 "a reason of 1 to 500 characters is required", id="blank-reason"),
    pytest.param(("orgs", "request-trust", "{org}", "trusted", "--reason", "x"),
                 "is applied; only a verified organization's trust can be raised",
                 id="request-trust-applied"),
    pytest.param(("orgs", "approve-trust", "trq_nope", "--reason", "x"),
                 "no trust request with id 'trq_nope'", id="approve-unknown"),
    pytest.param(("orgs", "history", "org_nope"), "no organization with id 'org_nope'",
                 id="history-unknown"),
])
def test_cli_refusals_are_one_line_and_write_nothing(cli: Run, args, message):
    org_id = as_json(cli("orgs", "apply", NAME, "--json"))["id"]
    line = failed(cli(*(a.format(org=org_id) for a in args)))
    assert message in line
    assert as_json(cli("audit", "verify", "--json"))["checked"] == 1
    assert [c["action"] for c in as_json(cli("orgs", "history", org_id, "--json"))] == ["apply"]


def test_an_import_of_json_lines(cli: Run, tmp_path):
    source = tmp_path / "orgs.jsonl"
    source.write_text('{"name": "Acme Labs", "country": "US"}\n\n'
                      '{"name": "Borealis AI", "onboard": true}\n')
    done = as_json(cli("orgs", "import", str(source), "--json"))
    assert done == {"created": 2, "skipped": [], "skipped_count": 0}
    listed = {o["name"]: o["status"] for o in as_json(cli("orgs", "list", "--json"))}
    assert listed == {"Acme Labs": "applied", "Borealis AI": "verified"}
    again = ok(cli("orgs", "import", str(source)))
    assert again.strip() == "0 organization(s) created, 2 already known"


@pytest.mark.parametrize(("text", "said"), [
    ('{"name": "Acme Labs"}\nnot json\n', "line 2 is not a JSON object"),
    ('{"name": "Acme Labs"}\n{"country": "US"}\n', "line 2: name: Missing data"),
    ('{"name": "Acme Labs", "country": "USA"}\n', "line 1: country:"),
    ('{"name": "Acme Labs"}\n{"name": "   "}\n', "line 2: name: a name is more than"),
    ("\n\n", "the file holds no organization"),
    ("[" * 20_000 + "\n", "line 1 is not a JSON object"),
])
def test_an_import_with_a_bad_line_writes_nothing(cli: Run, tmp_path, text, said):
    source = tmp_path / "orgs.jsonl"
    source.write_text(text)
    assert said in failed(cli("orgs", "import", str(source)))
    assert as_json(cli("orgs", "list", "--json")) == []
