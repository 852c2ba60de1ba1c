"""``entitlements demo``: the demo partner, its catalog and a client whose secret survives
re-runs (kept, mode 0600, in the key folder) until --rotate."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime
from pathlib import Path

from entitlements.admins import service as admins
from entitlements.admins import sessions
from entitlements.base.secrets import check_secret
from entitlements.clients.models import OAuthClient
from entitlements.policy import service as policy
from tests.support.cli import as_json, ok


def secret_works(db, client_id: str, secret: str) -> bool:
    with db.sessions() as session:
        return check_secret(secret, session.get(OAuthClient, client_id).secret_hash)


def test_the_secret_is_kept_between_runs(cli, db, tmp_path: Path):
    first = as_json(cli("demo", "--json"))
    second = as_json(cli("demo", "--json"))
    assert (second["client_id"], second["client_secret"]) == (first["client_id"],
                                                              first["client_secret"])
    assert secret_works(db, first["client_id"], first["client_secret"])
    kept = Path(first["kept_in"])
    assert kept == tmp_path / "keys" / "demo-client.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert f"kept in {kept}" in ok(cli("demo"))


def test_rotate_makes_a_new_secret_and_the_old_one_stops_working(cli, db):
    first = as_json(cli("demo", "--json"))
    rotated = as_json(cli("demo", "--rotate", "--json"))
    assert rotated["client_secret"] != first["client_secret"]
    assert secret_works(db, rotated["client_id"], rotated["client_secret"])
    assert not secret_works(db, first["client_id"], first["client_secret"])
    assert as_json(cli("demo", "--json"))["client_secret"] == rotated["client_secret"]


def test_a_kept_secret_that_no_longer_works_is_replaced(cli, db):
    first = as_json(cli("demo", "--json"))
    kept = Path(first["kept_in"])
    kept.write_text(json.dumps({"client_id": first["client_id"], "client_secret": "stale"}))
    again = as_json(cli("demo", "--json"))
    assert again["client_secret"] not in ("stale", first["client_secret"])
    assert secret_works(db, again["client_id"], again["client_secret"])


def test_the_demo_catalog_answers_as_the_readme_shows(cli, db):
    cli("demo")
    with db.sessions() as session:  # the CLI's clock is the system's
        models = policy.active_policy(session, datetime.now(UTC)).document["models"]
    assert models["base-1"]["tier"] == "public"
    assert (models["frontier-2"]["tier"], models["frontier-2"]["fallback"]) == (
        "restricted", "base-1")
    assert (models["preview-3"]["tier"], models["preview-3"]["fallback"]) == (
        "early-access", "frontier-2")


def test_the_first_admin_and_a_console_link_only_when_asked(cli, db):
    plain = as_json(cli("demo", "--json"))
    assert plain["console"] is None
    with db.sessions() as session:
        [first] = admins.list_admins(session).items
        assert (first.name, first.roles, first.status) == ("admin", ["owner"], "active")
    linked = as_json(cli("demo", "--console-link", "--json"))
    token = linked["console"].split("token=")[1]
    with db.transaction() as session:
        assert sessions.redeem_login_link(session, token, datetime.now(UTC)).name == "admin"
    as_json(cli("admins", "add", "ada", "--role", "viewer", "--json"))
    with db.sessions() as session:
        assert len(admins.list_admins(session).items) == 2, "made once, on a fresh install"
