"""Driving the console as a browser does, with requests: admins signed in by single-use
links, the form token read from a page, and what the audit log says of it."""

from __future__ import annotations

import re

import requests
from sqlalchemy import select

from entitlements.admins import service as admins
from entitlements.admins import sessions
from entitlements.audit.models import AuditEvent
from entitlements.base.actor import Actor

ROOT = "cli:root"


def add_admin(db, clock, name: str, roles=("viewer",), **identity) -> None:
    with db.transaction() as session:
        admins.add(session, Actor(ROOT, clock.now()), name, roles, **identity)


def link_for(db, clock, name: str) -> str:
    with db.transaction() as session:
        return sessions.issue_login_link(session, Actor(ROOT, clock.now()), name, enabled=True)


def use_link(browser: requests.Session, url: str, token: str) -> requests.Response:
    return browser.post(f"{url}/console/login/link", data={"token": token},
                        allow_redirects=False)


def signed_in(live_server, db, clock, name: str = "ada", roles=("viewer",)
              ) -> requests.Session:
    add_admin(db, clock, name, roles)
    browser = requests.Session()
    answer = use_link(browser, live_server.url, link_for(db, clock, name))
    assert answer.status_code == 302 and answer.headers["Location"] == "/console"
    return browser


def form_token(page: requests.Response) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page.text)
    assert found, "the page has no form token"
    return found.group(1)


def form_fields(page: requests.Response) -> dict[str, str]:
    """What the page's first form carries besides its own fields: the session's form token
    and the form's one-time nonce."""
    nonce = re.search(r'name="form_nonce" value="([^"]+)"', page.text)
    assert nonce, "the page has no form"
    return {"csrf_token": form_token(page), "form_nonce": nonce.group(1)}


def dashboard(browser: requests.Session, url: str) -> requests.Response:
    return browser.get(f"{url}/console", allow_redirects=False)


def audited(db, action: str) -> list[AuditEvent]:
    with db.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
