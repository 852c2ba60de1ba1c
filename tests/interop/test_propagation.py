"""Propagation over a real socket: a gateway polling the policy snapshot and the status
list every second (conditional GETs) sees a tier suspension and a revocation within two
seconds of the admin's action, whatever the token's remaining lifetime."""

from __future__ import annotations

import time

import jwt
import requests

from entitlements.kernel.status_list import StatusList
from entitlements.policy import service as policy
from entitlements.tokens import revocation

POLL_SECONDS = 1.0
DEADLINE = 5.0


class Poller:
    """What a gateway does: conditional GETs with the last ETag, once per poll period."""

    def __init__(self, url: str) -> None:
        self.url, self.etag, self.body = url, None, None
        self.not_modified = 0

    def poll(self) -> str:
        headers = {"If-None-Match": self.etag} if self.etag else {}
        response = requests.get(self.url, headers=headers, timeout=5)
        if response.status_code == 304:
            self.not_modified += 1
        else:
            assert response.status_code == 200
            self.etag, self.body = response.headers["ETag"], response.text
        return self.body


def seconds_until(poller: Poller, changed) -> float:
    """Poll every POLL_SECONDS from now until ``changed(body)``; the lag in seconds."""
    start = time.monotonic()
    while time.monotonic() - start < DEADLINE:
        if changed(poller.poll()):
            return time.monotonic() - start
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"no change seen at {poller.url} within {DEADLINE} s")


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_a_suspension_and_a_revocation_reach_a_polling_gateway_within_two_seconds(
        live_server, admin, db):
    admin.gateway()
    partner = admin.partner("Acme Labs", tiers=("public", "restricted"))
    issued = requests.post(live_server.url + "/oauth/token",
                           data={"grant_type": "client_credentials"}, timeout=5,
                           auth=(partner.client_id, partner.client_secret)).json()
    ref = claims(issued["access_token"])["status"]["status_list"]
    snapshot, status = Poller(live_server.url + "/policy"), Poller(ref["uri"])
    snapshot.poll(), status.poll()
    snapshot.poll(), status.poll()
    assert snapshot.not_modified == status.not_modified == 1  # nothing changed: 304s

    with db.transaction() as session:
        latest = policy.latest(session).version
        row = policy.create_version(session, admin.actor(), base_version=latest,
                                    reason="suspend", patch={
                                        "tiers": {"restricted": {"status": "suspended"}}})
        policy.activate(session, admin.actor(), row.version, reason="suspend")
    lag = seconds_until(snapshot, lambda body: claims(body)["tiers"]["restricted"][
        "status"] == "suspended")
    assert lag < 2.0

    with db.transaction() as session:
        assert revocation.revoke(session, admin.actor(), reason="order",
                                 organization_id=partner.org_id) == 1
    lag = seconds_until(status, lambda body: StatusList.decode(
        claims(body)["status_list"]).get(ref["idx"]) == 1)
    assert lag < 2.0
