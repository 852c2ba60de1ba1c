"""Bulk revocation as a job with progress: its preview (how many live tokens match), the job
(202 with Location, then done with done == total == the count), one audit event per chunk
naming the job, refusals that start nothing; and the CLI's ``tokens revoke`` (preview, usage,
chunks) and its progress bar."""

from __future__ import annotations

import io
from typing import Any

import pytest
from sqlalchemy import func, select

from entitlements.audit.models import AuditEvent
from entitlements.base.actor import Actor
from entitlements.cli.progress import progress
from entitlements.jobs.models import Job
from entitlements.operations import tokens as operations
from entitlements.tokens import revocation
from entitlements.tokens.models import IssuedToken
from tests.support.admin_api import claims
from tests.support.cli import as_json, ok, runner_for
from tests.support.factories import admin_key
from tests.support.helpers import audit_events, basic, problem_code
from tests.support.markers import ONE_ADMIN, overrides

pytestmark = ONE_ADMIN


@pytest.fixture
def small_chunks(monkeypatch) -> int:
    """Tracked revocations revoke two tokens a transaction (so a few tokens make chunks)."""
    monkeypatch.setattr(revocation, "CHUNK", 2)
    return 2


def jobs_of(db) -> list[Job]:
    with db.sessions() as session:
        rows = session.scalars(select(Job)).all()
        session.expunge_all()
    return list(rows)


def revoked_events(api, job_id: str | None = None) -> list[Any]:
    return [e for e in api.events("tokens.revoked")
            if job_id is None or e.details["filters"].get("job") == job_id]


def start(api, body: dict) -> dict:
    """Start a revocation job, wait for it, and read it back where Location says."""
    response = api.raw("POST", "/revocations", json=body)
    assert response.status_code == 202, response.get_json()
    job = response.get_json()
    assert response.headers["Location"].endswith(f"/admin/jobs/{job['id']}")
    assert (job["kind"], job["requested_by"]) == ("revocation", "admin:alice")
    assert job["state"] in ("queued", "running", "done")
    api.client.application.extensions["entitlements"].jobs.wait(job["id"], timeout=30)
    followed = api.client.get(response.headers["Location"], headers=api.headers)
    assert followed.status_code == 200
    return followed.get_json()


# -- the preview ---------------------------------------------------------------------------------


def test_the_preview_counts_the_live_tokens_matching(api, cast, clock):
    a, b = cast["A"], cast["B"]
    api.token(a, "tier:public")
    api.token(a, "tier:public tier:restricted")
    api.token(b, "tier:restricted")
    citizen = api.person_token(a, cast["idp_key"], "citizen")
    old = api.token(b, "tier:public")

    def live(**filters: str) -> int:
        return api("POST", "/tokens/revoke/preview", filters)["live"]

    before = (api.written(), audit_events(api.db))
    assert live(organization_id=a.org_id) == 3
    assert live(organization_id=b.org_id) == 2
    assert live(client_id=a.client_id) == 3
    assert live(person_id=cast["citizen"]) == 1
    assert live(tier="restricted") == 2 + ("tier:restricted" in citizen["scope"].split())
    assert live(organization_id=a.org_id, tier="restricted") == 1 + (
        "tier:restricted" in citizen["scope"].split())
    assert (api.written(), audit_events(api.db)) == before  # a preview changes nothing
    assert api("POST", "/tokens/revoke", {"reason": "x", "client_id": b.client_id}) == {
        "revoked": 2}
    assert live(organization_id=b.org_id) == 0  # revoked tokens are not live
    api.token(b)
    clock.advance(seconds=int(claims(old["access_token"])["exp"] - clock.now().timestamp()))
    assert live(organization_id=b.org_id) == 0  # nor are expired ones
    assert live(organization_id=a.org_id) == 0


@pytest.mark.parametrize(("body", "status", "code"), [
    pytest.param({}, 400, "no_filter", id="no-filter"),
    pytest.param({"organization_id": "org_typo"}, 404, "not_found", id="unknown-org"),
    pytest.param({"tier": "nope"}, 404, "not_found", id="unknown-tier"),
    pytest.param({"tier": "public", "reason": "x"}, 400, "invalid_input", id="a-reason"),
])
def test_a_preview_of_nothing_or_of_an_unknown_thing_is_refused(api, cast, body, status, code):
    problem = api.problem("POST", "/tokens/revoke/preview", body, status, code)
    assert problem["detail"]


# -- the job ------------------------------------------------------------------------------------


def test_a_revocation_job_revokes_and_shows_its_progress(api, cast, db, small_chunks):
    b = cast["B"]
    issued = [api.token(b) for _ in range(5)]
    other = api.token(cast["A"])
    assert api("POST", "/tokens/revoke/preview", {"organization_id": b.org_id}) == {"live": 5}
    job = start(api, {"organization_id": b.org_id, "reason": "incident 42"})
    assert (job["state"], job["done"], job["total"], job["result"], job["error"]) == (
        "done", 5, 5, {"revoked": 5}, None)
    assert job["params"] == {"organization_id": b.org_id, "reason": "incident 42",
                             "client_id": None, "person_id": None, "tier": None}
    assert job["finished_at"] is not None
    assert api.revoked(*issued, other) == [True] * 5 + [False]
    events = revoked_events(api, job["id"])
    assert [e.details["count"] for e in events] == [2, 2, 1]  # one event per chunk
    assert len(revoked_events(api)) == 3
    for event in events:
        assert (event.target, event.target_kind, event.organization_id) == (
            b.org_id, "organization", b.org_id)
        assert (event.actor, event.actor_role, event.reason) == (
            "admin:alice", "owner", "incident 42")
        assert event.details["filters"] == {"organization_id": b.org_id, "job": job["id"]}
    assert sorted(j for e in events for j in e.details["jtis"]) == sorted(
        t["jti"] for t in issued)
    listed = api("GET", "/jobs")["items"]
    assert [(j["id"], j["state"]) for j in listed] == [(job["id"], "done")]
    assert api("POST", "/tokens/revoke/preview", {"organization_id": b.org_id}) == {"live": 0}


def test_a_job_over_a_whole_number_of_chunks_writes_no_empty_event(api, cast, small_chunks):
    b = cast["B"]
    issued = [api.token(b) for _ in range(4)]
    job = start(api, {"client_id": b.client_id, "reason": "rotate"})
    assert (job["state"], job["done"], job["total"], job["result"]) == (
        "done", 4, 4, {"revoked": 4})
    assert api.revoked(*issued) == [True] * 4
    events = revoked_events(api, job["id"])
    assert [e.details["count"] for e in events] == [2, 2]
    assert {(e.target_kind, e.target, e.organization_id) for e in events} == {
        ("client", b.client_id, b.org_id)}


def test_a_job_with_nothing_to_revoke_is_done_and_audited_once(api, cast):
    job = start(api, {"tier": "restricted", "reason": "nothing live"})
    assert (job["state"], job["done"], job["total"], job["result"]) == (
        "done", 0, 0, {"revoked": 0})
    [event] = revoked_events(api, job["id"])
    assert (event.details["count"], event.target_kind, event.target,
            event.organization_id) == (0, "tier", "restricted", None)


def test_the_job_runs_under_the_role_that_allowed_it(api, cast, db, clock, client):
    with db.transaction() as session:
        key = admin_key(session, clock.now(), "rita", ("onboarding_reviewer",)).secret
    api.token(cast["B"])
    response = client.post("/admin/revocations", headers={"Authorization": f"Bearer {key}"},
                           json={"organization_id": cast["B"].org_id, "reason": "abuse"})
    assert response.status_code == 202
    client.application.extensions["entitlements"].jobs.wait(response.get_json()["id"], 30)
    [event] = revoked_events(api, response.get_json()["id"])
    assert (event.actor, event.actor_role, event.details["count"]) == (
        "admin:rita", "onboarding_reviewer", 1)
    with db.transaction() as session:
        viewer = admin_key(session, clock.now(), "vic", ("viewer",)).secret
    refused = client.post("/admin/revocations", headers={"Authorization": f"Bearer {viewer}"},
                          json={"organization_id": cast["B"].org_id, "reason": "abuse"})
    assert refused.status_code == 403 and problem_code(refused) == "forbidden_role"
    assert len(jobs_of(db)) == 1


def test_a_tracked_revocation_reports_its_progress(api, cast, db, clock, small_chunks):
    b = cast["B"]
    issued = [api.token(b) for _ in range(5)]

    class Recorder:
        def __init__(self) -> None:
            self.said: list[tuple[str, int]] = []

        def expect(self, total: int) -> None:
            self.said.append(("expect", total))

        def advance(self, count: int = 1) -> None:
            self.said.append(("advance", count))

    tracker = Recorder()
    result = operations.revoke_tracked(db, Actor("admin:test", clock.now()), reason="r",
                                       tracker=tracker, organization_id=b.org_id)
    assert result == {"revoked": 5}
    assert tracker.said == [("expect", 5), ("advance", 2), ("advance", 2), ("advance", 1)]
    assert api.revoked(*issued) == [True] * 5
    assert [e.details["count"] for e in revoked_events(api)] == [2, 2, 1]


def test_the_chunk_size_is_revocation_chunk(api, cast, monkeypatch):
    monkeypatch.setattr(revocation, "CHUNK", 2)
    b = cast["B"]
    for _ in range(5):
        api.token(b)
    job = start(api, {"organization_id": b.org_id, "reason": "incident"})
    assert [e.details["count"] for e in revoked_events(api, job["id"])] == [2, 2, 1]


def test_an_unknown_organization_is_404_and_starts_no_job(api, cast, db):
    token = api.token(cast["B"])
    before = audit_events(db)
    for body, what in (({"organization_id": "org_typo"}, "organization"),
                       ({"client_id": "cli_typo"}, "client"),
                       ({"person_id": "per_typo"}, "person"),
                       ({"tier": "nope"}, "tier"),
                       ({"organization_id": cast["B"].org_id, "tier": "nope"}, "tier")):
        problem = api.problem("POST", "/revocations", {**body, "reason": "x"}, 404,
                              "not_found")
        assert what in problem["detail"]
    assert jobs_of(db) == []
    assert api("GET", "/jobs")["items"] == []
    assert audit_events(db) == before
    assert api.revoked(token) == [False]


@pytest.mark.parametrize("body", [
    pytest.param({"reason": "everything"}, id="none"),
    pytest.param({"reason": "everything", "tier": None, "client_id": None}, id="nulls"),
])
def test_no_filter_is_400_and_starts_no_job(api, cast, db, body):
    token = api.token(cast["B"])
    response = api.raw("POST", "/revocations", json=body)
    assert response.status_code == 400, response.get_json()
    assert problem_code(response) == "no_filter"
    assert jobs_of(db) == []
    assert api.revoked(token) == [False]


@pytest.mark.parametrize(("body", "code"), [
    pytest.param({"organization_id": "org_x"}, "invalid_input", id="no-reason"),
    pytest.param({"organization_id": "org_x", "reason": "x", "job": "mine"}, "invalid_input",
                 id="unknown-field"),
])
def test_a_malformed_revocation_starts_no_job(api, db, body, code):
    api.problem("POST", "/revocations", body, 400, code)
    assert jobs_of(db) == []


def test_an_unknown_job_is_404(api):
    api.problem("GET", "/jobs/job_nope", None, 404, "not_found")


# -- the command line ------------------------------------------------------------------------


@pytest.fixture
def run(db_url, tmp_path, databases, request):
    return runner_for(db_url, tmp_path / "cli-keys", overrides(request))


def client_tokens(client, partner, count: int) -> list[str]:
    jtis = []
    for _ in range(count):
        response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                               headers=basic(partner.client_id, partner.client_secret))
        assert response.status_code == 200, response.get_json()
        jtis.append(claims(response.get_json()["access_token"])["jti"])
    return jtis


def revoked_count(db) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(IssuedToken)
                              .where(IssuedToken.revoked_at.is_not(None)))


def test_cli_preview_prints_the_count_and_changes_nothing(run, client, partner, db):
    client_tokens(client, partner, 3)
    before = audit_events(db)
    assert ok(run("tokens", "revoke", "--org", partner.org_id, "--preview")).strip() == (
        "3 live token(s) match; --reason to revoke")
    assert as_json(run("tokens", "revoke", "--client", partner.client_id, "--preview",
                       "--json")) == {"live": 3}
    assert as_json(run("tokens", "revoke", "--tier", "restricted", "--preview",
                       "--json")) == {"live": 0}
    assert revoked_count(db) == 0 and audit_events(db) == before


def test_cli_revoke_without_a_reason_is_a_usage_error(run, client, partner, db):
    client_tokens(client, partner, 1)
    before = audit_events(db)
    result = run("tokens", "revoke", "--org", partner.org_id)
    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("entitlements: error: ") and "--reason" in line
    assert revoked_count(db) == 0 and audit_events(db) == before


def test_cli_revokes_in_chunks_quietly_when_not_a_terminal(run, client, partner, db,
                                                            small_chunks):
    jtis = client_tokens(client, partner, 3)
    assert as_json(run("tokens", "revoke", "--org", partner.org_id, "--reason", "incident",
                       "--json")) == {"revoked": 3}
    assert revoked_count(db) == 3
    with db.sessions() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "tokens.revoked")
                                 .order_by(AuditEvent.seq)).all()
        assert [e.details["count"] for e in events] == [2, 1]
        assert sorted(j for e in events for j in e.details["jtis"]) == sorted(jtis)
        assert {(e.target_kind, e.target, e.reason) for e in events} == {
            ("organization", partner.org_id, "incident")}
    # ok() checked stderr is empty: CliRunner's stderr is no terminal, so no bar.
    assert ok(run("tokens", "revoke", "--org", partner.org_id, "--reason", "again")).strip() == (
        "no live token matches those filters; nothing revoked")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_is_drawn_on_a_terminal():
    terminal = Terminal()
    with progress("revoking", False, file=terminal) as tracker:
        tracker.expect(3)
        for _ in range(3):
            tracker.advance(1)
    drawn = terminal.getvalue()
    assert "revoking" in drawn
    assert "3/3" in drawn and "[" + "#" * 36 + "]" in drawn


@pytest.mark.parametrize(("quiet", "file"), [
    pytest.param(True, Terminal, id="quiet-terminal"),
    pytest.param(False, io.StringIO, id="not-a-terminal"),
    pytest.param(True, io.StringIO, id="quiet-not-a-terminal"),
])
def test_no_bar_when_quiet_or_not_a_terminal(quiet, file):
    written = file()
    with progress("revoking", quiet, file=written) as tracker:
        tracker.expect(3)
        tracker.advance(3)
    assert written.getvalue() == ""


def test_a_bar_with_nothing_to_do_still_ends():
    terminal = Terminal()
    with progress("revoking", False, file=terminal) as tracker:
        tracker.expect(0)
    assert "revoking" in terminal.getvalue()
