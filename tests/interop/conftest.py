"""Fixtures of the interop tests: the live server seen by clients, gateways and time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.dpop import ProofKey
from tests.support.interop import (
    CATALOG,
    Gateway,
    OAuthCalls,
    ServiceTime,
    bound_token_for,
    change_policy,
)


@pytest.fixture
def oauth(live_server) -> OAuthCalls:
    return OAuthCalls(live_server.url)


@pytest.fixture
def gateway(live_server) -> Callable[[], Gateway]:
    """A factory: each call is a new gateway with an empty JWKS cache."""
    return lambda: Gateway(live_server.url)


@pytest.fixture
def jwks_hits(live_server) -> list[str]:
    """Every request the server receives for /jwks.json, counted at the WSGI layer."""
    hits: list[str] = []
    inner = live_server.app.wsgi_app

    def counting(environ: dict, start_response: Callable) -> Any:
        if environ.get("PATH_INFO") == "/jwks.json":
            hits.append(environ["REQUEST_METHOD"])
        return inner(environ, start_response)

    live_server.app.wsgi_app = counting
    return hits


@pytest.fixture
def world(live_server, admin, db):
    admin.gateway()
    change_policy(db, admin, "catalog", document=CATALOG)
    partner = admin.partner("Acme Labs", tiers=())
    return partner


@pytest.fixture
def sdk_clock(clock) -> ServiceTime:
    return ServiceTime(clock)


@pytest.fixture
def key() -> ProofKey:
    """A client's DPoP key."""
    return ProofKey()


@pytest.fixture
def bound(live_server, world, key, sdk_clock) -> str:
    """The world partner's client-credentials token, bound to ``key``."""
    return bound_token_for(live_server, world, key, sdk_clock.time())
