"""A database that is briefly out of reach: every request answers a retryable 503 (RFC 6749
``temporarily_unavailable`` on the OAuth endpoints, a problem elsewhere) with Retry-After,
never a 500; nothing about the failed statements' parameters reaches the log; and the
service recovers on its own when the database is back."""

from __future__ import annotations

import logging
import sqlite3
from urllib.parse import urlsplit

import pytest
from sqlalchemy import make_url

from entitlements.base.db import Database
from tests.support.factories import admin_key
from tests.support.faults import Proxy
from tests.support.helpers import basic


@pytest.fixture
def outage(db_url: str, make_app, admin, partner, clock):
    """(the app's test client, take the database away, bring it back, an admin key)."""
    with admin.db.transaction() as session:
        key = admin_key(session, clock.now(), "alice").secret
    if db_url.startswith("postgresql"):
        url = make_url(db_url)
        proxy = Proxy((url.host or "127.0.0.1", url.port or 5432))
        database = Database(url.set(port=proxy.port).render_as_string(hide_password=False))
        yield make_app(db=database).test_client(), proxy.down, proxy.up, key
        proxy.close()
    else:  # SQLite: another writer holds the lock longer than the app waits for it
        path = urlsplit(db_url).path
        database = Database(db_url, connect_args={"check_same_thread": False, "timeout": 0.05})
        holder = sqlite3.connect(path[1:] if path.startswith("//") else path,
                                 isolation_level=None, timeout=5)
        yield (make_app(db=database).test_client(),
               lambda: holder.execute("BEGIN EXCLUSIVE"), lambda: holder.execute("COMMIT"),
               key)
        holder.close()
    database.dispose()


def test_every_family_answers_a_retryable_503_and_recovers(outage, partner, caplog):
    client, take_away, bring_back, key = outage
    token = {"data": {"grant_type": "client_credentials"},
             "headers": basic(partner.client_id, partner.client_secret)}
    assert client.post("/oauth/token", **token).status_code == 200
    take_away()
    with caplog.at_level(logging.ERROR, logger="entitlements"):
        refused = client.post("/oauth/token", **token)
        admin = client.get("/admin/organizations", headers={"Authorization": f"Bearer {key}"})
        partner_call = client.post("/policy/explain", data={"model": "base-1"},
                                   headers=basic(partner.client_id, partner.client_secret))
    assert (refused.status_code, refused.get_json()["error"]) == (503,
                                                                  "temporarily_unavailable")
    assert refused.headers["Retry-After"] == "1"
    for answer in (admin, partner_call):
        assert answer.status_code == 503 and answer.mimetype == "application/problem+json"
        assert answer.get_json()["type"] == "urn:entitlements:problem:temporarily_unavailable"
        assert answer.headers["Retry-After"] == "1"
    logged = caplog.text
    assert "database error on POST /oauth/token" in logged
    assert partner.client_secret not in logged and "[parameters" not in logged
    assert "sha256$" not in logged
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.get_json()["checks"]["database"]["ok"] is False
    assert client.get("/healthz").status_code == 200
    bring_back()
    assert client.post("/oauth/token", **token).status_code == 200, "recovered on its own"
    assert client.get("/readyz").status_code == 200
