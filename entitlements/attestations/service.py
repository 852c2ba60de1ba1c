"""Nonces, and the submission of a person's attestation by a partner's backend.

A submission consumes the nonce the attestation carries (single use, unexpired,
issued to this client), verifies the attestation against the issuer registry,
refuses a credential already bound to another person, and stores only the
verified facts. Refusals raise ``AttestationRefused``; nothing is written for them
but the caller's audit event.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..audit import service as audit
from ..audit import targets
from ..base.actor import Actor
from ..base.db import prune_expired
from ..base.ids import new_id
from ..base.remote_jwks import JwksUnavailable, RemoteJwks, find_key, parse_jwks
from ..persons import service as persons
from ..persons.models import Person
from . import issuers, sd_jwt_vc, verify
from .models import AttestationIssuer, AttestationNonce, VerifiedAttestation
from .verify import AttestationFacts, AttestationRefused, StatusCheck, TrustedIssuer

#: format -> (where the presented nonce is, the verifier)
FORMATS = {
    "jwt": (verify.presented_nonce, verify.verify_jwt_attestation),
    sd_jwt_vc.FORMAT: (sd_jwt_vc.presented_nonce, sd_jwt_vc.verify_sd_jwt_vc),
}

NONCE_TTL = timedelta(minutes=5)


@dataclass(frozen=True)
class PersonRef:
    """Which person: our id, or the organization's IdP issuer and subject."""

    person_id: str | None = None
    idp_issuer: str | None = None
    idp_subject: str | None = None


def issue_nonce(session: Session, client_id: str, now: datetime) -> tuple[str, int]:
    nonce = secrets.token_urlsafe(24)
    session.add(AttestationNonce(nonce_hash=_digest(nonce), client_id=client_id,
                                 expires_at=now + NONCE_TTL))
    prune_expired(session, AttestationNonce, now)
    return nonce, int(NONCE_TTL.total_seconds())


@dataclass(frozen=True)
class Verifiers:
    """What verification needs from outside: issuers' remote keys, credential status."""

    remote_jwks: RemoteJwks
    status: StatusCheck


def submit(session: Session, *, client_id: str, org_id: str, ref: PersonRef, credential: str,
           form: str, audience: str, now: datetime, verifiers: Verifiers
           ) -> VerifiedAttestation:
    if form not in FORMATS:
        raise AttestationRefused("format_not_supported",
                                 f"the format must be one of {', '.join(FORMATS)}")
    presented_nonce, verify = FORMATS[form]
    nonce = _consume_nonce(session, client_id, presented_nonce(credential), now)
    facts = verify(credential, issuers=_registry(session, verifiers.remote_jwks),
                   audience=audience, nonce=nonce, now=now, status=verifiers.status)
    issuer = issuers.find_by_issuer(session, facts.issuer)
    person = _person(session, client_id, org_id, ref, now)
    return _store(session, person, issuer, facts, f"client:{client_id}", now)


def record_presented(session: Session, *, person: Person, credential: str, audience: str,
                     nonce: str, now: datetime, verifiers: Verifiers,
                     vct_values: frozenset[str]) -> VerifiedAttestation:
    """A credential the person's wallet presented in the sign-in (OpenID4VP): verified as
    an SD-JWT VC whose key-binding JWT names ``audience`` and ``nonce``, then stored as any
    attestation is (the facts and a digest, never the document)."""
    facts = sd_jwt_vc.verify_sd_jwt_vc(credential, issuers=_registry(session,
                                                                   verifiers.remote_jwks),
                                       audience=audience, nonce=nonce, now=now,
                                       status=verifiers.status)
    vct = verify.peek(credential.split("~", 1)[0], "the SD-JWT")[1].get("vct")  # verified
    if vct not in vct_values:
        raise AttestationRefused("wrong_vct", "the credential is not of a type asked for")
    return _store(session, person, issuers.find_by_issuer(session, facts.issuer), facts,
                  f"person:{person.id}", now)


def _consume_nonce(session: Session, client_id: str, nonce: object, now: datetime) -> str:
    if not isinstance(nonce, str) or not nonce:
        raise AttestationRefused("missing_claim", "the attestation lacks the nonce claim")
    row = session.get(AttestationNonce, _digest(nonce), with_for_update=True)
    if row is None or row.client_id != client_id:
        raise AttestationRefused("nonce_unknown", "the nonce was not issued to this client")
    if row.used_at is not None:
        raise AttestationRefused("nonce_reused", "the nonce has been used already")
    if row.expires_at <= now:
        raise AttestationRefused("nonce_expired", "the nonce has expired")
    row.used_at = now
    return nonce


def _registry(session: Session, remote_jwks: RemoteJwks):
    def lookup(name: str) -> TrustedIssuer | None:
        row = issuers.find_by_issuer(session, name)
        if row is None:
            return None
        try:  # keys that cannot be had at all are a retryable refusal, not an unknown key
            remote_jwks.key_set(row.jwks_uri) if row.jwks_uri else parse_jwks(row.jwks or {})
        except JwksUnavailable:
            raise AttestationRefused("issuer_keys_unavailable",
                                     "the issuer's keys could not be fetched; retry") from None
        return TrustedIssuer(
            issuer=row.issuer, formats=frozenset(row.formats),
            find=partial(find_key, remote_jwks, jwks=row.jwks, jwks_uri=row.jwks_uri,
                         owner="the issuer"),
            nationalities=frozenset(row.nationalities),
            assurance_levels=frozenset(row.assurance_levels),
            max_age=timedelta(days=row.max_age_days), active=row.status == "active")

    return lookup


def _person(session: Session, client_id: str, org_id: str, ref: PersonRef, now: datetime
            ) -> Person:
    if ref.person_id:
        person = session.get(Person, ref.person_id)
        if person is None or person.organization_id != org_id:
            raise AttestationRefused("unknown_person", "no such person in this organization")
        return person
    if not (ref.idp_issuer and ref.idp_subject):
        raise AttestationRefused("unknown_person", "name the person by person_id, or by "
                                                   "idp_issuer and idp_subject")
    return persons.find_or_create_by_idp(session, Actor(f"client:{client_id}", now), org_id,
                                         ref.idp_issuer, ref.idp_subject)


def _store(session: Session, person: Person, issuer: AttestationIssuer | None,
           facts: AttestationFacts, actor: str, now: datetime) -> VerifiedAttestation:
    if issuer is None:  # removed between verification and storage
        raise AttestationRefused("unknown_issuer", "the attestation's issuer is not registered")
    bound = session.scalar(select(VerifiedAttestation).where(
        VerifiedAttestation.issuer_id == issuer.id,
        VerifiedAttestation.credential_id == facts.credential_id))
    if bound is not None:
        raise AttestationRefused("replayed", "this credential was presented before")
    row = VerifiedAttestation(
        id=new_id("att"), person_id=person.id, issuer_id=issuer.id,
        credential_id=facts.credential_id, nationalities=list(facts.nationalities),
        assurance_level=facts.assurance_level, verified_at=facts.verified_at,
        expires_at=facts.expires_at, evidence_sha256=facts.evidence_sha256, recorded_at=now)
    session.add(row)
    audit.record(session, Actor(actor, now), "attestation.verified",
                 target=targets.person(person.id, person.organization_id),
                 details={"issuer": issuer.issuer, "issuer_id": issuer.id,
                          "attestation": row.id, "nationalities": row.nationalities,
                          "assurance_level": row.assurance_level,
                          "expires_at": row.expires_at.isoformat()})
    return row


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()
