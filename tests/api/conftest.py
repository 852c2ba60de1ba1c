"""Fixtures of the API tests: the admin API as one admin, the policy tests' cast, and DNS."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.admin_api import Api, make_cast
from tests.support.fakes import FakeResolver


@pytest.fixture
def api(client, admin, db, clock) -> Api:
    return Api(client, admin, db, clock)


@pytest.fixture
def cast(api, admin, db, clock) -> dict[str, Any]:
    """Organizations A (trusted, with persons) and B (verified) under the admin tests'
    policy: public and restricted open, early-access suspended."""
    return make_cast(api, admin, db, clock)


@pytest.fixture
def dns(app) -> FakeResolver:
    """The service's DNS, answered from a dict."""
    resolver = app.extensions["entitlements"].dns = FakeResolver()
    return resolver
