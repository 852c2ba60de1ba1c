"""The ``entitlements`` command, run in-process with click's CliRunner, and what its answers
are checked with."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from entitlements.cli.root import main

ACTOR = "admin:cli-test"
Run = Callable[..., Result]


def runner_for(database_url: str, keys_dir: Path, settings: dict[str, Any] | None = None
               ) -> Run:
    env = {"ENTITLEMENTS_DATABASE_URL": database_url, "ENTITLEMENTS_KEYS_DIR": str(keys_dir),
           "ENTITLEMENTS_ACTOR": ACTOR,
           **{f"ENTITLEMENTS_{name.upper()}": str(value)
              for name, value in (settings or {}).items()}}

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    return run


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return result.stdout


def as_json(result: Result) -> Any:
    return json.loads(ok(result))


def failed(result: Result) -> str:
    """The one-line error of a failed command (and nothing on stdout, no traceback)."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith("entitlements: error: ")
    return line
