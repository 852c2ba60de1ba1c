"""Console sign-in and sessions over a real socket: single-use links, single sign-on at the
lab's own OpenID provider (the suite's upstream provider on loopback), sessions that are new
at every sign-in and end when idle, at their absolute expiry or at sign-out, the form token
on every POST, the pages' headers, and roles on every page."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from entitlements.admins import service as admins
from entitlements.admins import sessions
from entitlements.admins.models import Admin as AdminRow
from entitlements.app import create_app
from entitlements.base.actor import Actor
from entitlements.base.settings import load_settings
from entitlements.organizations.models import Organization
from tests.support.console import (
    ROOT,
    add_admin,
    audited,
    dashboard,
    form_fields,
    form_token,
    link_for,
    signed_in,
    use_link,
)
from tests.support.live import LiveServer, free_port
from tests.support.upstream import SignIn


def test_a_link_signs_in_once_with_a_strict_cookie(live_server, db, clock):
    add_admin(db, clock, "ada")
    token = link_for(db, clock, "ada")
    browser = requests.Session()
    # Opening the link (a preview fetching it, say) only shows a button.
    opened = browser.get(f"{live_server.url}/console/login/link", params={"token": token})
    assert opened.status_code == 200 and "ent_console" not in opened.cookies
    answer = use_link(browser, live_server.url, token)
    assert answer.status_code == 302
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    assert dashboard(browser, live_server.url).status_code == 200
    again = use_link(requests.Session(), live_server.url, token)
    assert again.status_code == 403 and "used, expired or unknown" in again.text
    reopened = requests.get(f"{live_server.url}/console/login/link", params={"token": token})
    assert "used, expired or unknown" in reopened.text and "<button" not in reopened.text
    [refused] = audited(db, "console.sign_in_refused")
    assert refused.reason == "login_link_refused" and token not in str(refused.details)
    assert [e.actor for e in audited(db, "console.signed_in")] == ["admin:ada"]


def test_a_link_expires_after_five_minutes(live_server, db, clock):
    add_admin(db, clock, "ada")
    token = link_for(db, clock, "ada")
    clock.advance(sessions.LINK_LIFETIME.total_seconds())
    assert use_link(requests.Session(), live_server.url, token).status_code == 403


def test_a_disabled_admins_link_and_session_stop_working(live_server, db, clock):
    browser = signed_in(live_server, db, clock, "ada")
    token = link_for(db, clock, "ada")
    add_admin(db, clock, "root", ("owner",))
    with db.transaction() as session:
        admins.update(session, Actor(ROOT, clock.now()), "ada", status="disabled")
    assert dashboard(browser, live_server.url).status_code == 302
    assert use_link(requests.Session(), live_server.url, token).status_code == 403


@pytest.mark.settings(console_login_links="off")
def test_links_off_refuses_even_a_link_already_made(live_server, db, clock):
    add_admin(db, clock, "ada")
    token = link_for(db, clock, "ada")
    answer = use_link(requests.Session(), live_server.url, token)
    assert answer.status_code == 403 and "sign-in links are off" in answer.text
    page = requests.get(f"{live_server.url}/console/login")
    assert "No way to sign in is set up" in page.text


def test_signing_in_again_ends_the_old_session(live_server, db, clock):
    browser = signed_in(live_server, db, clock, "ada")
    old = browser.cookies["ent_console"]
    answer = use_link(browser, live_server.url, link_for(db, clock, "ada"))
    new = answer.cookies["ent_console"]
    assert new != old
    stale = requests.Session()
    stale.cookies.set("ent_console", old, path="/console")
    assert dashboard(stale, live_server.url).status_code == 302
    assert dashboard(browser, live_server.url).status_code == 200


@pytest.mark.settings(console_idle_timeout=900, console_session_lifetime=3600)
def test_a_session_ends_when_idle_and_at_its_absolute_expiry(live_server, db, clock):
    browser = signed_in(live_server, db, clock, "ada")
    for _ in range(3):  # used every 14 minutes: still alive after 42 minutes
        clock.advance(14 * 60)
        assert dashboard(browser, live_server.url).status_code == 200
    clock.advance(15 * 60 + 1)
    idle = dashboard(browser, live_server.url)
    assert idle.status_code == 302 and idle.headers["Location"].startswith("/console/login")

    browser = signed_in(live_server, db, clock, "bea")
    for _ in range(4):
        clock.advance(14 * 60)
        assert dashboard(browser, live_server.url).status_code == 200
    clock.advance(5 * 60)  # 61 minutes after sign-in, used 5 minutes ago
    assert dashboard(browser, live_server.url).status_code == 302


def test_signing_out_ends_the_session_and_needs_the_form_token(live_server, db, clock):
    browser = signed_in(live_server, db, clock, "ada")
    page = dashboard(browser, live_server.url)
    refused = browser.post(f"{live_server.url}/console/logout", allow_redirects=False)
    assert refused.status_code == 403
    assert dashboard(browser, live_server.url).status_code == 200
    cookie = browser.cookies["ent_console"]
    out = browser.post(f"{live_server.url}/console/logout", data={"csrf_token": form_token(page)},
                       allow_redirects=False)
    assert out.status_code == 302 and "ent_console=;" in out.headers["Set-Cookie"]
    replayed = requests.Session()
    replayed.cookies.set("ent_console", cookie, path="/console")
    assert dashboard(replayed, live_server.url).status_code == 302
    assert [e.actor for e in audited(db, "console.signed_out")] == ["admin:ada"]


def test_a_post_without_its_form_token_changes_nothing(live_server, db, clock):
    browser = signed_in(live_server, db, clock, "ada", ("onboarding_reviewer",))
    page = browser.get(f"{live_server.url}/console/organizations")
    create = f"{live_server.url}/console/organizations"
    body = {"name": "Acme Frontier Labs", "country": "US"}
    for token in (None, "0" * 64, form_token(page)[:-1] + "0"):
        sent = {**body, **({"csrf_token": token} if token else {})}
        answer = browser.post(create, data=sent, allow_redirects=False)
        assert answer.status_code == 403 and "Form refused" in answer.text
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Organization)) == 0
    refusals = audited(db, "console.refused")
    assert {e.reason for e in refusals} == {"csrf"} and len(refusals) == 3
    made = browser.post(create, data={**body, **form_fields(page)},
                        allow_redirects=False)
    assert made.status_code == 302 and "/console/organizations/org_" in made.headers["Location"]


def test_another_sessions_form_token_is_refused(live_server, db, clock):
    ada = signed_in(live_server, db, clock, "ada", ("onboarding_reviewer",))
    bea = signed_in(live_server, db, clock, "bea", ("onboarding_reviewer",))
    theirs = form_token(bea.get(f"{live_server.url}/console/organizations"))
    answer = ada.post(f"{live_server.url}/console/organizations",
                      data={"name": "Acme", "csrf_token": theirs}, allow_redirects=False)
    assert answer.status_code == 403


def test_pages_are_locked_down(live_server, db, clock):
    browser = signed_in(live_server, db, clock, "ada")
    for path in ("/console", "/console/login", "/console/organizations", "/console/nowhere"):
        page = browser.get(live_server.url + path)
        headers = page.headers
        policy = headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        assert "script-src" not in policy and "<script" not in page.text
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in headers["Cache-Control"]
        assert re.search(r"""(src|href)=["']https?://""", page.text) is None


def test_a_viewer_reads_but_cannot_act_and_the_refusal_is_audited(live_server, db, clock):
    browser = signed_in(live_server, db, clock, "ada", ("viewer",))
    page = dashboard(browser, live_server.url)
    assert page.status_code == 200 and 'href="/console/admins"' not in page.text
    assert browser.get(f"{live_server.url}/console/admins").status_code == 403
    answer = browser.post(f"{live_server.url}/console/organizations",
                          data={"name": "Acme", "csrf_token": form_token(page)},
                          allow_redirects=False)
    assert answer.status_code == 403 and "onboard" in answer.text
    [refused] = [e for e in audited(db, "console.refused") if e.details["method"] == "POST"]
    assert refused.actor == "admin:ada" and refused.reason == "forbidden_role"

    owner = signed_in(live_server, db, clock, "root", ("owner",))
    assert 'href="/console/admins"' in dashboard(owner, live_server.url).text


@pytest.mark.parametrize("target", [
    "https://evil.example/console", "//evil.example/console", "/console\\@evil.example",
    "/elsewhere", "javascript:alert(1)"])
def test_the_login_page_never_sends_anyone_elsewhere(live_server, target):
    page = requests.get(f"{live_server.url}/console/login", params={"next": target})
    assert "evil.example" not in page.text and "javascript:" not in page.text


def test_not_signed_in_goes_to_the_login_page_and_back(live_server, db, clock):
    answer = requests.get(f"{live_server.url}/console/audit?action=policy.*",
                          allow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/console/login?next=")


@pytest.fixture
def sso(upstream, db_url, keys_dir, clock, db):
    """A service whose console signs in at ``upstream`` (the lab's provider)."""
    port = free_port()
    client = upstream.register_client(f"http://127.0.0.1:{port}/console/callback")
    settings = load_settings({}, database_url=db_url, keys_dir=str(keys_dir),
                             issuer=f"http://127.0.0.1:{port}",
                             console_oidc_issuer=upstream.issuer,
                             console_oidc_client_id=client.client_id,
                             console_oidc_client_secret=client.client_secret)
    app = create_app(settings, clock=clock, db=db)
    with LiveServer(app, port) as server:
        yield server
    app.extensions["entitlements"].close()


def sso_sign_in(server, next_page: str = "/console") -> requests.Session:
    browser = requests.Session()
    answer = browser.get(f"{server.url}/console/login/sso", params={"next": next_page})
    answer.browser = browser  # type: ignore[attr-defined]
    return answer


def test_single_sign_on_by_verified_email_binds_the_subject(sso, upstream, db, clock):
    add_admin(db, clock, "ada", ("policy_editor",), email="ada@lab.example")
    upstream.signs_in = SignIn("upstream-sub-1", email="Ada@lab.example")
    answer = sso_sign_in(sso, "/console/policy")
    assert answer.status_code == 200 and answer.url == f"{sso.url}/console/policy"
    assert "ada" in answer.text and "policy_editor" in answer.text
    [request] = upstream.authorization_requests
    assert request["code_challenge_method"] == "S256" and request["nonce"]
    assert request["redirect_uri"] == f"{sso.url}/console/callback"
    with db.sessions() as session:
        assert session.get(AdminRow, "ada").sso_subject == "upstream-sub-1"
    [signed] = audited(db, "console.signed_in")
    assert signed.details == {"method": "sso"}
    assert [e.actor for e in audited(db, "admin.sso_bound")] == ["admin:ada"]

    # The address moves to someone else at the provider: the bound subject decides.
    upstream.signs_in = SignIn("upstream-sub-2", email="ada@lab.example")
    assert sso_sign_in(sso).status_code == 403
    upstream.signs_in = SignIn("upstream-sub-1", email=None)
    assert sso_sign_in(sso).status_code == 200


def test_single_sign_on_refuses_an_unknown_or_disabled_identity(sso, upstream, db, clock):
    add_admin(db, clock, "root", ("owner",))
    add_admin(db, clock, "ada", ("viewer",), email="ada@lab.example")
    upstream.signs_in = SignIn("stranger", email="stranger@lab.example")
    answer = sso_sign_in(sso)
    assert answer.status_code == 403 and "not an active admin" in answer.text
    assert "ent_console" not in answer.browser.cookies
    with db.transaction() as session:
        admins.update(session, Actor(ROOT, clock.now()), "ada", status="disabled")
    upstream.signs_in = SignIn("ada-sub", email="ada@lab.example")
    assert sso_sign_in(sso).status_code == 403
    refusals = audited(db, "console.sign_in_refused")
    assert [e.reason for e in refusals] == ["not_an_admin", "not_an_admin"]
    assert all("lab.example" not in str(e.details) for e in refusals)
    with db.sessions() as session:
        assert session.get(AdminRow, "ada").sso_subject is None


def test_a_callback_that_does_not_answer_this_browsers_sign_in_is_refused(sso, upstream, db,
                                                                         clock):
    add_admin(db, clock, "ada", email="ada@lab.example")
    upstream.signs_in = SignIn("ada-sub", email="ada@lab.example")
    # No sign-in in progress in this browser.
    answer = requests.get(f"{sso.url}/console/callback", params={"code": "x", "state": "y"})
    assert answer.status_code == 403 and "was not started here" in answer.text
    # A sign-in started here, answered with another state.
    browser = requests.Session()
    started = browser.get(f"{sso.url}/console/login/sso", allow_redirects=False)
    assert started.status_code == 302 and started.headers["Location"].startswith(upstream.issuer)
    forged = browser.get(f"{sso.url}/console/callback", params={"code": "x", "state": "forged"})
    assert forged.status_code == 403
    assert [e.reason for e in audited(db, "console.sign_in_refused")] == [
        "no_sign_in_in_progress", "state_mismatch"]
    # Ten minutes later, the sealed sign-in is stale.
    started = browser.get(f"{sso.url}/console/login/sso", allow_redirects=False)
    clock.advance(11 * 60)
    late = browser.get(started.headers["Location"])
    assert late.status_code == 403 and "ten minutes" in late.text


def test_the_login_page_offers_what_is_set_up(sso, live_server):
    with_sso = requests.get(f"{sso.url}/console/login").text
    assert "single sign-on" in with_sso and "login-link" not in with_sso
    without = requests.get(f"{live_server.url}/console/login").text
    assert "/console/login/sso" not in without and "login-link" in without



def test_a_provider_that_refuses_the_code_is_a_refused_sign_in(sso, upstream, db, clock):
    started = requests.Session()
    answer = started.get(f"{sso.url}/console/login/sso", allow_redirects=False)
    state = parse_qs(urlsplit(answer.headers["Location"]).query)["state"][0]
    refused = started.get(f"{sso.url}/console/callback", params={"state": state,
                                                                 "code": "bogus"})
    assert refused.status_code == 403 and "sign_in_refused" in refused.text
    assert [e.reason for e in audited(db, "console.sign_in_refused")] == [
        "token_request_failed"]


@pytest.mark.parametrize("state", ["é", "\u2603" * 40])
def test_a_state_in_any_characters_is_refused_not_a_crash(sso, state):
    browser = requests.Session()
    browser.get(f"{sso.url}/console/login/sso", allow_redirects=False)
    answer = browser.get(f"{sso.url}/console/callback", params={"state": state, "code": "x"})
    assert answer.status_code == 403


def test_a_next_page_with_a_control_character_goes_to_the_dashboard(sso, upstream, db, clock):
    add_admin(db, clock, "ada", email="ada@lab.example")
    upstream.signs_in = SignIn("ada-sub", email="ada@lab.example")
    answer = sso_sign_in(sso, "/console/\nX")
    assert answer.status_code == 200 and answer.url == f"{sso.url}/console"


def test_a_form_token_in_any_characters_is_refused_not_a_crash(live_server, db, clock):
    browser = signed_in(live_server, db, clock, "ada", ("onboarding_reviewer",))
    for path in ("/console/logout", "/console/organizations"):
        answer = browser.post(live_server.url + path, data={"csrf_token": "é", "name": "x"})
        assert answer.status_code == 403


@pytest.mark.parametrize("headers", [{"Sec-Fetch-Site": "cross-site"},
                                     {"Sec-Fetch-Site": "same-site"},
                                     {"Origin": "https://evil.example"}])
def test_a_sign_in_form_sent_from_another_site_is_refused(live_server, db, clock, headers):
    """Login CSRF: another site posting its own link would sign the victim in as itself."""
    add_admin(db, clock, "mallory")
    token = link_for(db, clock, "mallory")
    browser = requests.Session()
    answer = browser.post(f"{live_server.url}/console/login/link", data={"token": token},
                          headers=headers, allow_redirects=False)
    assert answer.status_code == 403 and "ent_console" not in browser.cookies
    assert use_link(requests.Session(), live_server.url, token).status_code == 302


def test_a_notice_in_a_link_is_shown_only_if_the_console_made_it(live_server, db, clock):
    forged = requests.get(f"{live_server.url}/console/login",
                          params={"ok": "Session expired: sign in at https://evil.example"})
    assert "evil.example" not in forged.text
    browser = signed_in(live_server, db, clock, "ada", ("onboarding_reviewer",))
    made = browser.post(f"{live_server.url}/console/organizations",
                        data={"name": "Acme Labs", **form_fields(
                            browser.get(f"{live_server.url}/console/organizations"))})
    assert made.status_code == 200 and "Organization recorded." in made.text
    assert "Organization+recorded" not in made.url, "the notice is sealed, not in clear"


def test_redirects_and_downloads_carry_the_pages_headers(live_server):
    answer = requests.get(f"{live_server.url}/console/organizations", allow_redirects=False)
    assert answer.status_code == 302
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert (answer.headers["X-Frame-Options"], answer.headers["X-Content-Type-Options"],
            answer.headers["Referrer-Policy"]) == ("DENY", "nosniff", "no-referrer")
