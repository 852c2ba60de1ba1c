"""Verify a citizenship attestation presented as a signed JWT. Pure: no session, no clock.

The statement is accepted only if its issuer is registered and active, may use this
format, signed it with one of its registered keys and an asymmetric algorithm, names
us as audience and carries the nonce we issued, is within its validity and the
issuer's maximum age, attests only nationalities and an assurance level the issuer
may attest, and, when it references a status list, is not revoked or suspended there.
Every refusal has a stable reason code. The checks shared with the SD-JWT VC format
(``sd_jwt_vc``) live here too.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from ..gateway import status_list
from ..jose import ASYMMETRIC_ALGORITHMS, numeric_date
from ..organizations.service import COUNTRY
from ..remote_jwks import JwksUnavailable

ALGORITHMS = ASYMMETRIC_ALGORITHMS
REQUIRED = ["iss", "sub", "aud", "iat", "exp", "jti", "nonce", "nationalities",
            "assurance_level"]
MAX_BYTES = 16 * 1024
LEEWAY = timedelta(seconds=30)
STATUS_REASONS = {status_list.INVALID: ("credential_revoked", "the credential is revoked"),
                  status_list.SUSPENDED: ("credential_suspended", "the credential is suspended")}


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
    #: For keys behind a jwks_uri: the key a kid names after a refetch (with a cool-down),
    #: so an issuer's rotation is seen at once; raises LookupError or JwksUnavailable.
    refetch: Callable[[Any], jwt.PyJWK] | None = None

    def key(self, kid: Any) -> jwt.PyJWK | None:
        """The registered key ``kid`` names, refetching the set once for an unknown one."""
        found = next((k for k in self.keys.keys if k.key_id == kid), None)
        if found is not None or self.refetch is None or not isinstance(kid, str):
            return found
        try:
            return self.refetch(kid)
        except (LookupError, JwksUnavailable):
            return None


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


IssuerLookup = Callable[[str], TrustedIssuer | None]
#: ``(issuer, status list uri, index, now) -> status``; raises AttestationRefused when the
#: list cannot be had (we fail closed).
StatusCheck = Callable[[TrustedIssuer, str, int, datetime], int]


def verify_jwt_attestation(
    token: str, *, issuers: IssuerLookup, audience: str, nonce: str, now: datetime,
    status: StatusCheck | None = None, leeway: timedelta = LEEWAY,
) -> AttestationFacts:
    header, unverified = peek(token)
    issuer = trusted_issuer(issuers, unverified.get("iss"), "jwt")
    claims = _decode(token, header, issuer, audience)
    verified_at, expires_at = checked_times(claims, issuer, now, leeway)
    if not hmac.compare_digest(str(claims["nonce"]).encode(), nonce.encode()):
        raise AttestationRefused("nonce_mismatch", "the attestation is not bound to our nonce")
    nationalities, level = attested(claims, issuer)
    check_status(claims, issuer, status, now)
    return AttestationFacts(
        issuer=issuer.issuer, subject=str(claims["sub"]), credential_id=str(claims["jti"]),
        nationalities=nationalities, assurance_level=level, verified_at=verified_at,
        expires_at=expires_at, evidence_sha256=sha256_hex(token),
    )


def presented_nonce(token: str) -> Any:
    """The nonce a JWT attestation claims to carry (unverified: used to find our record)."""
    return peek(token)[1].get("nonce")


def peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    if not token or len(token) > MAX_BYTES:
        raise AttestationRefused("malformed", "the attestation is missing or too large")
    try:
        return (jwt.get_unverified_header(token),
                jwt.decode(token, options={"verify_signature": False}))
    except jwt.InvalidTokenError:
        raise AttestationRefused("malformed", "the attestation is not a well-formed JWT") from None


def trusted_issuer(issuers: IssuerLookup, name: Any, form: str) -> TrustedIssuer:
    issuer = issuers(name) if isinstance(name, str) else None
    if issuer is None:
        raise AttestationRefused("unknown_issuer", "the attestation's issuer is not registered")
    if not issuer.active:
        raise AttestationRefused("issuer_suspended", "the attestation's issuer is suspended")
    if form not in issuer.formats:
        raise AttestationRefused("format_not_allowed",
                                 f"this issuer may not attest in the {form} format")
    return issuer


def signing_key(issuer: TrustedIssuer, header: dict[str, Any]) -> tuple[jwt.PyJWK, str]:
    """The registered key and allowed algorithm the header names, or a refusal."""
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise AttestationRefused("algorithm_not_allowed", "the signing algorithm is not allowed")
    key = issuer.key(header.get("kid"))
    if key is None:
        raise AttestationRefused("unknown_key", "the signing key is not registered for the issuer")
    return key, alg


def _decode(token: str, header: dict[str, Any], issuer: TrustedIssuer, audience: str
            ) -> dict[str, Any]:
    key, alg = signing_key(issuer, header)
    return decode_signed(token, key, alg, issuer=issuer.issuer, audience=audience,
                         required=REQUIRED)


def decode_signed(token: str, key: jwt.PyJWK, alg: str, *, issuer: str | None,
                  audience: str | None, required: list[str]) -> dict[str, Any]:
    """PyJWT's signature, iss, aud and required-claim checks; times are ours to check."""
    try:
        return jwt.decode(token, key, algorithms=[alg], audience=audience, issuer=issuer,
                          options={"require": required, "verify_aud": audience is not None,
                                   "verify_exp": False, "verify_nbf": False,
                                   "verify_iat": False})
    except jwt.InvalidAudienceError:
        raise AttestationRefused("wrong_audience", "the attestation is not for us") from None
    except jwt.MissingRequiredClaimError as error:
        raise AttestationRefused("missing_claim",
                                 f"the attestation lacks the {error.claim} claim") from None
    except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError, jwt.InvalidKeyError):
        raise AttestationRefused("bad_signature", "the signature does not verify") from None
    except jwt.InvalidTokenError:
        raise AttestationRefused("malformed", "the attestation's claims are invalid") from None


def checked_times(claims: dict[str, Any], issuer: TrustedIssuer, now: datetime,
                  leeway: timedelta) -> tuple[datetime, datetime]:
    """(verified_at, expires_at): the verification's time, and when it stops counting."""
    issued = _required_time(claims, "iat")
    not_before = time_claim(claims, "nbf") or issued
    expires = time_claim(claims, "exp")
    if min(issued, not_before) - leeway > now:
        raise AttestationRefused("not_yet_valid", "the attestation is not valid yet")
    if expires is not None and expires + leeway <= now:
        raise AttestationRefused("expired", "the attestation has expired")
    verified_at = time_claim(claims, "verified_at") or issued
    if verified_at + issuer.max_age <= now:
        raise AttestationRefused("too_old", "the identity verification is older than the "
                                            "issuer's maximum age")
    limit = verified_at + issuer.max_age
    return verified_at, min(expires, limit) if expires is not None else limit


def attested(claims: dict[str, Any], issuer: TrustedIssuer) -> tuple[tuple[str, ...], str]:
    nationalities = claims.get("nationalities")
    if nationalities is None:
        raise AttestationRefused("missing_claim", "the nationalities claim is not disclosed")
    if (not isinstance(nationalities, list) or not nationalities
            or not all(isinstance(n, str) and COUNTRY.fullmatch(n) for n in nationalities)):
        raise AttestationRefused("malformed", "nationalities must be ISO 3166-1 alpha-2 codes")
    if set(nationalities) - issuer.nationalities:
        raise AttestationRefused("nationality_not_allowed",
                                 "the issuer may not attest this nationality")
    level = claims.get("assurance_level")
    if level not in issuer.assurance_levels:
        raise AttestationRefused("level_not_allowed",
                                 "the issuer may not assert this assurance level")
    return tuple(sorted(set(nationalities))), level


def check_status(claims: dict[str, Any], issuer: TrustedIssuer, status: StatusCheck | None,
                 now: datetime) -> None:
    """Refuse a credential its status list marks revoked or suspended."""
    try:
        reference = status_list.reference(claims)
    except ValueError as error:
        raise AttestationRefused("malformed", f"the status claim is invalid: {error}") from None
    if reference is None:
        return
    if status is None:
        raise AttestationRefused("status_unavailable", "the credential's status cannot be "
                                                       "checked here")
    value = status(issuer, reference[0], reference[1], now)
    if value != status_list.VALID:
        raise AttestationRefused(*STATUS_REASONS.get(
            value, ("credential_invalid", "the status list does not mark the credential valid")))


def time_claim(claims: dict[str, Any], name: str) -> datetime | None:
    try:
        return numeric_date(claims, name)
    except ValueError as error:
        raise AttestationRefused("malformed", f"the claim {error}") from None


def _required_time(claims: dict[str, Any], name: str) -> datetime:
    value = time_claim(claims, name)
    if value is None:
        raise AttestationRefused("missing_claim", f"the attestation lacks the {name} claim")
    return value


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
