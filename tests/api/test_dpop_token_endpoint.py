"""DPoP (RFC 9449) at the token endpoint: bound tokens from every backend grant, clients that
must send proofs, nonces, the policy's sender constraint, introspection, and every bad proof
refused with its reason and audited (the corpus in ``tests.support.dpop``)."""

from __future__ import annotations

import os

import jwt
import pytest
import redis
from sqlalchemy import func, select

from entitlements.audit.models import AuditEvent
from entitlements.clients import service as clients
from entitlements.clients.schemas import ClientSchema, client_columns
from entitlements.kernel import dpop
from entitlements.tokens.models import IssuedToken
from tests.support.dpop import BAD_PROOFS, ProofKey, Target
from tests.support.factories import GATEWAY
from tests.support.helpers import basic, decode_with_jwks
from tests.support.interop import change_policy

TOKEN = "/oauth/token"
GRANT = {"grant_type": "client_credentials"}
REDIS_URL = (f"redis://127.0.0.1:6379/"
             f"{15 - int(os.environ.get('PYTEST_XDIST_WORKER', 'gw0')[2:])}")

pytestmark = pytest.mark.partner(tiers=("public", "restricted"))


@pytest.fixture
def settings(settings):
    """Refusals by the dozen: the failure limit is tested on its own (test_throttling)."""
    return settings.with_overrides(rate_limit_failures="1000/minute")


@pytest.fixture
def key() -> ProofKey:
    return ProofKey()


def token_request(client, partner, settings, clock, key=None, *, proofs=None, **form):
    """A client-credentials request, with a proof by ``key`` unless ``proofs`` are given."""
    if proofs is None:
        proofs = [key.proof("POST", settings.token_endpoint, now=clock.now().timestamp())
                  ] if key else []
    headers = {**basic(partner.client_id, partner.client_secret)}
    environ = {}
    if proofs:
        headers["DPoP"] = proofs[0]
    if len(proofs) > 1:  # a second header of the same name (Werkzeug's test client)
        environ["HTTP_DPOP"] = ", ".join(proofs)
    return client.post(TOKEN, data={**GRANT, **form}, headers=headers,
                       environ_overrides=environ)


def claims_of(client, token, settings) -> dict:
    return decode_with_jwks(token, client.get("/jwks.json").get_json(), settings.issuer, GATEWAY)


def test_a_proof_binds_the_token_to_its_key(client, partner, settings, clock, key, db):
    response = token_request(client, partner, settings, clock, key)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["token_type"] == "DPoP"
    claims = claims_of(client, body["access_token"], settings)
    assert claims["cnf"] == {"jkt": key.jkt}
    with db.sessions() as session:
        row = session.get(IssuedToken, claims["jti"])
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "grant.issued")).all()[-1]
    assert row.cnf_jkt == key.jkt
    assert event.details["cnf_jkt"] == key.jkt


def test_without_a_proof_the_token_is_a_bearer_token(client, partner, settings, clock):
    body = token_request(client, partner, settings, clock).get_json()
    assert body["token_type"] == "Bearer"
    assert "cnf" not in claims_of(client, body["access_token"], settings)


@pytest.mark.parametrize("alg", ["ES256", "ES384", "EdDSA", "RS256", "PS256"])
def test_every_advertised_algorithm_binds(client, partner, settings, clock, alg):
    assert alg in client.get("/.well-known/oauth-authorization-server").get_json()[
        "dpop_signing_alg_values_supported"]
    key = ProofKey(alg)
    body = token_request(client, partner, settings, clock, key).get_json()
    assert claims_of(client, body["access_token"], settings)["cnf"]["jkt"] == key.jkt


def test_a_client_registered_for_dpop_must_send_a_proof(client, admin, settings, clock, key,
                                                        db):
    admin.gateway()
    bound = admin.partner("Bound Co", dpop_bound_access_tokens=True)
    before = _count(db, IssuedToken)
    refused = token_request(client, bound, settings, clock)
    assert refused.status_code == 400
    assert refused.get_json()["error"] == "invalid_dpop_proof"
    assert refused.get_json()["reason"] == "dpop_proof_required"
    assert _count(db, IssuedToken) == before
    granted = token_request(client, bound, settings, clock, key)
    assert granted.get_json()["token_type"] == "DPoP"
    listed = admin_client_view(admin, bound.client_id)
    assert listed["dpop_bound_access_tokens"] is True


def admin_client_view(admin, client_id: str) -> dict:
    with admin.db.sessions() as session:
        return ClientSchema().dump(client_columns(clients.get(session, client_id)))


def test_introspection_reports_the_binding(client, admin, partner, settings, clock, key):
    token = token_request(client, partner, settings, clock, key).get_json()["access_token"]
    bearer = token_request(client, partner, settings, clock).get_json()["access_token"]
    inspector = admin.partner("Gateway Co", may_introspect=True)
    seen = client.post("/oauth/introspect", data={"token": token},
                       headers=basic(inspector.client_id, inspector.client_secret)).get_json()
    assert (seen["active"], seen["token_type"], seen["cnf"]) == (True, "DPoP", {"jkt": key.jkt})
    plain = client.post("/oauth/introspect", data={"token": bearer},
                        headers=basic(inspector.client_id, inspector.client_secret)).get_json()
    assert plain["token_type"] == "Bearer" and "cnf" not in plain


# -- the policy's sender constraint ----------------------------------------------------------


@pytest.fixture
def restricted_needs_dpop(db, admin) -> None:
    change_policy(db, admin, "holders only",
                  patch={"tiers": {"restricted": {"sender_constraint": "dpop"}}})


@pytest.mark.usefixtures("restricted_needs_dpop")
def test_a_tier_that_requires_dpop_is_granted_only_in_a_bound_token(client, partner, settings,
                                                                    clock, key):
    asked = {"scope": "tier:restricted"}
    refused = token_request(client, partner, settings, clock, **asked)
    assert refused.status_code == 400
    assert refused.get_json() == {
        "error": "invalid_scope",
        "error_description": "The organization is not entitled to 'tier:restricted' "
                             "(dpop_required)."}
    # Asked for nothing in particular, a bearer token gets what it may have ...
    plain = token_request(client, partner, settings, clock).get_json()
    assert plain["scope"] == "tier:public"
    # ... and a bound one everything.
    bound = token_request(client, partner, settings, clock, key).get_json()
    assert bound["scope"] == "tier:public tier:restricted"
    assert token_request(client, partner, settings, clock, key, **asked).status_code == 200


@pytest.mark.usefixtures("restricted_needs_dpop")
def test_explain_and_the_snapshot_carry_the_rule(client, partner):
    snapshot = jwt.decode(client.get("/policy").get_data(as_text=True),
                          options={"verify_signature": False})
    assert snapshot["tiers"]["restricted"]["sender_constraint"] == "dpop"
    assert snapshot["tiers"]["public"]["sender_constraint"] is None


# -- nonces ----------------------------------------------------------------------------------


@pytest.fixture
def nonce_client(make_app, settings):
    app = make_app(settings=settings.with_overrides(dpop_nonces=True,
                                                    dpop_nonce_secret="n" * 32))
    return app.test_client()


def test_a_nonce_is_asked_for_then_accepted(nonce_client, partner, settings, clock, key):
    first = token_request(nonce_client, partner, settings, clock, key)
    assert first.status_code == 400
    assert first.get_json()["error"] == "use_dpop_nonce"
    assert first.get_json()["reason"] == "dpop_nonce_required"
    nonce = first.headers["DPoP-Nonce"]
    proof = key.proof("POST", settings.token_endpoint, now=clock.now().timestamp(),
                      nonce=nonce)
    granted = token_request(nonce_client, partner, settings, clock, proofs=[proof])
    assert granted.status_code == 200, granted.get_json()
    assert granted.headers["DPoP-Nonce"] == nonce


def test_a_stale_nonce_is_refused_with_a_fresh_one(nonce_client, partner, settings, clock,
                                                   key):
    nonce = token_request(nonce_client, partner, settings, clock, key).headers["DPoP-Nonce"]
    clock.advance(settings.dpop_nonce_lifetime * 2 + 1)
    proof = key.proof("POST", settings.token_endpoint, now=clock.now().timestamp(),
                      nonce=nonce)
    stale = token_request(nonce_client, partner, settings, clock, proofs=[proof])
    assert (stale.status_code, stale.get_json()["error"], stale.get_json()["reason"]) == (
        400, "use_dpop_nonce", "dpop_nonce_stale")
    assert stale.headers["DPoP-Nonce"] != nonce
    forged = key.proof("POST", settings.token_endpoint, now=clock.now().timestamp(),
                       nonce="0." + "A" * 24)
    assert token_request(nonce_client, partner, settings, clock, proofs=[forged]
                         ).get_json()["reason"] == "dpop_nonce_stale"
    odd = key.proof("POST", settings.token_endpoint, now=clock.now().timestamp(), nonce="é")
    assert token_request(nonce_client, partner, settings, clock, proofs=[odd]
                         ).get_json()["reason"] == "dpop_nonce_stale"


def test_nonces_need_a_shared_secret():
    from entitlements.base.errors import ConfigError
    from entitlements.base.settings import load_settings

    with pytest.raises(ConfigError, match="DPOP_NONCE_SECRET"):
        load_settings({"ENTITLEMENTS_DPOP_NONCES": "true"})


# -- bad proofs ------------------------------------------------------------------------------


@pytest.mark.parametrize(("build", "reason"), [pytest.param(build, reason, id=name)
                                               for name, build, reason in BAD_PROOFS])
def test_a_bad_proof_is_refused_audited_and_nothing_issued(client, partner, settings, clock,
                                                           key, db, build, reason):
    target = Target("POST", settings.token_endpoint, clock.now().timestamp(), key)
    issued, refused_before = _count(db, IssuedToken), _refusals(db)
    response = token_request(client, partner, settings, clock, proofs=build(target))
    assert response.status_code == 400
    body = response.get_json()
    assert (body["error"], body["reason"]) == ("invalid_dpop_proof", reason)
    assert body["error_description"].endswith(".")
    assert _count(db, IssuedToken) == issued
    events = _refusals(db)[len(refused_before):]
    assert [(e.action, e.details["reason"]) for e in events] == [("grant.refused", reason)]


def test_a_replayed_proof_is_refused(client, partner, settings, clock, key):
    proof = key.proof("POST", settings.token_endpoint, now=clock.now().timestamp())
    assert token_request(client, partner, settings, clock, proofs=[proof]).status_code == 200
    again = token_request(client, partner, settings, clock, proofs=[proof])
    assert (again.status_code, again.get_json()["reason"]) == (400, "dpop_replayed")


@pytest.mark.parametrize("htu", ["{endpoint}?x=1#frag", "{upper}"], ids=["query-fragment",
                                                                          "case-and-port"])
def test_htu_is_compared_after_normalization(client, partner, settings, clock, key, htu):
    endpoint = settings.token_endpoint
    upper = endpoint.replace("http://127.0.0.1:8000", "HTTP://127.0.0.1:8000")
    proof = key.proof("POST", htu.format(endpoint=endpoint, upper=upper),
                      now=clock.now().timestamp())
    assert token_request(client, partner, settings, clock, proofs=[proof]).status_code == 200


@pytest.fixture
def shared_redis() -> str:
    connection = redis.Redis.from_url(REDIS_URL)
    connection.flushdb()
    connection.close()
    return REDIS_URL


def test_instances_share_spent_proofs_through_redis(make_app, settings, partner, clock, key,
                                                    shared_redis):
    shared = settings.with_overrides(redis_url=shared_redis)
    one, two = make_app(settings=shared).test_client(), make_app(settings=shared).test_client()
    proof = key.proof("POST", settings.token_endpoint, now=clock.now().timestamp())
    assert token_request(one, partner, settings, clock, proofs=[proof]).status_code == 200
    replay = token_request(two, partner, settings, clock, proofs=[proof])
    assert replay.get_json()["reason"] == "dpop_replayed"


def test_instances_share_spent_proofs_through_the_database(make_app, settings, partner, clock,
                                                           key):
    one, two = make_app().test_client(), make_app().test_client()
    proof = key.proof("POST", settings.token_endpoint, now=clock.now().timestamp())
    assert token_request(one, partner, settings, clock, proofs=[proof]).status_code == 200
    assert token_request(two, partner, settings, clock, proofs=[proof]).get_json()[
        "reason"] == "dpop_replayed"


def test_an_unreachable_replay_store_is_a_retryable_error(make_app, settings, partner, clock,
                                                          key, db):
    broken = make_app(settings=settings.with_overrides(redis_url="redis://127.0.0.1:9/0"))
    issued = _count(db, IssuedToken)
    response = token_request(broken.test_client(), partner, settings, clock, key)
    assert response.status_code == 503
    assert _count(db, IssuedToken) == issued


def _count(db, model) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def _refusals(db) -> list[AuditEvent]:
    with db.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(
            AuditEvent.action == "grant.refused").order_by(AuditEvent.seq)))


def test_the_reasons_are_documented():
    assert all(text and not text.endswith(".") for text in dpop.REASONS.values())
