"""Console pages over a real socket, beyond signing in: work that runs as a job (an import)
and shows its progress, and secrets shown once (an admin's API key)."""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import func, select

from entitlements.admins.models import Admin as AdminRow
from entitlements.organizations.models import Organization
from entitlements.policy.models import PolicyChangeRequest
from tests.support.console import add_admin, audited, form_fields, signed_in
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
    page = f"{live_server.url}/console/organizations"
    refused = browser.post(f"{live_server.url}/console/organizations/import",
                           data={"lines": LINES, **form_fields(browser.get(page))})
    assert refused.status_code == 400 and "line 3" in refused.text
    assert organizations(db) == {}

    good = "\n".join(line for line in LINES.splitlines() if line != "{}") + "\n\n"
    started = browser.post(f"{live_server.url}/console/organizations/import",
                           data={"lines": good, **form_fields(browser.get(page))},
                           allow_redirects=False)
    assert started.status_code == 302 and "/console/jobs/job_" in started.headers["Location"]
    job_page = live_server.url + started.headers["Location"]
    assert eventually(lambda: DONE in browser.get(job_page).text)
    done = browser.get(job_page)
    assert 'http-equiv="refresh"' not in done.text  # a finished job stops reloading
    assert organizations(db) == {"Acme Labs": "applied", "Borealis AI": "verified",
                                 "Cobalt Systems": "applied"}
    again = browser.post(f"{live_server.url}/console/organizations/import",
                         data={"lines": good, **form_fields(browser.get(page))},
                         allow_redirects=False)
    assert eventually(
        lambda: DONE in browser.get(live_server.url + again.headers["Location"]).text)
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Organization)) == 3


def test_an_owner_issues_and_revokes_an_admin_key_in_the_console(live_server, db, clock):
    owner = signed_in(live_server, db, clock, "root", ("owner",))
    add_admin(db, clock, "ada", ("viewer", "onboarding_reviewer"))
    admins_page = f"{live_server.url}/console/admins"
    issued = owner.post(f"{live_server.url}/console/admins/ada/keys",
                        data={"roles": ["viewer"], **form_fields(owner.get(admins_page))})
    assert issued.status_code == 200 and "shown this once" in issued.text
    secret = re.search(r"<code>(eak_[^<]+)</code>", issued.text).group(1)
    key_id = re.search(r"<code>(adm_[^<]+)</code>", issued.text).group(1)
    api = {"Authorization": f"Bearer {secret}"}
    me = requests.get(f"{live_server.url}/admin/me", headers=api)
    assert me.status_code == 200 and me.json()["roles"] == ["viewer"]
    revoked = owner.post(f"{live_server.url}/console/admin-keys/{key_id}/revoke",
                         data=form_fields(owner.get(admins_page)), allow_redirects=False)
    assert revoked.status_code == 302
    assert requests.get(f"{live_server.url}/admin/me", headers=api).status_code == 401
    assert [e.target for e in audited(db, "admin.key_revoked")] == [key_id]


def count_organizations(db) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(Organization))


def test_a_form_sent_twice_does_its_work_once(live_server, db, clock):
    browser = signed_in(live_server, db, clock, "ada", ("onboarding_reviewer",))
    page = f"{live_server.url}/console/organizations"
    create = f"{live_server.url}/console/organizations"
    fields = form_fields(browser.get(page))
    first = browser.post(create, data={"name": "Acme Labs", **fields}, allow_redirects=False)
    assert first.status_code == 302
    again = browser.post(create, data={"name": "Acme Labs", **fields}, allow_redirects=False)
    assert again.status_code == 409 and "sent already" in again.text
    assert 'href="/console/organizations"' in again.text  # back to the form's page
    assert count_organizations(db) == 1
    assert [e.reason for e in audited(db, "console.refused")] == ["form_resubmitted"]


def test_a_refused_form_can_be_corrected_and_sent_again(live_server, db, clock):
    browser = signed_in(live_server, db, clock, "ada", ("onboarding_reviewer",))
    fields = form_fields(browser.get(f"{live_server.url}/console/organizations"))
    create = f"{live_server.url}/console/organizations"
    wrong = browser.post(create, data={"name": "Acme Labs", "country": "USA", **fields})
    assert wrong.status_code == 400 and "country" in wrong.text
    right = browser.post(create, data={"name": "Acme Labs", "country": "US", **fields},
                         allow_redirects=False)
    assert right.status_code == 302 and count_organizations(db) == 1


def test_a_double_click_races_and_one_wins(live_server, db, clock):
    browser = signed_in(live_server, db, clock, "ada", ("onboarding_reviewer",))
    fields = form_fields(browser.get(f"{live_server.url}/console/organizations"))
    cookies = browser.cookies.get_dict()
    start = threading.Barrier(4)

    def click(_: int) -> int:
        start.wait(timeout=30)
        return requests.post(f"{live_server.url}/console/organizations", cookies=cookies,
                             data={"name": "Acme Labs", **fields},
                             allow_redirects=False).status_code

    with ThreadPoolExecutor(4) as pool:
        answers = sorted(pool.map(click, range(4)))
    assert answers == [302, 409, 409, 409]
    assert count_organizations(db) == 1


def test_a_who_could_page_is_only_a_finished_rebuilds(live_server, db, clock):
    browser = signed_in(live_server, db, clock, "ada", ("onboarding_reviewer",))
    page = f"{live_server.url}/console/organizations"
    started = browser.post(f"{live_server.url}/console/organizations/import",
                           data={"lines": '{"name": "Acme Labs"}', **form_fields(
                               browser.get(page))}, allow_redirects=False)
    job_id = started.headers["Location"].rsplit("/", 1)[1]
    assert eventually(lambda: DONE in browser.get(live_server.url +
                                                  started.headers["Location"]).text)
    answer = browser.get(f"{live_server.url}/console/who-could/{job_id}")
    assert answer.status_code == 404 and "no who-could rebuild" in answer.text
    assert browser.get(f"{live_server.url}/console/who-could/job_nope").status_code == 404


def test_an_owner_disables_an_admin_whose_sessions_end_at_once(live_server, db, clock):
    owner = signed_in(live_server, db, clock, "root", ("owner",))
    ada = signed_in(live_server, db, clock, "ada", ("viewer", "onboarding_reviewer"))
    page = f"{live_server.url}/console/admins"
    nothing = owner.post(f"{live_server.url}/console/admins/ada",
                         data=form_fields(owner.get(page)))
    assert nothing.status_code == 400 and "at least one role" in nothing.text
    disabled = owner.post(f"{live_server.url}/console/admins/ada", allow_redirects=False,
                          data={"roles": ["viewer"], "status": "disabled",
                                **form_fields(owner.get(page))})
    assert disabled.status_code == 302
    assert ada.get(f"{live_server.url}/console", allow_redirects=False).status_code == 302
    with db.sessions() as session:
        row = session.get(AdminRow, "ada")
        assert (row.status, row.roles) == ("disabled", ["viewer"])
    enabled = owner.post(f"{live_server.url}/console/admins/ada", allow_redirects=False,
                         data={"roles": ["viewer"], **form_fields(owner.get(page))})
    assert enabled.status_code == 302
    with db.sessions() as session:
        assert session.get(AdminRow, "ada").status == "active"


def test_numbers_in_any_script_are_refused_not_a_crash(live_server, db, clock):
    editor = signed_in(live_server, db, clock, "ed", ("policy_editor",))
    page = f"{live_server.url}/console/policy"
    for path, data in (("/console/policy/rollback", {"version": "²", "reason": "x"}),
                       ("/console/policy/versions", {"base_version": "²", "reason": "x"})):
        answer = editor.post(live_server.url + path,
                             data={**data, **form_fields(editor.get(page))})
        assert answer.status_code == 400, (path, answer.text[:300])


def test_an_oversize_form_is_a_413_page(live_server, db, clock):
    browser = signed_in(live_server, db, clock, "ada", ("onboarding_reviewer",))
    answer = browser.post(f"{live_server.url}/console/organizations",
                          data={"name": "x" * 70_000, **form_fields(
                              browser.get(f"{live_server.url}/console/organizations"))})
    assert answer.status_code == 413
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]


def test_a_nul_character_is_refused_on_every_database(live_server, db, clock):
    browser = signed_in(live_server, db, clock, "ada", ("onboarding_reviewer",))
    answer = browser.post(f"{live_server.url}/console/organizations", data={
        "name": "Acme\x00Labs", **form_fields(
            browser.get(f"{live_server.url}/console/organizations"))})
    assert answer.status_code == 400 and "NUL character" in answer.text
    assert count_organizations(db) == 0


def test_a_reimposition_cannot_be_scheduled_from_the_console(live_server, db, clock):
    """The console loads the admin API's own activation schema: the same refusal."""
    editor = signed_in(live_server, db, clock, "ed", ("policy_editor",))
    page = f"{live_server.url}/console/policy/versions/1"
    answer = editor.post(f"{live_server.url}/console/policy/versions/1/activate", data={
        "reason": "x", "revoke_disallowed": "on", "at": "2031-01-01T00:00:00+00:00",
        **form_fields(editor.get(page))})
    assert answer.status_code == 400 and "immediate activation" in answer.text
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PolicyChangeRequest)) == 0


def test_a_key_admin_rotates_and_revokes_keys_and_registers_a_gateway(live_server, db, clock):
    keys = signed_in(live_server, db, clock, "kim", ("key_admin",))
    page = f"{live_server.url}/console/keys"
    before = set(published(live_server))
    rotated = keys.post(f"{live_server.url}/console/keys/rotate",
                        data={"alg": "ES256", **form_fields(keys.get(page))})
    assert rotated.status_code == 200 and "published; it signs from" in rotated.text
    [new] = set(published(live_server)) - before
    [old] = before
    revoked = keys.post(f"{live_server.url}/console/keys/{old}/revoke",
                        data={"reason": "compromised", **form_fields(keys.get(page))})
    assert revoked.status_code == 200 and f"key {new} signs from now" in revoked.text
    assert set(published(live_server)) == {new}
    added = keys.post(f"{live_server.url}/console/resources", data={
        "identifier": "https://gateway.lab.example/models", "name": "models",
        **form_fields(keys.get(page))})
    assert added.status_code == 200 and "https://gateway.lab.example/models" in added.text


def published(live_server) -> list[str]:
    return [k["kid"] for k in requests.get(f"{live_server.url}/jwks.json", timeout=10)
            .json()["keys"] if k.get("alg") == "ES256"]
