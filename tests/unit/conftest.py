"""tests/unit is pure: no database, no network, no CLI. A unit test that asks for one of
those fixtures is refused at collection, and a socket connection fails it."""

from __future__ import annotations

import socket

import pytest

IMPURE = frozenset({"db", "db_url", "app", "client", "admin", "partner", "live_server",
                    "cli", "settings", "postgres_seed", "sqlite_template"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = IMPURE.intersection(getattr(item, "fixturenames", ()))
        if used and "tests/unit/" in str(item.path):
            raise pytest.UsageError(f"{item.nodeid} is a unit test but uses {sorted(used)}; "
                                    "move it to tests/domain, tests/cli or tests/api")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: socket.socket, address: object) -> None:
        raise AssertionError(f"a unit test tried to connect to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
