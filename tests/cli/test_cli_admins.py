"""``entitlements admins``: add, update, list, create (a key, printed once), keys, revoke and
login-link, with --json and for people; a key made here authenticates on the admin API with
its roles; mistakes are one line, and change nothing."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from entitlements.admins.models import Admin, AdminKey, LoginLink
from entitlements.audit.models import AuditEvent
from tests.support.cli import ACTOR, Run, as_json, failed, ok


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def rows(db) -> tuple[int, ...]:
    """How many admins, admin keys, login links and main-stream audit events exist."""
    with db.sessions() as session:
        counted = [session.scalar(select(func.count()).select_from(model))
                   for model in (Admin, AdminKey, LoginLink)]
        audited = session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.stream == "main"))
    return (*counted, audited)


def events(db, action: str) -> list[AuditEvent]:
    with db.sessions() as session:
        found = session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                .order_by(AuditEvent.seq)).all()
        session.expunge_all()
    return list(found)


def usage_error(result) -> str:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("entitlements: error: ")
    return line


# -- add, update, list -------------------------------------------------------------------------


def test_admins_add_prints_the_admin(cli: Run, db):
    added = as_json(cli("admins", "add", "alice", "--role", "viewer", "--role", "key_admin",
                        "--email", "Alice@Example.org", "--json"))
    assert {k: added[k] for k in ("name", "roles", "email", "sso_subject", "status")} == {
        "name": "alice", "roles": ["key_admin", "viewer"], "email": "alice@example.org",
        "sso_subject": None, "status": "active"}
    assert ok(cli("admins", "add", "bob", "--role", "owner", "--sso-subject", "sub-1")
              ).strip() == "admin bob added: owner"
    [created, _] = events(db, "admin.created")
    assert (created.actor, created.target, created.target_kind, created.details) == (
        ACTOR, "alice", "admin", {"roles": ["key_admin", "viewer"], "email": True,
                                  "sso_subject": False})


@pytest.mark.parametrize(("args", "says"), [
    pytest.param(("admins", "add", "carol"), "at least one role", id="no-role"),
    pytest.param(("admins", "add", "bad name!", "--role", "viewer"), "an admin name is",
                 id="bad-name"),
    pytest.param(("admins", "add", "carol", "--role", "viewer", "--email", "nope"),
                 "e-mail", id="bad-email"),
    pytest.param(("admins", "add", "alice", "--role", "viewer"), "already exists",
                 id="exists"),
])
def test_admins_add_mistakes_are_one_line_and_change_nothing(cli: Run, db, args, says):
    ok(cli("admins", "add", "alice", "--role", "owner"))
    before = rows(db)
    assert says in failed(cli(*args))
    assert rows(db) == before


def test_an_unknown_role_is_a_usage_error(cli: Run, db):
    before = rows(db)
    for args in (("admins", "add", "carol", "--role", "wizard"),
                 ("admins", "create", "carol", "--role", "wizard"),
                 ("admins", "update", "carol", "--role", "wizard")):
        line = usage_error(cli(*args))
        assert "wizard" in line and "--role" in line
    assert rows(db) == before


def test_admins_update_roles_status_and_identity(cli: Run, db):
    ok(cli("admins", "add", "root", "--role", "owner"))
    ok(cli("admins", "add", "alice", "--role", "viewer"))
    updated = as_json(cli("admins", "update", "alice", "--role", "policy_editor", "--role",
                          "policy_approver", "--email", "alice@example.org", "--json"))
    assert (updated["roles"], updated["status"], updated["email"]) == (
        ["policy_approver", "policy_editor"], "active", "alice@example.org")
    assert ok(cli("admins", "update", "alice", "--disable")).strip() == (
        "admin alice: disabled, policy_approver, policy_editor")
    assert ok(cli("admins", "update", "alice", "--enable", "--email", "")).strip() == (
        "admin alice: active, policy_approver, policy_editor")
    shown = as_json(cli("admins", "update", "alice", "--json"))  # nothing asked: unchanged
    assert (shown["roles"], shown["status"], shown["email"]) == (
        ["policy_approver", "policy_editor"], "active", None)
    [first, *_] = events(db, "admin.updated")
    assert (first.actor, first.target, first.details) == (ACTOR, "alice", {
        "before": {"roles": ["viewer"], "status": "active"},
        "after": {"roles": ["policy_approver", "policy_editor"], "status": "active"}})


def test_admins_update_keeps_the_last_owner(cli: Run, db):
    ok(cli("admins", "add", "root", "--role", "owner"))
    before = rows(db)
    assert "last active owner" in failed(cli("admins", "update", "root", "--role", "viewer"))
    assert "last active owner" in failed(cli("admins", "update", "root", "--disable"))
    assert rows(db) == before
    assert as_json(cli("admins", "list", "--json"))[0]["roles"] == ["owner"]
    ok(cli("admins", "add", "second", "--role", "owner"))
    assert as_json(cli("admins", "update", "root", "--disable", "--json"))["status"] == (
        "disabled")
    assert "last active owner" in failed(cli("admins", "update", "second", "--role",
                                             "viewer"))


def test_admins_update_of_an_unknown_admin_fails_in_one_line(cli: Run, db):
    before = rows(db)
    assert failed(cli("admins", "update", "ghost", "--role", "viewer")) == (
        "entitlements: error: no admin named 'ghost'")
    assert rows(db) == before


def test_admins_list(cli: Run):
    assert ok(cli("admins", "list")).strip() == "no admins"
    assert as_json(cli("admins", "list", "--json")) == []
    ok(cli("admins", "add", "zed", "--role", "viewer", "--role", "trust_approver"))
    ok(cli("admins", "add", "amy", "--role", "owner"))
    ok(cli("admins", "update", "zed", "--disable"))
    listed = as_json(cli("admins", "list", "--json"))
    assert [(a["name"], a["status"], a["roles"]) for a in listed] == [
        ("amy", "active", ["owner"]), ("zed", "disabled", ["trust_approver", "viewer"])]
    lines = ok(cli("admins", "list")).splitlines()
    assert [line.split(None, 2) for line in lines] == [
        ["amy", "active", "owner"], ["zed", "disabled", "trust_approver, viewer"]]


# -- create (keys) -------------------------------------------------------------------------------


def test_a_key_from_admins_create_authenticates_with_its_role(cli: Run, client, db):
    created = as_json(cli("admins", "create", "vera", "--role", "viewer", "--json"))
    assert set(created) == {"id", "name", "roles", "key"}
    assert (created["name"], created["roles"]) == ("vera", ["viewer"])
    assert created["key"].startswith("eak_") and created["id"].startswith("adm_")
    me = client.get("/admin/me", headers=bearer(created["key"]))
    assert me.status_code == 200
    assert me.get_json() == {"name": "vera", "roles": ["viewer"], "permissions": ["read"]}
    refused = client.post("/admin/organizations", headers=bearer(created["key"]),
                          json={"name": "Nope"})
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "urn:entitlements:problem:forbidden_role"
    listed = as_json(cli("admins", "list", "--json"))
    assert [(a["name"], a["roles"]) for a in listed] == [("vera", ["viewer"])]
    assert [e.target for e in events(db, "admin.key_issued")] == [created["id"]]


def test_admins_create_for_a_known_admin_and_its_human_output(cli: Run, client, db):
    ok(cli("admins", "add", "kim", "--role", "key_admin", "--role", "onboarding_reviewer"))
    printed = ok(cli("admins", "create", "kim"))  # default: every role kim holds
    first, secret, last = printed.strip().splitlines()
    assert first.startswith("admin key adm_") and first.endswith(
        " for kim (key_admin, onboarding_reviewer):")
    assert secret.startswith("eak_") and last.startswith("(shown once")
    assert client.get("/admin/me", headers=bearer(secret)).get_json()["roles"] == [
        "key_admin", "onboarding_reviewer"]
    narrow = as_json(cli("admins", "create", "kim", "--role", "key_admin", "--json"))
    assert client.get("/admin/me", headers=bearer(narrow["key"])).get_json()["roles"] == [
        "key_admin"]
    # The admin's roles are kept: a key names fewer, it does not change the admin.
    assert as_json(cli("admins", "list", "--json"))[0]["roles"] == [
        "key_admin", "onboarding_reviewer"]
    before = rows(db)
    assert "does not hold owner" in failed(cli("admins", "create", "kim", "--role", "owner"))
    assert rows(db) == before


def test_admins_create_of_an_unknown_admin_without_a_role_fails_in_one_line(cli: Run, db):
    before = rows(db)
    line = failed(cli("admins", "create", "nobody"))
    assert "there is no admin nobody" in line and "--role" in line
    assert rows(db) == before
    assert as_json(cli("admins", "list", "--json")) == []


# -- keys and revoke ---------------------------------------------------------------------------


def test_admins_keys_lists_without_secrets_and_revoke_stops_a_key(cli: Run, client, db):
    assert ok(cli("admins", "keys")).strip() == "no admin keys"
    first = as_json(cli("admins", "create", "pat", "--role", "viewer", "--json"))
    other = as_json(cli("admins", "create", "quinn", "--role", "key_admin", "--json"))
    for args in (("admins", "keys"), ("admins", "keys", "--json")):
        printed = ok(cli(*args))
        assert first["id"] in printed and other["id"] in printed
        assert first["key"] not in printed and other["key"] not in printed
    mine = as_json(cli("admins", "keys", "--admin", "pat", "--json"))
    assert [(k["id"], k["name"], k["roles"], k["revoked_at"]) for k in mine] == [
        (first["id"], "pat", ["viewer"], None)]
    assert client.get("/admin/me", headers=bearer(first["key"])).status_code == 200

    revoked = as_json(cli("admins", "revoke", first["id"], "--json"))
    assert (revoked["id"], revoked["name"]) == (first["id"], "pat")
    assert revoked["revoked_at"] is not None
    response = client.get("/admin/me", headers=bearer(first["key"]))
    assert response.status_code == 401
    assert client.get("/admin/me", headers=bearer(other["key"])).status_code == 200
    line = next(li for li in ok(cli("admins", "keys")).splitlines() if first["id"] in li)
    assert line.split()[1:4] == ["pat", "revoked", "viewer"]
    [event] = events(db, "admin.key_revoked")
    assert (event.actor, event.target, event.target_kind, event.details) == (
        ACTOR, first["id"], "admin_key", {"admin": "pat"})

    before = rows(db)
    assert "already revoked" in failed(cli("admins", "revoke", first["id"]))
    assert failed(cli("admins", "revoke", "adm_nope")) == (
        "entitlements: error: no admin key with id 'adm_nope'")
    assert rows(db) == before
    assert ok(cli("admins", "revoke", other["id"])).strip() == (
        f"admin key {other['id']} revoked")


def test_disabling_an_admin_stops_their_cli_made_key(cli: Run, client):
    ok(cli("admins", "add", "root", "--role", "owner"))
    key = as_json(cli("admins", "create", "tess", "--role", "viewer", "--json"))["key"]
    assert client.get("/admin/me", headers=bearer(key)).status_code == 200
    ok(cli("admins", "update", "tess", "--disable"))
    assert client.get("/admin/me", headers=bearer(key)).status_code == 401
    ok(cli("admins", "update", "tess", "--enable"))
    assert client.get("/admin/me", headers=bearer(key)).status_code == 200


# -- login links -------------------------------------------------------------------------------


def test_admins_login_link_prints_a_link_that_signs_in_once(cli: Run, client, db, clock):
    ok(cli("admins", "add", "una", "--role", "viewer"))
    printed = ok(cli("admins", "login-link", "una")).strip().splitlines()
    assert len(printed) == 2 and printed[1] == "(works once, for 5 minutes)"
    url = printed[0]
    assert "/console/login/link?token=" in url
    token = parse_qs(urlsplit(url).query)["token"][0]
    assert len(token) >= 43
    [event] = events(db, "admin.login_link_issued")
    assert (event.actor, event.target, event.target_kind) == (ACTOR, "una", "admin")
    assert token not in str(event.details)

    signed_in = client.post("/console/login/link", data={"token": token})
    assert signed_in.status_code in (302, 303), signed_in.data[:200]
    again = client.post("/console/login/link", data={"token": token})
    assert again.status_code == 403  # single use

    data = as_json(cli("admins", "login-link", "una", "--json"))
    assert set(data) == {"admin", "url", "expires_in"}
    assert (data["admin"], data["expires_in"]) == ("una", 300)
    assert "/console/login/link?token=" in data["url"] and data["url"] != url
    late = parse_qs(urlsplit(data["url"]).query)["token"][0]
    clock.advance(minutes=6)  # the test app's clock: past the link's five minutes
    assert client.post("/console/login/link", data={"token": late}).status_code == 403


def test_admins_login_link_refusals_are_one_line(cli: Run, db):
    ok(cli("admins", "add", "root", "--role", "owner"))
    ok(cli("admins", "add", "vic", "--role", "viewer"))
    ok(cli("admins", "update", "vic", "--disable"))
    before = rows(db)
    assert "vic is disabled" in failed(cli("admins", "login-link", "vic"))
    assert failed(cli("admins", "login-link", "ghost")) == (
        "entitlements: error: no admin named 'ghost'")
    assert rows(db) == before


@pytest.mark.settings(console_login_links="off")
def test_admins_login_link_when_links_are_off(cli: Run, db):
    ok(cli("admins", "add", "una", "--role", "viewer"))
    before = rows(db)
    line = failed(cli("admins", "login-link", "una"))
    assert "sign-in links are off" in line and "ENTITLEMENTS_CONSOLE_LOGIN_LINKS" in line
    assert failed(cli("admins", "login-link", "una", "--json")) == line
    assert rows(db) == before


@pytest.mark.settings(console_login_links="on")
def test_admins_login_link_when_links_are_on(cli: Run):
    ok(cli("admins", "add", "una", "--role", "viewer"))
    assert "/console/login/link?token=" in as_json(cli("admins", "login-link", "una",
                                                       "--json"))["url"]


def test_a_login_link_expires_after_five_minutes(cli: Run, db):
    ok(cli("admins", "add", "una", "--role", "viewer"))
    ok(cli("admins", "login-link", "una"))
    with db.sessions() as session:
        link = session.scalars(select(LoginLink)).one()
        assert link.expires_at - link.created_at == timedelta(minutes=5)
        assert (link.admin, link.created_by, link.used_at) == ("una", ACTOR, None)
