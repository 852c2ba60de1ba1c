"""Console pages over a real socket, beyond signing in: work that runs as a job (an import)
and shows its progress, and secrets shown once (an admin's API key)."""

from __future__ import annotations

import json
import re

import requests
from sqlalchemy import func, select

from entitlements.organizations.models import Organization
from tests.support.console import add_admin, audited, form_token, signed_in
from tests.support.helpers import eventually

DONE = 'id="job-state">done<'
LINES = "\n".join(json.dumps(row) for row in (
    {"name": "Acme Labs", "country": "US"}, {"name": "Borealis AI", "onboard": True}, {},
    {"name": "Cobalt Systems"}))


def organizations(db) -> dict[str, str]:
    with db.sessions() as session:
        return dict(session.execute(select(Organization.name, Organization.status)).all())


def test_an_import_is_checked_whole_then_runs_as_a_job_with_a_live_page(live_server, db,
                                                                        clock):
    browser = signed_in(live_server, db, clock, "ada", ("onboarding_reviewer",))
    token = form_token(browser.get(f"{live_server.url}/console/organizations"))
    refused = browser.post(f"{live_server.url}/console/organizations/import",
                           data={"lines": LINES, "csrf_token": token})
    assert refused.status_code == 400 and "line 3" in refused.text
    assert organizations(db) == {}

    good = "\n".join(line for line in LINES.splitlines() if line != "{}") + "\n\n"
    started = browser.post(f"{live_server.url}/console/organizations/import",
                           data={"lines": good, "csrf_token": token}, allow_redirects=False)
    assert started.status_code == 302 and "/console/jobs/job_" in started.headers["Location"]
    job_page = live_server.url + started.headers["Location"]
    assert eventually(lambda: DONE in browser.get(job_page).text)
    done = browser.get(job_page)
    assert 'http-equiv="refresh"' not in done.text  # a finished job stops reloading
    assert organizations(db) == {"Acme Labs": "applied", "Borealis AI": "verified",
                                 "Cobalt Systems": "applied"}
    again = browser.post(f"{live_server.url}/console/organizations/import",
                         data={"lines": good, "csrf_token": token}, allow_redirects=False)
    assert eventually(
        lambda: DONE in browser.get(live_server.url + again.headers["Location"]).text)
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Organization)) == 3


def test_an_owner_issues_and_revokes_an_admin_key_in_the_console(live_server, db, clock):
    owner = signed_in(live_server, db, clock, "root", ("owner",))
    add_admin(db, clock, "ada", ("viewer", "onboarding_reviewer"))
    page = owner.get(f"{live_server.url}/console/admins")
    token = form_token(page)
    issued = owner.post(f"{live_server.url}/console/admins/ada/keys",
                        data={"roles": ["viewer"], "csrf_token": token})
    assert issued.status_code == 200 and "shown this once" in issued.text
    secret = re.search(r"<code>(eak_[^<]+)</code>", issued.text).group(1)
    key_id = re.search(r"<code>(adm_[^<]+)</code>", issued.text).group(1)
    api = {"Authorization": f"Bearer {secret}"}
    me = requests.get(f"{live_server.url}/admin/me", headers=api)
    assert me.status_code == 200 and me.json()["roles"] == ["viewer"]
    revoked = owner.post(f"{live_server.url}/console/admin-keys/{key_id}/revoke",
                         data={"csrf_token": token}, allow_redirects=False)
    assert revoked.status_code == 302
    assert requests.get(f"{live_server.url}/admin/me", headers=api).status_code == 401
    assert [e.target for e in audited(db, "admin.key_revoked")] == [key_id]
