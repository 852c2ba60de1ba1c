"""RFC 8693 token exchange: a partner's backend trades its person's ID token (from the
organization's registered identity provider) for a person token with a citizenship summary."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from sqlalchemy import func, select

from entitlements.attestations import citizenship, issuers
from entitlements.audit.models import AuditEvent
from entitlements.base.actor import Actor
from entitlements.base.errors import TemporarilyUnavailable
from entitlements.identity_providers import service as idps
from entitlements.identity_providers.models import UsedSubjectToken
from entitlements.operations import registry
from entitlements.persons import service as persons
from entitlements.persons.models import Person
from entitlements.tokens.models import IssuedToken
from tests.support.dpop import ProofKey
from tests.support.factories import GATEWAY, client_keypair
from tests.support.helpers import audit_events, basic

IDP = "https://login.acme.example"
AUDIENCE = "acme-portal"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"


@pytest.fixture
def idp(db, admin, partner):
    private, jwks = client_keypair("idp-1")
    with db.transaction() as session:
        idps.register(session, admin.actor(), partner.org_id, issuer=IDP, audiences=[AUDIENCE],
                      jwks=jwks)
    return private


def id_token(private, clock, *, kid="idp-1", algorithm="ES256", **overrides) -> str:
    now = int(clock.now().timestamp())
    claims = {"iss": IDP, "sub": "alice", "aud": AUDIENCE, "iat": now - 5, "exp": now + 600,
              "jti": f"id-{now}-{overrides.get('sub', 'alice')}", **overrides}
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, private, algorithm=algorithm, headers={"kid": kid})


def exchange(client, partner, token: str, **extra):
    form = {"grant_type": EXCHANGE, "subject_token": token,
            "subject_token_type": ID_TOKEN, **extra}
    return client.post("/oauth/token", data=form,
                       headers=basic(partner.client_id, partner.client_secret))


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def count(db, model) -> int:
    with db.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_an_id_token_becomes_a_person_token(client, db, clock, partner, idp):
    response = exchange(client, partner, id_token(idp, clock))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"
    assert body["token_type"] == "Bearer" and body["scope"] == "tier:public"
    claims = claims_of(body["access_token"])
    with db.sessions() as session:
        person = persons.find_by_idp(session, partner.org_id, IDP, "alice")
        recorded = session.get(IssuedToken, claims["jti"])
    assert person is not None and claims["sub"] == person.id
    assert claims["act"] == {"sub": partner.client_id} and claims["client_id"] == partner.client_id
    assert claims["org"] == {"id": partner.org_id, "trust": "verified"}
    assert claims["citizenship"] == [] and claims["aud"] == GATEWAY
    assert recorded.subject == person.id


def test_a_known_person_keeps_their_id_and_gets_their_citizenship(
        client, db, clock, admin, partner, idp):
    _, verifier_jwks = client_keypair("verifier-1")
    with db.transaction() as session:
        person = persons.create(session, admin.actor(), partner.org_id, idp_issuer=IDP,
                                idp_subject="alice")
        issuer = issuers.register(session, admin.actor(), issuer="https://verifier.example",
                                  name="Verifier", jwks=verifier_jwks, formats=["jwt"],
                                  nationalities=["US", "CA"],
                                  assurance_levels=["substantial", "high"], max_age_days=365)
        session.flush()
        person_id, issuer_id = person.id, issuer.id
    expires = clock.now() + timedelta(seconds=120)
    _store_fact(db, clock, person_id, issuer_id, ["US"], "high", expires)
    response = exchange(client, partner, id_token(idp, clock))
    assert response.status_code == 200, response.get_json()
    claims = claims_of(response.get_json()["access_token"])
    assert claims["sub"] == person_id
    assert claims["citizenship"] == [
        {"nationality": "US", "level": "high", "exp": int(expires.timestamp())}]
    # The token does not outlive the verification (120 s < the 300 s token lifetime).
    assert claims["exp"] == int(expires.timestamp())
    assert response.get_json()["expires_in"] == claims["exp"] - claims["iat"] <= 120

    with db.transaction() as session:
        registry.set_issuer_status(session, admin.actor(), issuer_id, "suspended",
                                   "compromised")
    later = claims_of(exchange(client, partner, id_token(idp, clock, jti="second"))
                      .get_json()["access_token"])
    assert later["citizenship"] == [] and later["exp"] - later["iat"] == 300


def _store_fact(db, clock, person_id, issuer_id, nationalities, level, expires):
    from entitlements.attestations.models import VerifiedAttestation
    with db.transaction() as session:
        session.add(VerifiedAttestation(
            id=f"att-{level}-{expires.timestamp()}", person_id=person_id, issuer_id=issuer_id,
            credential_id=f"cred-{level}-{expires.timestamp()}", nationalities=nationalities,
            assurance_level=level, verified_at=clock.now() - timedelta(days=1),
            expires_at=expires, evidence_sha256="0" * 64, recorded_at=clock.now()))


def test_the_summary_keeps_the_strongest_verification_per_nationality(db, clock, admin,
                                                                      partner):
    _, verifier_jwks = client_keypair("verifier-1")
    with db.transaction() as session:
        person = persons.create(session, admin.actor(), partner.org_id)
        issuer = issuers.register(session, admin.actor(), issuer="https://verifier.example",
                                  name="Verifier", jwks=verifier_jwks, formats=["jwt"],
                                  nationalities=["US", "CA"],
                                  assurance_levels=["substantial", "high"], max_age_days=365)
        session.flush()
        person_id, issuer_id = person.id, issuer.id
    now = clock.now()
    _store_fact(db, clock, person_id, issuer_id, ["US"], "substantial", now + timedelta(days=9))
    _store_fact(db, clock, person_id, issuer_id, ["US", "CA"], "high", now + timedelta(days=2))
    _store_fact(db, clock, person_id, issuer_id, ["CA"], "high", now + timedelta(seconds=5))
    with db.sessions() as session:
        summary = citizenship.citizenship_summary(session, person_id, now,
                                                   min_remaining=timedelta(seconds=10))
    assert [(c.nationality, c.level, c.expires_at) for c in summary.held] == [
        ("CA", "high", now + timedelta(days=2)), ("US", "high", now + timedelta(days=2))]


def _refusal_cases():
    stranger, _ = client_keypair("idp-1")
    return [
        ("forged", lambda key, clock: id_token(stranger, clock), "bad_signature"),
        ("expired", lambda key, clock: id_token(
            key, clock, iat=int(clock.now().timestamp()) - 7200,
            exp=int(clock.now().timestamp()) - 3600), "expired"),
        ("not-yet-valid", lambda key, clock: id_token(
            key, clock, iat=int(clock.now().timestamp()) + 3600,
            exp=int(clock.now().timestamp()) + 7200), "not_yet_valid"),
        ("lives-too-long", lambda key, clock: id_token(
            key, clock, exp=int(clock.now().timestamp()) + 8 * 86400), "lifetime_too_long"),
        ("wrong-audience", lambda key, clock: id_token(key, clock, aud="someone-else"),
         "wrong_audience"),
        ("unknown-issuer", lambda key, clock: id_token(key, clock, iss="https://evil.example"),
         "unknown_issuer"),
        ("unknown-kid", lambda key, clock: id_token(key, clock, kid="idp-9"), "unknown_key"),
        ("no-sub", lambda key, clock: id_token(key, clock, sub=None), "missing_claim"),
        ("garbage", lambda key, clock: "not.a.jwt", "malformed"),
        ("oversize", lambda key, clock: id_token(key, clock, pad="x" * 20000), "malformed"),
        ("alg-none", lambda key, clock: jwt.encode(
            claims_of(id_token(key, clock)), None, algorithm="none"), "algorithm_not_allowed"),
    ]


@pytest.mark.parametrize(("name", "make", "reason"), _refusal_cases(),
                         ids=[c[0] for c in _refusal_cases()])
def test_every_refused_subject_token_has_its_reason_one_audit_row_and_no_change(
        client, db, clock, partner, idp, name, make, reason):
    before = (audit_events(db), count(db, Person), count(db, UsedSubjectToken),
              count(db, IssuedToken))
    response = exchange(client, partner, make(idp, clock))
    assert response.status_code == (413 if name == "oversize-body" else 400)
    body = response.get_json()
    assert (body["error"], body["reason"]) == ("invalid_request", reason), body
    after = (audit_events(db), count(db, Person), count(db, UsedSubjectToken),
             count(db, IssuedToken))
    assert after == (before[0] + 1, *before[1:])
    with db.sessions() as session:
        event = session.scalars(select(AuditEvent)
                                .where(AuditEvent.action == "grant.refused")).one()
    assert event.action == "grant.refused" and event.details["reason"] == reason


def test_a_replayed_id_token_is_refused(client, clock, partner, idp):
    token = id_token(idp, clock)
    assert exchange(client, partner, token).status_code == 200
    replay = exchange(client, partner, token)
    assert (replay.status_code, replay.get_json()["reason"]) == (400, "replayed")


def test_an_id_token_without_jti_is_single_use_by_its_bytes(client, clock, partner, idp):
    token = id_token(idp, clock, jti=None)
    assert exchange(client, partner, token).status_code == 200
    assert exchange(client, partner, token).get_json()["reason"] == "replayed"


def test_another_organizations_id_token_is_refused(client, db, clock, admin, partner, idp):
    other = admin.partner("Globex", tiers=("public",))
    other_key, other_jwks = client_keypair("idp-1")
    with db.transaction() as session:
        idps.register(session, admin.actor(), other.org_id, issuer="https://login.globex.example",
                      audiences=[AUDIENCE], jwks=other_jwks)
    token = id_token(other_key, clock, iss="https://login.globex.example")
    response = exchange(client, partner, token)
    assert response.get_json()["reason"] == "idp_of_another_organization"
    assert exchange(client, other, token).status_code == 200


def test_an_organization_without_identity_provider_cannot_exchange(client, clock, admin):
    admin.gateway()
    lone = admin.partner("Initech", tiers=("public",))
    key, _ = client_keypair("idp-1")
    response = exchange(client, lone, id_token(key, clock))
    assert (response.status_code, response.get_json()["reason"]) == (
        400, "no_identity_provider")


def test_a_suspended_identity_provider_is_refused_at_once(client, db, clock, admin, partner,
                                                          idp):
    with db.transaction() as session:
        row = idps.find_by_issuer(session, IDP)
        registry.set_idp_status(session, admin.actor(), row.id, "suspended", "breach")
    assert exchange(client, partner, id_token(idp, clock)).get_json()["reason"] == (
        "idp_suspended")


@pytest.mark.parametrize(("extra", "reason"), [
    ({"subject_token_type": "urn:ietf:params:oauth:token-type:access_token"},
     "unsupported_subject_token_type"),
    ({"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"},
     "unsupported_requested_token_type"),
    ({"actor_token": "x", "actor_token_type": ID_TOKEN}, "actor_token_unsupported"),
    ({"subject_token": ""}, "missing_subject_token"),
])
def test_malformed_exchange_requests_are_refused(client, clock, partner, idp, extra, reason):
    response = exchange(client, partner, id_token(idp, clock), **extra)
    assert (response.status_code, response.get_json()["reason"]) == (400, reason)


def test_scope_and_audience_follow_the_client_credentials_rules(client, clock, partner, idp):
    unknown = exchange(client, partner, id_token(idp, clock), audience="https://nowhere.test")
    assert unknown.get_json()["error"] == "invalid_target"
    unentitled = exchange(client, partner, id_token(idp, clock, jti="b"), scope="tier:restricted")
    assert unentitled.get_json()["error"] == "invalid_scope"
    ok = exchange(client, partner, id_token(idp, clock, jti="c"), audience=GATEWAY)
    assert claims_of(ok.get_json()["access_token"])["aud"] == GATEWAY


@pytest.mark.parametrize("blind_lookups", [1, 2], ids=["create-sees-it", "insert-collides"])
def test_two_first_exchanges_at_once_find_one_person(client, db, clock, partner, idp,
                                                     monkeypatch, blind_lookups):
    """A concurrent first exchange created the person after this one looked: the create
    (its own check, or the unique index) loses, and the exchange uses the winner's row."""
    with db.transaction() as session:
        winner = persons.create(session, Actor("client:other", clock.now()), partner.org_id,
                                idp_issuer=IDP, idp_subject="alice").id
    real, calls = persons.find_by_idp, []

    def late(session, org_id, issuer, subject):
        calls.append(subject)
        return None if len(calls) <= blind_lookups else real(session, org_id, issuer, subject)

    monkeypatch.setattr(persons, "find_by_idp", late)
    response = exchange(client, partner, id_token(idp, clock))
    assert response.status_code == 200, response.get_json()
    assert claims_of(response.get_json()["access_token"])["sub"] == winner
    assert count(db, Person) == 1


def test_a_token_that_could_not_be_recorded_leaves_the_id_token_usable(
        app, client, db, clock, partner, idp, monkeypatch):
    """The partner is told to retry: the retry with the same ID token must then work."""
    ledger = app.extensions["entitlements"].ledger
    record = ledger.record

    def broken(token):
        raise TemporarilyUnavailable("The token could not be recorded; retry.")

    token = id_token(idp, clock)
    monkeypatch.setattr(ledger, "record", broken)
    failed = exchange(client, partner, token)
    assert (failed.status_code, failed.get_json()["error"]) == (503, "temporarily_unavailable")
    assert count(db, UsedSubjectToken) == 0
    monkeypatch.setattr(ledger, "record", record)
    retried = exchange(client, partner, token)
    assert retried.status_code == 200, retried.get_json()
    assert exchange(client, partner, token).get_json()["reason"] == "replayed"


def test_an_exchange_with_a_dpop_proof_binds_the_person_token(client, clock, partner, idp,
                                                              settings):
    key = ProofKey()
    proof = key.proof("POST", settings.token_endpoint, now=clock.now().timestamp())
    form = {"grant_type": EXCHANGE, "subject_token": id_token(idp, clock),
            "subject_token_type": ID_TOKEN}
    response = client.post("/oauth/token", data=form, headers={
        **basic(partner.client_id, partner.client_secret), "DPoP": proof})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["token_type"] == "DPoP"
    assert claims_of(body["access_token"])["cnf"] == {"jkt": key.jkt}
