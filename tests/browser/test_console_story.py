"""The June story through the console, by two admins in two real browsers (Debian's chromium
through Playwright): Alice onboards an organization with evidence; its trust is raised (Alice
asks, Bob approves); the citizenship rule is imposed with Bob's approval, then rolled back the
same way; Alice breaks the glass and Bob confirms it; and a report of it all is exported and
verified offline. Every main screen is checked with axe-core: no critical violation."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from entitlements.admins import sessions
from entitlements.base.actor import Actor
from entitlements.policy import service as policy
from entitlements.reports.verify import verify_report
from tests.support.factories import admin_key
from tests.support.fakes import FakeResolver

pytestmark = pytest.mark.settings(evidence_trusted="domain,agreement")
ALICE_ROLES = ("onboarding_reviewer", "policy_editor", "viewer")
BOB_ROLES = ("trust_approver", "policy_approver")


@pytest.fixture
def dns(live_server) -> FakeResolver:
    resolver = live_server.app.extensions["entitlements"].dns = FakeResolver()
    return resolver


def signed_in(chromium, live_server, db, clock, name: str, roles: tuple[str, ...]) -> Page:
    """A browser of its own, signed in with a single-use link, by keyboard."""
    with db.transaction() as session:
        admin_key(session, clock.now(), name, roles)
        token = sessions.issue_login_link(session, Actor("cli:root", clock.now()), name,
                                          enabled=True)
    page = chromium.new_context(accept_downloads=True).new_page()
    page.goto(f"{live_server.url}/console/login/link?token={token}")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/console")
    return page


def act(page: Page, button: str, reason_id: str | None = None, reason: str = "agreed") -> None:
    if reason_id:
        page.locator(f"#{reason_id}").fill(reason)
    page.get_by_role("button", name=button, exact=True).click()


def approve_waiting(bob: Page, live_server) -> None:
    """Bob opens the one waiting policy change and approves it."""
    bob.goto(live_server.url + "/console/approvals")
    bob.locator("table").first.get_by_role("link").first.click()
    act(bob, "Approve and apply", "approve", "second pair of eyes")
    assert "Approved and applied" in bob.locator(".notice").inner_text()


def no_critical_violation(page: Page, seen: dict[str, list[str]]) -> None:
    found = Axe().run(page).response["violations"]
    seen[page.url] = [f"{v['id']} ({v['impact']})" for v in found
                      if v["impact"] == "critical"]


def test_two_admins_play_the_june_story(chromium, live_server, db, clock, dns, tmp_path):
    alice = signed_in(chromium, live_server, db, clock, "alice", ALICE_ROLES)
    bob = signed_in(chromium, live_server, db, clock, "bob", BOB_ROLES)
    checked: dict[str, list[str]] = {}
    no_critical_violation(alice, checked)

    # Onboard an organization with evidence.
    alice.goto(live_server.url + "/console/organizations")
    alice.get_by_label("Legal name").fill("Acme Frontier Labs")
    alice.get_by_label("Country of incorporation (ISO 3166-1 alpha-2)").fill("US")
    alice.get_by_role("button", name="Record", exact=True).click()
    alice.wait_for_url("**/console/organizations/org_*")
    org_id = alice.url.split("/console/organizations/")[1].split("?")[0]
    act(alice, "Review", "move-review", "application complete")
    alice.get_by_label("Domain", exact=True).fill("acme-frontier.example")
    alice.get_by_role("button", name="Issue a DNS challenge").click()
    record = alice.locator("td code").nth(0).inner_text()
    value = alice.locator("td code").nth(1).inner_text()
    dns.records[record] = [value]
    alice.get_by_role("button", name="Check the record").click()
    assert "Domain check: verified" in alice.locator(".notice").inner_text()
    alice.get_by_label("Reference").fill("MSA-2026-0614")
    alice.get_by_role("button", name="Record", exact=True).click()
    act(alice, "Verify", "move-verify", "evidence checked")
    assert alice.locator("dd.state-verified").count() == 1
    no_critical_violation(alice, checked)

    # Raise its trust: Alice asks, Bob approves.
    alice.locator("#trust-reason").fill("domestic lab partner")
    alice.get_by_role("button", name="Ask (a second admin approves)").click()
    bob.goto(live_server.url + "/console/trust-requests")
    no_critical_violation(bob, checked)
    bob.get_by_label("Why approve").fill("evidence complete")
    bob.get_by_role("button", name="Approve", exact=True).click()
    assert "Trust request approved" in bob.locator(".notice").inner_text()

    # It joins the restricted tier's allowlist: a policy change Bob approves.
    alice.goto(f"{live_server.url}/console/organizations/{org_id}")
    alice.get_by_label("Grant tier").select_option("restricted")
    alice.get_by_role("button", name="Ask (a policy change)").click()
    assert "a second admin approves it" in alice.locator(".notice").inner_text()
    no_critical_violation(alice, checked)
    approve_waiting(bob, live_server)
    before_order = _active(db, clock)

    # The order: restricted needs verified US citizenship. Alice edits, Bob approves.
    alice.goto(live_server.url + "/console/policy/edit")
    no_critical_violation(alice, checked)
    alice.locator("#t-restricted-nationalities").fill("US")
    alice.locator("#t-restricted-subjects").select_option("deny")
    alice.locator("#form-reason").fill("export control order")
    alice.get_by_role("button", name="Save as a new version").first.click()
    assert "not active until activated" in alice.locator(".notice").inner_text()
    no_critical_violation(alice, checked)
    alice.locator("#act-reason").fill("the order takes effect")
    alice.get_by_role("button", name="Ask (a second admin approves)").click()
    no_critical_violation(alice, checked)
    assert _citizenship(db, clock) is None, "nothing changes before the second admin"
    approve_waiting(bob, live_server)
    assert _citizenship(db, clock) == {"nationalities": ["US"], "min_level": "substantial",
                                       "organization_subjects": "deny"}

    # The order is lifted: a rollback, approved by Bob.
    alice.goto(live_server.url + "/console/policy")
    no_critical_violation(alice, checked)
    alice.get_by_label("To version").select_option(str(before_order))
    alice.locator("#rollback-reason").fill("order lifted")
    alice.get_by_role("button", name="Ask (a second admin approves)").click()
    approve_waiting(bob, live_server)
    assert _citizenship(db, clock) is None

    # Break glass: Alice alone suspends restricted at once; Bob confirms it.
    alice.goto(live_server.url + "/console/approvals")
    no_critical_violation(alice, checked)
    alice.get_by_label("restricted", exact=True).check()
    alice.locator("#glass-reason").fill("order received at night")
    alice.get_by_role("button", name="Break the glass").click()
    assert "A second admin must confirm it" in alice.locator(".notice").inner_text()
    assert _tier_status(db, clock, "restricted") == "suspended"
    glass_url = alice.url.split("?")[0]
    assert alice.get_by_role("button", name="Confirm: keep it in force").count() == 0
    bob.goto(glass_url)
    no_critical_violation(bob, checked)
    act(bob, "Confirm: keep it in force", "confirm", "the order is real")
    assert bob.locator("dd.state-confirmed").inner_text() == "confirmed"

    # The report: exported by Alice, its progress shown live, verified offline.
    alice.goto(live_server.url + "/console/reports")
    no_critical_violation(alice, checked)
    alice.get_by_label("From (UTC unless an offset is given)").fill(
        (clock.now() - timedelta(hours=1)).isoformat())
    clock.advance(1)  # the interval is over: it ends now, after every event of the story
    alice.get_by_label("Until (excluded)").fill(clock.now().isoformat())
    alice.get_by_role("button", name="Export", exact=True).click()
    alice.wait_for_url("**/console/jobs/*")
    alice.locator("#job-state", has_text="done").wait_for(timeout=30_000)
    alice.get_by_role("link", name="The report").click()
    no_critical_violation(alice, checked)
    events = _download(alice, "Download the events (JSONL)", tmp_path)
    manifest = _download(alice, "Download the signed manifest (JWS)", tmp_path)
    jwks = requests.get(live_server.url + "/jwks.json", timeout=10).json()
    verified = verify_report(events, manifest.read_text(), jwks)
    assert verified.ok, verified.problems
    lines = [json.loads(line) for line in events.read_text().splitlines()]
    approvals = [e for e in lines if e["action"] == "policy.change_approved"]
    assert {(e["details"]["requested_by"], e["details"]["decided_by"])
            for e in approvals} == {("admin:alice", "admin:bob")}
    assert any(e["action"] == "policy.break_glass_confirmed" for e in lines)
    assert any(e["action"] == "organization.trust_raised"
               and e["details"]["approved_by"] == "admin:bob" for e in lines)

    assert {url: found for url, found in checked.items() if found} == {}


def _download(page: Page, link: str, folder: Path) -> Path:
    with page.expect_download() as done:
        page.get_by_role("link", name=link).click()
    target = folder / done.value.suggested_filename
    done.value.save_as(target)
    return target


def _active(db, clock) -> int:
    with db.sessions() as session:
        return policy.active_version(session, clock.now())


def _rule(db, clock, tier: str) -> dict:
    with db.sessions() as session:
        return policy.active_policy(session, clock.now()).document["tiers"][tier]


def _citizenship(db, clock):
    return _rule(db, clock, "restricted")["citizenship"]


def _tier_status(db, clock, tier: str) -> str:
    return _rule(db, clock, tier)["status"]
