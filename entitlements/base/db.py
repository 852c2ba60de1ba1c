"""SQLAlchemy base, engine and transactions.

Services take a ``Session`` argument; callers open one with ``Database.transaction()``,
which commits on success and rolls back on any error, so a failed request never
leaves a half-written row.
"""

from __future__ import annotations

import json
import secrets
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    DateTime,
    MetaData,
    TypeDecorator,
    create_engine,
    delete,
    event,
    text,
)
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import StaticPool

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    # A failed statement's parameters (secret digests, whole rows) never reach a log line.
    kwargs.setdefault("hide_parameters", True)
    # JSON columns read with orjson (audit details, by the million in a report export).
    kwargs.setdefault("json_deserializer", read_json)
    if url.startswith("sqlite"):
        return _sqlite_engine(url, **kwargs)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def read_json(text: str | bytes) -> Any:
    """A JSON column's value: orjson's fast parse, or Python's for what orjson refuses (a
    NaN or an integer past 64 bits some older row may hold): a stored row is always read."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    if url in ("sqlite://", "sqlite:///:memory:"):
        kwargs.setdefault("poolclass", StaticPool)
    kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 15})
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so BEGIN IMMEDIATE can be emitted.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers queue on the lock up front instead of failing a read-to-write upgrade.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def read_in_index_order(connection: Connection) -> None:
    """Have PostgreSQL read this transaction's ordered queries along an index rather than
    sort: where its statistics lag a bulk of new rows, it would otherwise sort every row left
    for each page of a long keyset read."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL enable_sort = off")


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_db_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits together or not at all."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def fetch(session: Session, model: Any, key: Any, *, lock: bool = False) -> Any:
    """``model``'s row ``key``, None when there is none. With ``lock``, read afresh and
    locked until the transaction ends: SELECT ... FOR UPDATE on PostgreSQL (SQLite's BEGIN
    IMMEDIATE runs one writer at a time already). A transition checks the row it locked,
    so of two racing transitions the second waits, then sees the first's result and is
    refused as a sequential retry would be."""
    if not lock:
        return session.get(model, key)
    return session.get(model, key, with_for_update=True, populate_existing=True)


def serialize(session: Session, name: str) -> None:
    """One transaction at a time past this point for ``name``, until it ends (an advisory
    lock on PostgreSQL): for checks over rows that may not exist yet."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                        {"key": zlib.crc32(name.encode())})


def prune_expired(session: Session, model: Any, now: datetime, *, one_in: int = 64) -> None:
    """Now and then (once in ``one_in`` calls, at random), delete ``model``'s rows whose
    ``expires_at`` has passed: single-use tables stay bounded with no job to run."""
    if secrets.randbelow(one_in) == 0:
        session.execute(delete(model).where(model.expires_at < now))


def like_escape(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern whose escape character is ``\\``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
