"""Propagation over a real socket: a gateway polling the policy snapshot and the status
list with conditional GETs gets 304s while nothing changes, and the tier suspension or the
revocation on its next poll after the admin's action. (The wall-clock lags, with the
production cache periods, are measured by scripts/bench_propagation.py.)"""

from __future__ import annotations

import jwt
import requests

from entitlements.kernel.status_list import StatusList
from entitlements.policy import service as policy
from entitlements.tokens import revocation
from tests.support.interop import republish


class Poller:
    """What a gateway does: conditional GETs with the last ETag."""

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


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_a_suspension_and_a_revocation_reach_a_polling_gateway_on_its_next_poll(
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
    assert claims(snapshot.poll())["tiers"]["restricted"]["status"] == "suspended"
    assert StatusList.decode(claims(status.poll())["status_list"]).get(ref["idx"]) == 0

    with db.transaction() as session:
        assert revocation.revoke(session, admin.actor(), reason="order",
                                 organization_id=partner.org_id) == 1
    republish(live_server)
    assert StatusList.decode(claims(status.poll())["status_list"]).get(ref["idx"]) == 1
    snapshot.poll()
    assert snapshot.not_modified == 2, "the snapshot did not change again: a 304"
