"""Signed reports of the audit log: exported through the admin API (a job) or the CLI, read
back with their signed manifest, and checked offline against the service's JWKS
(``reports.verify.verify_report``, ``entitlements report verify``)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from entitlements.audit import service as audit
from entitlements.audit.models import AuditEvent, AuditStream
from entitlements.base.actor import Actor
from entitlements.base.clock import FrozenClock
from entitlements.base.db import Database
from entitlements.base.progress import Untracked
from entitlements.jobs.models import Job
from entitlements.reports import export
from entitlements.reports import service as reports
from entitlements.reports.models import ReportExport
from entitlements.reports.verify import verify_report
from entitlements.signing.documents import CHECKPOINT_TYP, MANIFEST_TYP, sign_document
from entitlements.signing.keystore import public_jwk
from tests.support.cli import Run, as_json, ok, runner_for
from tests.support.helpers import audit_events, basic
from tests.support.markers import overrides
from tests.support.tampering import committed_tampering

FORMAT = "entitlements-report/1"
#: Which section each action of the history lands in (export.py's docstring).
SECTIONS = {"grant.issued": "grants", "grant.refused": "refusals", "admin.refused": "refusals",
            "tokens.revoked": "revocations", "organization.applied": "admin_changes",
            "audit.stream_opened": "other"}


@pytest.fixture
def settings(settings, tmp_path: Path):
    """The app's settings, with reports written under this test's directory."""
    return dataclasses.replace(settings, reports_dir=str(tmp_path / "reports"))


#: The test's time runs this far behind the system clock, so that what the service signs is
#: never in the future of an offline check made now (see
#: test_a_manifest_signed_ahead_of_the_checkers_clock), and the CLI's own events (it keeps the
#: system clock) fall after every interval the tests export.
BEHIND = timedelta(hours=1)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime.now(UTC).replace(microsecond=0) - BEHIND)


def iso(moment: datetime) -> str:
    return moment.isoformat()


@dataclass
class History:
    starts: datetime
    ends: datetime
    inside_org: str
    before_org: str
    after_org: str
    jtis: list[str]
    policy_version: int


@pytest.fixture
def history(api, admin, client, clock, partner) -> History:
    """An organization made before the interval, then in [starts, ends): an admin change,
    an admin's refused request, two tokens issued to a partner, a refused token request and
    a bulk revocation; then an organization made at ``ends`` (excluded)."""
    before_org = admin.org("Before Labs")
    clock.advance(60)
    starts = clock.now()
    inside_org = api("POST", "/organizations", {"name": "Inside Labs", "country": "US"}, 201)["id"]
    clock.advance(1)
    api.problem("POST", "/organizations", {"name": ""}, 400, "invalid_input")
    clock.advance(1)
    jtis = [api.token(partner)["jti"] for _ in range(2)]
    policy_version = api.active()  # granting a tier (as admin.org does) makes a new one
    clock.advance(1)
    refused = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                          headers=basic(partner.client_id, "not-the-secret"))
    assert refused.status_code == 401
    clock.advance(1)
    assert api("POST", "/tokens/revoke", {"organization_id": partner.org_id,
                                           "reason": "leaked credentials"}) == {"revoked": 2}
    clock.advance(60)
    ends = clock.now()
    after_org = admin.org("After Labs")
    clock.advance(60)
    return History(starts, ends, inside_org, before_org, after_org, jtis, policy_version)


#: What the history's interval holds, per action.
COUNTS = {"admin.refused": 1, "audit.stream_opened": 2, "grant.issued": 2, "grant.refused": 1,
          "organization.applied": 1, "tokens.revoked": 1}


def lines_of(data: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in data.splitlines()]


def decode_manifest(jws: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The manifest's claims, checked against the JWKS key its kid names."""
    header = jwt.get_unverified_header(jws)
    assert (header["typ"], header["alg"]) == (MANIFEST_TYP, "ES256")
    [key] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    return jwt.decode(jws, jwt.PyJWK(key).key, algorithms=[key["alg"]],
                      options={"require": ["iss", "iat"]})


def interval_events(db: Database, starts: datetime, ends: datetime) -> list[AuditEvent]:
    with db.sessions() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.at >= starts,
                                                        AuditEvent.at < ends)).all()
        session.expunge_all()
    return list(rows)


def run_job(api, app, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """POST /admin/reports, then wait for its job: (the job, the report row)."""
    response = api.raw("POST", "/reports", json=body)
    assert response.status_code == 202, response.get_json()
    queued = response.get_json()
    assert response.headers["Location"] == f"/admin/jobs/{queued['id']}"
    assert (queued["kind"], queued["requested_by"]) == ("report_export", "admin:alice")
    report_id = queued["params"]["report"]
    app.extensions["entitlements"].jobs.wait(queued["id"], timeout=30)
    job = api("GET", f"/jobs/{queued['id']}")
    assert (job["state"], job["error"]) == ("done", None), job
    return job, api("GET", f"/reports/{report_id}")


def download(api, report_id: str) -> tuple[bytes, str]:
    events = api.raw("GET", f"/reports/{report_id}/events")
    data = events.get_data()
    events.close()  # the file it streams
    assert events.status_code == 200, events.get_json()
    assert events.mimetype == "application/jsonl"
    assert f"filename={report_id}.jsonl" in events.headers["Content-Disposition"]
    manifest = api.raw("GET", f"/reports/{report_id}/manifest")
    assert (manifest.status_code, manifest.mimetype) == (200, "application/jwt")
    return data, manifest.get_data(as_text=True)


# -- the export, through the API ---------------------------------------------------------------


def test_an_interval_exported_through_the_api(api, app, client, db, settings, history,
                                              tmp_path):
    job, row = run_job(api, app, {"from": iso(history.starts), "to": iso(history.ends)})
    data, manifest = download(api, row["id"])
    lines = lines_of(data)
    events = sum(COUNTS.values())

    assert (job["done"], job["total"]) == (events, events)
    assert job["result"] == {"report": row["id"], "events": events,
                             "sha256": hashlib.sha256(data).hexdigest()}
    assert (row["events"], row["sha256"], row["manifest"]) == (
        events, hashlib.sha256(data).hexdigest(), manifest)
    assert (row["requested_by"], row["job_id"], row["file_name"]) == (
        "admin:alice", job["id"], f"{row['id']}.jsonl")
    assert api("GET", "/reports") == {"items": [row], "next_cursor": None}

    jwks = client.get("/jwks.json").get_json()
    claims = decode_manifest(manifest, jwks)
    assert claims["iss"] == settings.issuer
    assert (claims["format"], claims["report"], claims["events"]) == (FORMAT, row["id"], events)
    assert (datetime.fromisoformat(claims["from"]), datetime.fromisoformat(claims["to"])) == (
        history.starts, history.ends)

    # The counts and sections are the file's, and each line is where the docstring says.
    assert len(lines) == events
    assert claims["counts"] == dict(Counter(e["action"] for e in lines)) == COUNTS
    assert all(e["section"] == SECTIONS[e["action"]] for e in lines), lines
    assert claims["sections"] == dict(Counter(e["section"] for e in lines)) == {
        "admin_changes": 1, "grants": 2, "other": 2, "refusals": 2, "revocations": 1}
    assert claims["file"] == {"name": f"{row['id']}.jsonl", "bytes": len(data),
                              "sha256": hashlib.sha256(data).hexdigest()}

    # The grants say why: the policy version and the organization's trust.
    grants = [e for e in lines if e["action"] == "grant.issued"]
    assert sorted(e["details"]["jti"] for e in grants) == sorted(history.jtis)
    assert {(e["details"]["policy_version"], e["details"]["trust_level"]) for e in grants} == {
        (history.policy_version, "verified")}
    [revoked] = [e for e in lines if e["action"] == "tokens.revoked"]
    assert (revoked["reason"], sorted(revoked["details"]["jtis"])) == (
        "leaked credentials", sorted(history.jtis))
    [refusal] = [e for e in lines if e["action"] == "grant.refused"]
    assert refusal["outcome"] == "failure" and refusal["reason"].startswith("invalid_client")

    # Exactly the interval's events, as the audit log holds them; nothing from outside it.
    stored = interval_events(db, history.starts, history.ends)
    assert sorted((e["stream"], e["seq"], e["hash"]) for e in lines) == sorted(
        (e.stream, e.seq, e.hash) for e in stored)
    assert all(audit.hash_fields(e) == e["hash"] for e in lines)
    assert all(history.starts <= datetime.fromisoformat(e["at"]) < history.ends for e in lines)
    targets = {e["target"] for e in lines}
    assert history.inside_org in targets
    assert not targets & {history.before_org, history.after_org}
    assert lines == sorted(lines, key=lambda e: (e["at"], e["stream"], e["seq"]))

    # Each stream's first and last event in the file; every stream's tip at the export.
    for stream, summary in claims["streams"].items():
        seqs = [e for e in lines if e["stream"] == stream]
        assert summary == {"first_seq": seqs[0]["seq"], "last_seq": seqs[-1]["seq"],
                           "last_hash": seqs[-1]["hash"], "events": len(seqs)}
    with db.sessions() as session:
        streams = {s.id: s for s in session.scalars(select(AuditStream))}
        [requested] = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "report.requested")).all()
        [exported] = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "report.exported")).all()
    assert set(claims["streams"]) == set(streams) and len(streams) == 3
    assert set(claims["chain_tips"]) == set(streams)
    assert {s: (t["seq"], t["hash"]) for s, t in claims["chain_tips"].items()
            if s != audit.MAIN_STREAM} == {
        s.id: (s.seq, s.hash) for s in streams.values() if s.id != audit.MAIN_STREAM}
    # main's tip was the request's event; the export's own event came after it.
    assert claims["chain_tips"][audit.MAIN_STREAM] == {"seq": requested.seq,
                                                       "hash": requested.hash}
    assert (requested.actor, requested.target) == ("admin:alice", row["id"])
    assert (exported.seq, exported.details) == (requested.seq + 1, {
        "events": events, "sha256": row["sha256"]})

    # Checked offline against the published JWKS.
    path = tmp_path / "downloaded.jsonl"
    path.write_bytes(data)
    verified = verify_report(path, manifest, jwks)
    assert (verified.ok, verified.problems, verified.events) == (True, [], events)
    assert verified.manifest == claims


def test_a_report_of_an_interval_without_events(api, app, client, clock, tmp_path):
    starts = clock.now() - timedelta(days=30)
    job, row = run_job(api, app, {"from": iso(starts), "to": iso(starts + timedelta(days=1))})
    data, manifest = download(api, row["id"])
    assert data == b""
    assert (job["done"], job["total"], row["events"]) == (0, 0, 0)
    jwks = client.get("/jwks.json").get_json()
    claims = decode_manifest(manifest, jwks)
    assert (claims["events"], claims["counts"], claims["sections"], claims["streams"]) == (
        0, {}, {}, {})
    assert claims["file"]["bytes"] == 0
    assert claims["file"]["sha256"] == hashlib.sha256(b"").hexdigest()
    assert audit.MAIN_STREAM in claims["chain_tips"]
    path = tmp_path / "empty.jsonl"
    path.write_bytes(data)
    verified = verify_report(path, manifest, jwks)
    assert (verified.ok, verified.problems, verified.events) == (True, [], 0)


def test_a_report_is_not_served_before_it_is_written(api, db, clock):
    """The row exists from the request on; its files only once its job wrote them."""
    with db.transaction() as session:
        row = reports.request(session, Actor("admin:alice", clock.now()),
                              clock.now() - timedelta(hours=1), clock.now())
    for part in ("events", "manifest"):
        problem = api.problem("GET", f"/reports/{row.id}/{part}", None, 409,
                              "report_not_ready")
        assert row.job_id in problem["detail"]
    shown = api("GET", f"/reports/{row.id}")
    assert (shown["manifest"], shown["events"], shown["sha256"]) == (None, None, None)
    api.problem("GET", "/reports/rpt_missing", None, 404, "not_found")


# -- bad requests ------------------------------------------------------------------------------


def written(db: Database) -> tuple[int, int, int]:
    """Reports, jobs and audit events of changes."""
    with db.sessions() as session:
        counts = (session.scalar(select(func.count()).select_from(ReportExport)),
                  session.scalar(select(func.count()).select_from(Job)))
    return (*counts, audit_events(db))


START = "2026-01-01T00:00:00+00:00"


@pytest.mark.parametrize(("body", "code"), [
    pytest.param({"from": START, "to": START}, "bad_interval", id="empty-interval"),
    pytest.param({"from": START, "to": "2025-12-31T23:59:59+00:00"}, "bad_interval",
                 id="ends-before-it-starts"),
    pytest.param({"from": START, "to": "2027-01-02T00:00:01+00:00"}, "bad_interval",
                 id="over-366-days"),
    pytest.param({"from": "2026-01-01T02:00:00+02:00", "to": "2027-01-02T00:00:01Z"},
                 "bad_interval", id="over-366-days-across-offsets"),
    pytest.param({"from": 1767225600, "to": START}, "invalid_input", id="number"),
    pytest.param({"from": "2026-01-01T00:00:00", "to": "2026-01-02T00:00:00"},
                 "invalid_input", id="naive-times"),
    pytest.param({"from": "yesterday", "to": START}, "invalid_input", id="not-a-time"),
    pytest.param({"from": None, "to": START}, "invalid_input", id="null"),
    pytest.param({"to": START}, "invalid_input", id="missing-from"),
    pytest.param({"from": START, "to": "2026-02-01T00:00:00Z", "stream": "main"},
                 "invalid_input", id="unknown-field"),
    pytest.param([START, "2026-02-01T00:00:00Z"], "malformed_json", id="a-list"),
    pytest.param({"from": "2098-12-01T00:00:00Z", "to": "2099-01-01T00:00:00Z"},
                 "interval_not_over",
                 id="not-over-yet"),
])
def test_a_bad_request_writes_nothing(api, db, settings, body, code):
    before = written(db)
    api.problem("POST", "/reports", body, 400, code)
    assert written(db) == before
    assert not Path(settings.reports_dir).exists()


def test_a_report_body_must_be_json(api, db, settings):
    before = written(db)
    response = api.raw("POST", "/reports", data=f"from={START}",
                       content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert written(db) == before
    assert not Path(settings.reports_dir).exists()


def test_the_longest_interval_is_366_days(db, clock):
    """At the limit is accepted (the request only: its job is not run here)."""
    starts = clock.now() - timedelta(days=400)
    with db.sessions() as session:  # closed without a commit: rolled back
        row = reports.request(session, Actor("admin:alice", clock.now()), starts,
                              starts + reports.MAX_INTERVAL)
        assert (row.ends_at - row.starts_at).days == 366


# -- verifying a report offline ---------------------------------------------------------------


@dataclass
class Written:
    events: Path
    manifest: str
    jwks: dict[str, Any]
    claims: dict[str, Any]

    def lines(self) -> list[dict[str, Any]]:
        return lines_of(self.events.read_bytes())


def write_report(app, db: Database, clock, starts: datetime, ends: datetime, where: Path
                 ) -> Written:
    """The history's report, written by the service's writer (what the job runs, without the
    job) and copied to ``where``."""
    found = app.extensions["entitlements"]
    with db.transaction() as session:
        report_id = reports.request(session, Actor("admin:alice", clock.now()), starts,
                                    ends).id
    found.report_writer.write(report_id, Untracked())
    events, manifest = export.paths(found.report_writer.directory, report_id)
    where.mkdir(parents=True, exist_ok=True)
    copy = where / events.name
    copy.write_bytes(events.read_bytes())
    jws = manifest.read_text()
    jwks = app.test_client().get("/jwks.json").get_json()
    # Read, not checked: each test checks it with verify_report.
    return Written(copy, jws, jwks, jwt.decode(jws, options={"verify_signature": False}))


@pytest.fixture
def report(app, db, clock, history, tmp_path) -> Written:
    return write_report(app, db, clock, history.starts, history.ends, tmp_path / "copy")


def test_a_report_whose_manifest_file_is_gone(api, app, report):
    report_id = report.claims["report"]
    _, manifest = export.paths(app.extensions["entitlements"].report_writer.directory,
                               report_id)
    manifest.unlink()
    for part in ("events", "manifest"):
        api.problem("GET", f"/reports/{report_id}/{part}", None, 404, "report_file_missing")


def test_a_report_whose_file_is_gone(api, app, report):
    """Written by another instance, or removed: neither part is served."""
    report_id = report.claims["report"]
    events, _ = export.paths(app.extensions["entitlements"].report_writer.directory, report_id)
    events.unlink()
    for part in ("events", "manifest"):
        api.problem("GET", f"/reports/{report_id}/{part}", None, 404, "report_file_missing")
    assert api("GET", f"/reports/{report_id}")["sha256"] == report.claims["file"]["sha256"]


def test_an_untouched_report_verifies(report):
    verified = verify_report(report.events, report.manifest, report.jwks)
    assert (verified.ok, verified.problems, verified.more) == (True, [], 0)
    assert verified.events == report.claims["events"] == sum(COUNTS.values())
    assert verified.manifest == report.claims


def test_a_report_verifies_with_its_key_after_the_key_leaves_the_jwks(api, app, clock,
                                                                      report):
    report_id, kid = report.claims["report"], jwt.get_unverified_header(report.manifest)["kid"]
    assert [k["kid"] for k in api("GET", f"/reports/{report_id}/jwks")["keys"]] == [kid]
    api("POST", "/keys/rotate", {"now": True}, 201)
    clock.advance(60)
    api("POST", f"/keys/{kid}/revoke", {"reason": "compromised"})
    published = app.test_client().get("/jwks.json").get_json()
    assert kid not in {k["kid"] for k in published["keys"]}
    assert not verify_report(report.events, report.manifest, published).ok
    [its_key] = api("GET", f"/reports/{report_id}/jwks")["keys"]
    assert its_key["revoked_at"] == int(clock.now().timestamp())
    assert verify_report(report.events, report.manifest, {"keys": [its_key]}).ok
    # Whoever stole the key signs a manifest after the revocation: not believed.
    stolen = app.extensions["entitlements"].key_store.load(kid)
    forged = jwt.encode({**report.claims, "iat": its_key["revoked_at"] + 5}, stolen,
                        algorithm=jwt.get_unverified_header(report.manifest)["alg"],
                        headers={"kid": kid, "typ": MANIFEST_TYP})
    assert verify_report(report.events, forged, {"keys": [its_key]}).problems == [
        "the manifest was signed after its key was revoked"]
    api.problem("GET", "/reports/rpt_nope/jwks", None, 404, "not_found")


def dump(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


def edit_details(lines: list[dict[str, Any]]) -> bytes:
    [grant] = [e for e in lines if e["action"] == "grant.issued"][:1]
    grant["details"]["tiers"] = ["restricted"]
    return dump(lines)


def delete_line(lines: list[dict[str, Any]]) -> bytes:
    return dump([e for e in lines if e["action"] != "tokens.revoked"])


def swap_lines(lines: list[dict[str, Any]]) -> bytes:
    lines[0], lines[1] = lines[1], lines[0]
    return dump(lines)


def duplicate_line(lines: list[dict[str, Any]]) -> bytes:
    return dump([*lines, lines[-1]])


def drop_last_newline(lines: list[dict[str, Any]]) -> bytes:
    return dump(lines)[:-1]


def reformat(lines: list[dict[str, Any]]) -> bytes:
    """The same events, written with spaces (json.dumps): the same content, other bytes."""
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


@pytest.mark.parametrize("tamper", [edit_details, delete_line, swap_lines, duplicate_line,
                                    drop_last_newline, reformat])
def test_a_changed_file_is_not_the_one_the_manifest_signed(report, tamper):
    """Any change to the file shows in its size or SHA-256; the lines are then not read on
    (the one problem says what is wrong, and the counts are not checked against a file the
    manifest does not describe)."""
    changed = tamper(report.lines())
    assert changed != report.events.read_bytes()
    report.events.write_bytes(changed)
    verified = verify_report(report.events, report.manifest, report.jwks)
    assert not verified.ok
    assert verified.problems == [
        f"the file is not the one the manifest signed (size {len(changed)}, SHA-256 "
        f"{hashlib.sha256(changed).hexdigest()[:16]}...)"]
    assert (verified.events, verified.more) == (0, 0)


def other_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    return key, public_jwk(key, "ES256")["kid"]


def forge(claims: dict[str, Any], key: Any, kid: str, typ: str = MANIFEST_TYP) -> str:
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid, "typ": typ})


def test_a_manifest_signed_by_another_key(report):
    key, kid = other_key()
    forged = forge(report.claims, key, kid)
    verified = verify_report(report.events, forged, report.jwks)
    assert verified.problems == [f"the JWKS has no key {kid!r} that signed the manifest"]
    assert (verified.ok, verified.events, verified.manifest) == (False, 0, {})
    # The checker's JWKS holding only the other key: the service's manifest fails alike.
    theirs = {"keys": [{**public_jwk(key, "ES256"), "use": "sig"}]}
    assert verify_report(report.events, forged, theirs).ok
    service_kid = jwt.get_unverified_header(report.manifest)["kid"]
    assert verify_report(report.events, report.manifest, theirs).problems == [
        f"the JWKS has no key {service_kid!r} that signed the manifest"]


def test_a_manifest_signed_by_another_key_under_the_services_kid(report):
    key, _ = other_key()
    kid = jwt.get_unverified_header(report.manifest)["kid"]
    verified = verify_report(report.events, forge(report.claims, key, kid), report.jwks)
    assert verified.problems == [
        "the manifest's signature does not verify (Signature verification failed)"]


def test_a_manifest_whose_claims_were_edited(report):
    head, _, signature = report.manifest.split(".")
    claims = {**report.claims, "events": report.claims["events"] - 1}
    body = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    verified = verify_report(report.events, f"{head}.{body}.{signature}", report.jwks)
    assert verified.problems == [
        "the manifest's signature does not verify (Signature verification failed)"]


@pytest.mark.parametrize("typ", [CHECKPOINT_TYP, "JWT", None])
def test_a_manifest_of_another_type(app, clock, report, typ):
    """Signed by the service's own key, but not as a report's manifest (a checkpoint, a
    plain JWT): refused before its signature is even looked at."""
    info, private = app.extensions["entitlements"].keys.get().signer(clock.now())
    signed = jwt.encode(report.claims, private, algorithm=info.alg,
                        headers={"kid": info.kid, "typ": typ})
    assert jwt.get_unverified_header(signed).get("typ") == typ  # None: no typ at all
    verified = verify_report(report.events, signed, report.jwks)
    assert verified.problems == [
        f"the manifest's typ is {typ!r}, not entitlements-report-manifest+jwt"]


def test_a_manifest_that_is_no_jws(report):
    verified = verify_report(report.events, "not a manifest", report.jwks)
    assert verified.problems == ["the manifest is not a JWS"]


def test_a_manifest_of_an_unknown_format(app, clock, report):
    signed = sign_document(app.extensions["entitlements"].keys.get(), clock.now(),
                           issuer="http://127.0.0.1:8000", typ=MANIFEST_TYP,
                           claims={**report.claims, "format": "entitlements-report/2"})
    verified = verify_report(report.events, signed, report.jwks)
    assert verified.problems == ["unknown report format 'entitlements-report/2'"]


def test_a_manifest_signed_ahead_of_the_checkers_clock(app, db, clock, history, tmp_path):
    clock.set(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1))
    made = write_report(app, db, clock, history.starts, history.ends, tmp_path / "ahead")
    verified = verify_report(made.events, made.manifest, made.jwks)
    assert (verified.ok, verified.problems) == (True, [])


def test_another_reports_manifest(app, db, clock, history, report, tmp_path):
    """A genuine manifest, of another interval (without its first second): not this file's."""
    other = write_report(app, db, clock, history.starts + timedelta(seconds=1), history.ends,
                         tmp_path / "other")
    verified = verify_report(report.events, other.manifest, report.jwks)
    assert len(verified.problems) == 1
    assert verified.problems[0].startswith("the file is not the one the manifest signed")


def resign(app, clock, claims: dict[str, Any]) -> str:
    """``claims`` signed by the service's key: what the lines' own checks are for (the file
    matches the manifest; the events in it do not add up)."""
    return sign_document(app.extensions["entitlements"].keys.get(), clock.now(),
                         issuer=claims["iss"], typ=MANIFEST_TYP,
                         claims={k: v for k, v in claims.items() if k not in ("iss", "iat")})


def test_the_lines_are_checked_against_the_manifest_it_signs(app, clock, report):
    lines = report.lines()
    starts = datetime.fromisoformat(report.claims["from"])
    early = [n for n, e in enumerate(lines, 1) if datetime.fromisoformat(e["at"]) == starts]
    assert early, "the history has events at the interval's first instant"
    later = {**report.claims, "from": iso(starts + timedelta(seconds=1))}
    verified = verify_report(report.events, resign(app, clock, later), report.jwks)
    assert verified.problems == [
        f"line {n} ({lines[n - 1]['stream']} #{lines[n - 1]['seq']}): outside the report's "
        "interval" for n in early]

    fewer = {**report.claims, "counts": {**report.claims["counts"], "grant.issued": 1}}
    verified = verify_report(report.events, resign(app, clock, fewer), report.jwks)
    assert verified.problems == ["the events per action differ from the manifest's counts"]

    streams = {**report.claims["streams"]}
    streams[audit.MAIN_STREAM] = {**streams[audit.MAIN_STREAM], "events": 99}
    verified = verify_report(report.events, resign(app, clock, {**report.claims,
                                                                "streams": streams}),
                             report.jwks)
    assert verified.problems == [
        "the streams' first and last events differ from the manifest's"]


# -- a report of a tampered database: the export does not launder it ----------------------------


def test_a_report_of_an_altered_event_fails_at_its_line(app, db, clock, history, tmp_path):
    with db.sessions() as session:
        seq = session.scalar(select(AuditEvent.seq).where(AuditEvent.action == "tokens.revoked"))
    with committed_tampering(db) as connection:
        connection.execute(text("UPDATE audit_events SET reason = 'routine' "
                                "WHERE stream = 'main' AND seq = :seq"), {"seq": seq})
    written_ = write_report(app, db, clock, history.starts, history.ends, tmp_path / "r")
    lines = written_.lines()
    [number] = [n for n, e in enumerate(lines, 1) if e["action"] == "tokens.revoked"]
    assert lines[number - 1]["reason"] == "routine"
    verified = verify_report(written_.events, written_.manifest, written_.jwks)
    assert verified.problems == [
        f"line {number} (main #{seq}): the event's content does not match its hash"]


def test_a_report_of_a_rehashed_event_fails_at_the_next_line(app, db, clock, history,
                                                             tmp_path):
    """The altered event's own hash recomputed: the next event of its stream names the old
    one."""
    with db.sessions() as session:
        applied = session.scalar(select(AuditEvent.seq).where(
            AuditEvent.action == "organization.applied"))
    with committed_tampering(db) as connection, Session(bind=connection) as session:
        event = session.get(AuditEvent, (audit.MAIN_STREAM, applied))
        event.reason = "nothing happened"
        event.hash = audit.event_hash(event)
        session.flush()
    written_ = write_report(app, db, clock, history.starts, history.ends, tmp_path / "r")
    lines = written_.lines()
    [number] = [n for n, e in enumerate(lines, 1)
                if (e["stream"], e["seq"]) == (audit.MAIN_STREAM, applied + 1)]
    verified = verify_report(written_.events, written_.manifest, written_.jwks)
    assert verified.problems == [
        f"line {number} (main #{applied + 1}): does not link to event #{applied} of its stream"]


def test_a_report_read_in_small_batches_is_the_same(app, db, clock, history, tmp_path,
                                                    monkeypatch):
    """Events sharing a time are paged by (at, stream, seq): none lost or repeated."""
    whole = write_report(app, db, clock, history.starts, history.ends, tmp_path / "whole")
    monkeypatch.setattr(export, "BATCH", 2)
    paged = write_report(app, db, clock, history.starts, history.ends, tmp_path / "paged")
    assert paged.events.read_bytes() == whole.events.read_bytes()
    assert verify_report(paged.events, paged.manifest, paged.jwks).ok


# -- the CLI -----------------------------------------------------------------------------------


@pytest.fixture
def cli(request: pytest.FixtureRequest, db_url: str, keys_dir: Path, databases) -> Run:
    """The ``entitlements`` command on the test database and the app's keys."""
    return runner_for(db_url, keys_dir, overrides(request))


def stamp(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def test_the_cli_exports_and_verifies_a_report(cli, client, history, tmp_path):
    """The CLI keeps the system clock: its interval spans the test's frozen one."""
    jwks_path = tmp_path / "jwks.json"
    jwks_path.write_text(json.dumps(client.get("/jwks.json").get_json()))
    out = tmp_path / "out"
    exported = as_json(cli("report", "export", "--from", stamp(history.starts),
                           "--to", stamp(history.ends), "--out", str(out), "--json"))
    events, manifest = Path(exported["file"]), Path(exported["manifest"])
    assert (events.parent, manifest.name) == (out, events.name + ".manifest.jws")
    assert exported["events"] == sum(COUNTS.values())
    assert exported["sha256"] == hashlib.sha256(events.read_bytes()).hexdigest()

    human = ok(cli("report", "verify", str(events), "--jwks", str(jwks_path)))
    assert human.strip() == (
        f"report {exported['report']} verified: {exported['events']} events from "
        f"{history.starts.isoformat()} to {history.ends.isoformat()}, signature, hashes and "
        "chain links intact")
    checked = as_json(cli("report", "verify", str(events), "--jwks", str(jwks_path), "--json"))
    assert checked == {"ok": True, "events": exported["events"], "problems": [],
                       "more_problems": 0, "report": exported["report"],
                       "from": history.starts.isoformat(), "to": history.ends.isoformat()}
    listed = as_json(cli("report", "list", "--json"))
    assert [r["id"] for r in listed] == [exported["report"]]
    # Its job is recorded as done, with the same result (the console shows it so).
    with client.application.extensions["entitlements"].db.sessions() as session:
        row = session.get(Job, listed[0]["job_id"])
        assert (row.state, row.done, row.total) == ("done", exported["events"],
                                                    exported["events"])
        assert row.result["sha256"] == exported["sha256"]

    # The manifest kept elsewhere: --manifest names it.
    moved = tmp_path / "kept" / "manifest.jws"
    moved.parent.mkdir()
    manifest.rename(moved)
    assert as_json(cli("report", "verify", str(events), "--jwks", str(jwks_path),
                       "--manifest", str(moved), "--json"))["ok"] is True

    # One line edited: not verified, exit 1, and the problem said.
    lines = lines_of(events.read_bytes())
    lines[-1]["reason"] = "edited"
    events.write_bytes(dump(lines))
    args = ("report", "verify", str(events), "--jwks", str(jwks_path), "--manifest", str(moved))
    refused = cli(*args)
    assert refused.exit_code == 1, refused.output
    problem = (f"the file is not the one the manifest signed (size {events.stat().st_size}, "
               f"SHA-256 {hashlib.sha256(events.read_bytes()).hexdigest()[:16]}...)")
    assert refused.stdout == f"report NOT verified:\n  {problem}\n"
    refused = cli(*args, "--json")
    assert refused.exit_code == 1
    assert json.loads(refused.stdout) == {
        "ok": False, "events": 0, "problems": [problem], "more_problems": 0,
        "report": exported["report"], "from": history.starts.isoformat(),
        "to": history.ends.isoformat()}


def test_the_cli_refuses_a_report_without_its_manifest(cli, client, tmp_path):
    events = tmp_path / "lonely.jsonl"
    events.write_bytes(b"")
    jwks_path = tmp_path / "jwks.json"
    jwks_path.write_text(json.dumps(client.get("/jwks.json").get_json()))
    refused = cli("report", "verify", str(events), "--jwks", str(jwks_path))
    assert refused.exit_code == 1
    assert "no manifest at" in refused.stderr and refused.stdout == ""


@pytest.mark.parametrize(("change", "said"), [
    (lambda c: c.pop("file"), "the manifest is malformed: file:"),
    (lambda c: c.pop("from"), "the manifest is malformed: from:"),
    (lambda c: c.update({"from": "yesterday"}), "the manifest is malformed: from:"),
    (lambda c: c.update({"file": {**c["file"], "bytes": "12"}}),
     "the manifest is malformed: file:"),
    (lambda c: c.update({"counts": {"grant.issued": "two"}}),
     "the manifest is malformed: counts:"),
])
def test_a_signed_but_malformed_manifest_is_a_problem_not_a_crash(app, clock, report, change,
                                                                   said):
    claims = dict(report.claims)
    change(claims)
    verified = verify_report(report.events, resign(app, clock, claims), report.jwks)
    assert not verified.ok and verified.problems[0].startswith(said), verified.problems


NO_DETAILS = (b'{"stream": "main", "seq": 1, "at": "2026-01-01T00:00:00+00:00", "actor": "a",'
              b' "action": "b", "outcome": "c", "target": null, "reason": null,'
              b' "prev_hash": "d", "hash": "e"}\n')


@pytest.mark.parametrize("line", [b"not json\n", b"[1, 2]\n", b'{"stream": "main"}\n',
                                  NO_DETAILS,
                                  NO_DETAILS.replace(b'"reason": null,', b"")
                                  .replace(b"}\n", b', "details": {}}\n'),
                                  NO_DETAILS.replace(b"+00:00", b"")
                                  .replace(b"}\n", b', "details": {}}\n'),
                                  b'{"stream": "main", "seq": "1", "at": "x", "actor": "a",'
                                  b' "action": "b", "outcome": "c", "prev_hash": "d",'
                                  b' "hash": "e"}\n'])
def test_a_line_that_is_no_event_is_a_problem_not_a_crash(app, clock, report, tmp_path, line):
    events = tmp_path / "odd.jsonl"
    events.write_bytes(report.events.read_bytes() + line)
    data = events.read_bytes()
    claims = {**report.claims, "file": {**report.claims["file"], "bytes": len(data),
                                        "sha256": hashlib.sha256(data).hexdigest()}}
    verified = verify_report(events, resign(app, clock, claims), report.jwks)
    assert f"line {len(data.splitlines())}: not an event of this format" in verified.problems
