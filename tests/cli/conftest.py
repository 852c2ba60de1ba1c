"""Fixtures of the CLI tests: a runner on the test database, and an organization."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import Run, as_json, runner_for
from tests.support.markers import overrides


@pytest.fixture
def cli(request: pytest.FixtureRequest, db_url: str, tmp_path: Path, databases) -> Run:
    return runner_for(db_url, tmp_path / "keys", overrides(request))


@pytest.fixture
def org_id(cli: Run) -> str:
    return as_json(cli("orgs", "create", "Acme Labs", "--json"))["id"]
