"""What the suite's own markers say."""

from __future__ import annotations

from typing import Any

import pytest


def overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """``@pytest.mark.settings(name=value, ...)`` on a test or module: settings it runs with
    (the app's, the live server's and the CLI's)."""
    marker = request.node.get_closest_marker("settings")
    return dict(marker.kwargs) if marker else {}


#: Tests of what each policy change does: two-person control has tests of its own
#: (test_two_person_policy.py), so under this marker one admin's change is applied at once.
ONE_ADMIN = pytest.mark.settings(two_person_policy="none")
