"""Verify a citizenship attestation presented as a signed JWT. Pure: no session, no clock.

The statement is accepted only if its issuer is registered and active, may use this
format, signed it with one of its registered keys and an asymmetric algorithm, names
us as audience and carries the nonce we issued, is within its validity and the
issuer's maximum age, and attests only nationalities and an assurance level the
issuer may attest. Every refusal has a stable reason code.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from ..organizations.service import COUNTRY

ALGORITHMS = ("ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256", "EdDSA")
REQUIRED = ["iss", "sub", "aud", "iat", "exp", "jti", "nonce", "nationalities",
            "assurance_level"]
MAX_BYTES = 16 * 1024


class AttestationRefused(Exception):
    """A refused attestation: ``reason`` is a stable code, ``message`` is safe to show."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason, self.message = reason, message


@dataclass(frozen=True)
class TrustedIssuer:
    issuer: str
    keys: jwt.PyJWKSet
    formats: frozenset[str]
    nationalities: frozenset[str]
    assurance_levels: frozenset[str]
    max_age: timedelta
    active: bool


@dataclass(frozen=True)
class AttestationFacts:
    """What was verified, and nothing else of the credential."""

    issuer: str
    subject: str
    credential_id: str
    nationalities: tuple[str, ...]
    assurance_level: str
    verified_at: datetime
    expires_at: datetime
    evidence_sha256: str


def verify_jwt_attestation(
    token: str, *, issuers: Callable[[str], TrustedIssuer | None], audience: str,
    nonce: str, now: datetime, leeway: timedelta = timedelta(seconds=30),
) -> AttestationFacts:
    header, unverified = _peek(token)
    issuer = _issuer(issuers, unverified.get("iss"), "jwt")
    claims = _decode(token, header, issuer, audience)
    verified_at = _checked_times(claims, issuer, now, leeway)
    if not hmac.compare_digest(str(claims["nonce"]).encode(), nonce.encode()):
        raise AttestationRefused("nonce_mismatch", "the attestation is not bound to our nonce")
    nationalities, level = _attested(claims, issuer)
    expires_at = min(_time(claims, "exp"), verified_at + issuer.max_age)
    return AttestationFacts(
        issuer=issuer.issuer, subject=str(claims["sub"]), credential_id=str(claims["jti"]),
        nationalities=nationalities, assurance_level=level, verified_at=verified_at,
        expires_at=expires_at, evidence_sha256=hashlib.sha256(token.encode()).hexdigest(),
    )


def _peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    if not token or len(token) > MAX_BYTES:
        raise AttestationRefused("malformed", "the attestation is missing or too large")
    try:
        return (jwt.get_unverified_header(token),
                jwt.decode(token, options={"verify_signature": False}))
    except jwt.InvalidTokenError:
        raise AttestationRefused("malformed", "the attestation is not a well-formed JWT") from None


def _issuer(issuers: Callable[[str], TrustedIssuer | None], name: Any, form: str
            ) -> TrustedIssuer:
    issuer = issuers(name) if isinstance(name, str) else None
    if issuer is None:
        raise AttestationRefused("unknown_issuer", "the attestation's issuer is not registered")
    if not issuer.active:
        raise AttestationRefused("issuer_suspended", "the attestation's issuer is suspended")
    if form not in issuer.formats:
        raise AttestationRefused("format_not_allowed",
                                 f"this issuer may not attest in the {form} format")
    return issuer


def _decode(token: str, header: dict[str, Any], issuer: TrustedIssuer, audience: str
            ) -> dict[str, Any]:
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise AttestationRefused("algorithm_not_allowed", "the signing algorithm is not allowed")
    key = next((k for k in issuer.keys.keys if k.key_id == header.get("kid")), None)
    if key is None:
        raise AttestationRefused("unknown_key", "the signing key is not registered for the issuer")
    try:
        return jwt.decode(token, key, algorithms=[alg], audience=audience, issuer=issuer.issuer,
                          options={"require": REQUIRED, "verify_exp": False,
                                   "verify_nbf": False, "verify_iat": False})
    except jwt.InvalidAudienceError:
        raise AttestationRefused("wrong_audience", "the attestation is not for us") from None
    except jwt.MissingRequiredClaimError as error:
        raise AttestationRefused("missing_claim",
                                 f"the attestation lacks the {error.claim} claim") from None
    except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError, jwt.InvalidKeyError):
        raise AttestationRefused("bad_signature", "the signature does not verify") from None
    except jwt.InvalidTokenError:
        raise AttestationRefused("malformed", "the attestation's claims are invalid") from None


def _checked_times(claims: dict[str, Any], issuer: TrustedIssuer, now: datetime,
                   leeway: timedelta) -> datetime:
    issued = _time(claims, "iat")
    not_before = _time(claims, "nbf") if "nbf" in claims else issued
    if min(issued, not_before) - leeway > now:
        raise AttestationRefused("not_yet_valid", "the attestation is not valid yet")
    if _time(claims, "exp") + leeway <= now:
        raise AttestationRefused("expired", "the attestation has expired")
    verified_at = _time(claims, "verified_at") if "verified_at" in claims else issued
    if verified_at + issuer.max_age <= now:
        raise AttestationRefused("too_old", "the identity verification is older than the "
                                            "issuer's maximum age")
    return verified_at


def _attested(claims: dict[str, Any], issuer: TrustedIssuer) -> tuple[tuple[str, ...], str]:
    nationalities = claims["nationalities"]
    if (not isinstance(nationalities, list) or not nationalities
            or not all(isinstance(n, str) and COUNTRY.fullmatch(n) for n in nationalities)):
        raise AttestationRefused("malformed", "nationalities must be ISO 3166-1 alpha-2 codes")
    if set(nationalities) - issuer.nationalities:
        raise AttestationRefused("nationality_not_allowed",
                                 "the issuer may not attest this nationality")
    level = claims["assurance_level"]
    if level not in issuer.assurance_levels:
        raise AttestationRefused("level_not_allowed",
                                 "the issuer may not assert this assurance level")
    return tuple(sorted(set(nationalities))), level


def _time(claims: dict[str, Any], name: str) -> datetime:
    value = claims.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise AttestationRefused("malformed", f"the {name} claim is not a NumericDate")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise AttestationRefused("malformed", f"the {name} claim is out of range") from None
