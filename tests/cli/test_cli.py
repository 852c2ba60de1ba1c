"""The ``entitlements`` admin command, run in-process with click's CliRunner."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from entitlements.base.migrations import head_revision
from tests.support.cli import ACTOR, Run, as_json, failed, ok, runner_for
from tests.support.factories import GATEWAY, client_keypair
from tests.support.markers import ONE_ADMIN

pytestmark = ONE_ADMIN

# -- organizations -----------------------------------------------------------------------------


def test_orgs_create_prints_json_with_an_id(cli: Run):
    org = as_json(cli("orgs", "create", "Acme Labs", "--country", "US", "--json"))
    assert org["id"].startswith("org_")
    assert (org["name"], org["status"], org["trust_level"], org["country"]) == (
        "Acme Labs", "verified", "verified", "US")
    assert org["tiers"] == []


def test_orgs_grant_list_show_suspend(cli: Run, org_id: str):
    granted = as_json(cli("orgs", "grant-tier", org_id, "restricted", "--json"))
    assert granted["tiers"] == ["restricted"]
    listed = as_json(cli("orgs", "list", "--json"))
    assert [(o["id"], o["tiers"]) for o in listed] == [(org_id, ["restricted"])]
    shown = ok(cli("orgs", "show", org_id))
    assert f"id: {org_id}" in shown and "tiers: ['restricted']" in shown
    suspended = as_json(cli("orgs", "suspend", org_id, "--reason", "unpaid invoices", "--json"))
    assert suspended["status"] == "suspended"
    [event] = as_json(cli("audit", "list", "--action", "organization.suspended", "--json"))
    assert (event["target"], event["reason"], event["actor"]) == (org_id, "unpaid invoices",
                                                                  ACTOR)


# -- clients -----------------------------------------------------------------------------------


def test_clients_create_prints_the_secret_once(cli: Run, org_id: str):
    created = as_json(cli("clients", "create", "--org", org_id, "--json"))
    client_id, secret = created["client_id"], created["client_secret"]
    assert client_id.startswith("cli_") and len(secret) >= 43
    assert created["auth_method"] == "client_secret_basic" and created["organization_id"] == org_id
    for args in (("clients", "show", client_id), ("clients", "show", client_id, "--json"),
                 ("clients", "list"), ("clients", "list", "--json"), ("audit", "list", "--json")):
        printed = ok(cli(*args))
        assert client_id in printed, args
        assert secret not in printed, args
        assert "sha256$" not in printed, args


def test_clients_list_json(cli: Run, org_id: str):
    client_id = as_json(cli("clients", "create", "--org", org_id, "--json"))["client_id"]
    [listed] = as_json(cli("clients", "list", "--org", org_id, "--json"))
    assert listed["client_id"] == client_id and listed["status"] == "active"
    assert "client_secret" not in listed and "secret_hash" not in listed


def test_private_key_jwt_client_from_a_jwks_file(cli: Run, org_id: str, tmp_path: Path):
    _, jwks = client_keypair()
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    created = as_json(cli("clients", "create", "--org", org_id, "--auth-method",
                          "private_key_jwt", "--jwks", str(path), "--json"))
    assert created["auth_method"] == "private_key_jwt"
    assert created["client_secret"] is None and created["has_jwks"] is True


def test_clients_revoke(cli: Run, org_id: str):
    client_id = as_json(cli("clients", "create", "--org", org_id, "--json"))["client_id"]
    revoked = as_json(cli("clients", "revoke", client_id, "--reason", "leaked", "--json"))
    assert revoked["status"] == "revoked" and revoked["revoked_at"]
    assert as_json(cli("clients", "show", client_id, "--json"))["status"] == "revoked"
    assert "already revoked" in failed(cli("clients", "revoke", client_id, "--reason", "again"))


# -- resources, keys, audit --------------------------------------------------------------------


def test_resources_add_default(cli: Run):
    added = as_json(cli("resources", "add", GATEWAY, "--default", "--json"))
    assert (added["identifier"], added["is_default"]) == (GATEWAY, True)
    assert ok(cli("resources", "list")).strip() == f"{GATEWAY}  (default)"


def test_keys_rotate_and_list(cli: Run, tmp_path: Path):
    assert as_json(cli("keys", "list", "--json")) == []
    pending = as_json(cli("keys", "rotate", "--json"))
    active = as_json(cli("keys", "rotate", "--now", "--json"))
    assert pending["alg"] == active["alg"] == "ES256"
    states = {k["kid"]: k["state"] for k in as_json(cli("keys", "list", "--json"))}
    assert states == {pending["kid"]: "pending", active["kid"]: "active"}
    for kid in states:
        assert stat.S_IMODE((tmp_path / "keys" / f"{kid}.pem").stat().st_mode) == 0o600


def test_keys_revoke_the_signer_makes_a_new_one(cli: Run):
    kid = as_json(cli("keys", "rotate", "--now", "--json"))["kid"]
    # A thumbprint may begin with "-": "--" ends the options, as for any command line.
    revoked = as_json(cli("keys", "revoke", "--reason", "compromised", "--json", "--", kid))
    assert revoked["revoked"] == kid and revoked["replacement"] not in (None, kid)
    states = {k["kid"]: k["state"] for k in as_json(cli("keys", "list", "--json"))}
    assert states == {kid: "revoked", revoked["replacement"]: "active"}


def test_audit_verify_and_list(cli: Run, org_id: str):
    cli("orgs", "grant-tier", org_id, "public")  # a policy version, its activation, the grant
    assert ok(cli("audit", "verify")).strip() == "audit chain intact: 4 events"
    assert as_json(cli("audit", "verify", "--json")) == {"ok": True, "checked": 4,
                                                         "broken_at": None, "problem": None,
                                                         "stream": None}
    events = as_json(cli("audit", "list", "--json"))
    assert [e["action"] for e in events] == [
        "organization.tier_granted", "policy.activated", "policy.version_created",
        "organization.created"]
    assert {e["actor"] for e in events} == {ACTOR}
    assert events[0]["details"] == {"tier": "public", "policy_version": 2} and events[0]["hash"]


def test_actor_option_overrides_the_environment(cli: Run):
    cli("--actor", "alice@example.com", "orgs", "create", "Acme Labs")
    [event] = as_json(cli("audit", "list", "--json"))
    assert event["actor"] == "alice@example.com"


# -- errors ------------------------------------------------------------------------------------


def _jwks_file(tmp_path: Path, content: str | None) -> str:
    path = tmp_path / "client-jwks.json"
    if content is not None:
        path.write_text(content)
    return str(path)


def _private_jwks() -> str:
    private = ec.generate_private_key(ec.SECP256R1())
    return json.dumps({"keys": [ECAlgorithm.to_jwk(private, as_dict=True)]})


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(lambda org, tmp: ("clients", "create", "--org", "org_nope"),
                 "no organization with id 'org_nope'", id="unknown-org-id"),
    pytest.param(lambda org, tmp: ("orgs", "show", "org_nope"),
                 "no organization with id 'org_nope'", id="show-unknown-org"),
    pytest.param(lambda org, tmp: ("orgs", "create", "Acme Labs"),
                 "an organization named 'Acme Labs' already exists", id="duplicate-org-name"),
    pytest.param(lambda org, tmp: ("orgs", "grant-tier", org, "nonesuch"),
                 "no tier named 'nonesuch'", id="unknown-tier"),
    pytest.param(lambda org, tmp: ("clients", "create", "--org", org, "--auth-method",
                                   "private_key_jwt"),
                 "private_key_jwt needs exactly one of a JWKS or a jwks_uri", id="jwt-no-jwks"),
    pytest.param(lambda org, tmp: ("clients", "create", "--org", org, "--auth-method",
                                   "private_key_jwt", "--jwks", _jwks_file(tmp, "{not json")),
                 "the JWKS file is not valid JSON", id="jwks-not-json"),
    pytest.param(lambda org, tmp: ("clients", "create", "--org", org, "--auth-method",
                                   "private_key_jwt", "--jwks", _jwks_file(tmp, "[]")),
                 "the JWKS must be a JSON object", id="jwks-not-an-object"),
    pytest.param(lambda org, tmp: ("clients", "create", "--org", org, "--auth-method",
                                   "private_key_jwt", "--jwks", _jwks_file(tmp, '{"keys": []}')),
                 "the JWKS must hold 1 to 10 keys", id="jwks-empty"),
    pytest.param(lambda org, tmp: ("clients", "create", "--org", org, "--auth-method",
                                   "private_key_jwt", "--jwks",
                                   _jwks_file(tmp, _private_jwks())),
                 "the JWKS must hold public keys only", id="jwks-with-private-key"),
    pytest.param(lambda org, tmp: ("clients", "create", "--org", org, "--auth-method",
                                   "private_key_jwt", "--jwks", _jwks_file(tmp, None)),
                 "cannot read", id="jwks-file-missing"),
    pytest.param(lambda org, tmp: ("clients", "show", "cli_nope"), "no client with id 'cli_nope'",
                 id="unknown-client"),
    pytest.param(lambda org, tmp: ("keys", "revoke", "nokid", "--reason", "x"),
                 "no signing key with kid 'nokid'", id="unknown-kid"),
])
def test_errors_are_one_line_on_stderr(cli: Run, org_id: str, tmp_path: Path, args, message):
    line = failed(cli(*args(org_id, tmp_path)))
    assert message in line
    assert as_json(cli("audit", "verify", "--json"))["checked"] == 1, "nothing was written"


def test_an_unmigrated_database_is_refused(tmp_path: Path, databases):
    run = runner_for(f"sqlite:///{tmp_path / 'empty.sqlite3'}", tmp_path / "keys")
    line = failed(run("orgs", "list"))
    assert "run: entitlements db upgrade" in line


def test_db_upgrade_on_a_fresh_sqlite_path(tmp_path: Path, databases):
    path = tmp_path / "not" / "yet" / "there.sqlite3"
    run = runner_for(f"sqlite:///{path}", tmp_path / "keys")
    head = head_revision(f"sqlite:///{path}")
    assert head is not None
    assert as_json(run("db", "upgrade", "--json")) == {"revision": head}
    assert path.is_file()
    assert as_json(run("db", "current", "--json")) == {"current": head, "head": head,
                                                        "up_to_date": True}
    assert as_json(run("orgs", "list", "--json")) == []
    assert ok(run("db", "upgrade")).strip() == f"database is at migration {head}"
