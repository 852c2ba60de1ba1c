"""The suite's upstream provider: ``scripts/dev_upstream.py``, the same one the sign-in
walkthrough runs, loaded from its file."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parents[2] / "scripts" / "dev_upstream.py"
_spec = importlib.util.spec_from_file_location("dev_upstream", _PATH)
assert _spec is not None and _spec.loader is not None
_module = importlib.util.module_from_spec(_spec)
sys.modules["dev_upstream"] = _module
_spec.loader.exec_module(_module)

UpstreamProvider = _module.UpstreamProvider
SignIn = _module.SignIn

__all__ = ["SignIn", "UpstreamProvider"]
