"""The JWT citizenship-attestation verifier, against a real in-test issuer and real keys."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from entitlements.attestations.verify import AttestationRefused, TrustedIssuer
from tests.support.attestations import (
    ISSUER,
    NOW,
    SIGNING_KEY,
    STRANGER_KEY,
    jwt_attestation,
    trusted_issuer,
    verify_jwt,
)


def trusted(**overrides) -> TrustedIssuer:
    return trusted_issuer({"jwt"}, **overrides)


attestation, verify = jwt_attestation, verify_jwt


def test_a_good_attestation_gives_only_the_verified_facts():
    token = attestation(nationalities=["US", "CA", "US"])
    facts = verify(token)
    assert (facts.issuer, facts.subject, facts.credential_id) == (ISSUER, "person-77", "cred-1")
    assert facts.nationalities == ("CA", "US") and facts.assurance_level == "high"
    assert facts.verified_at == NOW.replace(microsecond=0) - timedelta(days=30)
    assert facts.expires_at == datetime.fromtimestamp(int(NOW.timestamp()) + 3600, UTC)
    assert facts.evidence_sha256 == hashlib.sha256(token.encode()).hexdigest()


def test_the_facts_expire_with_the_issuers_maximum_age_when_that_comes_first():
    max_age = timedelta(days=30, minutes=30)
    facts = verify(attestation(), trusted(max_age=max_age))
    assert facts.expires_at == facts.verified_at + max_age < NOW + timedelta(hours=1)


def _hs256_with_public_key() -> str:
    """The classic confusion: HMAC keyed with the issuer's public key bytes."""
    public_pem = SIGNING_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "kid": "verifier-1", "typ": "JWT"}
    payload = jwt.decode(attestation(), options={"verify_signature": False})
    segments = [jwt.utils.base64url_encode(json.dumps(part).encode()) for part in
                (header, payload)]
    signing_input = b".".join(segments)
    signature = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + jwt.utils.base64url_encode(signature)).decode()


def _tampered() -> str:
    header, _, signature = attestation().split(".")
    claims = jwt.decode(attestation(), options={"verify_signature": False})
    claims["nationalities"] = ["CA"]
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    return ".".join([header, forged, signature])


def _unsigned() -> str:
    claims = jwt.decode(attestation(), options={"verify_signature": False})
    return jwt.encode(claims, None, algorithm="none", headers={"kid": "verifier-1"})


@pytest.mark.parametrize(("token", "issuer", "kwargs", "reason"), [
    pytest.param(lambda: "", None, {}, "malformed", id="empty"),
    pytest.param(lambda: "not.a.jwt", None, {}, "malformed", id="garbage"),
    pytest.param(lambda: "x" * 20_000, None, {}, "malformed", id="oversize"),
    pytest.param(lambda: attestation(iss="https://unknown.example"), None, {},
                 "unknown_issuer", id="unknown-issuer"),
    pytest.param(lambda: attestation(), trusted(active=False), {}, "issuer_suspended",
                 id="suspended-issuer"),
    pytest.param(lambda: attestation(), trusted(formats=frozenset({"sd-jwt-vc"})), {},
                 "format_not_allowed", id="format-not-allowed"),
    pytest.param(_unsigned, None, {}, "algorithm_not_allowed", id="alg-none"),
    pytest.param(_hs256_with_public_key, None, {}, "algorithm_not_allowed",
                 id="hs256-with-public-key"),
    pytest.param(lambda: attestation(headers={"kid": "other"}), None, {}, "unknown_key",
                 id="unknown-kid"),
    pytest.param(lambda: attestation(key=STRANGER_KEY), None, {}, "bad_signature",
                 id="forged-signature"),
    pytest.param(_tampered, None, {}, "bad_signature", id="tampered-payload"),
    pytest.param(lambda: attestation(aud="https://someone-else.example"), None, {},
                 "wrong_audience", id="wrong-audience"),
    pytest.param(lambda: attestation(nonce=None), None, {}, "missing_claim", id="no-nonce"),
    pytest.param(lambda: attestation(jti=None), None, {}, "missing_claim", id="no-jti"),
    pytest.param(lambda: attestation(nonce="reused-or-foreign"), None, {}, "nonce_mismatch",
                 id="wrong-nonce"),
    pytest.param(lambda: attestation(iat=int((NOW + timedelta(hours=1)).timestamp())), None,
                 {}, "not_yet_valid", id="issued-in-the-future"),
    pytest.param(lambda: attestation(exp=int((NOW - timedelta(minutes=5)).timestamp())), None,
                 {}, "expired", id="expired"),
    pytest.param(lambda: attestation(), trusted(max_age=timedelta(days=7)), {}, "too_old",
                 id="verification-too-old"),
    pytest.param(lambda: attestation(nationalities=["FR"]), None, {},
                 "nationality_not_allowed", id="nationality-not-allowed"),
    pytest.param(lambda: attestation(nationalities=["usa"]), None, {}, "malformed",
                 id="nationality-not-iso"),
    pytest.param(lambda: attestation(nationalities="US"), None, {}, "malformed",
                 id="nationalities-not-a-list"),
    pytest.param(lambda: attestation(assurance_level="low"), None, {}, "level_not_allowed",
                 id="level-not-allowed"),
    pytest.param(lambda: attestation(exp="tomorrow"), None, {}, "malformed",
                 id="exp-not-a-number"),
])
def test_every_refusal_has_its_reason(token, issuer, kwargs, reason):
    with pytest.raises(AttestationRefused) as refused:
        verify(token(), issuer, **kwargs)
    assert refused.value.reason == reason
    assert refused.value.message and '"' not in refused.value.message
