"""Refresh tokens of people's sign-in: rotated on every use, a replay revokes the family and
its access tokens, two refreshes at once have one winner, and every refresh decides again
(a tier taken away, the provider suspended), refused with its reason."""

from __future__ import annotations

import threading
from datetime import timedelta

import jwt
import pytest
import requests

from entitlements.attestations import issuers
from entitlements.identity_providers import service as idps
from entitlements.operations.registry import set_idp_status, set_issuer_status
from entitlements.policy import service as policy
from tests.support.admin_api import CITIZENS_ONLY
from tests.support.factories import VERIFIER
from tests.support.helpers import basic
from tests.support.interop import change_policy
from tests.support.signin import APP_REDIRECT, code_for


@pytest.fixture
def app_client(admin, acme_org):
    return admin.client(acme_org, grant_types=["authorization_code", "refresh_token"],
                        redirect_uris=[APP_REDIRECT])


def token(live_server, client, **form: str) -> requests.Response:
    return requests.post(live_server.url + "/oauth/token", data=form, timeout=10,
                         headers=basic(client.client_id, client.client_secret))


def signed_in(live_server, client) -> dict:
    code, verifier = code_for(live_server.url, client.client_id)
    answer = token(live_server, client, grant_type="authorization_code", code=code,
                   redirect_uri=APP_REDIRECT, code_verifier=verifier)
    assert answer.status_code == 200, answer.text
    return answer.json()


def refresh(live_server, client, refresh_token: str) -> requests.Response:
    return token(live_server, client, grant_type="refresh_token", refresh_token=refresh_token)


def active(live_server, client, access_token: str) -> bool:
    return requests.post(live_server.url + "/oauth/introspect", data={"token": access_token},
                         headers=basic(client.client_id, client.client_secret),
                         timeout=10).json()["active"]


def test_each_refresh_rotates_and_a_replay_revokes_the_family(live_server, app_client):
    first = signed_in(live_server, app_client)
    second = refresh(live_server, app_client, first["refresh_token"])
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["scope"] == "openid tier:public"
    replayed = refresh(live_server, app_client, first["refresh_token"])
    assert (replayed.status_code, replayed.json()["error"]) == (400, "invalid_grant")
    assert refresh(live_server, app_client, rotated["refresh_token"]).status_code == 400
    assert not active(live_server, app_client, rotated["access_token"])
    assert not active(live_server, app_client, first["access_token"])


def test_another_clients_refresh_token_is_refused(live_server, app_client, admin, acme_org):
    first = signed_in(live_server, app_client)
    other = admin.client(acme_org, grant_types=["authorization_code", "refresh_token"],
                         redirect_uris=[APP_REDIRECT])
    refused = refresh(live_server, other, first["refresh_token"])
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    assert refresh(live_server, app_client, first["refresh_token"]).status_code == 200


def test_two_refreshes_at_once_have_one_winner(live_server, app_client):
    first = signed_in(live_server, app_client)
    barrier, answers = threading.Barrier(4), []

    def go() -> None:
        barrier.wait()
        answers.append(refresh(live_server, app_client, first["refresh_token"]).status_code)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(answers) == [200, 400, 400, 400]


def test_a_refresh_after_the_tier_is_taken_away_is_refused_with_its_reason(
        live_server, app_client, admin, acme_org):
    first = signed_in(live_server, app_client)
    with admin.db.transaction() as session:
        policy.revoke_tier(session, admin.actor(), acme_org, "public")
    refused = refresh(live_server, app_client, first["refresh_token"])
    body = refused.json()
    assert (refused.status_code, body["error"]) == (400, "invalid_grant")
    assert body["reason"] and "public" not in body["reason"]


def test_a_refresh_after_the_provider_is_suspended_is_refused(live_server, app_client,
                                                              admin, acme_org):
    first = signed_in(live_server, app_client)
    with admin.db.transaction() as session:
        [idp] = idps.list_for(session, acme_org).items
        set_idp_status(session, admin.actor(), idp.id, "suspended", "breach")
    refused = refresh(live_server, app_client, first["refresh_token"])
    assert refused.json()["reason"] == "idp_suspended"


def test_a_client_revokes_its_refresh_token_rfc_7009(live_server, app_client):
    first = signed_in(live_server, app_client)
    revoked = requests.post(live_server.url + "/oauth/revoke", timeout=10,
                            data={"token": first["refresh_token"],
                                  "token_type_hint": "refresh_token"},
                            headers=basic(app_client.client_id, app_client.client_secret))
    assert revoked.status_code == 200
    assert refresh(live_server, app_client, first["refresh_token"]).status_code == 400
    assert not active(live_server, app_client, first["access_token"])


@pytest.fixture
def citizens_only(admin, acme_org, db, upstream):
    """restricted needs US citizenship (substantial); Acme may use it; alice is a US citizen
    verified for two more days."""
    change_policy(db, admin, "export control", **{"patch": CITIZENS_ONLY})
    with db.transaction() as session:
        policy.grant_tier(session, admin.actor(), acme_org, "restricted")
    return admin.person(acme_org, upstream.issuer, "alice", nationalities=("US",),
                        valid_for=timedelta(days=2))


def sign_in_for(live_server, client, scope: str) -> dict:
    code, verifier = code_for(live_server.url, client.client_id, scope)
    return token(live_server, client, grant_type="authorization_code", code=code,
                 redirect_uri=APP_REDIRECT, code_verifier=verifier).json()


def test_a_family_ends_when_the_verification_behind_it_expires(
        live_server, app_client, citizens_only, clock):
    first = sign_in_for(live_server, app_client, "openid tier:public tier:restricted")
    assert first["scope"] == "openid tier:public tier:restricted"
    clock.advance(days=2, seconds=1)
    refused = refresh(live_server, app_client, first["refresh_token"])
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    assert refused.json()["reason"] == "expired"


def test_a_refresh_narrows_when_the_verifier_is_suspended(
        live_server, app_client, citizens_only, admin, db):
    first = sign_in_for(live_server, app_client, "openid tier:public tier:restricted")
    with db.transaction() as session:
        verifier = issuers.find_by_issuer(session, VERIFIER)
        set_issuer_status(session, admin.actor(), verifier.id, "suspended", "compromised")
    narrowed = refresh(live_server, app_client, first["refresh_token"])
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["scope"] == "openid tier:public"
    claims = jwt.decode(narrowed.json()["access_token"], options={"verify_signature": False})
    assert claims["entitlements"] == ["public"]
