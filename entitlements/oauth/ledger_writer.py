"""Append a batch of token records and their audit events to this process's stream.

PostgreSQL gets the whole batch as one statement on a connection the writer keeps
(one network round trip); other databases go through SQLAlchemy Core.
The stream's tip lives in memory, because no one else writes to the stream; after
any failure it is re-read, so a commit whose answer was lost cannot fork the chain.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.types.json import Json
from sqlalchemy import insert, select, update

from ..audit import service as audit
from ..audit.models import AuditEvent, AuditStream
from ..clock import Clock
from ..db import Database
from .models import IssuedToken

TOKEN_COLUMNS = ("jti", "client_id", "organization_id", "subject", "audience", "scope", "kid",
                 "issued_at", "expires_at", "policy_version", "status_list_id", "status_idx")
EVENT_COLUMNS = ("stream", "seq", "at", "actor", "action", "target", "outcome", "reason",
                 "details", "prev_hash", "hash")


class StreamWriter:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        with db.transaction() as session:
            owner = f"ledger-{os.getpid()}"
            self.stream = audit.open_stream(session, at=clock.now(), owner=owner)
        self.seq, self.hash = 0, audit.GENESIS_HASH

    def write(self, tokens: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
        linked = audit.link(self.stream, self.seq, self.hash, events)
        tip = {"stream": self.stream, "seq": linked[-1]["seq"], "hash": linked[-1]["hash"]}
        try:
            self._store(tokens, linked, tip)
        except Exception:
            self._reload_tip()
            raise
        self.seq, self.hash = tip["seq"], tip["hash"]

    def _store(self, tokens: list[dict], events: list[dict], tip: dict) -> None:
        with self.db.engine.begin() as connection:
            connection.execute(insert(IssuedToken), tokens)
            connection.execute(insert(AuditEvent), events)
            connection.execute(update(AuditStream).where(AuditStream.id == tip["stream"])
                               .values(seq=tip["seq"], hash=tip["hash"]))

    def close(self) -> None:
        """Release what the writer holds (nothing, here)."""

    def _reload_tip(self) -> None:
        with self.db.sessions() as session:
            row = session.execute(select(AuditStream.seq, AuditStream.hash)
                                  .where(AuditStream.id == self.stream)).one()
        self.seq, self.hash = row.seq, row.hash


class PostgresStreamWriter(StreamWriter):
    """The same as one statement (data-modifying CTEs) in autocommit on a connection of
    its own: atomic, and one network round trip."""

    def __init__(self, db: Database, clock: Clock) -> None:
        super().__init__(db, clock)
        self._dsn = db.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        self._connection: psycopg.Connection | None = None

    def _store(self, tokens: list[dict], events: list[dict], tip: dict) -> None:
        sql, params = _batch_statement(tokens, events, tip)
        try:
            if self._connection is None or self._connection.closed:
                self._connection = psycopg.connect(self._dsn, autocommit=True)
            self._connection.execute(sql, params)
        except psycopg.Error:
            self.close()
            raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = None


def _batch_statement(tokens: list[dict], events: list[dict], tip: dict
                     ) -> tuple[bytes, dict[str, Any]]:
    params: dict[str, Any] = {"tip_stream": tip["stream"], "tip_seq": tip["seq"],
                              "tip_hash": tip["hash"]}
    for i, token in enumerate(tokens):
        params.update({f"t{i}_{c}": token[c] for c in TOKEN_COLUMNS})
    for i, event in enumerate(events):
        params.update({f"e{i}_{c}": event[c] for c in EVENT_COLUMNS})
        params[f"e{i}_details"] = Json(event["details"])
    return _statement(len(tokens), len(events)), params


@lru_cache(maxsize=256)
def _statement(tokens: int, events: int) -> bytes:
    """The statement for a batch of this size, built once (identifiers are fixed)."""
    def values(prefix: str, columns: tuple[str, ...], count: int) -> str:
        rows = (", ".join(f"%({prefix}{i}_{c})s" for c in columns) for i in range(count))
        return ", ".join(f"({row})" for row in rows)

    # Only fixed column names and placeholders go into the text; values are parameters.
    return (
        f"WITH tokens AS (INSERT INTO issued_tokens ({', '.join(TOKEN_COLUMNS)}) "  # noqa: S608
        f"VALUES {values('t', TOKEN_COLUMNS, tokens)}), "
        f"events AS (INSERT INTO audit_events ({', '.join(EVENT_COLUMNS)}) "
        f"VALUES {values('e', EVENT_COLUMNS, events)}) "
        "UPDATE audit_streams SET seq = %(tip_seq)s, hash = %(tip_hash)s "
        "WHERE id = %(tip_stream)s"
    ).encode()


def writer_for(db: Database, clock: Clock) -> StreamWriter:
    return PostgresStreamWriter(db, clock) if db.engine.dialect.name == "postgresql" else (
        StreamWriter(db, clock)
    )
