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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt

from ..base import jose
from ..base.countries import is_country
from ..base.errors import ProblemError
from ..base.remote_jwks import JwksUnavailable
from ..base.secrets import same
from ..kernel import status_list

ALGORITHMS = jose.ASYMMETRIC_ALGORITHMS
REQUIRED = ["iss", "sub", "aud", "iat", "exp", "jti", "nonce", "nationalities",
            "assurance_level"]
MAX_BYTES = 16 * 1024
LEEWAY = timedelta(seconds=30)
STATUS_REASONS = {status_list.INVALID: ("credential_revoked", "the credential is revoked"),
                  status_list.SUSPENDED: ("credential_suspended", "the credential is suspended")}


class AttestationRefused(ProblemError):
    """A refused attestation: ``reason`` is a stable code, ``message`` is safe to show."""

    title = "Attestation refused"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, code=reason)
        self.reason = reason


@dataclass(frozen=True)
class TrustedIssuer:
    issuer: str
    #: The issuer's key for a kid (``remote_jwks.find_key``): LookupError or
    #: JwksUnavailable when there is none.
    find: Callable[..., jwt.PyJWK]
    formats: frozenset[str]
    nationalities: frozenset[str]
    assurance_levels: frozenset[str]
    max_age: timedelta
    active: bool

    def key(self, kid: Any) -> jwt.PyJWK | None:
        """The registered key ``kid`` names (for keys behind a jwks_uri, refetched once for an
        unknown kid); None when there is none."""
        try:
            return self.find(kid=kid)
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
    if not same(str(claims["nonce"]), nonce):
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


def peek(token: str, what: str = "the attestation") -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        return jose.peek(token, MAX_BYTES)
    except jose.JwtRefused as refused:
        raise AttestationRefused("malformed", f"{what} {refused.detail}") from None


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
    try:
        alg = jose.allowed_algorithm(header, ALGORITHMS)
    except jose.JwtRefused:
        raise AttestationRefused("algorithm_not_allowed",
                                 "the signing algorithm is not allowed") from None
    key = issuer.key(header.get("kid"))
    if key is None:
        raise AttestationRefused("unknown_key", "the signing key is not registered for the issuer")
    return key, alg


def _decode(token: str, header: dict[str, Any], issuer: TrustedIssuer, audience: str
            ) -> dict[str, Any]:
    key, alg = signing_key(issuer, header)
    return decode_signed(token, key, alg, issuer=issuer.issuer, audience=audience,
                         required=REQUIRED)


#: How each refusal of the verifier reads to the partner.
MESSAGES = {
    "wrong_audience": "the attestation is not for us",
    "bad_signature": "the signature does not verify",
    "wrong_issuer": "the attestation's claims are invalid",
    "malformed": "the attestation's claims are invalid",
}


def decode_signed(token: str, key: jwt.PyJWK, alg: str, *, issuer: str | None,
                  audience: str | None, required: list[str]) -> dict[str, Any]:
    """The verifier's signature, iss, aud and required-claim checks; times are ours to check."""
    try:
        return jose.verify_signature(token, key, alg, issuer=issuer, audience=audience,
                                     required=required)
    except jose.JwtRefused as refused:
        if refused.reason == "missing_claim":
            raise AttestationRefused("missing_claim",
                                     f"the attestation lacks the {refused.claim} claim") from None
        reason = "malformed" if refused.reason == "wrong_issuer" else refused.reason
        raise AttestationRefused(reason, MESSAGES[refused.reason]) from None


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
            or not all(is_country(n) for n in nationalities)):
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
        return jose.numeric_date(claims, name)
    except ValueError as error:
        raise AttestationRefused("malformed", f"the claim {error}") from None


def _required_time(claims: dict[str, Any], name: str) -> datetime:
    value = time_claim(claims, name)
    if value is None:
        raise AttestationRefused("missing_claim", f"the attestation lacks the {name} claim")
    return value


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
