"""Guessing is throttled: failed authentications per source address and per registered
client id, requests per address and per client, on the OAuth, partner and admin endpoints;
a 429 with Retry-After in the endpoint's format, audited once per key and minute; counts
shared through Redis when configured, in memory otherwise."""

from __future__ import annotations

import os
from typing import Any

import pytest
import redis
from sqlalchemy import select

from entitlements.audit.models import AuditEvent
from tests.support.factories import admin_key
from tests.support.helpers import basic

TOKEN = "/oauth/token"
GRANT = {"grant_type": "client_credentials"}
#: A Redis database per pytest-xdist worker (15, 14, ...), flushed by the tests that use it.
REDIS_URL = f"redis://127.0.0.1:6379/{15 - int(os.environ.get('PYTEST_XDIST_WORKER', 'gw0')[2:])}"


def throttled_app(make_app, settings, **limits: Any):
    return make_app(settings=settings.with_overrides(**limits)).test_client()


def token(client, client_id: str, secret: str, address: str = "192.0.2.1"):
    return client.post(TOKEN, data=GRANT, headers=basic(client_id, secret),
                       environ_base={"REMOTE_ADDR": address})


def assert_throttled(response, family: str = "oauth") -> None:
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    if family == "oauth":
        assert response.get_json()["error"] == "temporarily_unavailable"
        assert response.headers["Cache-Control"] == "no-store"
    else:
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["status"] == 429


def test_wrong_secrets_from_one_address_are_throttled(make_app, settings, partner):
    client = throttled_app(make_app, settings, rate_limit_failures="3/minute")
    answers = [token(client, partner.client_id, "wrong").status_code for _ in range(3)]
    assert answers == [401, 401, 401]
    assert_throttled(token(client, partner.client_id, "wrong"))
    assert_throttled(token(client, partner.client_id, partner.client_secret)), \
        "the address is refused whatever it sends, until the window passes"
    elsewhere = token(client, partner.client_id, partner.client_secret, "198.51.100.7")
    assert_throttled(elsewhere)  # the client's own failures are counted too


def test_failures_for_one_client_are_counted_from_every_address(make_app, settings, admin,
                                                                partner):
    client = throttled_app(make_app, settings, rate_limit_failures="3/minute")
    for n in range(3):
        assert token(client, partner.client_id, "wrong", f"192.0.2.{n}").status_code == 401
    assert_throttled(token(client, partner.client_id, "wrong", "192.0.2.99"))
    someone_else = admin.client(partner.org_id)
    assert token(client, someone_else.client_id, someone_else.client_secret,
                 "192.0.2.100").status_code == 200, "other clients are not held back"


def test_successes_do_not_count_as_failures(make_app, settings, partner):
    client = throttled_app(make_app, settings, rate_limit_failures="2/minute")
    for _ in range(5):
        assert token(client, partner.client_id, partner.client_secret).status_code == 200


def test_made_up_client_ids_are_not_counted_per_client(make_app, settings):
    """Spraying ids that do not exist grows no per-client count (and the address limit
    still applies)."""
    client = throttled_app(make_app, settings, rate_limit_failures="2/minute")
    answers = {token(client, f"cli_made_up_{n}", "x", f"203.0.113.{n}").status_code
               for n in range(20)}
    assert answers == {401}


def test_requests_per_address_and_per_client(make_app, settings, partner):
    per_address = throttled_app(make_app, settings, rate_limit_address="3/minute")
    for _ in range(3):
        assert token(per_address, partner.client_id, partner.client_secret).status_code == 200
    assert_throttled(token(per_address, partner.client_id, partner.client_secret))
    assert per_address.get("/healthz").status_code == 200, "liveness is never throttled"

    per_client = throttled_app(make_app, settings, rate_limit_client="3/minute")
    for n in range(3):
        assert token(per_client, partner.client_id, partner.client_secret,
                     f"192.0.2.{n}").status_code == 200
    assert_throttled(token(per_client, partner.client_id, partner.client_secret,
                           "192.0.2.50"))


@pytest.mark.parametrize("path", ["/oauth/introspect", "/oauth/revoke", "/attestations",
                                  "/policy/explain"])
def test_every_endpoint_that_takes_client_credentials(make_app, settings, partner, path):
    client = throttled_app(make_app, settings, rate_limit_failures="2/minute")
    for _ in range(2):
        assert client.post(path, data={"token": "x"},
                           headers=basic(partner.client_id, "wrong")).status_code == 401
    refused = client.post(path, data={"token": "x"}, headers=basic(partner.client_id, "wrong"))
    assert_throttled(refused, "oauth" if path.startswith("/oauth") else "problem")


def test_admin_authentication_is_throttled(make_app, settings, db, clock):
    client = throttled_app(make_app, settings, rate_limit_failures="3/minute")
    with db.transaction() as session:
        key = admin_key(session, clock.now(), "alice").secret
    for _ in range(3):
        assert client.get("/admin/organizations", headers={
            "Authorization": "Bearer adm_guess"}).status_code == 401
    assert_throttled(client.get("/admin/organizations",
                                headers={"Authorization": "Bearer adm_guess"}), "problem")
    elsewhere = client.get("/admin/organizations", headers={"Authorization": f"Bearer {key}"},
                           environ_base={"REMOTE_ADDR": "198.51.100.1"})
    assert elsewhere.status_code == 200


def test_a_throttled_caller_is_audited_once_not_per_request(make_app, settings, partner, db):
    client = throttled_app(make_app, settings, rate_limit_failures="2/minute")
    for _ in range(12):
        token(client, partner.client_id, "wrong")
    with db.sessions() as session:
        throttled = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "request.throttled")).all()
    assert 1 <= len(throttled) <= 2, "once per key (the address, the client id), not 10 times"
    assert {e.details["scope"] for e in throttled} <= {"failures-address", "failures-client"}
    assert all(partner.client_secret not in str(e.details) for e in throttled)


def test_the_proxies_forwarded_address_is_believed_only_when_configured(make_app, settings,
                                                                        partner):
    behind = throttled_app(make_app, settings, rate_limit_failures="2/minute", proxy_hops=1)
    for n in range(4):  # four different clients, as the proxy saw them
        answer = behind.post(TOKEN, data=GRANT, headers={
            **basic(f"cli_unknown{n}", "x"), "X-Forwarded-For": f"192.0.2.{n}"})
        assert answer.status_code == 401
    direct = throttled_app(make_app, settings, rate_limit_failures="2/minute")
    answers = [direct.post(TOKEN, data=GRANT, headers={
        **basic(f"cli_unknown{n}", "x"), "X-Forwarded-For": f"192.0.2.{n}"}).status_code
        for n in range(4)]
    assert answers == [401, 401, 429, 429], "without proxies, the header is the caller's"


def test_throttling_can_be_turned_off(make_app, settings, partner):
    client = throttled_app(make_app, settings, rate_limit_failures="1/minute",
                           rate_limits=False)
    assert {token(client, partner.client_id, "wrong").status_code for _ in range(5)} == {401}


@pytest.fixture
def shared_redis() -> str:
    connection = redis.Redis.from_url(REDIS_URL)
    connection.flushdb()
    yield REDIS_URL
    connection.flushdb()


def test_instances_share_counts_through_redis(make_app, settings, partner, shared_redis):
    limits = {"rate_limit_failures": "3/minute", "redis_url": shared_redis}
    first, second = (throttled_app(make_app, settings, **limits) for _ in range(2))
    assert token(first, partner.client_id, "wrong").status_code == 401
    assert token(second, partner.client_id, "wrong").status_code == 401
    assert token(first, partner.client_id, "wrong").status_code == 401
    assert_throttled(token(second, partner.client_id, "wrong"))


def test_redis_out_of_reach_falls_back_to_memory(make_app, settings, partner):
    client = throttled_app(make_app, settings, rate_limit_failures="2/minute",
                           redis_url="redis://127.0.0.1:9/0")
    assert token(client, partner.client_id, partner.client_secret).status_code == 200
    for _ in range(2):
        assert token(client, partner.client_id, "wrong").status_code == 401
    assert_throttled(token(client, partner.client_id, "wrong"))

