"""A token signed while its organization is being suspended (or its client revoked, or its
trust lowered) must not escape the bulk revocation that goes with the change: issuance reads
the standing from a short cache, so the record is what settles it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import jwt
import pytest
from sqlalchemy import create_engine, event, select, text

from entitlements.attestations import issuers
from entitlements.identity_providers import service as idps
from entitlements.operations import clients as client_operations
from entitlements.operations import organizations as operations
from entitlements.operations import registry
from entitlements.tokens.models import IssuedToken
from tests.support.admin_api import make_cast
from tests.support.factories import VERIFIER, client_keypair
from tests.support.helpers import basic
from tests.support.markers import ONE_ADMIN

CHANGES: dict[str, Callable[[Any, Any, Any], None]] = {
    "organization suspended": lambda session, actor, partner: operations.suspend(
        session, actor, partner.org_id, "incident"),
    "client revoked": lambda session, actor, partner: client_operations.revoke(
        session, actor, partner.client_id, "leaked"),
    "trust lowered": lambda session, actor, partner: operations.lower_trust(
        session, actor, partner.org_id, "verified", "audit finding"),
}


pytestmark = [pytest.mark.partner(name="Org A", trust="trusted"), ONE_ADMIN]


@contextmanager
def watching(db) -> Iterator[Callable[[], bool]]:
    """``blocked()``: wait (at most 30 s) for evidence that another thread's request is held
    on the database: a lock it waits for on PostgreSQL; on SQLite, its taking a connection,
    whose BEGIN IMMEDIATE then queues behind the open writer. Evidence, not a sleep."""
    began, main = threading.Event(), threading.get_ident()

    def on_checkout(*_: Any) -> None:
        if threading.get_ident() != main:
            began.set()

    def waiting_for_a_lock() -> bool:
        probe = create_engine(db.engine.url)
        try:
            for _ in range(3000):
                with probe.connect() as connection:
                    if connection.scalar(text("SELECT count(*) FROM pg_locks "
                                              "WHERE NOT granted")):
                        return True
                threading.Event().wait(0.01)
            return False
        finally:
            probe.dispose()

    postgres = db.engine.dialect.name == "postgresql"
    if not postgres:
        event.listen(db.engine, "checkout", on_checkout)
    try:
        yield waiting_for_a_lock if postgres else lambda: began.wait(30)
    finally:
        if not postgres:
            event.remove(db.engine, "checkout", on_checkout)


def issue(client, partner) -> str:
    response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                           headers=basic(partner.client_id, partner.client_secret))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["access_token"]


def recorded(db, token: str) -> IssuedToken:
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    with db.sessions() as session:
        return session.scalars(select(IssuedToken).where(IssuedToken.jti == jti)).one()


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_between_signing_and_recording_is_recorded_revoked(
        app, client, db, admin, partner, monkeypatch, change):
    ledger = app.extensions["entitlements"].ledger
    record = ledger.record

    def change_then_record(token: Any) -> None:
        with db.transaction() as session:  # the change commits, bulk revocation and all
            CHANGES[change](session, admin.actor(), partner)
        record(token)

    monkeypatch.setattr(ledger, "record", change_then_record)
    row = recorded(db, issue(client, partner))
    assert row.revoked_at == row.issued_at


def test_raising_trust_meanwhile_revokes_nothing(app, client, db, admin, monkeypatch):
    admin.gateway()
    partner = admin.partner("Org B")
    ledger = app.extensions["entitlements"].ledger
    record = ledger.record

    def raise_then_record(token: Any) -> None:
        admin.raise_trust(partner.org_id, "trusted")
        record(token)

    monkeypatch.setattr(ledger, "record", raise_then_record)
    assert recorded(db, issue(client, partner)).revoked_at is None, "it claims less, not more"
    monkeypatch.undo()
    assert recorded(db, issue(client, partner)).revoked_at is None


def test_a_suspension_in_flight_holds_the_record_back_until_it_commits(
        client, db, admin, partner):
    """The suspension's transaction has changed the organization but not committed when a
    token is requested. PostgreSQL: the request reads the old standing and signs, then its
    record waits for the suspension and is written revoked. SQLite: the request waits for
    the writer before it reads, and is refused. Either way nothing escapes."""
    answers: list[Any] = []
    issue(client, partner)  # the ledger's writer and audit stream exist: only the record waits

    def request() -> None:
        answers.append(client.post("/oauth/token", data={"grant_type": "client_credentials"},
                                   headers=basic(partner.client_id, partner.client_secret)))

    with db.transaction() as session, watching(db) as blocked:
        operations.suspend(session, admin.actor(), partner.org_id, "incident")
        session.flush()
        worker = threading.Thread(target=request)
        worker.start()
        assert blocked(), "the request waits for the suspension"
        assert worker.is_alive()
    worker.join(timeout=30)
    [answer] = answers
    if db.engine.dialect.name == "postgresql":
        assert answer.status_code == 200, answer.get_json()
        row = recorded(db, answer.get_json()["access_token"])
        assert row.revoked_at == row.issued_at
    else:
        assert (answer.status_code, answer.get_json()["error"]) == (401, "invalid_client")


PERSON_CHANGES: dict[str, Callable[[Any, Any, str], None]] = {
    "identity provider suspended": lambda session, actor, org_id: registry.set_idp_status(
        session, actor, idps.list_for(session, org_id).items[0].id, "suspended", "compromised"),
    "attestation issuer suspended": lambda session, actor, org_id: registry.set_issuer_status(
        session, actor, issuers.find_by_issuer(session, VERIFIER).id, "suspended", "breach"),
}


@pytest.mark.parametrize("change", list(PERSON_CHANGES))
def test_a_person_token_whose_idp_or_verifier_is_suspended_meanwhile_is_recorded_revoked(
        app, api, admin, db, clock, monkeypatch, change):
    cast = make_cast(api, admin, db, clock)
    a = cast["A"]
    ledger = app.extensions["entitlements"].ledger
    record = ledger.record
    assert recorded(db, api.person_token(a, cast["idp_key"], "citizen")["access_token"]
                    ).revoked_at is None

    def change_then_record(token: Any) -> None:
        with db.transaction() as session:
            PERSON_CHANGES[change](session, admin.actor(), a.org_id)
        record(token)

    monkeypatch.setattr(ledger, "record", change_then_record)
    row = recorded(db, api.person_token(a, cast["idp_key"], "citizen")["access_token"])
    assert row.revoked_at == row.issued_at


def test_an_unrelated_verifier_suspended_meanwhile_revokes_nothing(app, api, admin, db, clock,
                                                                   monkeypatch):
    cast = make_cast(api, admin, db, clock)
    _, jwks = client_keypair("other-1")
    with db.transaction() as session:
        other = issuers.register(session, admin.actor(), issuer="https://other.example",
                                 name="Other", jwks=jwks, formats=["jwt"],
                                 nationalities=["US"], assurance_levels=["high"],
                                 max_age_days=30)
    ledger = app.extensions["entitlements"].ledger
    record = ledger.record

    def change_then_record(token: Any) -> None:
        with db.transaction() as session:
            registry.set_issuer_status(session, admin.actor(), other.id, "suspended",
                                       "unrelated")
        record(token)

    monkeypatch.setattr(ledger, "record", change_then_record)
    token = api.person_token(cast["A"], cast["idp_key"], "citizen")
    assert token["citizenship"] and recorded(db, token["access_token"]).revoked_at is None


def test_a_verifier_suspension_in_flight_holds_a_person_token_back(api, admin, db, clock):
    """As for organizations: the person token's record waits for the issuer's suspension
    to commit, then records the token revoked (or, where the request itself waited, its
    citizenship no longer counts)."""
    cast = make_cast(api, admin, db, clock)
    a = cast["A"]
    api.person_token(a, cast["idp_key"], "citizen")  # the ledger's writer exists
    answers: list[Any] = []
    with db.transaction() as session, watching(db) as blocked:
        PERSON_CHANGES["attestation issuer suspended"](session, admin.actor(), a.org_id)
        session.flush()
        worker = threading.Thread(target=lambda: answers.append(
            api.person_token(a, cast["idp_key"], "citizen")))
        worker.start()
        assert blocked(), "the request waits for the suspension"
        assert worker.is_alive()
    worker.join(timeout=30)
    [token] = answers
    row = recorded(db, token["access_token"])
    assert row.revoked_at == row.issued_at or not token["citizenship"]
    if db.engine.dialect.name == "postgresql":
        assert token["citizenship"] and row.revoked_at == row.issued_at
