"""An attacker with DDL rights on the database: the audit log's append-only triggers switched
off, then the rows edited, either rolled back after (``tampering``) or committed with the
triggers put back (``committed_tampering``: what the CLI and the app then see)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from entitlements.base.db import Database

#: Statements that switch the append-only triggers off, per backend.
DISARM = {
    "sqlite": ["DROP TRIGGER audit_events_no_update", "DROP TRIGGER audit_events_no_delete"],
    "postgresql": ["ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"],
}
REARM_POSTGRES = "ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only"


@contextmanager
def tampering(db: Database) -> Iterator[Connection]:
    """A connection with the triggers off; everything done on it is rolled back."""
    with db.engine.connect() as connection:
        transaction = connection.begin()
        try:
            for statement in DISARM[db.engine.dialect.name]:
                connection.exec_driver_sql(statement)
            yield connection
        finally:
            transaction.rollback()


@contextmanager
def committed_tampering(db: Database) -> Iterator[Connection]:
    """A connection with the triggers off; what is done on it is committed, the triggers
    put back first (and checked to refuse an update again)."""
    dialect = db.engine.dialect.name
    with db.engine.connect() as connection, connection.begin():
        saved = connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' "
            "AND tbl_name = 'audit_events'").scalars().all() if dialect == "sqlite" else []
        for statement in DISARM[dialect]:
            connection.exec_driver_sql(statement)
        yield connection
        for statement in saved or [REARM_POSTGRES]:
            connection.exec_driver_sql(statement)
    with pytest.raises(DBAPIError, match="append-only"), db.transaction() as session:
        session.execute(text("UPDATE audit_events SET reason = 'x'"))
