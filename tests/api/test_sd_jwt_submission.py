"""A partner's backend submits a person's attestation as an SD-JWT VC with key binding:
facts only, single-use nonces, the format chosen per request, and audited refusals."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from entitlements.attestations import issuers
from entitlements.attestations.models import VerifiedAttestation
from entitlements.audit.models import AuditEvent
from entitlements.persons.models import Person
from tests.support.factories import client_keypair
from tests.support.helpers import basic, problem_code
from tests.support.wallet import UNDISCLOSED, VERIFIER, Wallet

IDP = "https://login.acme.example"


@pytest.fixture
def verifier(db, admin):
    private, jwks = client_keypair("verifier-1")
    with db.transaction() as session:
        row = issuers.register(session, admin.actor(), issuer=VERIFIER, name="Verifier",
                               jwks=jwks, formats=["sd-jwt-vc"], nationalities=["US", "CA"],
                               assurance_levels=["high"], max_age_days=365)
        return row.id, private


@pytest.fixture
def wallet(verifier, settings, clock) -> Wallet:
    return Wallet(verifier[1], settings.issuer, clock)


def get_nonce(client, partner) -> str:
    response = client.post("/attestations/nonce", data={},
                           headers=basic(partner.client_id, partner.client_secret))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    return response.get_json()["nonce"]


def submit(client, partner, credential: str, form: str = "sd-jwt-vc", **person):
    person = person or {"idp_issuer": IDP, "idp_subject": "alice"}
    return client.post("/attestations",
                       data={"credential": credential, "format": form, **person},
                       headers=basic(partner.client_id, partner.client_secret))


def count(db, model, **where) -> int:
    with db.sessions() as session:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return session.scalar(query)


def test_an_sd_jwt_vc_submission_stores_the_facts_only(client, db, clock, partner, wallet):
    issued = wallet.issue()
    credential = wallet.present(issued, get_nonce(client, partner))
    response = submit(client, partner, credential)
    assert response.status_code == 200, response.get_json()
    facts = response.get_json()
    assert (facts["nationalities"], facts["assurance_level"]) == (["US"], "high")
    with db.sessions() as session:
        row = session.get(VerifiedAttestation, facts["attestation_id"])
        person = session.get(Person, facts["person_id"])
        stored = str({c.name: getattr(row, c.name)
                      for c in VerifiedAttestation.__table__.columns})
        audited = str([(e.details, e.reason, e.target) for e in
                       session.scalars(select(AuditEvent))])
    assert (person.idp_issuer, person.idp_subject) == (IDP, "alice")
    assert datetime.fromisoformat(facts["expires_at"]) == clock.now() + timedelta(hours=1)
    assert row.evidence_sha256 == hashlib.sha256(credential.encode()).hexdigest()
    for secret in (credential, issued, *credential.split("~"), UNDISCLOSED, "v-subject-1"):
        assert secret not in stored and secret not in audited
    assert count(db, AuditEvent, action="attestation.verified") == 1
    assert count(db, AuditEvent, action="attestation.refused") == 0


def test_a_nonce_is_single_use(client, partner, wallet):
    nonce = get_nonce(client, partner)
    first = submit(client, partner, wallet.present(wallet.issue(), nonce))
    assert first.status_code == 200, first.get_json()
    again = submit(client, partner, wallet.present(wallet.issue(jti="cred-2"), nonce))
    assert again.status_code == 400 and problem_code(again) == "nonce_reused"


def test_an_issuer_allowed_only_jwt_may_not_present_an_sd_jwt_vc(client, db, settings, clock,
                                                                 admin, partner):
    private, jwks = client_keypair("verifier-1")
    with db.transaction() as session:
        issuers.register(session, admin.actor(), issuer=VERIFIER, name="Verifier", jwks=jwks,
                         formats=["jwt"], nationalities=["US"], assurance_levels=["high"],
                         max_age_days=365)
    wallet = Wallet(private, settings.issuer, clock)
    response = submit(client, partner, wallet.present(wallet.issue(), get_nonce(client, partner)))
    assert response.status_code == 400
    assert problem_code(response) == "format_not_allowed"
    assert count(db, VerifiedAttestation) == 0
    assert count(db, AuditEvent, action="attestation.refused", reason="format_not_allowed") == 1


Make = Callable[[Wallet, str], str]


@pytest.mark.parametrize(("make", "form", "reason"), [
    pytest.param(lambda w, n: w.present(w.issue(), n), "mdoc", "format_not_supported",
                 id="unknown-format"),
    pytest.param(lambda w, n: w.present(w.issue(), n), "jwt", "malformed",
                 id="sd-jwt-vc-sent-as-jwt"),
    pytest.param(lambda w, n: "garbage", "sd-jwt-vc", "malformed", id="garbage"),
    pytest.param(lambda w, n: w.present(w.issue(), n).rsplit("~", 1)[0] + "~", "sd-jwt-vc",
                 "key_binding_missing", id="no-key-binding"),
    pytest.param(lambda w, n: w.present(w.issue(), "never-issued"), "sd-jwt-vc",
                 "nonce_unknown", id="unknown-nonce"),
    pytest.param(lambda w, n: w.present(w.issue(key=client_keypair()[0]), n), "sd-jwt-vc",
                 "bad_signature", id="forged-issuer-signature"),
    pytest.param(lambda w, n: w.present(w.issue(), n, aud="https://x.example"), "sd-jwt-vc",
                 "wrong_audience", id="wrong-audience"),
    pytest.param(lambda w, n: w.present(w.issue(), n, key=client_keypair()[0]), "sd-jwt-vc",
                 "key_binding_invalid", id="bound-to-another-holder"),
    pytest.param(lambda w, n: w.present(w.issue(), n, disclose=()), "sd-jwt-vc",
                 "missing_claim", id="nationalities-undisclosed"),
    pytest.param(lambda w, n: w.present(w.issue(disclosable={"nationalities": ["FR"]}), n),
                 "sd-jwt-vc", "nationality_not_allowed", id="nationality"),
])
def test_refusals_have_reason_codes_and_write_only_an_audit_row(client, db, partner, wallet,
                                                                make: Make, form, reason):
    credential = make(wallet, get_nonce(client, partner))
    response = submit(client, partner, credential, form=form)
    assert response.status_code == 400
    assert problem_code(response) == reason
    assert count(db, VerifiedAttestation) == 0 and count(db, Person) == 0
    assert count(db, AuditEvent, action="attestation.refused") == 1
    assert count(db, AuditEvent, action="attestation.refused", reason=reason) == 1
