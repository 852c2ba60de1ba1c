"""Screenshots of the admin console's main screens, for the docs.

It starts a throwaway service (SQLite, loopback), plays a short story through the admin API
as two admins (an organization onboarded and trusted, one under review, one waiting for a
trust decision, a client and its tokens, a citizenship rule waiting for approval, a report
exported), signs in to the console with a single-use link in Debian's chromium (headless,
through Playwright), and saves one PNG a screen:

    python scripts/console_screenshots.py --out docs/console
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from _service import free_port
from playwright.sync_api import Page, sync_playwright
from werkzeug.serving import make_server

from entitlements.admins import service as admins
from entitlements.admins import sessions
from entitlements.app import create_app
from entitlements.base.actor import Actor
from entitlements.base.clock import SystemClock
from entitlements.base.db import Database
from entitlements.base.migrations import upgrade
from entitlements.base.settings import load_settings

VERIFIED = ["government_partner", "trusted", "verified"]
CATALOG = {
    "tiers": {"public": {"description": "every verified partner", "trust_levels": VERIFIED},
              "restricted": {"description": "frontier models", "trust_levels": VERIFIED},
              "early-access": {"description": "before release", "status": "allowlist_only",
                               "trust_levels": ["government_partner"]}},
    "models": {"base-1": {"tier": "public"},
               "frontier-2": {"tier": "restricted", "fallback": "base-1"},
               "preview-3": {"tier": "early-access", "fallback": "frontier-2"}},
}
CITIZENS_ONLY = {"tiers": {"restricted": {"citizenship": {
    "nationalities": ["US"], "min_level": "substantial", "organization_subjects": "deny"}}}}
WIDTH, HEIGHT = 1280, 860


class Admin:
    """One admin's calls to the admin API."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.headers = url + "/admin", {"Authorization": f"Bearer {key}"}

    def __call__(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        response = requests.request(method, self.url + path, json=body, headers=self.headers,
                                    timeout=30)
        if response.status_code != expect:
            sys.exit(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json()


@contextmanager
def service() -> Iterator[tuple[str, Database, Any]]:
    """A migrated SQLite service on a loopback port: its URL, database and app."""
    with tempfile.TemporaryDirectory() as home:
        url = f"sqlite:///{home}/entitlements.sqlite3"
        upgrade(url)
        port = free_port()
        issuer = f"http://127.0.0.1:{port}"
        settings = load_settings({}, database_url=url, keys_dir=f"{home}/keys",
                                 issuer=issuer, log_level="WARNING",
                                 evidence_trusted="agreement", reports_dir=f"{home}/reports")
        db = Database(url)
        app = create_app(settings, db=db)
        server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield issuer, db, app
        finally:
            server.shutdown()
            app.extensions["entitlements"].close()
            db.dispose()


def staff(db: Database) -> tuple[str, str]:
    """Alice (an owner) and Bob (who approves): their API keys."""
    actor = Actor("cli:screenshots", SystemClock().now())
    with db.transaction() as session:
        admins.add(session, actor, "alice", ["owner"], email="alice@lab.example")
        admins.add(session, actor, "bob", ["trust_approver", "policy_approver"])
        session.flush()
        return (admins.issue(session, actor, "alice", ["owner"]).secret,
                admins.issue(session, actor, "bob", ["trust_approver", "policy_approver"])
                .secret)


def story(url: str, alice: Admin, bob: Admin) -> dict[str, str]:
    """The state the screens show; the ids they need."""
    alice("POST", "/resources", {"identifier": "https://gateway.lab.example/models",
                                 "name": "models", "default": True}, 201)
    created = alice("POST", "/policy/versions", {"base_version": 1, "reason": "catalog",
                                                 "document": CATALOG, "activate_now": True},
                    201)
    bob("POST", f"/policy/changes/{created['approval']['id']}/approve",
        {"reason": "catalog agreed"})
    acme = onboarded(alice, bob, "Acme Frontier Labs", trusted=True)
    borealis = onboarded(alice, bob, "Borealis AI")
    alice("POST", f"/organizations/{borealis}/trust-requests",
          {"level": "trusted", "reason": "signed the master services agreement"}, 201)
    cobalt = alice("POST", "/organizations", {"name": "Cobalt Systems", "country": "US"}, 201)
    alice("POST", f"/organizations/{cobalt['id']}/review", {"reason": "application in"})
    alice("POST", "/organizations", {"name": "Deltaworks", "country": "CA"}, 201)
    client = alice("POST", "/clients", {"organization_id": acme, "name": "acme-backend"}, 201)
    grant = alice("POST", f"/organizations/{acme}/tiers", {"tier": "restricted"}, 202)
    bob("POST", f"/policy/changes/{grant['id']}/approve", {"reason": "trusted partner"})
    for scope in ("tier:public", "tier:restricted", "tier:early-access"):
        requests.post(url + "/oauth/token", data={"grant_type": "client_credentials",
                                                  "scope": scope},
                      auth=(client["client_id"], client["client_secret"]), timeout=10)
    requests.post(url + "/oauth/token", data={"grant_type": "client_credentials"},
                  auth=(client["client_id"], "wrong"), timeout=10)
    latest = alice("GET", "/policy")["latest_version"]
    rule = alice("POST", "/policy/versions", {"base_version": latest, "patch": CITIZENS_ONLY,
                                              "reason": "export control order 2026-14"}, 201)
    number = rule["version"]["version"]
    waiting = alice("POST", f"/policy/versions/{number}/activate",
                    {"reason": "export control order 2026-14", "revoke_disallowed": True}, 202)
    now = datetime.now(UTC)
    job = alice("POST", "/reports", {"from": (now - timedelta(hours=1)).isoformat(),
                                     "to": now.isoformat()}, 202)
    finished(alice, job["id"])
    who = alice("POST", "/reports/who-could", {"at": now.isoformat()}, 202)
    finished(alice, who["id"])
    return {"acme": acme, "version": str(number), "approval": waiting["id"],
            "who_could": who["id"]}


def onboarded(alice: Admin, bob: Admin, name: str, trusted: bool = False) -> str:
    org = alice("POST", "/organizations", {"name": name, "country": "US"}, 201)["id"]
    alice("POST", f"/organizations/{org}/review", {"reason": "application complete"})
    reference = f"MSA-2026-{name.split()[0].upper()}"
    alice("POST", f"/organizations/{org}/evidence/agreement", {"reference": reference}, 201)
    alice("POST", f"/organizations/{org}/verify", {
        "reason": "documents checked", "evidence": {"agreement": reference}})
    if trusted:
        asked = alice("POST", f"/organizations/{org}/trust-requests",
                      {"level": "trusted", "reason": "domestic lab partner"}, 201)
        bob("POST", f"/trust-requests/{asked['id']}/approve", {"reason": "evidence complete"})
    return org


def finished(admin: Admin, job_id: str) -> None:
    deadline = time.monotonic() + 60
    while admin("GET", f"/jobs/{job_id}")["state"] in ("queued", "running"):
        if time.monotonic() > deadline:
            sys.exit(f"job {job_id} did not finish in a minute")
        time.sleep(0.1)


def paths(ids: dict[str, str]) -> dict[str, str]:
    return {"login": "/console/login", "dashboard": "/console",
            "organizations": "/console/organizations",
            "organization": f"/console/organizations/{ids['acme']}",
            "trust-requests": "/console/trust-requests", "policy": "/console/policy",
            "version": f"/console/policy/versions/{ids['version']}",
            "impact": f"/console/policy/versions/{ids['version']}/impact",
            "editor": "/console/policy/edit", "approval": f"/console/approvals/{ids['approval']}",
            "revocations": "/console/revocations", "keys": "/console/keys",
            "audit": "/console/audit", "reports": "/console/reports",
            "who-could": f"/console/who-could/{ids['who_could']}"}


def shoot(url: str, db: Database, ids: dict[str, str], out: Path, chromium: str) -> list[Path]:
    with db.transaction() as session:
        token = sessions.issue_login_link(session, Actor("cli:screenshots", SystemClock().now()),
                                          "alice", enabled=True)
    saved = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True,
                                             args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
        save(page, url + "/console/login", out / "login.png", saved)
        page.goto(f"{url}/console/login/link?token={token}")
        page.get_by_role("button").first.click()
        page.wait_for_url("**/console")
        for name, path in paths(ids).items():
            if name != "login":
                save(page, url + path, out / f"{name}.png", saved)
        browser.close()
    return saved


def save(page: Page, address: str, path: Path, saved: list[Path]) -> None:
    response = page.goto(address)
    if response is None or response.status != 200:
        sys.exit(f"{address} answered {response.status if response else 'nothing'}")
    page.screenshot(path=str(path))
    saved.append(path)


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="where the PNGs go")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("console_screenshots: chromium is not installed (apt-get install chromium)")
    args.out.mkdir(parents=True, exist_ok=True)
    with service() as (url, db, _app):
        alice_key, bob_key = staff(db)
        ids = story(url, Admin(url, alice_key), Admin(url, bob_key))
        saved = shoot(url, db, ids, args.out, chromium)
    for path in saved:
        print(f"{path}  {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
