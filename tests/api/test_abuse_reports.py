"""Malicious-activity reports: one admin flags an organization, client or person with
evidence; a second admin approves; the report, in its fixed schema, is signed with the
service's key and sent to the configured recipient as a notice. Nothing is sent until two
admins agree."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from sqlalchemy import func, select

from entitlements.audit.models import AuditEvent
from entitlements.base.actor import Actor
from entitlements.base.clock import FrozenClock
from entitlements.base.db import Database
from entitlements.base.errors import InvalidInput
from entitlements.notices.models import Notice
from entitlements.operations.notices import Delivery
from entitlements.organizations import service as organizations
from entitlements.reports import abuse
from entitlements.reports.models import AbuseReport
from entitlements.signing.documents import ABUSE_REPORT_TYP, NOTICE_TYP
from tests.support.cli import ACTOR, Run, as_json, failed, ok, runner_for
from tests.support.factories import admin_key
from tests.support.helpers import audit_events, problem_code
from tests.support.live import free_port
from tests.support.markers import overrides
from tests.support.recipient import Recipient

PROBLEM = "application/problem+json"
#: The recipient of the reports: a loopback server of this module (see ``recipient``).
RECIPIENT_PORT = free_port()
RECIPIENT = f"http://127.0.0.1:{RECIPIENT_PORT}/abuse-reports"
pytestmark = pytest.mark.settings(abuse_report_url=RECIPIENT)
SHA = "ab" * 32


@pytest.fixture
def clock() -> FrozenClock:
    """An hour behind the system clock: what the service signs as the test moves its clock
    on is still in the past of a check made now."""
    return FrozenClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))


@pytest.fixture
def recipient() -> Iterator[Recipient]:
    with Recipient(RECIPIENT_PORT, "/abuse-reports") as server:
        yield server


class Staff:
    """Admins with their API keys: alice (owner), bob (trust_approver), olga
    (onboarding_reviewer), vera (viewer)."""

    ROLES = {"alice": ("owner",), "bob": ("trust_approver",),
             "olga": ("onboarding_reviewer",), "vera": ("viewer",)}

    def __init__(self, client, db: Database, clock) -> None:
        self.client = client
        with db.transaction() as session:
            self.keys = {name: admin_key(session, clock.now(), name, roles).secret
                         for name, roles in self.ROLES.items()}

    def __call__(self, who: str, method: str, path: str, body: Any = None,
                 expect: int = 200) -> Any:
        response = self.client.open("/admin" + path, method=method, json=body,
                                    headers={"Authorization": f"Bearer {self.keys[who]}"})
        assert response.status_code == expect, response.get_json()
        return response.get_json()

    def refused(self, who: str, method: str, path: str, body: Any, status: int,
                code: str) -> dict[str, Any]:
        response = self.client.open("/admin" + path, method=method, json=body,
                                    headers={"Authorization": f"Bearer {self.keys[who]}"})
        assert response.status_code == status, response.get_json()
        assert problem_code(response) == code, response.get_json()
        return response.get_json()


@pytest.fixture
def staff(client, db, clock) -> Staff:
    return Staff(client, db, clock)


class Suspect:
    """Shady Labs (FR): a client, and a person."""

    def __init__(self, admin) -> None:
        with admin.db.transaction() as session:
            org = organizations.create(session, admin.actor(), "Shady Labs", "verified",
                                       country="FR")
            session.flush()
            self.org_id = org.id
        self.client_id = admin.client(self.org_id).client_id
        self.person_id = admin.person(self.org_id, "https://login.shady.example", "eve")


@pytest.fixture
def suspect(admin) -> Suspect:
    return Suspect(admin)


def flag_body(suspect: Suspect, clock, **changes: Any) -> dict[str, Any]:
    body = {"subject_kind": "client", "subject_id": suspect.client_id,
            "category": "malicious_cyber_activity",
            "description": "automated vulnerability scanning of third-party systems",
            "evidence": [{"description": "gateway request logs", "reference": "SIEM-4711",
                          "sha256": SHA},
                         {"description": "a partner's complaint"}],
            "observed_from": (clock.now() - timedelta(days=2)).isoformat(),
            "observed_until": (clock.now() - timedelta(days=1)).isoformat()}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def written(db: Database) -> tuple[int, int, int]:
    """Abuse reports, notices and audit events of changes."""
    with db.sessions() as session:
        counts = (session.scalar(select(func.count()).select_from(AbuseReport)),
                  session.scalar(select(func.count()).select_from(Notice)))
    return (*counts, audit_events(db))


def actions(db: Database, prefix: str = "abuse.") -> list[AuditEvent]:
    with db.sessions() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action.startswith(prefix))
                               .order_by(AuditEvent.seq)).all()
        session.expunge_all()
    return list(rows)


def notices_of(db: Database) -> list[Notice]:
    with db.sessions() as session:
        rows = session.scalars(select(Notice).order_by(Notice.id)).all()
        session.expunge_all()
    return list(rows)


def checked(jws: str, jwks: dict[str, Any], typ: str) -> dict[str, Any]:
    """The claims of ``jws`` once its typ and signature check out against ``jwks``."""
    header = jwt.get_unverified_header(jws)
    assert header["typ"] == typ
    [key] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    return jwt.decode(jws, jwt.PyJWK(key).key, algorithms=[key["alg"]],
                      options={"require": ["iss", "iat"]})


def settle(found) -> None:
    """Let the background delivery the approval kicked off end (an admin change kicks the
    notice sender; runs are one at a time, so the first kick of ours that is not coalesced
    runs after it)."""
    deadline = time.monotonic() + 30
    while (run := found.notices.kick()) is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    run.result(timeout=30)


# -- flag, approve, sign, send -----------------------------------------------------------------


def test_a_flag_approved_by_a_second_admin_is_signed_and_sent(app, client, db, clock, settings,
                                                              staff, suspect, recipient):
    found = app.extensions["entitlements"]
    body = flag_body(suspect, clock)
    flagged = staff("alice", "POST", "/abuse-reports", body, 201)
    assert flagged["id"].startswith("abr_")
    assert (flagged["subject_kind"], flagged["subject_id"], flagged["organization_id"]) == (
        "client", suspect.client_id, suspect.org_id)
    assert (flagged["state"], flagged["flagged_by"], flagged["category"]) == (
        "pending", "admin:alice", "malicious_cyber_activity")
    assert flagged["evidence"] == [
        {"description": "gateway request logs", "reference": "SIEM-4711", "sha256": SHA},
        {"description": "a partner's complaint", "reference": None, "sha256": None}]
    assert (flagged["signed"], flagged["decided_by"], flagged["decided_at"]) == (None,) * 3
    assert staff("vera", "GET", f"/abuse-reports/{flagged['id']}") == flagged
    assert staff("vera", "GET", "/abuse-reports?state=pending")["items"] == [flagged]
    assert staff("vera", "GET", "/abuse-reports?state=approved")["items"] == []
    settle(found)
    assert (notices_of(db), recipient.received) == ([], []), "nothing sent on one admin's word"

    # bob approves; the recipient is down at first.
    recipient.status = 503
    clock.advance(600)
    approved = staff("bob", "POST", f"/abuse-reports/{flagged['id']}/approve",
                     {"reason": "confirmed against our own logs"})
    assert (approved["state"], approved["decided_by"], approved["decision_reason"]) == (
        "approved", "admin:bob", "confirmed against our own logs")
    assert staff("vera", "GET", "/abuse-reports")["items"] == [approved]

    # The signed report: the service's key, its typ, the documented schema.
    jwks = client.get("/jwks.json").get_json()
    claims = checked(approved["signed"], jwks, ABUSE_REPORT_TYP)
    assert claims["iss"] == settings.issuer
    assert claims["report"] == {
        "schema": "entitlements-abuse-report/1",
        "report_id": flagged["id"],
        "issuer": settings.issuer,
        "subject": {"kind": "client", "id": suspect.client_id,
                    "organization": {"id": suspect.org_id, "name": "Shady Labs",
                                     "country": "FR"}},
        "activity": {"category": "malicious_cyber_activity",
                     "description": body["description"],
                     "observed_from": body["observed_from"],
                     "observed_until": body["observed_until"]},
        "evidence": flagged["evidence"],
        "flagged": {"by": "admin:alice", "at": (clock.now() - timedelta(seconds=600))
                    .isoformat()},
        "approved": {"by": "admin:bob", "at": clock.now().isoformat(),
                     "reason": "confirmed against our own logs"},
    }

    # Audited: the flag, the approval (with its reason), the report sent.
    flagged_event, approved_event, reported_event = actions(db)
    assert (flagged_event.action, flagged_event.actor, flagged_event.target) == (
        "abuse.flagged", "admin:alice", flagged["id"])
    assert flagged_event.organization_id == suspect.org_id
    assert flagged_event.details == {"subject": {"kind": "client", "id": suspect.client_id},
                                     "category": "malicious_cyber_activity", "evidence": 2}
    assert (approved_event.action, approved_event.actor, approved_event.reason) == (
        "abuse.approved", "admin:bob", "confirmed against our own logs")
    assert (reported_event.action, reported_event.actor) == ("abuse.reported", "admin:bob")

    # The notice: queued with the JWS, tried once in the background (refused), then
    # delivered by deliver_due once due again.
    settle(found)
    [notice] = notices_of(db)
    assert reported_event.details == {"recipient": True, "notice": notice.id}
    assert (notice.kind, notice.subject_id, notice.recipient) == (
        "abuse_report", flagged["id"], RECIPIENT)
    assert notice.payload == {"report": flagged["id"], "jws": approved["signed"]}
    assert (notice.attempts, notice.delivered_at, notice.last_error) == (
        1, None, "the recipient answered 503")
    assert found.notices.deliver_due() == [], "not due before its retry"
    recipient.status = 200
    clock.advance(30)
    assert found.notices.deliver_due() == [Delivery(notice.id, True, None)]
    [notice] = notices_of(db)
    assert (notice.attempts, notice.delivered_at, notice.last_error) == (2, clock.now(), None)
    assert found.notices.deliver_due() == []

    # What the recipient got: the report's JWS in the payload, the whole signed as a notice.
    assert [r["path"] for r in recipient.received] == ["/abuse-reports"] * 2
    posted = recipient.received[-1]
    assert posted["type"] == "application/json"
    sent = posted["body"]
    assert sent["payload"] == {"report": flagged["id"], "jws": approved["signed"]}
    assert (sent["notice"], sent["kind"], sent["subject_id"]) == (
        notice.id, "abuse_report", flagged["id"])
    signed_notice = checked(sent["jws"], jwks, NOTICE_TYP)
    assert signed_notice["payload"] == sent["payload"]
    assert checked(sent["payload"]["jws"], jwks, ABUSE_REPORT_TYP) == claims
    listed = staff("vera", "GET", "/notices")["items"]
    assert [(n["id"], n["kind"], n["attempts"]) for n in listed] == [
        (notice.id, "abuse_report", 2)]


@pytest.mark.parametrize("kind", ["organization", "client", "person"])
def test_the_report_names_the_subjects_organization(staff, suspect, clock, kind):
    subject = {"organization": suspect.org_id, "client": suspect.client_id,
               "person": suspect.person_id}[kind]
    flagged = staff("olga", "POST", "/abuse-reports",
                    flag_body(suspect, clock, subject_kind=kind, subject_id=subject,
                              observed_from=..., observed_until=...), 201)
    assert (flagged["subject_kind"], flagged["subject_id"], flagged["organization_id"]) == (
        kind, subject, suspect.org_id)
    assert (flagged["observed_from"], flagged["observed_until"]) == (None, None)
    approved = staff("bob", "POST", f"/abuse-reports/{flagged['id']}/approve",
                     {"reason": "agreed"})
    report = jwt.decode(approved["signed"], options={"verify_signature": False})["report"]
    assert report["subject"] == {"kind": kind, "id": subject, "organization": {
        "id": suspect.org_id, "name": "Shady Labs", "country": "FR"}}
    assert report["activity"]["observed_from"] is None
    assert report["activity"]["observed_until"] is None
    assert report["flagged"]["by"] == "admin:olga"


@pytest.mark.settings(abuse_report_url="")
def test_with_no_recipient_the_report_is_signed_and_kept(app, db, staff, suspect, clock):
    flagged = staff("alice", "POST", "/abuse-reports", flag_body(suspect, clock), 201)
    approved = staff("bob", "POST", f"/abuse-reports/{flagged['id']}/approve",
                     {"reason": "agreed"})
    assert approved["state"] == "approved" and approved["signed"]
    assert notices_of(db) == []
    assert actions(db)[-1].details == {"recipient": False, "notice": None}


# -- refusals: nothing written -----------------------------------------------------------------


def test_the_admin_who_flagged_cannot_approve(app, db, staff, suspect, clock, recipient):
    flagged = staff("alice", "POST", "/abuse-reports", flag_body(suspect, clock), 201)
    before = written(db)
    staff.refused("alice", "POST", f"/abuse-reports/{flagged['id']}/approve",
                  {"reason": "I am sure"}, 403, "two_person_rule")
    staff.refused("olga", "POST", f"/abuse-reports/{flagged['id']}/approve",
                  {"reason": "looks bad"}, 403, "forbidden_role")
    staff.refused("vera", "POST", f"/abuse-reports/{flagged['id']}/approve",
                  {"reason": "looks bad"}, 403, "forbidden_role")
    staff.refused("bob", "POST", f"/abuse-reports/{flagged['id']}/approve", {}, 400,
                  "invalid_input")
    staff.refused("bob", "POST", "/abuse-reports/abr_missing/approve", {"reason": "x"}, 404,
                  "not_found")
    assert written(db) == before
    assert staff("vera", "GET", f"/abuse-reports/{flagged['id']}") == flagged
    settle(app.extensions["entitlements"])
    assert recipient.received == []


def test_a_decided_report_is_decided_once(db, staff, suspect, clock):
    approved = staff("alice", "POST", "/abuse-reports", flag_body(suspect, clock), 201)
    staff("bob", "POST", f"/abuse-reports/{approved['id']}/approve", {"reason": "agreed"})
    rejected = staff("alice", "POST", "/abuse-reports", flag_body(suspect, clock), 201)
    assert staff("bob", "POST", f"/abuse-reports/{rejected['id']}/reject",
                 {"reason": "a sanctioned penetration test"})["state"] == "rejected"
    withdrawn = staff("olga", "POST", "/abuse-reports", flag_body(suspect, clock), 201)
    shown = staff("olga", "POST", f"/abuse-reports/{withdrawn['id']}/reject",
                  {"reason": "flagged the wrong client"})
    assert (shown["state"], shown["decided_by"], shown["signed"]) == (
        "withdrawn", "admin:olga", None)
    before = written(db)
    for report in (approved, rejected, withdrawn):
        for verb in ("approve", "reject"):
            staff.refused("bob", "POST", f"/abuse-reports/{report['id']}/{verb}",
                          {"reason": "again"}, 409, "not_pending")
    assert written(db) == before
    assert [e.action for e in actions(db) if e.action != "abuse.flagged"] == [
        "abuse.approved", "abuse.reported", "abuse.rejected", "abuse.withdrawn"]
    assert len(notices_of(db)) == 1


EVIDENCE = [{"description": "logs"}]


@pytest.mark.parametrize(("changes", "status", "code"), [
    pytest.param({"subject_id": "cli_unknown"}, 404, "not_found", id="unknown-client"),
    pytest.param({"subject_kind": "organization", "subject_id": "org_unknown"}, 404,
                 "not_found", id="unknown-organization"),
    pytest.param({"subject_kind": "gateway"}, 400, "invalid_input", id="unknown-subject-kind"),
    pytest.param({"evidence": []}, 400, "invalid_input", id="no-evidence"),
    pytest.param({"evidence": ...}, 400, "invalid_input", id="evidence-missing"),
    pytest.param({"evidence": EVIDENCE * 21}, 400, "invalid_input", id="too-much-evidence"),
    pytest.param({"evidence": [{"reference": "SIEM-1"}]}, 400, "invalid_input",
                 id="evidence-without-description"),
    pytest.param({"evidence": [{"description": "logs", "sha256": "AB" * 32}]}, 400,
                 "invalid_input", id="evidence-hash-not-lowercase-hex"),
    pytest.param({"evidence": [{"description": "logs", "seen_by": "me"}]}, 400,
                 "invalid_input", id="evidence-unknown-field"),
    pytest.param({"evidence": "logs"}, 400, "invalid_input", id="evidence-not-a-list"),
    pytest.param({"category": "spam"}, 400, "invalid_input", id="unknown-category"),
    pytest.param({"description": ""}, 400, "invalid_input", id="empty-description"),
    pytest.param({"observed_from": "2026-02-02T00:00:00+00:00",
                  "observed_until": "2026-02-01T00:00:00+00:00"}, 400, "invalid_input",
                 id="observed-until-before-from"),
    pytest.param({"observed_from": "2026-02-01T00:00:00"}, 400, "invalid_input",
                 id="observed-from-naive"),
    pytest.param({"severity": "high"}, 400, "invalid_input", id="unknown-field"),
])
def test_a_refused_flag_writes_nothing(db, staff, suspect, clock, changes, status, code):
    before = written(db)
    staff.refused("alice", "POST", "/abuse-reports", flag_body(suspect, clock, **changes),
                  status, code)
    assert written(db) == before


def test_who_may_flag(db, staff, suspect, clock):
    before = written(db)
    staff.refused("vera", "POST", "/abuse-reports", flag_body(suspect, clock), 403,
                  "forbidden_role")
    assert written(db) == before
    assert staff("olga", "POST", "/abuse-reports", flag_body(suspect, clock), 201)


def test_the_service_refuses_what_the_schema_would(db, clock, suspect):
    """The domain's own checks, for callers that skip the API's schema (the CLI)."""
    actor = Actor("cli:root", clock.now())
    flag = {"subject_kind": "client", "subject_id": suspect.client_id, "category": "fraud",
            "description": "d", "evidence": EVIDENCE}
    with db.sessions() as session:
        for changes, message in (
                ({"evidence": []}, "give 1 to 20 pieces of evidence"),
                ({"category": "spam"}, "category must be one of"),
                ({"observed_from": clock.now(), "observed_until": clock.now()
                  - timedelta(seconds=1)}, "observed_until is before observed_from"),
                ({"subject_kind": "gateway"}, "subject_kind must be one of")):
            with pytest.raises(InvalidInput, match=message):
                abuse.flag(session, actor, **{**flag, **changes})
        assert session.scalar(select(func.count()).select_from(AbuseReport)) == 0


# -- the CLI -----------------------------------------------------------------------------------


@pytest.fixture
def cli(request: pytest.FixtureRequest, db_url: str, keys_dir: Path, databases) -> Run:
    """The ``entitlements`` command on the test database and the app's keys."""
    return runner_for(db_url, keys_dir, overrides(request))


def test_the_cli_flags_approves_and_exports(app, cli, client, db, clock, suspect, recipient):
    piece = json.dumps({"description": "gateway logs", "reference": "SIEM-9", "sha256": SHA})
    args = ("abuse", "flag", "client", suspect.client_id, "--category", "credential_sharing",
            "--description", "one key used from many organizations",
            "--evidence", "seen by our fraud team", "--evidence", piece,
            "--from", "2026-03-01", "--until", "2026-03-02T12:00:00+00:00")
    flagged = as_json(cli(*args, "--json"))
    assert (flagged["state"], flagged["flagged_by"], flagged["organization_id"]) == (
        "pending", ACTOR, suspect.org_id)
    assert flagged["evidence"] == [
        {"description": "seen by our fraud team", "reference": None, "sha256": None},
        {"description": "gateway logs", "reference": "SIEM-9", "sha256": SHA}]
    assert (flagged["observed_from"], flagged["observed_until"]) == (
        "2026-03-01T00:00:00+00:00", "2026-03-02T12:00:00+00:00")
    human = ok(cli(*args))
    other = human.split()[2].rstrip(";")
    assert human == (f"flagged as {other}; a second admin approves it: entitlements --actor "
                     f"<another admin> abuse approve {other} --reason ...\n")

    # Refused: evidence that is not valid, the flagger approving, exporting a pending one.
    before = written(db)
    assert "--evidence" in failed(cli(*args[:-4], "--evidence", '{"description": "x", '
                                                                 '"sha256": "nope"}'))
    assert "two-person rule" in failed(cli("abuse", "approve", flagged["id"], "--reason", "x"))
    assert "only an approved one is signed" in failed(cli("abuse", "export", flagged["id"]))
    assert written(db) == before

    approved = as_json(cli("--actor", "admin:bob", "abuse", "approve", flagged["id"],
                           "--reason", "confirmed", "--json"))
    assert (approved["state"], approved["decided_by"]) == ("approved", "admin:bob")
    assert ok(cli("--actor", "admin:bob", "abuse", "approve", other, "--reason", "yes")) == (
        f"report {other} approved and signed; queued for {RECIPIENT}\n")
    exported = ok(cli("abuse", "export", flagged["id"])).strip()
    assert exported == approved["signed"]
    report = checked(exported, client.get("/jwks.json").get_json(), ABUSE_REPORT_TYP)["report"]
    assert (report["report_id"], report["flagged"]["by"], report["approved"]["by"]) == (
        flagged["id"], ACTOR, "admin:bob")
    assert report["evidence"] == flagged["evidence"]
    assert report["activity"]["observed_from"] == "2026-03-01T00:00:00+00:00"

    listed = as_json(cli("abuse", "list", "--state", "approved", "--json"))
    assert sorted(r["id"] for r in listed) == sorted([flagged["id"], other])
    assert as_json(cli("abuse", "list", "--state", "pending", "--json")) == []

    # The CLI queues the notices (due at its system clock's now); the service's sender
    # delivers them.
    clock.set(datetime.now(UTC) + timedelta(seconds=1))
    deliveries = app.extensions["entitlements"].notices.deliver_due()
    assert [d.delivered for d in deliveries] == [True, True]
    assert sorted(r["body"]["payload"]["report"] for r in recipient.received) == sorted(
        [flagged["id"], other])
    [sent] = [r["body"] for r in recipient.received
              if r["body"]["payload"]["report"] == flagged["id"]]
    assert sent["payload"]["jws"] == exported


def test_the_cli_rejects_and_withdraws(cli, db, suspect):
    args = ("abuse", "flag", "organization", suspect.org_id, "--category", "fraud",
            "--description", "invoices forged", "--evidence", "bank statement", "--json")
    first, second = as_json(cli(*args)), as_json(cli(*args))
    assert ok(cli("--actor", "admin:bob", "abuse", "reject", first["id"], "--reason",
                  "not fraud")) == f"report {first['id']} rejected\n"
    assert as_json(cli("abuse", "reject", second["id"], "--reason", "mine, wrong",
                       "--json"))["state"] == "withdrawn"
    assert "already rejected" in failed(cli("--actor", "admin:bob", "abuse", "approve",
                                            first["id"], "--reason", "x"))
    assert notices_of(db) == []
