"""Append a batch of token records and their audit events to this process's stream.

Both backends run the same SQLAlchemy statements: the token rows (each checked against the
standing rule, ``standing``), their audit events, and the stream's new tip. SQLite runs them
through SQLAlchemy in one transaction. PostgreSQL gets them as one statement (data-modifying
CTEs, compiled once per batch shape) on a connection the writer keeps, in autocommit: atomic,
and one network round trip.

The stream's tip lives in memory, because no one else writes to the stream; after any failure
it is re-read, so a commit whose answer was lost cannot fork the chain.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.types.json import Json
from sqlalchemy import Executable, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql

from ..audit import service as audit
from ..audit.models import AuditEvent, AuditStream
from ..base.clock import Clock
from ..base.db import Database
from .models import IssuedToken
from .standing import Shape, revoked_unless_standing, shape_of, standing_params

TOKEN_COLUMNS = ("jti", "client_id", "organization_id", "subject", "audience", "scope", "kid",
                 "issued_at", "expires_at", "policy_version", "status_list_id", "status_idx")
EVENT_COLUMNS = ("stream", "seq", "at", "actor", "action", "target", "outcome", "reason",
                 "details", "prev_hash", "hash")
_POSTGRES = postgresql.psycopg.dialect()


class StreamWriter:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        with db.transaction() as session:
            owner = f"ledger-{os.getpid()}"
            self.stream = audit.open_stream(session, at=clock.now(), owner=owner)
        self.seq, self.hash = 0, audit.GENESIS_HASH

    def write(self, tokens: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
        linked = audit.link(self.stream, self.seq, self.hash, events)
        tip = {"tip_stream": self.stream, "tip_seq": linked[-1]["seq"],
               "tip_hash": linked[-1]["hash"]}
        shapes = tuple(shape_of(token) for token in tokens)
        try:
            self._store(shapes, len(linked), {**_token_params(tokens), **tip,
                                              **self._event_params(linked)})
        except Exception:
            self._reload_tip()
            raise
        self.seq, self.hash = tip["tip_seq"], tip["tip_hash"]

    def _store(self, shapes: tuple[Shape, ...], events: int, params: dict[str, Any]) -> None:
        with self.db.engine.begin() as connection:
            for statement in _statements(shapes, events):
                connection.execute(statement, params)

    def _event_params(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        return {f"e{i}_{c}": event[c] for i, event in enumerate(events) for c in EVENT_COLUMNS}

    def close(self) -> None:
        """Release what the writer holds (nothing, here)."""

    def _reload_tip(self) -> None:
        with self.db.sessions() as session:
            row = session.execute(select(AuditStream.seq, AuditStream.hash)
                                  .where(AuditStream.id == self.stream)).one()
        self.seq, self.hash = row.seq, row.hash


class PostgresStreamWriter(StreamWriter):
    """The same statements as one, on a connection of its own."""

    def __init__(self, db: Database, clock: Clock) -> None:
        super().__init__(db, clock)
        self._dsn = db.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        self._connection: psycopg.Connection | None = None

    def _store(self, shapes: tuple[Shape, ...], events: int, params: dict[str, Any]) -> None:
        sql, constants = _one_statement(shapes, events)
        try:
            if self._connection is None or self._connection.closed:
                self._connection = psycopg.connect(self._dsn, autocommit=True)
            self._connection.execute(sql, {**constants, **params})
        except psycopg.Error:
            self.close()
            raise

    def _event_params(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        params = super()._event_params(events)
        for i in range(len(events)):
            params[f"e{i}_details"] = Json(params[f"e{i}_details"])
        return params

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = None


def _token_params(tokens: list[dict[str, Any]]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for i, token in enumerate(tokens):
        params.update({f"t{i}_{c}": token[c] for c in TOKEN_COLUMNS})
        params.update(standing_params(f"t{i}_s_", token))
    return params


@lru_cache(maxsize=256)
def _statements(shapes: tuple[Shape, ...], events: int) -> tuple[Executable, ...]:
    """The batch's statements, built once per shape: only bind parameters vary."""
    tokens = insert(IssuedToken).values([
        {**{c: bindparam(f"t{i}_{c}") for c in TOKEN_COLUMNS},
         "revoked_at": revoked_unless_standing(f"t{i}_s_", shape)}
        for i, shape in enumerate(shapes)])
    logged = insert(AuditEvent).values([{c: bindparam(f"e{i}_{c}") for c in EVENT_COLUMNS}
                                        for i in range(events)])
    tip = (update(AuditStream).where(AuditStream.id == bindparam("tip_stream"))
           .values(seq=bindparam("tip_seq"), hash=bindparam("tip_hash")))
    return tokens, logged, tip


@lru_cache(maxsize=256)
def _one_statement(shapes: tuple[Shape, ...], events: int) -> tuple[bytes, dict[str, Any]]:
    """``_statements`` as one PostgreSQL statement, and its constant parameters."""
    tokens, logged, tip = _statements(shapes, events)
    compiled = (tip.add_cte(tokens.cte("tokens")).add_cte(logged.cte("events"))
                .compile(dialect=_POSTGRES))
    constants = {k: v for k, v in compiled.params.items() if v is not None}
    return compiled.string.encode(), constants


def writer_for(db: Database, clock: Clock) -> StreamWriter:
    return PostgresStreamWriter(db, clock) if db.engine.dialect.name == "postgresql" else (
        StreamWriter(db, clock)
    )
