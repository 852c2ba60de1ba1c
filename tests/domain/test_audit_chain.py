"""The hash-chained audit log: append-only in the database, tamper-evident, atomic."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import Connection, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from entitlements.audit import service as audit
from entitlements.audit import targets
from entitlements.audit.models import AuditEvent, AuditStream
from entitlements.base.actor import Actor
from entitlements.base.errors import TemporarilyUnavailable
from entitlements.organizations import service as organizations
from entitlements.organizations.models import Organization
from entitlements.tokens import ledger
from entitlements.tokens.ledger import TokenRecord
from entitlements.tokens.models import IssuedToken
from tests.support.factories import GATEWAY, Partner
from tests.support.tampering import tampering

EVENTS = 5


@pytest.fixture
def seqs(db, clock) -> list[int]:
    """EVENTS events, each recorded in its own transaction."""
    recorded = []
    for i in range(EVENTS):
        with db.transaction() as session:
            event = audit.record(session, Actor("admin:test", clock.now(), role="owner"),
                                 "test.event", target=targets.organization(f"target-{i}"),
                                 reason=f"reason {i}",
                                 details={"i": i, "nested": {"naïve": [1, "two", None]}})
            recorded.append(event.seq)
        clock.advance(1)
    return recorded


def verify(db) -> audit.ChainReport:
    with db.sessions() as session:
        return audit.verify_chain(session)


def test_recorded_events_form_a_chain(db, seqs):
    assert seqs == list(range(seqs[0], seqs[0] + EVENTS))
    with db.sessions() as session:
        rows = session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        head = session.get(AuditStream, audit.MAIN_STREAM)
    assert rows[0].prev_hash == audit.GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
    assert all(audit.event_hash(row) == row.hash for row in rows)
    assert (head.seq, head.hash) == (rows[-1].seq, rows[-1].hash)
    assert verify(db) == audit.ChainReport(True, len(rows))


def test_verify_walks_in_batches(db, seqs):
    with db.sessions() as session:
        assert audit.verify_chain(session, batch=2) == audit.ChainReport(True, seqs[-1])


def test_an_empty_chain_verifies(db):
    assert verify(db) == audit.ChainReport(True, 0)


@pytest.mark.parametrize("statement", [
    pytest.param("UPDATE audit_events SET reason = 'rewritten' WHERE seq = :seq", id="update"),
    pytest.param("UPDATE audit_events SET hash = hash WHERE seq = :seq", id="no-op-update"),
    pytest.param("DELETE FROM audit_events WHERE seq = :seq", id="delete"),
    pytest.param("DELETE FROM audit_events", id="delete-all"),
])
def test_the_database_refuses_to_change_audit_rows(db, seqs, statement):
    with pytest.raises(DBAPIError, match="append-only"), db.transaction() as session:
        session.execute(text(statement), {"seq": seqs[2]})
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == EVENTS
    assert verify(db).ok


def _sql(statement: str, pick: Callable[[list[int]], int]):
    def tamper(connection: Connection, seqs: list[int]) -> None:
        result = connection.execute(text(statement), {"seq": pick(seqs)})
        assert result.rowcount == 1

    return tamper


def _rehash(connection: Connection, seqs: list[int]) -> None:
    """Rewrite a row and recompute its own hash: the next row's link still gives it away."""
    with Session(bind=connection) as session:
        event = session.get(AuditEvent, (audit.MAIN_STREAM, seqs[2]))
        event.reason = "nothing happened"
        event.hash = audit.event_hash(event)
        session.flush()


def middle(seqs: list[int]) -> int:
    return seqs[2]


@pytest.mark.parametrize(("tamper", "problem", "broken_at"), [
    pytest.param(_sql("UPDATE audit_events SET reason = 'tampered' WHERE seq = :seq", middle),
                 "content altered", middle, id="reason-altered"),
    pytest.param(_sql("UPDATE audit_events SET actor = 'someone else' WHERE seq = :seq", middle),
                 "content altered", middle, id="actor-altered"),
    pytest.param(_sql("UPDATE audit_events SET details = '{}' WHERE seq = :seq", middle),
                 "content altered", middle, id="details-altered"),
    pytest.param(_sql("UPDATE audit_events SET organization_id = 'org_x' WHERE seq = :seq",
                      middle), "content altered", middle, id="organization-altered"),
    pytest.param(_sql("UPDATE audit_events SET target_kind = NULL WHERE seq = :seq", middle),
                 "content altered", middle, id="target-kind-erased"),
    pytest.param(_sql("UPDATE audit_events SET actor_role = 'viewer' WHERE seq = :seq", middle),
                 "content altered", middle, id="role-altered"),
    pytest.param(_rehash, "link broken", lambda s: s[3], id="altered-and-rehashed"),
    pytest.param(_sql("DELETE FROM audit_events WHERE seq = :seq", middle),
                 "event missing", middle, id="middle-deleted"),
    pytest.param(_sql("DELETE FROM audit_events WHERE seq = :seq", lambda s: s[0]),
                 "event missing", lambda s: s[0], id="first-deleted"),
    pytest.param(_sql("DELETE FROM audit_events WHERE seq = :seq", lambda s: s[-1]),
                 "tail removed or head altered", lambda s: s[-1], id="last-deleted"),
    pytest.param(_sql("UPDATE audit_streams SET seq = seq - 1 WHERE seq = :seq", lambda s: s[-1]),
                 "tail removed or head altered", lambda s: s[-1] + 1, id="head-rewound"),
])
def test_tampering_is_detected(db, seqs, tamper, problem, broken_at):
    assert verify(db).ok
    with tampering(db) as connection:
        tamper(connection, seqs)
        with Session(bind=connection) as session:
            report = audit.verify_chain(session)
    assert (report.ok, report.problem, report.broken_at) == (False, problem, broken_at(seqs))
    assert report.checked == broken_at(seqs) - 1
    assert verify(db).ok, "the tampering was rolled back"


class Boom(Exception):
    pass


def test_a_failed_transaction_leaves_neither_change_nor_audit_row(db, clock, seqs):
    with pytest.raises(Boom), db.transaction() as session:
        organizations.create(session, Actor("admin:test", clock.now()), "Ghost Org", "verified")
        session.flush()
        raise Boom
    _assert_untouched(db, seqs)


def test_a_database_error_rolls_back_the_audit_row_too(db, clock, seqs):
    actor = Actor("admin:test", clock.now())
    with db.transaction() as session:
        organizations.create(session, actor, "Acme", "verified")
    with pytest.raises(IntegrityError), db.transaction() as session:
        audit.record(session, Actor("admin:test", clock.now()), "test.event")
        session.add(Organization(id="org_duplicate", name="Acme", status="active",
                                 trust_level="verified", created_at=clock.now(),
                                 updated_at=clock.now()))
        session.flush()
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == EVENTS + 1
        assert session.get(AuditStream, audit.MAIN_STREAM).seq == seqs[-1] + 1
    assert verify(db).ok


def _assert_untouched(db, seqs: list[int]) -> None:
    with db.sessions() as session:
        assert session.scalar(select(Organization).where(Organization.name == "Ghost Org")) is None
        assert session.scalar(select(func.max(AuditEvent.seq))) == seqs[-1]
        assert session.get(AuditStream, audit.MAIN_STREAM).seq == seqs[-1]
    assert verify(db) == audit.ChainReport(True, EVENTS)


def test_concurrent_writers_keep_one_unbroken_chain(db, clock):
    """Writers serialise on the head row, so seqs stay contiguous and every link holds."""

    def write(worker: int) -> int:
        for i in range(5):
            with db.transaction() as session:
                audit.record(session, Actor(f"worker-{worker}", clock.now()), "test.concurrent",
                             details={"i": i})
        return worker

    with ThreadPoolExecutor(max_workers=4) as pool:
        assert sorted(pool.map(write, range(4))) == [0, 1, 2, 3]
    assert verify(db) == audit.ChainReport(True, 20)


# -- issued tokens: group-committed with their grant.issued events ----------------------------


@pytest.fixture
def tokens(db, clock) -> Iterator[ledger.TokenLedger]:
    token_ledger = ledger.TokenLedger(db, clock)
    yield token_ledger
    token_ledger.close()


def record(clock, partner: Partner, jti: str, client_id: str | None = None) -> TokenRecord:
    now, client_id = clock.now(), client_id or partner.client_id
    return TokenRecord(jti=jti, client_id=client_id, organization_id=partner.org_id,
                       subject=client_id, audience=GATEWAY, scope="tier:public",
                       tiers=("public",), kid="kid-1", issued_at=now,
                       expires_at=now + timedelta(minutes=5), trust_level="verified")


def test_issued_tokens_and_refusals_keep_every_chain_intact(db, clock, partner, tokens):
    """Concurrent token records and refusal events never break a link."""

    def work(i: int) -> int:
        if i % 3:
            tokens.record(record(clock, partner, f"jti-{i}"))
        else:
            with db.transaction() as session:
                audit.record(session, Actor("anonymous", clock.now()), "grant.refused",
                             outcome=audit.FAILURE,
                             reason="invalid_client", details={"i": i})
        return i

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sorted(pool.map(work, range(30))) == list(range(30))
    with db.sessions() as session:
        jtis = set(session.scalars(select(IssuedToken.jti)))
        issued = session.scalars(select(AuditEvent).where(AuditEvent.action == "grant.issued"))
        assert {e.details["jti"] for e in issued} == jtis == {f"jti-{i}" for i in range(30)
                                                               if i % 3}
    assert verify(db).ok


def test_a_failed_token_record_writes_neither_token_nor_audit_row(db, clock, partner, tokens):
    with db.sessions() as session:
        last = session.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(TemporarilyUnavailable):
        tokens.record(record(clock, partner, "jti-orphan", client_id="cli_missing"))
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(IssuedToken)) == 0
        # Only the ledger's stream announcement was added; the failed batch left nothing.
        added = session.scalars(select(AuditEvent.action)
                                .order_by(AuditEvent.at, AuditEvent.seq)).all()[last:]
        assert added == [audit.STREAM_OPENED]
    tokens.record(record(clock, partner, "jti-next"))
    with db.sessions() as session:
        assert session.scalars(select(IssuedToken.jti)).all() == ["jti-next"]
    assert verify(db).ok


def test_each_ledger_writer_appends_to_its_own_announced_stream(db, clock, partner, tokens):

    def issue(i: int) -> int:
        tokens.record(record(clock, partner, f"jti-{i}"))
        return i

    with ThreadPoolExecutor(max_workers=3) as pool:
        assert sorted(pool.map(issue, range(12))) == list(range(12))
    with db.sessions() as session:
        streams = session.scalars(select(AuditStream.id).where(AuditStream.id != "main")).all()
        announced = session.scalars(select(AuditEvent.target)
                                    .where(AuditEvent.action == audit.STREAM_OPENED)).all()
        issued = session.scalar(select(func.count()).select_from(AuditEvent)
                                .where(AuditEvent.action == "grant.issued"))
    assert 1 <= len(streams) <= 3 and sorted(streams) == sorted(announced)
    assert issued == 12
    assert verify(db).ok


def test_removing_a_whole_stream_is_detected(db, clock, partner, tokens):
    tokens.record(record(clock, partner, "jti-1"))
    with db.sessions() as session:
        stream = session.scalar(select(AuditStream.id).where(AuditStream.id != "main"))
    with tampering(db) as connection:
        connection.execute(text("DELETE FROM audit_events WHERE stream = :s"), {"s": stream})
        connection.execute(text("DELETE FROM audit_streams WHERE id = :s"), {"s": stream})
        with Session(bind=connection) as session:
            report = audit.verify_chain(session)
    assert (report.ok, report.problem, report.stream) == (False, "stream removed", stream)
    assert verify(db).ok, "the tampering was rolled back"


def test_a_batch_of_tokens_is_one_write_with_every_event(db, clock, partner, tokens):
    """What group commit hands the ledger under load: several tokens at once (their JSON
    details converted in every row of the multi-row insert, on both databases)."""
    tokens._write([record(clock, partner, f"jti-batch-{i}") for i in range(3)])
    with db.sessions() as session:
        jtis = set(session.scalars(select(IssuedToken.jti)))
        issued = session.scalars(select(AuditEvent).where(AuditEvent.action == "grant.issued"))
        assert {e.details["jti"] for e in issued} == jtis == {f"jti-batch-{i}" for i in range(3)}
    assert verify(db).ok
