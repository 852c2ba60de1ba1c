"""``./scripts/run``'s own mistakes: one line and a non-zero exit, before anything starts."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_port_without_a_value():
    result = subprocess.run([str(ROOT / "scripts" / "run"), "--port"], capture_output=True,
                            text=True, timeout=120, check=False, cwd=ROOT)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "scripts/run: error: --port needs a value, e.g. --port 8001")
    assert "unbound variable" not in result.stderr
