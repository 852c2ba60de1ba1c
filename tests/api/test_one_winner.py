"""Racing changes have one winner: the same transition sent several times at once, from
threads released together at a barrier, to the real server on a loopback socket. Exactly one
succeeds; the others get the 409 a sequential retry gets, and the history shows one move.
Many rounds each, on both databases (PostgreSQL runs them truly at once; SQLite's writers
queue)."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from entitlements.admins import service as admins
from entitlements.app import create_app
from entitlements.audit.models import AuditEvent
from entitlements.base.actor import Actor
from entitlements.base.errors import Conflict
from entitlements.base.settings import load_settings
from entitlements.identity_providers.models import IdentityProvider
from entitlements.organizations.models import OrganizationChange
from entitlements.policy.models import PolicyActivation
from entitlements.signing import service as signing
from entitlements.signing.keystore import FileKeyStore
from tests.support.factories import admin_key, client_keypair
from tests.support.live import LiveServer, free_port
from tests.support.markers import ONE_ADMIN

pytestmark = ONE_ADMIN

ROUNDS = 8
AT_ONCE = 4


@pytest.fixture
def server(db_url, keys_dir, clock, db):
    """The service on a loopback port; raising trust needs no evidence here (its checks
    have tests of their own), so a round is one request and one approval."""
    port = free_port()
    settings = load_settings({}, database_url=db_url, keys_dir=str(keys_dir),
                             issuer=f"http://127.0.0.1:{port}", client_cache_ttl=0,
                             policy_cache_ttl=0, evidence_trusted="none",
                             evidence_government_partner="none", two_person_policy="none")
    app = create_app(settings, clock=clock, db=db)
    with LiveServer(app, port) as live:
        yield live
    app.extensions["entitlements"].close()


class Admins:
    """Admin API callers over HTTP, one key per admin name."""

    def __init__(self, url: str, db, clock) -> None:
        self.url, self.keys = url + "/admin", {}
        with db.transaction() as session:
            for name in ("alice", "bob", "carol"):
                self.keys[name] = admin_key(session, clock.now(), name).secret

    def post(self, path: str, body: dict[str, Any], as_admin: str = "alice"
             ) -> requests.Response:
        return requests.post(self.url + path, json=body, timeout=30,
                             headers={"Authorization": f"Bearer {self.keys[as_admin]}"})

    def ok(self, path: str, body: dict[str, Any], as_admin: str = "alice") -> dict[str, Any]:
        response = self.post(path, body, as_admin)
        assert response.status_code in (200, 201), response.text
        return response.json()


@pytest.fixture
def api(server, db, clock) -> Admins:
    return Admins(server.url, db, clock)


def race(*calls: Callable[[], requests.Response]) -> list[requests.Response]:
    """Every call at once: each waits at a barrier, then sends its request."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], requests.Response]) -> requests.Response:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def one_winner(answers: list[requests.Response], code: str) -> requests.Response:
    """Exactly one success; every other answer the sequential retry's 409 ``code``."""
    statuses = Counter(a.status_code for a in answers)
    winners = [a for a in answers if a.status_code in (200, 201)]
    assert len(winners) == 1, statuses
    for loser in answers:
        if loser is not winners[0]:
            assert loser.status_code == 409, loser.text
            assert loser.json()["type"] == f"urn:entitlements:problem:{code}", loser.json()
    return winners[0]


def same(n: int, call: Callable[[], requests.Response]) -> list[Callable[[], requests.Response]]:
    return [call] * n


def changes(db, org_id: str, action: str) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(OrganizationChange).where(
            OrganizationChange.organization_id == org_id, OrganizationChange.action == action))


def events(db, action: str, target: str | None = None) -> int:
    query = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    if target:
        query = query.where(AuditEvent.target == target)
    with db.sessions() as session:
        return session.scalar(query)


def test_one_suspension_of_an_organization(api, admin, db):
    for round_ in range(ROUNDS):
        org_id = admin.org(f"Suspended {round_}", tiers=())
        path = f"/organizations/{org_id}/suspend"
        one_winner(race(*same(AT_ONCE, partial(api.post, path, {"reason": "race"}))),
                   "invalid_transition")
        assert changes(db, org_id, "suspend") == 1
        assert api.post(path, {"reason": "again"}).status_code == 409


def test_revoke_racing_reinstate_never_leaves_a_revoked_organization_verified(api, admin, db):
    for round_ in range(ROUNDS):
        org_id = admin.org(f"Contested {round_}", tiers=())
        admin.suspend(org_id)
        revoke, reinstate = race(
            partial(api.post, f"/organizations/{org_id}/revoke", {"reason": "race"}),
            partial(api.post, f"/organizations/{org_id}/reinstate", {"reason": "race"}))
        assert revoke.status_code == 200, revoke.text  # from suspended or from verified
        assert reinstate.status_code in (200, 409)
        with db.sessions() as session:
            history = list(session.scalars(select(OrganizationChange).where(
                OrganizationChange.organization_id == org_id).order_by(OrganizationChange.id)))
        assert [c.to_status for c in history][-1] == "revoked"
        for earlier, later in itertools.pairwise(history):
            assert later.from_status == earlier.to_status, "each move starts where one ended"
        status = requests.get(f"{api.url}/organizations/{org_id}", timeout=5, headers={
            "Authorization": f"Bearer {api.keys['alice']}"}).json()["status"]
        assert status == "revoked"


def test_one_request_for_a_trust_level(api, admin, db):
    for round_ in range(ROUNDS):
        org_id = admin.org(f"Asking {round_}", tiers=())
        body = {"level": "trusted", "reason": "race"}
        path = f"/organizations/{org_id}/trust-requests"
        one_winner(race(*same(AT_ONCE, partial(api.post, path, body))), "already_pending")
        assert events(db, "organization.trust_requested", org_id) == 1


def test_one_approval_of_a_trust_request(api, admin, db):
    for round_ in range(ROUNDS):
        org_id = admin.org(f"Trusted {round_}", tiers=())
        request_id = api.ok(f"/organizations/{org_id}/trust-requests",
                            {"level": "trusted", "reason": "race"})["id"]
        path = f"/trust-requests/{request_id}/approve"
        one_winner(race(partial(api.post, path, {"reason": "yes"}, "bob"),
                        partial(api.post, path, {"reason": "yes"}, "carol"),
                        partial(api.post, path, {"reason": "yes"}, "bob")), "conflict")
        assert events(db, "organization.trust_raised", org_id) == 1
        assert changes(db, org_id, "raise_trust") == 1


def test_approval_racing_rejection_decides_once(api, admin, db):
    for round_ in range(ROUNDS):
        org_id = admin.org(f"Decided {round_}", tiers=())
        request_id = api.ok(f"/organizations/{org_id}/trust-requests",
                            {"level": "trusted", "reason": "race"})["id"]
        one_winner(race(
            partial(api.post, f"/trust-requests/{request_id}/approve", {"reason": "y"}, "bob"),
            partial(api.post, f"/trust-requests/{request_id}/reject", {"reason": "n"}, "carol"),
        ), "conflict")
        decided = (events(db, "organization.trust_raised", org_id)
                   + events(db, "organization.trust_rejected", org_id))
        assert decided == 1


def test_one_lowering_of_trust(api, admin, db):
    for round_ in range(ROUNDS):
        org_id = admin.org(f"Lowered {round_}", tiers=())
        admin.raise_trust(org_id, "trusted")
        path = f"/organizations/{org_id}/lower-trust"
        one_winner(race(*same(AT_ONCE, partial(api.post,
            path, {"level": "verified", "reason": "race"}))), "conflict")
        assert changes(db, org_id, "lower_trust") == 1


def test_one_revocation_of_a_client(api, admin, db):
    org_id = admin.org("Clients", tiers=())
    for _ in range(ROUNDS):
        client_id = admin.client(org_id).client_id
        path = f"/clients/{client_id}/revoke"
        one_winner(race(*same(AT_ONCE, partial(api.post, path, {"reason": "race"}))),
                   "conflict")
        assert events(db, "client.revoked", client_id) == 1


def test_one_suspension_of_an_identity_provider_and_of_an_issuer(api, admin, db):
    org_id = admin.org("Brokered", tiers=())
    for round_ in range(ROUNDS):
        admin.identity_provider(org_id, f"https://login{round_}.test")
        with db.sessions() as session:
            idp_id = session.scalar(select(IdentityProvider.id).where(
                IdentityProvider.issuer == f"https://login{round_}.test"))
        path = f"/identity-providers/{idp_id}/suspend"
        one_winner(race(*same(AT_ONCE, partial(api.post, path, {"reason": "race"}))),
                   "conflict")
        assert events(db, "idp.suspended", idp_id) == 1
    issuer_id = api.ok("/attestation-issuers", {
        "issuer": "https://verifier.race", "name": "Race", "formats": ["jwt"],
        "nationalities": ["US"], "assurance_levels": ["high"], "max_age_days": 30,
        "jwks": client_keypair("race")[1]})["id"]
    for round_ in range(ROUNDS):
        action = "suspend" if round_ % 2 == 0 else "reinstate"
        path = f"/attestation-issuers/{issuer_id}/{action}"
        one_winner(race(*same(AT_ONCE, partial(api.post, path, {"reason": "race"}))),
                   "conflict")
    assert events(db, "issuer.suspended", issuer_id) == ROUNDS // 2
    assert events(db, "issuer.reinstated", issuer_id) == ROUNDS // 2


def test_one_new_policy_version_per_base(api, db):
    for round_ in range(ROUNDS):
        latest = requests.get(f"{api.url}/policy", timeout=5, headers={
            "Authorization": f"Bearer {api.keys['alice']}"}).json()["latest_version"]
        body = {"base_version": latest, "reason": f"round {round_}",
                "patch": {"tiers": {"public": {"description": f"round {round_}"}}}}
        winner = one_winner(race(*same(AT_ONCE, partial(api.post, "/policy/versions", body))),
                            "stale_version")
        assert winner.json()["version"]["version"] == latest + 1


def test_one_activation_of_a_version(api, db):
    for round_ in range(ROUNDS):
        latest = requests.get(f"{api.url}/policy", timeout=5, headers={
            "Authorization": f"Bearer {api.keys['alice']}"}).json()["latest_version"]
        version = api.ok("/policy/versions", {
            "base_version": latest, "reason": f"round {round_}",
            "patch": {"tiers": {"public": {"description": f"round {round_}"}}}}
        )["version"]["version"]
        before = _activations(db)
        path = f"/policy/versions/{version}/activate"
        one_winner(race(*same(AT_ONCE, partial(api.post, path, {"reason": "race"}))),
                   "already_active")
        assert _activations(db) == before + 1


def _activations(db) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(PolicyActivation))


def at_once(n: int, work: Callable[[], Any]) -> list[Any]:
    """``work`` in ``n`` threads released together; each result, or the Conflict raised."""
    barrier = threading.Barrier(n)

    def run(_: int) -> Any:
        barrier.wait(timeout=30)
        try:
            return work()
        except Conflict as refused:
            return refused

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def test_one_revocation_of_an_admin_key(db, clock):
    for round_ in range(ROUNDS):
        with db.transaction() as session:
            key_id = admin_key(session, clock.now(), f"admin{round_}").key.id

        results = at_once(AT_ONCE, partial(_revoke_admin_key, db, clock, key_id))
        assert sum(not isinstance(r, Conflict) for r in results) == 1, results
        assert events(db, "admin.key_revoked", key_id) == 1


def _revoke_admin_key(db, clock, key_id: str) -> Any:
    with db.transaction() as session:
        return admins.revoke(session, Actor("cli:root", clock.now()), key_id)


def test_one_key_rotation_at_a_time(db, clock, keys_dir):
    store = FileKeyStore(keys_dir)
    for _ in range(ROUNDS):
        clock.advance(hours=1)  # the last round's key signs by now
        results = at_once(AT_ONCE, partial(_rotate, db, clock, store))
        refused = [r for r in results if isinstance(r, Conflict)]
        assert len(refused) == AT_ONCE - 1, results
        assert all(r.code == "rotation_pending" for r in refused)
    assert events(db, "key.rotated") == ROUNDS


def _rotate(db, clock, store) -> Any:
    with db.transaction() as session:
        return signing.rotate(session, store, Actor("cli:root", clock.now()), "ES256",
                              timedelta(minutes=10))
