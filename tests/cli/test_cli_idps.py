"""The idps commands, end to end through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import ACTOR, Run, as_json, failed, ok
from tests.support.factories import client_keypair

IDP = "https://login.acme.example"


def jwks_file(tmp_path: Path) -> str:
    _, jwks = client_keypair("idp-1")
    path = tmp_path / "idp.jwks"
    path.write_text(json.dumps(jwks))
    return str(path)


def register(cli: Run, org_id: str, tmp_path: Path, *extra: str):
    return cli("idps", "register", org_id, IDP, "--audience", "portal-b", "--audience",
               "portal-a", "--jwks", jwks_file(tmp_path), *extra)


def test_register_with_a_jwks_file_prints_json(cli: Run, org_id: str, tmp_path: Path):
    row = as_json(register(cli, org_id, tmp_path, "--json"))
    assert row["id"].startswith("idp_")
    assert (row["organization_id"], row["issuer"], row["audiences"]) == (
        org_id, IDP, ["portal-a", "portal-b"])
    assert (row["jwks_uri"], row["has_jwks"], row["status"]) == (None, True, "active")
    assert "jwks" not in row
    [event] = as_json(cli("audit", "list", "--action", "idp.registered", "--json"))
    assert (event["target"], event["actor"]) == (row["id"], ACTOR)


def test_register_by_jwks_uri_prints_a_line(cli: Run, org_id: str):
    line = ok(cli("idps", "register", org_id, IDP, "--audience", "portal",
                  "--jwks-uri", f"{IDP}/jwks")).strip()
    assert line.startswith("registered identity provider idp_")
    assert line.endswith(f"({IDP}) for {org_id}")
    [row] = as_json(cli("idps", "list", org_id, "--json"))
    assert (row["jwks_uri"], row["has_jwks"]) == (f"{IDP}/jwks", False)


def test_list_human_and_json(cli: Run, org_id: str, tmp_path: Path):
    assert ok(cli("idps", "list", org_id)).strip() == "no identity providers"
    assert as_json(cli("idps", "list", org_id, "--json")) == []
    row = as_json(register(cli, org_id, tmp_path, "--json"))
    assert as_json(cli("idps", "list", org_id, "--json")) == [row]
    [line] = ok(cli("idps", "list", org_id)).splitlines()
    assert line.split() == [row["id"], "active", IDP]


def test_suspend_and_reinstate(cli: Run, org_id: str, tmp_path: Path):
    idp_id = as_json(register(cli, org_id, tmp_path, "--json"))["id"]
    assert ok(cli("idps", "suspend", idp_id, "--reason", "key leaked")).strip() == (
        f"identity provider {idp_id} suspended")
    [line] = ok(cli("idps", "list", org_id)).splitlines()
    assert line.split()[1] == "suspended"
    assert "already suspended" in failed(cli("idps", "suspend", idp_id, "--reason", "again"))
    reinstated = as_json(cli("idps", "reinstate", idp_id, "--reason", "rotated", "--json"))
    assert reinstated["status"] == "active"
    events = as_json(cli("audit", "list", "--json"))
    assert [(e["action"], e["reason"]) for e in events if e["target"] == idp_id] == [
        ("idp.reinstated", "rotated"), ("idp.suspended", "key leaked"),
        ("idp.registered", None)]


def test_a_duplicate_issuer_is_one_error_line(cli: Run, org_id: str, tmp_path: Path):
    ok(register(cli, org_id, tmp_path))
    other = as_json(cli("orgs", "create", "Globex", "--json"))["id"]
    line = failed(register(cli, other, tmp_path))
    assert f"identity provider '{IDP}' is already registered" in line
    assert as_json(cli("idps", "list", other, "--json")) == []
    assert len(as_json(cli("idps", "list", org_id, "--json"))) == 1


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(lambda org, tmp: ("idps", "register", "org_nope", IDP, "--audience", "a",
                                   "--jwks", jwks_file(tmp)),
                 "no organization with id 'org_nope'", id="unknown-org"),
    pytest.param(lambda org, tmp: ("idps", "list", "org_nope"),
                 "no organization with id 'org_nope'", id="list-unknown-org"),
    pytest.param(lambda org, tmp: ("idps", "register", org, IDP, "--audience", "a",
                                   "--jwks", str(tmp / "no-such.jwks")),
                 "cannot read", id="jwks-file-missing"),
    pytest.param(lambda org, tmp: ("idps", "register", org, IDP, "--audience", "a"),
                 "exactly one of a JWKS or a jwks_uri", id="no-keys"),
    pytest.param(lambda org, tmp: ("idps", "register", org, IDP, "--audience", "a",
                                   "--jwks", jwks_file(tmp), "--jwks-uri", f"{IDP}/jwks"),
                 "exactly one of a JWKS or a jwks_uri", id="both-keys"),
    pytest.param(lambda org, tmp: ("idps", "register", org, "http://login.acme.example",
                                   "--audience", "a", "--jwks", jwks_file(tmp)),
                 "must be an https URL", id="issuer-not-https"),
    pytest.param(lambda org, tmp: ("idps", "register", org, IDP, *[
        a for i in range(11) for a in ("--audience", f"portal-{i}")],
        "--jwks", jwks_file(tmp)), "audiences: 1 to 10", id="eleven-audiences"),
    pytest.param(lambda org, tmp: ("idps", "suspend", "idp_nope", "--reason", "r"),
                 "no identity provider with id 'idp_nope'", id="suspend-unknown"),
    pytest.param(lambda org, tmp: ("idps", "reinstate", "idp_nope", "--reason", "r"),
                 "no identity provider with id 'idp_nope'", id="reinstate-unknown"),
])
def test_errors_are_one_line_on_stderr(cli: Run, org_id: str, tmp_path: Path, args, message):
    line = failed(cli(*args(org_id, tmp_path)))
    assert message in line
    assert as_json(cli("audit", "verify", "--json"))["checked"] == 1, "nothing was written"
    assert as_json(cli("idps", "list", org_id, "--json")) == []
