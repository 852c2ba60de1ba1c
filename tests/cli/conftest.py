"""Fixtures of the CLI tests: a runner on the test database, and an organization."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from entitlements.base.db import Database
from entitlements.cli import context
from tests.support.cli import Run, as_json, runner_for
from tests.support.markers import overrides


@pytest.fixture
def databases(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Database]]:
    """The real Database class, remembered so every engine the CLI opens is disposed."""
    opened: list[Database] = []

    class Remembered(Database):
        def __init__(self, url: str, **kwargs: Any) -> None:
            super().__init__(url, **kwargs)
            opened.append(self)

    monkeypatch.setattr(context, "Database", Remembered)
    yield opened
    for database in opened:
        database.dispose()


@pytest.fixture
def cli(request: pytest.FixtureRequest, db_url: str, tmp_path: Path, databases) -> Run:
    return runner_for(db_url, tmp_path / "keys", overrides(request))


@pytest.fixture
def org_id(cli: Run) -> str:
    return as_json(cli("orgs", "create", "Acme Labs", "--json"))["id"]
