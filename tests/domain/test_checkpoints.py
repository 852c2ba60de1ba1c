"""Signed checkpoints of the audit chains' tips: one a period, kept in the database, copied
to a directory or an S3-compatible bucket outside it, and at the public
``/audit/checkpoints``; a wholesale rewrite of the database after one (every hash made anew,
so that the chains still verify) is found out."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from moto.server import ThreadedMotoServer
from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from entitlements.audit import service as audit
from entitlements.audit import targets
from entitlements.audit.models import AuditCheckpoint, AuditEvent, AuditStream
from entitlements.base.actor import Actor
from entitlements.base.clock import FrozenClock, epoch
from entitlements.base.db import Database
from entitlements.base.errors import ConfigError
from entitlements.base.settings import load_settings
from entitlements.reports import checkpoints
from entitlements.reports.anchors import BucketAnchor, DirectoryAnchor, name_of
from entitlements.signing.documents import (
    CHECKPOINT_TYP,
    MANIFEST_TYP,
    jwks_keys,
    sign_document,
    store_keys,
)
from entitlements.signing.keystore import public_jwk
from entitlements.ticker import Ticker
from tests.support.cli import Run, as_json, ok, runner_for
from tests.support.factories import admin_key
from tests.support.live import free_port
from tests.support.markers import overrides
from tests.support.tampering import committed_tampering, tampering

MAIN = audit.MAIN_STREAM
EVENTS = 5
#: main holds the app's key.created (#1), the refusal stream's announcement (#2), then EVENTS
#: admin events: its tip when the first checkpoint is made.
TIP = 2 + EVENTS


@pytest.fixture
def clock() -> FrozenClock:
    """Ten minutes into an hour (a period) of yesterday: what the service signs is never in the
    future of a check made now (see test_a_checkpoint_signed_ahead_of_the_checkers_clock),
    and the CLI's checkpoints (it keeps the system clock) fall in periods of their own."""
    yesterday = datetime.now(UTC) - timedelta(days=1)
    return FrozenClock(yesterday.replace(minute=10, second=0, microsecond=0))


@pytest.fixture
def settings(settings, tmp_path: Path):
    """The app's settings, with checkpoints also written to a directory of this test."""
    return dataclasses.replace(settings, checkpoint_dir=str(tmp_path / "kept"))


@pytest.fixture
def found(app):
    return app.extensions["entitlements"]


@pytest.fixture
def chains(found, db, clock) -> None:
    """A refusal (the refusals stream, announced in main), then EVENTS admin events in main."""
    assert found.refusals.record(actor="anonymous", action="grant.refused",
                                 reason="invalid_client", details={"i": 0})
    for i in range(EVENTS):
        with db.transaction() as session:
            audit.record(session, Actor("admin:test", clock.now(), role="owner"), "test.event",
                         target=targets.organization(f"target-{i}"), reason=f"reason {i}",
                         details={"i": i})
        clock.advance(1)
    with db.sessions() as session:
        assert session.get(AuditStream, MAIN).seq == TIP
        [announced] = session.scalars(select(AuditEvent).where(
            AuditEvent.action == audit.STREAM_OPENED)).all()
        assert (announced.stream, announced.seq) == (MAIN, 2)


def make(found, clock, *, anchored: bool = False) -> AuditCheckpoint | None:
    """This period's checkpoint; ``anchored``: copied to the settings' directory too."""
    row = checkpoints.make(found.db, found.keys.get(), issuer=found.settings.issuer,
                           now=clock.now(), interval=found.settings.checkpoint_interval)
    if anchored:
        assert set(checkpoints.anchor(found.db, found.anchors).values()) <= {
            "written", "present"}
    return row


def verify(session: Session, found, kept: list[str] | None = None
           ) -> checkpoints.CheckpointReport:
    """The checkpoints ``kept`` (default: the database's), checked with the key store's keys."""
    chosen = checkpoints.stored(session) if kept is None else kept
    return checkpoints.verify(session, chosen, store_keys(found.key_store))


def tips_now(db: Database) -> dict[str, dict[str, Any]]:
    with db.sessions() as session:
        return {s.id: {"seq": s.seq, "hash": s.hash} for s in session.scalars(select(AuditStream))}


def count(db: Database, model: Any, *where: Any) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


# -- making checkpoints ------------------------------------------------------------------------


def test_one_checkpoint_a_period_with_every_streams_tip(found, client, db, clock, chains,
                                                        tmp_path):
    interval = found.settings.checkpoint_interval
    directory = Path(found.settings.checkpoint_dir)
    tips = tips_now(db)
    assert set(tips) == {MAIN, *(s for s in tips if s.startswith("refusals-"))}
    assert len(tips) == 2

    row = make(found, clock, anchored=True)
    assert row.period == epoch(clock.now()) // interval
    assert (row.at, row.tips) == (clock.now(), tips)

    # The JWS: the token key's, of typ checkpoint, stating the same tips.
    jwks = client.get("/jwks.json").get_json()
    header = jwt.get_unverified_header(row.jws)
    assert header["typ"] == CHECKPOINT_TYP
    [key] = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    claims = jwt.decode(row.jws, jwt.PyJWK(key).key, algorithms=[key["alg"]])
    assert claims == {"iss": found.settings.issuer, "iat": epoch(clock.now()),
                      "period": row.period, "at": clock.now().isoformat(), "tips": tips}

    # Written outside the database, whole.
    assert sorted(p.name for p in directory.iterdir()) == [f"checkpoint-{row.period}.jws"]
    assert (directory / f"checkpoint-{row.period}.jws").read_text() == row.jws + "\n"

    # Recorded in main, after the tip it states.
    with db.sessions() as session:
        event = session.get(AuditEvent, (MAIN, TIP + 1))
    assert (event.action, event.actor, event.target, event.target_kind) == (
        "audit.checkpoint", "system", str(row.id), "checkpoint")
    assert event.details == {"period": row.period, "streams": 2}

    # A second call in the period makes none (nor a file, nor an event).
    clock.advance(60)
    assert make(found, clock, anchored=True) is None
    assert count(db, AuditCheckpoint) == 1
    assert count(db, AuditEvent, AuditEvent.action == "audit.checkpoint") == 1
    assert len(list(directory.iterdir())) == 1

    # The next period's states the tips since, the first checkpoint's event included.
    clock.advance(interval)
    later = make(found, clock, anchored=True)
    assert later.period == row.period + 1
    assert later.tips[MAIN]["seq"] == TIP + 1
    assert len(list(directory.iterdir())) == 2
    with db.sessions() as session:
        report = verify(session, found)
    assert (report.ok, report.checked, report.problems) == (True, 2, [])


def test_a_checkpoint_is_kept_in_the_database_then_copied(found, db, clock, chains,
                                                          settings):
    row = make(found, clock)
    assert row is not None
    assert not Path(settings.checkpoint_dir).exists()
    with db.sessions() as session:
        assert checkpoints.stored(session) == [row.jws]
        assert checkpoints.known(session, found.anchors) == [row.jws]
    assert checkpoints.anchor(db, found.anchors) == {settings.checkpoint_dir: "written"}
    assert checkpoints.anchor(db, found.anchors) == {settings.checkpoint_dir: "present"}
    assert [place.texts() for place in found.anchors] == [[row.jws]]
    with db.sessions() as session:
        assert checkpoints.known(session, found.anchors) == [row.jws], "the same, once"


def test_the_ticker_makes_the_periods_checkpoint(found, db, clock, chains, settings):
    ticker = Ticker(found)
    ticker.tick()
    ticker.tick()
    with db.sessions() as session:
        [first] = session.scalars(select(AuditCheckpoint)).all()
    assert first.period == epoch(clock.now()) // settings.checkpoint_interval
    clock.advance(settings.checkpoint_interval)
    ticker.tick()
    with db.sessions() as session:
        periods = session.scalars(select(AuditCheckpoint.period)
                                  .order_by(AuditCheckpoint.period)).all()
        assert verify(session, found).ok
    assert periods == [first.period, first.period + 1]
    kept = Path(settings.checkpoint_dir)
    assert sorted(p.name for p in kept.iterdir()) == [f"checkpoint-{p}.jws" for p in periods]


# -- rewriting the database after a checkpoint --------------------------------------------------


def rewrite_main(connection: Connection, after: int = 2) -> None:
    """Replace the reason of every main event after seq ``after``, and make every hash and
    link anew, in order, and the stream's tip: the chain is whole again."""
    with Session(bind=connection) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.stream == MAIN)
                                 .order_by(AuditEvent.seq)).all()
        prev = audit.GENESIS_HASH
        for event in events:
            if event.seq > after:
                event.reason = "nothing happened"
                event.prev_hash = prev
                event.hash = audit.event_hash(event)
                assert event.hash == audit.hash_fields(
                    {c.name: getattr(event, c.name) for c in AuditEvent.__table__.columns})
            prev = event.hash
        session.get(AuditStream, MAIN).hash = prev
        session.flush()


def truncate_main(connection: Connection, keep: int = 2) -> None:
    """Remove main's events after seq ``keep``, and move its tip back to the last one kept."""
    connection.execute(text("DELETE FROM audit_events WHERE stream = :s AND seq > :keep"),
                       {"s": MAIN, "keep": keep})
    last = connection.execute(text("SELECT hash FROM audit_events WHERE stream = :s "
                                   "AND seq = :keep"), {"s": MAIN, "keep": keep}).scalar_one()
    connection.execute(text("UPDATE audit_streams SET seq = :keep, hash = :h WHERE id = :s"),
                       {"s": MAIN, "keep": keep, "h": last})


def test_a_wholesale_rewrite_keeps_the_chain_whole_but_not_the_checkpoint(found, db, clock,
                                                                          chains):
    row = make(found, clock)
    with db.sessions() as session:
        assert verify(session, found) == checkpoints.CheckpointReport(checked=1, problems=[])
        intact = audit.verify_chain(session)
    with tampering(db) as connection:
        rewrite_main(connection)
        with Session(bind=connection) as session:
            chain = audit.verify_chain(session)
            report = verify(session, found)
            rewritten = session.get(AuditEvent, (MAIN, TIP))
    assert chain == intact == audit.ChainReport(True, TIP + 1 + 1)
    assert rewritten.reason == "nothing happened" and rewritten.hash != row.tips[MAIN]["hash"]
    assert (report.ok, report.checked) == (False, 1)
    assert report.problems == [
        f"checkpoint of {row.at.isoformat()}: event main #{TIP} was rewritten (its hash "
        "changed)"]
    with db.sessions() as session:
        assert verify(session, found).ok, "the tampering was rolled back"


def test_a_stream_truncated_below_the_checkpoints_tip_is_found_out(found, db, clock, chains):
    row = make(found, clock)
    with tampering(db) as connection:
        truncate_main(connection)
        with Session(bind=connection) as session:
            chain = audit.verify_chain(session)
            report = verify(session, found)
    assert chain == audit.ChainReport(True, 2 + 1)
    assert report.problems == [
        f"checkpoint of {row.at.isoformat()}: stream main ends at #2, before #{TIP}"]


def test_a_removed_stream_is_found_out(found, db, clock, chains):
    """Even a stream whose announcement went with it (the chains alone see nothing)."""
    row = make(found, clock)
    [stream] = [s for s in row.tips if s != MAIN]
    with tampering(db) as connection:
        connection.execute(text("DELETE FROM audit_events WHERE stream = :s"), {"s": stream})
        connection.execute(text("DELETE FROM audit_streams WHERE id = :s"), {"s": stream})
        truncate_main(connection, keep=1)  # the announcement (#2) too
        with Session(bind=connection) as session:
            chain = audit.verify_chain(session)
            report = verify(session, found)
    assert chain == audit.ChainReport(True, 1)
    assert sorted(report.problems) == sorted([
        f"checkpoint of {row.at.isoformat()}: stream main ends at #1, before #{TIP}",
        f"checkpoint of {row.at.isoformat()}: stream {stream} is gone"])


# -- forged checkpoints ------------------------------------------------------------------------


def other_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def b64(data: bytes) -> str:
    return jwt.utils.base64url_encode(data).decode()


def hs256_with_the_public_key(found, claims: dict[str, Any], kid: str) -> str:
    """The classic confusion: HS256, keyed with the (public) verification key's PEM."""
    pem = store_keys(found.key_store)(kid).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    signing_input = (b64(json.dumps({"alg": "HS256", "kid": kid, "typ": CHECKPOINT_TYP})
                         .encode()) + "." + b64(json.dumps(claims).encode()))
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def forgery(kind: str, found, clock, genuine: str) -> tuple[str, str]:
    """A checkpoint claiming other tips (the rewritten ones an attacker wants to vouch for),
    not signed by the service's key; and the problem it is reported with."""
    kid = jwt.get_unverified_header(genuine)["kid"]
    claims = jwt.decode(genuine, options={"verify_signature": False})
    claims["tips"][MAIN]["hash"] = "f" * 64
    headers = {"kid": kid, "typ": CHECKPOINT_TYP}
    if kind == "another-key-same-kid":
        return (jwt.encode(claims, other_key(), algorithm="ES256", headers=headers),
                "a checkpoint does not verify (InvalidSignatureError)")
    if kind == "another-key-own-kid":
        key = other_key()
        return (jwt.encode(claims, key, algorithm="ES256",
                           headers={**headers, "kid": public_jwk(key, "ES256")["kid"]}),
                "a checkpoint does not verify (LookupError)")
    if kind == "claims-edited":
        head, _, signature = genuine.split(".")
        return (f"{head}.{b64(json.dumps(claims).encode())}.{signature}",
                "a checkpoint does not verify (InvalidSignatureError)")
    if kind == "another-typ":
        return (sign_document(found.keys.get(), clock.now(), issuer=found.settings.issuer,
                              typ=MANIFEST_TYP, claims=claims),
                f"not a checkpoint (typ {MANIFEST_TYP!r})")
    if kind == "not-a-jws":
        return "checkpoint", "a checkpoint does not verify (DecodeError)"
    if kind == "kid-no-file-can-have":
        return (jwt.encode(claims, other_key(), algorithm="ES256",
                           headers={**headers, "kid": "k" * 300}),
                "a checkpoint does not verify (LookupError)")
    # For these two, which exception the fix names is its own choice: only the prefix is said.
    if kind == "alg-none":
        return (jwt.encode(claims, None, algorithm="none", headers=headers),
                "a checkpoint does not verify (")
    assert kind == "hs256-public-key"
    return hs256_with_the_public_key(found, claims, kid), "a checkpoint does not verify ("


@pytest.mark.parametrize("kind", [
    "another-key-same-kid", "another-key-own-kid", "claims-edited", "another-typ",
    "not-a-jws", "kid-no-file-can-have",
    "alg-none", "hs256-public-key",
])
def test_a_forged_checkpoint_does_not_verify(found, db, clock, chains, kind):
    row = make(found, clock)
    forged, problem = forgery(kind, found, clock, row.jws)
    with db.sessions() as session:
        report = verify(session, found, [forged, row.jws])
    [said] = report.problems
    assert report.checked == 1
    assert said.startswith(problem) if problem.endswith("(") else said == problem


def test_checkpoints_checked_against_a_jwks(found, client, db, clock, chains):
    """Whoever holds only the JWKS: the genuine verifies, another key's does not."""
    row = make(found, clock)
    key_for = jwks_keys(client.get("/jwks.json").get_json())
    forged, _ = forgery("another-key-own-kid", found, clock, row.jws)
    with db.sessions() as session:
        report = checkpoints.verify(session, [row.jws, forged], key_for)
    assert (report.checked, report.problems) == (
        1, ["a checkpoint does not verify (KeyError)"])
    assert checkpoints.read(row.jws, key_for)["tips"] == row.tips


def test_store_keys_refuses_a_kid_the_store_lacks(found, keys_dir, clock, chains):
    key_for = store_keys(found.key_store)
    kid = jwt.get_unverified_header(make(found, clock).jws)["kid"]
    assert key_for(kid).public_numbers() == found.key_store.load(kid).public_key().public_numbers()
    with pytest.raises(LookupError, match="the key store has no key 'unknown-kid'"):
        key_for("unknown-kid")
    with pytest.raises(LookupError, match="the key store has no key"):
        key_for("../keys/" + kid)
    # The service's key, saved under another name: the kid is not its thumbprint.
    impostor = keys_dir / "impostor.pem"
    impostor.write_bytes((keys_dir / f"{kid}.pem").read_bytes())
    os.chmod(impostor, 0o600)
    with pytest.raises(LookupError, match="is not the key of that kid"):
        key_for("impostor")


def test_a_checkpoint_signed_ahead_of_the_checkers_clock(found, db, clock, chains):
    clock.set(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1))
    make(found, clock)
    with db.sessions() as session:
        report = verify(session, found)
    assert (report.checked, report.problems) == (1, [])


# -- published, kept elsewhere, read back ------------------------------------------------------


def test_the_public_endpoint_lists_checkpoints_to_keep(found, client, db, clock, chains,
                                                       tmp_path):
    assert client.get("/audit/checkpoints").get_json() == {"checkpoints": []}
    first = make(found, clock)
    clock.advance(found.settings.checkpoint_interval)
    second = make(found, clock)
    response = client.get("/audit/checkpoints")  # no admin key: anyone may keep a copy
    assert response.status_code == 200
    assert response.cache_control.public and response.cache_control.max_age == 60
    listed = response.get_json()
    assert listed == {"checkpoints": [
        {"period": row.period, "at": row.at.isoformat(), "jws": row.jws}
        for row in (second, first)]}

    # Saved as the endpoint answered: read back, and checked with the published JWKS.
    saved = tmp_path / "checkpoints.json"
    saved.write_bytes(response.data)
    kept = checkpoints.read_files(saved)
    assert kept == [second.jws, first.jws]
    key_for = jwks_keys(client.get("/jwks.json").get_json())
    with db.sessions() as session:
        assert checkpoints.verify(session, kept, key_for) == checkpoints.CheckpointReport(
            checked=2, problems=[])

    # A directory of .jws files (the partial one and other files left out), or one file.
    directory = tmp_path / "dir"
    for row in (first, second):
        DirectoryAnchor(directory).put(name_of(row.period), row.jws)
    (directory / "checkpoint-0.jws.partial").write_text("half")
    (directory / "notes.txt").write_text("not a checkpoint")
    (directory / "empty.jws").write_text("\n")
    assert checkpoints.read_files(directory) == [first.jws, second.jws]
    assert checkpoints.read_files(directory / f"checkpoint-{first.period}.jws") == [first.jws]


# -- the admin API and the CLI -----------------------------------------------------------------


@pytest.fixture
def cli_with(request: pytest.FixtureRequest, db_url: str, keys_dir: Path, databases
             ) -> Callable[[dict[str, Any]], Run]:
    """The ``entitlements`` command on the test database and the app's keys, with the
    test's settings and those given."""
    return lambda given: runner_for(db_url, keys_dir, {**overrides(request), **given})


@pytest.fixture
def cli(cli_with) -> Run:
    return cli_with({})


def test_a_key_admin_makes_the_periods_checkpoint_through_the_api(found, client, db, clock,
                                                                  chains, settings):
    with db.transaction() as session:
        keys = {name: admin_key(session, clock.now(), name, (role,)).secret
                for name, role in (("kim", "key_admin"), ("vic", "viewer"))}

    def post(name: str):
        return client.post("/admin/audit/checkpoints",
                           headers={"Authorization": f"Bearer {keys[name]}"})
    assert post("vic").status_code == 403
    made = post("kim")
    assert made.status_code == 201
    period = epoch(clock.now()) // settings.checkpoint_interval
    assert made.get_json() == {"made": True, "period": period, "streams": 2,
                               "copies": {settings.checkpoint_dir: "written"}}
    again = post("kim")
    assert (again.status_code, again.get_json()) == (200, {
        "made": False, "period": None, "streams": None,
        "copies": {settings.checkpoint_dir: "present"}})
    with db.sessions() as session:
        assert verify(session, found).checked == 1


def checked_by_the_api(client, db, clock) -> dict[str, Any]:
    with db.transaction() as session:
        key = admin_key(session, clock.now(), "auditor", ("viewer",)).secret
    response = client.get("/admin/audit/verify?checkpoints=true",
                          headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_rewrite_found_by_the_cli_and_the_api(cli, found, client, db, clock, chains,
                                                settings, tmp_path):
    row = make(found, clock, anchored=True)
    events = TIP + 1 + 1
    assert ok(cli("audit", "verify", "--checkpoints")).splitlines() == [
        f"audit chain intact: {events} events",
        "1 signed checkpoint(s) checked: every tip they state is in place"]
    with committed_tampering(db) as connection:
        rewrite_main(connection)
    problem = (f"checkpoint of {row.at.isoformat()}: event main #{TIP} was rewritten (its "
               "hash changed)")

    # The chains alone see nothing; the checkpoints see the rewrite.
    assert ok(cli("audit", "verify")).strip() == f"audit chain intact: {events} events"
    result = cli("audit", "verify", "--checkpoints")
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        f"audit chain intact: {events} events",
        "1 signed checkpoint(s) checked: REWRITTEN SINCE:", f"  {problem}"]
    result = cli("audit", "verify", "--checkpoints", "--json")
    assert result.exit_code == 1
    reported = json.loads(result.stdout)
    assert (reported["ok"], reported["checked"], reported["problem"]) == (False, events, None)
    assert reported["checkpoints"] == {"ok": False, "checked": 1, "problems": [problem]}
    # The database's checkpoint and its copy in the directory are one statement: checked once.
    answered = checked_by_the_api(client, db, clock)
    assert answered["ok"] is False and answered["checkpoints"]["checked"] == 1
    assert answered["checkpoints"]["problems"] == [problem]

    # The database's checkpoints removed too: only the copies kept elsewhere find it out.
    with db.transaction() as session:
        session.execute(text("DELETE FROM audit_checkpoints"))
    result = cli("audit", "verify", "--checkpoints")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1:] == [
        "0 signed checkpoint(s) checked: NONE CHECKED:", f"  {checkpoints.NONE_KEPT}"]
    result = cli("audit", "verify", "--checkpoints", "--from", settings.checkpoint_dir)
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1:] == [
        "1 signed checkpoint(s) checked: REWRITTEN SINCE:", f"  {problem}"]
    answered = checked_by_the_api(client, db, clock)  # it reads the directory too
    assert (answered["ok"], answered["checkpoints"]["problems"]) == (False, [problem])


def test_the_cli_reads_checkpoints_saved_from_the_public_endpoint(cli, found, client, db,
                                                                  clock, chains, tmp_path):
    make(found, clock)
    saved = tmp_path / "published.json"
    saved.write_bytes(client.get("/audit/checkpoints").data)
    reported = as_json(cli("audit", "verify", "--checkpoints", "--from", str(saved), "--json"))
    assert reported["ok"] is True
    assert reported["checkpoints"] == {"ok": True, "checked": 1, "problems": []}
    with committed_tampering(db) as connection:
        truncate_main(connection)
    result = cli("audit", "verify", "--checkpoints", "--from", str(saved), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["checkpoints"]["problems"] == [
        f"checkpoint of {clock.now().isoformat()}: stream main ends at #2, before #{TIP}"]


def test_the_cli_makes_the_periods_checkpoint_once(cli, client, db):
    """The CLI keeps the system clock: its period is this hour's (unless the hour turns
    between the two commands, when the second makes the next period's)."""
    made = as_json(cli("audit", "checkpoint", "--json"))
    assert made == {"made": True, "period": made["period"], "streams": len(tips_now(db)),
                    "copies": {}}
    again = ok(cli("audit", "checkpoint"))
    turned = again.startswith("checkpoint of")
    assert turned or again == "this period's checkpoint exists already\n"
    listed = client.get("/audit/checkpoints").get_json()["checkpoints"]
    assert [c["period"] for c in listed] == (
        [made["period"] + 1, made["period"]] if turned else [made["period"]])
    with db.sessions() as session:
        assert verify(session, found=client.application.extensions["entitlements"]).ok


# -- an S3-compatible bucket -------------------------------------------------------------------


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An S3-compatible server on loopback (moto's) with an empty bucket: its endpoint."""
    for name, value in (("AWS_ACCESS_KEY_ID", "test-key"), ("AWS_SECRET_ACCESS_KEY", "test"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server._port}"
    # moto keeps one state for the whole process: each test starts from an empty one.
    requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="anchors")
    yield endpoint
    server.stop()


def objects(endpoint: str) -> dict[str, str]:
    s3 = boto3.client("s3", endpoint_url=endpoint)
    listed = s3.list_objects_v2(Bucket="anchors").get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket="anchors", Key=o["Key"])["Body"].read().decode()
            for o in listed}


def test_the_ticker_copies_each_checkpoint_to_a_bucket(make_app, settings, db, clock, chains,
                                                       bucket):
    found = make_app(settings=dataclasses.replace(
        settings, checkpoint_dir="", checkpoint_bucket="s3://anchors/entitlements/prod",
        checkpoint_bucket_endpoint=bucket)).extensions["entitlements"]
    ticker = Ticker(found)
    ticker.tick()
    ticker.tick()
    with db.sessions() as session:
        [row] = session.scalars(select(AuditCheckpoint)).all()
    key = f"entitlements/prod/checkpoint-{row.period}.jws"
    assert objects(bucket) == {key: row.jws + "\n"}
    assert [place.texts() for place in found.anchors] == [[row.jws]]
    with db.sessions() as session:
        assert checkpoints.known(session, found.anchors) == [row.jws], "the same, once"


def test_a_bucket_down_is_tried_again_at_the_next_tick(make_app, settings, db, clock, chains,
                                                       bucket, caplog):
    found = make_app(settings=dataclasses.replace(
        settings, checkpoint_dir="", checkpoint_bucket="s3://missing-bucket",
        checkpoint_bucket_endpoint=bucket)).extensions["entitlements"]
    Ticker(found).tick()  # the bucket does not exist: logged, nothing raised
    [place] = found.anchors
    assert checkpoints.anchor(db, found.anchors) == {"s3://missing-bucket": "NoSuchBucket"}
    assert "could not copy checkpoint" in caplog.text and "test-key" not in caplog.text
    boto3.client("s3", endpoint_url=bucket).create_bucket(Bucket="missing-bucket")
    assert checkpoints.anchor(db, found.anchors) == {"s3://missing-bucket": "written"}
    assert len(place.texts()) == 1
    nobody = BucketAnchor("s3://anchors", f"http://127.0.0.1:{free_port()}")
    assert checkpoints.anchor(db, [nobody]) == {"s3://anchors": "EndpointConnectionError"}


def test_a_rewrite_with_every_checkpoint_deleted_is_found_from_the_bucket(
        cli_with, found, make_app, settings, db, clock, chains, bucket):
    where = {"checkpoint_bucket": "s3://anchors/prod", "checkpoint_bucket_endpoint": bucket}
    anchored = make_app(settings=dataclasses.replace(settings, checkpoint_dir="", **where))
    make(found, clock)
    assert checkpoints.anchor(db, anchored.extensions["entitlements"].anchors) == {
        "s3://anchors/prod": "written"}
    cli = cli_with(where)
    assert ok(cli("audit", "verify", "--checkpoints")).splitlines()[-1] == (
        "1 signed checkpoint(s) checked: every tip they state is in place")
    with committed_tampering(db) as connection:
        rewrite_main(connection)
    with db.transaction() as session:
        session.execute(text("DELETE FROM audit_checkpoints"))
    result = cli("audit", "verify", "--checkpoints", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["checkpoints"]["problems"] == [
        f"checkpoint of {clock.now().isoformat()}: event main #{TIP} was rewritten (its hash "
        "changed)"]


@pytest.mark.parametrize("url", ["anchors", "s3://", "https://anchors/x", "s3://Bad_Bucket"])
def test_a_bucket_that_is_not_one_is_refused(url):
    with pytest.raises(ConfigError):
        load_settings({}, checkpoint_bucket=url)
    if not url.startswith("s3://") or url == "s3://":
        with pytest.raises(ConfigError, match="s3://BUCKET"):
            BucketAnchor(url, client=object())
