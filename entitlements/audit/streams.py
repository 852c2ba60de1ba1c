"""Streams of the audit log that one writer each appends to, with no lock shared with other
requests or processes: the token ledger's (grants) and the refusal log's (refused requests).

A writer owns its stream (announced in ``main`` when opened), keeps the tip in memory and
re-reads it after any failure, so a commit whose answer was lost cannot fork the chain. A
batch is the caller's statements (``before``: the token rows, say) and the events, in one
transaction: through SQLAlchemy on SQLite, as one statement (data-modifying CTEs, compiled
once per shape) on a connection the writer keeps on PostgreSQL. A pool hands writers out one
request at a time, at most ``max_writers`` per process.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import orjson
import psycopg
from psycopg.types.json import Json
from sqlalchemy import Executable, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql

from ..base.clock import Clock
from ..base.db import Database
from ..base.errors import TemporarilyUnavailable
from . import service as audit
from .models import AuditEvent, AuditStream

EVENT_COLUMNS = ("stream", "seq", "at", "actor", "actor_role", "action", "target",
                 "target_kind", "organization_id", "outcome", "reason", "details", "prev_hash",
                 "hash")
#: Numbered placeholders ($1, $2...): psycopg would parse a named statement this long again
#: on every execution (it caches none over 4 KB or 50 parameters).
_POSTGRES = postgresql.psycopg.dialect(paramstyle="numeric_dollar")
#: Seconds to wait for a writer's connection (a database host that stopped answering).
CONNECT_TIMEOUT = 5


class StreamWriter:
    def __init__(self, db: Database, clock: Clock, owner: str) -> None:
        self.db = db
        with db.transaction() as session:
            self.stream = audit.open_stream(session, at=clock.now(),
                                            owner=f"{owner}-{os.getpid()}")
        self.seq, self.hash = 0, audit.GENESIS_HASH

    def write(self, events: list[dict[str, Any]], *, before: tuple[Executable, ...] = (),
              params: dict[str, Any] | None = None) -> None:
        """Commit ``before`` (with ``params``) and ``events`` (``audit.new_event``) together.
        A connection found dead when reused (the database restarted meanwhile) is replaced
        and the batch tried once more: the tip is re-read first, and a batch that did commit
        cannot commit twice (its rows' keys are unique)."""
        for attempt in (1, 2):
            linked = audit.link(self.stream, self.seq, self.hash, events)
            tip = {"tip_stream": self.stream, "tip_seq": linked[-1]["seq"],
                   "tip_hash": linked[-1]["hash"]}
            try:
                self._store(before, len(linked), {**(params or {}), **tip,
                                                  **self._event_params(linked)})
                break
            except Exception as error:
                self._reload_tip()
                if attempt == 2 or not self._stale(error):
                    raise
        self.seq, self.hash = tip["tip_seq"], tip["tip_hash"]

    def _stale(self, error: Exception) -> bool:
        """Whether ``error`` came from a kept connection that had died meanwhile."""
        return False

    def _store(self, before: tuple[Executable, ...], events: int, params: dict[str, Any]
               ) -> None:
        with self.db.engine.begin() as connection:
            for statement in (*before, *_event_statements(events)):
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
    """The same statements as one, on a connection of its own, in autocommit."""

    def __init__(self, db: Database, clock: Clock, owner: str) -> None:
        super().__init__(db, clock, owner)
        self._dsn = db.engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        self._connection: psycopg.Connection | None = None
        self._reused = False

    def _store(self, before: tuple[Executable, ...], events: int, params: dict[str, Any]
               ) -> None:
        sql, names, constants = _one_statement(before, events)
        values = {**constants, **params}
        self._reused = self._connection is not None and not self._connection.closed
        try:
            if not self._reused:
                self._connection = psycopg.connect(self._dsn, autocommit=True,
                                                   cursor_factory=psycopg.RawCursor,
                                                   connect_timeout=CONNECT_TIMEOUT)
            self._connection.execute(sql, [values[name] for name in names])
        except psycopg.Error:
            self.close()
            raise

    def _stale(self, error: Exception) -> bool:
        return self._reused and isinstance(error, psycopg.OperationalError)

    def _event_params(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        params = super()._event_params(events)
        for i in range(len(events)):
            params[f"e{i}_details"] = Json(params[f"e{i}_details"], dumps=_json_bytes)
        return params

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = None


def _json_bytes(value: Any) -> bytes:
    """Details as JSON, with orjson (the standard library for what it refuses, such as
    integers beyond 64 bits)."""
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value).encode()


def writer_for(db: Database, clock: Clock, owner: str) -> StreamWriter:
    if db.engine.dialect.name == "postgresql":
        return PostgresStreamWriter(db, clock, owner)
    return StreamWriter(db, clock, owner)


@lru_cache(maxsize=64)
def _event_statements(events: int) -> tuple[Executable, Executable]:
    # Typed: in a multi-row VALUES only the first row's parameters take the column's type
    # from the table, and a JSON column's dict must be converted in every row.
    columns = AuditEvent.__table__.c
    logged = insert(AuditEvent).values([{c: bindparam(f"e{i}_{c}", type_=columns[c].type)
                                         for c in EVENT_COLUMNS} for i in range(events)])
    tip = (update(AuditStream).where(AuditStream.id == bindparam("tip_stream"))
           .values(seq=bindparam("tip_seq"), hash=bindparam("tip_hash")))
    return logged, tip


@lru_cache(maxsize=256)
def _one_statement(before: tuple[Executable, ...], events: int
                   ) -> tuple[bytes, tuple[str, ...], dict[str, Any]]:
    """``before`` and the events as one PostgreSQL statement with numbered placeholders,
    the parameter names in their order, and the constant parameters (the literals the
    statements hold, bound as parameters by the compiler)."""
    logged, tip = _event_statements(events)
    ctes = [statement.cte(f"before_{i}") for i, statement in enumerate(before)]
    compiled = tip.add_cte(*ctes, logged.cte("events")).compile(dialect=_POSTGRES)
    constants = {name: value for name, value in compiled.params.items()
                 if not compiled.binds[name].required}
    return compiled.string.encode(), tuple(compiled.positiontup or ()), constants


class WriterPool:
    """At most ``max_writers`` stream writers per process, one request at a time each; a
    request waits at most ``wait`` seconds for one (503 after that)."""

    def __init__(self, make: Callable[[], StreamWriter], *, max_writers: int = 32,
                 wait: float = 10.0) -> None:
        self._make, self._wait = make, wait
        self._slots = threading.BoundedSemaphore(max_writers)
        self._lock = threading.Lock()
        self._idle: list[StreamWriter] = []
        self._writers: list[StreamWriter] = []
        self._forked_away: list[StreamWriter] = []
        self._pid = os.getpid()

    @contextmanager
    def writer(self) -> Iterator[StreamWriter]:
        if not self._slots.acquire(timeout=self._wait):
            raise TemporarilyUnavailable("The service is overloaded; retry.")
        try:
            writer = self._checkout()
            try:
                yield writer
            finally:
                self._checkin(writer)
        finally:
            self._slots.release()

    def close(self) -> None:
        with self._lock:
            writers, self._writers, self._idle = self._writers, [], []
        for writer in writers:
            writer.close()

    def _checkout(self) -> StreamWriter:
        with self._lock:
            if self._pid != os.getpid():
                # A forked child must not touch (or close) its parent's connections.
                self._forked_away += self._writers
                self._writers, self._idle, self._pid = [], [], os.getpid()
            if self._idle:
                return self._idle.pop()
        writer = self._make()
        with self._lock:
            self._writers.append(writer)
        return writer

    def _checkin(self, writer: StreamWriter) -> None:
        with self._lock:
            if writer in self._writers:
                self._idle.append(writer)
