"""A throwaway entitlement service for examples and benchmarks: a temporary SQLite
database and key store, the real app on a loopback port, and a few admin shortcuts."""

from __future__ import annotations

import socket
import tempfile
import threading
from typing import Any

import requests
from werkzeug.serving import make_server

from entitlements.app import create_app
from entitlements.base.actor import Actor
from entitlements.base.clock import SystemClock
from entitlements.base.db import Database
from entitlements.base.migrations import upgrade
from entitlements.base.settings import load_settings
from entitlements.clients import service as clients
from entitlements.organizations import service as organizations
from entitlements.policy import service as policy
from entitlements.resources import service as resources

GATEWAY = "https://gateway.example/models"
VERIFIED = ["government_partner", "trusted", "verified"]
CATALOG = {
    "tiers": {"public": {"status": "open", "trust_levels": VERIFIED},
              "restricted": {"status": "open", "trust_levels": VERIFIED}},
    "models": {"base-1": {"tier": "public"},
               "frontier-2": {"tier": "restricted", "fallback": "base-1"}},
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Sandbox:
    def __enter__(self) -> Sandbox:
        self._dir = tempfile.TemporaryDirectory()
        url = f"sqlite:///{self._dir.name}/entitlements.sqlite3"
        upgrade(url)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        settings = load_settings({}, database_url=url, keys_dir=f"{self._dir.name}/keys",
                                 issuer=self.url, log_level="WARNING")
        self.db = Database(url)
        self.app = create_app(settings, db=self.db)
        self._server = make_server("127.0.0.1", port, self.app, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        with self.db.transaction() as session:
            resources.register(session, self.actor(), GATEWAY, "models", default=True)
        self.set_policy("catalog", document=CATALOG)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self.app.extensions["entitlements"].close()
        self.db.dispose()
        self._dir.cleanup()

    def actor(self) -> Actor:
        return Actor("admin:sandbox", SystemClock().now())

    def set_policy(self, reason: str, **change: Any) -> int:
        with self.db.transaction() as session:
            row = policy.create_version(session, self.actor(), reason=reason,
                                        base_version=policy.latest(session).version, **change)
            policy.activate(session, self.actor(), row.version, reason=reason)
            return row.version

    def partner(self, name: str = "Acme Labs") -> tuple[str, str]:
        with self.db.transaction() as session:
            org = organizations.create(session, self.actor(), name)
            session.flush()
            registration = clients.register(session, self.actor(), org.id, name=name)
            return registration.client.client_id, registration.client_secret or ""

    def token(self, client_id: str, secret: str) -> str:
        response = requests.post(self.url + "/oauth/token", timeout=10,
                                 data={"grant_type": "client_credentials"},
                                 auth=(client_id, secret))
        response.raise_for_status()
        return response.json()["access_token"]
