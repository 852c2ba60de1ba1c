"""A partner's backend submits a person's attestation: nonce, verification, facts only,
single-use nonces, replay across persons, suspended issuers, and audited refusals."""

from __future__ import annotations

import jwt
import pytest
import responses
from sqlalchemy import func, select

from entitlements.attestations import citizenship, issuers
from entitlements.attestations.models import VerifiedAttestation
from entitlements.audit.models import AuditEvent
from entitlements.base.remote_jwks import RemoteJwks
from entitlements.operations import registry
from entitlements.persons.models import Person
from tests.support.factories import client_keypair
from tests.support.helpers import basic, problem_code

VERIFIER = "https://verifier.example"
IDP = "https://login.acme.example"


@pytest.fixture
def verifier(db, admin):
    private, jwks = client_keypair("verifier-1")
    with db.transaction() as session:
        row = issuers.register(session, admin.actor(), issuer=VERIFIER, name="Verifier",
                               jwks=jwks, formats=["jwt"], nationalities=["US", "CA"],
                               assurance_levels=["high"], max_age_days=365)
        return row.id, private


def sign(private, settings, clock, nonce: str, **overrides) -> str:
    now = int(clock.now().timestamp())
    claims = {"iss": VERIFIER, "sub": "v-subject-1", "aud": settings.issuer, "jti": "cred-1",
              "iat": now - 10, "exp": now + 3600, "verified_at": now - 86400, "nonce": nonce,
              "nationalities": ["US"], "assurance_level": "high", **overrides}
    return jwt.encode(claims, private, algorithm="ES256", headers={"kid": "verifier-1"})


def get_nonce(client, partner) -> str:
    response = client.post("/attestations/nonce", data={},
                           headers=basic(partner.client_id, partner.client_secret))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    return response.get_json()["nonce"]


def submit(client, partner, credential: str, **person):
    person = person or {"idp_issuer": IDP, "idp_subject": "alice"}
    return client.post("/attestations", data={"credential": credential, **person},
                       headers=basic(partner.client_id, partner.client_secret))


def count(db, model, **where) -> int:
    with db.sessions() as session:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return session.scalar(query)


def test_a_verified_attestation_stores_the_facts_only(client, db, settings, clock, partner,
                                                      verifier):
    _, private = verifier
    credential = sign(private, settings, clock, get_nonce(client, partner))
    response = submit(client, partner, credential)
    assert response.status_code == 200, response.get_json()
    facts = response.get_json()
    assert (facts["nationalities"], facts["assurance_level"]) == (["US"], "high")
    with db.sessions() as session:
        row = session.get(VerifiedAttestation, facts["attestation_id"])
        person = session.get(Person, facts["person_id"])
        stored = {c.name: getattr(row, c.name) for c in VerifiedAttestation.__table__.columns}
    assert (person.idp_issuer, person.idp_subject) == (IDP, "alice")
    assert credential not in str(stored) and "v-subject-1" not in str(stored)
    assert len(row.evidence_sha256) == 64
    assert count(db, AuditEvent, action="attestation.verified") == 1
    with db.sessions() as session:
        assert [f.id for f in citizenship.current_facts(session, person.id, clock.now())] == [
            row.id]
        clock.advance(days=2)
        assert citizenship.current_facts(session, person.id, clock.now()) == []


def test_suspending_the_issuer_stops_its_verifications_counting(client, db, settings, clock,
                                                               partner, verifier, admin):
    issuer_id, private = verifier
    facts = submit(client, partner, sign(private, settings, clock,
                                         get_nonce(client, partner))).get_json()
    with db.transaction() as session:
        registry.set_issuer_status(session, admin.actor(), issuer_id, "suspended",
                                   "compromised")
    with db.sessions() as session:
        assert citizenship.current_facts(session, facts["person_id"], clock.now()) == []


@pytest.mark.parametrize(("make", "reason"), [
    pytest.param(lambda c, p, k, s, clk: sign(k, s, clk, "never-issued"), "nonce_unknown",
                 id="unknown-nonce"),
    pytest.param(lambda c, p, k, s, clk: sign(k, s, clk, get_nonce(c, p), aud="https://x.example"),
                 "wrong_audience", id="wrong-audience"),
    pytest.param(lambda c, p, k, s, clk: sign(k, s, clk, get_nonce(c, p), nationalities=["FR"]),
                 "nationality_not_allowed", id="nationality"),
    pytest.param(lambda c, p, k, s, clk: sign(client_keypair("verifier-1")[0], s, clk,
                                              get_nonce(c, p)), "bad_signature", id="forged"),
    pytest.param(lambda c, p, k, s, clk: "garbage", "malformed", id="garbage"),
])
def test_refusals_have_reason_codes_and_write_only_an_audit_row(client, db, settings, clock,
                                                                partner, verifier, make,
                                                                reason):
    _, private = verifier
    credential = make(client, partner, private, settings, clock)
    response = submit(client, partner, credential)
    assert response.status_code == 400
    assert problem_code(response) == reason
    assert count(db, VerifiedAttestation) == 0 and count(db, Person) == 0
    assert count(db, AuditEvent, action="attestation.refused", reason=reason) == 1


def test_nonces_are_single_use_and_expire(client, db, settings, clock, partner, verifier):
    _, private = verifier
    nonce = get_nonce(client, partner)
    assert submit(client, partner, sign(private, settings, clock, nonce)).status_code == 200
    again = submit(client, partner, sign(private, settings, clock, nonce, jti="cred-2"))
    assert problem_code(again) == "nonce_reused"
    stale = get_nonce(client, partner)
    clock.advance(minutes=6)
    expired = submit(client, partner, sign(private, settings, clock, stale, jti="cred-3"))
    assert problem_code(expired) == "nonce_expired"


def test_a_credential_bound_to_one_person_is_refused_for_another(client, settings, clock,
                                                                 partner, verifier):
    _, private = verifier
    first = submit(client, partner, sign(private, settings, clock, get_nonce(client, partner)))
    assert first.status_code == 200
    replay = submit(client, partner, sign(private, settings, clock, get_nonce(client, partner)),
                    idp_issuer=IDP, idp_subject="mallory")
    assert replay.status_code == 400 and problem_code(replay) == "replayed"


def test_a_nonce_of_another_client_is_refused(client, settings, clock, admin, partner,
                                              verifier):
    _, private = verifier
    other = admin.client(partner.org_id)
    credential = sign(private, settings, clock, get_nonce(client, other))
    assert problem_code(submit(client, partner, credential)) == "nonce_unknown"


def test_an_unauthenticated_caller_gets_invalid_client(client):
    response = client.post("/attestations/nonce", data={})
    assert response.status_code == 401 and problem_code(response) == "invalid_client"


def test_an_issuer_behind_a_jwks_uri_is_followed_through_a_key_rotation(
        db, admin, make_app, settings, clock, partner):
    """Issue 3: keys by jwks_uri are cached, and refetched on an unknown kid (after a
    cool-down, zero here), so credentials signed with a rotated-in key count at once."""
    old_key, old_jwks = client_keypair("verifier-1")
    new_key, new_jwks = client_keypair("verifier-2")
    uri = "https://verifier.example/jwks"
    with db.transaction() as session:
        issuers.register(session, admin.actor(), issuer=VERIFIER, name="Verifier",
                         jwks_uri=uri, formats=["jwt"], nationalities=["US"],
                         assurance_levels=["high"], max_age_days=365)
    client = make_app(remote_jwks=RemoteJwks(cooldown=0)).test_client()
    with responses.RequestsMock() as http:
        http.add(responses.GET, uri, json=old_jwks)
        first = submit(client, partner, sign(old_key, settings, clock, get_nonce(client, partner)))
        assert first.status_code == 200, first.get_json()
        http.replace(responses.GET, uri, json={"keys": [*old_jwks["keys"], *new_jwks["keys"]]})
        rotated = jwt.encode(jwt.decode(sign(new_key, settings, clock,
                                             get_nonce(client, partner), jti="cred-2"),
                                        options={"verify_signature": False}),
                             new_key, algorithm="ES256", headers={"kid": "verifier-2"})
        second = submit(client, partner, rotated)
        assert second.status_code == 200, second.get_json()
        assert [c.request.url for c in http.calls] == [uri, uri], "cached, then one refetch"
        unknown = jwt.encode(jwt.decode(rotated, options={"verify_signature": False}) | {
            "jti": "cred-3", "nonce": get_nonce(client, partner)}, new_key, algorithm="ES256",
            headers={"kid": "verifier-9"})
        refused = submit(client, partner, unknown)
        assert (refused.status_code, problem_code(refused)) == (400, "unknown_key")
