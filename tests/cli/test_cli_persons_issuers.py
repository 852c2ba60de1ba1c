"""The persons and issuers commands, end to end through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import Run, as_json, failed, ok
from tests.support.factories import client_keypair


def test_persons_commands(cli: Run, org_id: str):
    person = as_json(cli("persons", "create", "--org", org_id, "--idp-issuer",
                         "https://login.acme.example", "--idp-subject", "u-1", "--json"))
    assert person["id"].startswith("per_") and person["organization_id"] == org_id
    listed = as_json(cli("persons", "list", "--org", org_id, "--json"))
    assert [p["id"] for p in listed] == [person["id"]]
    line = failed(cli("persons", "create", "--org", org_id, "--idp-subject", "u-2"))
    assert "give both" in line


def test_issuers_commands(cli: Run, tmp_path: Path):
    _, jwks = client_keypair("v-1")
    path = tmp_path / "verifier.jwks"
    path.write_text(json.dumps(jwks))
    row = as_json(cli("issuers", "register", "https://verifier.example", "--name", "Verifier",
                      "--jwks", str(path), "--format", "sd-jwt-vc", "--nationality", "US",
                      "--level", "high", "--max-age-days", "365", "--json"))
    assert (row["status"], row["formats"], row["max_age_days"]) == ("active", ["sd-jwt-vc"],
                                                                    365)
    suspended = as_json(cli("issuers", "suspend", row["id"], "--reason", "audit", "--json"))
    assert suspended["status"] == "suspended"
    assert [i["status"] for i in as_json(cli("issuers", "list", "--json"))] == ["suspended"]
    assert "already suspended" in failed(cli("issuers", "suspend", row["id"], "--reason", "x"))
    assert ok(cli("issuers", "reinstate", row["id"], "--reason", "cleared")).strip() == (
        f"issuer {row['id']} reinstated")
    assert [i["status"] for i in as_json(cli("issuers", "list", "--json"))] == ["active"]
    line = failed(cli("issuers", "register", "https://other.example", "--name", "Other",
                      "--jwks", str(path), "--format", "jwt", "--nationality", "usa",
                      "--level", "high", "--max-age-days", "30"))
    assert "ISO 3166-1" in line


def test_issuers_register_with_an_unreadable_jwks_file_is_one_clean_error(cli: Run,
                                                                          tmp_path: Path):
    missing = tmp_path / "no-such.jwks"
    line = failed(cli("issuers", "register", "https://verifier.example", "--name", "V",
                      "--jwks", str(missing), "--format", "jwt", "--nationality", "US",
                      "--level", "high", "--max-age-days", "30"))
    assert f"cannot read {missing}" in line
    assert as_json(cli("issuers", "list", "--json")) == []
