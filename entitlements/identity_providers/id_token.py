"""Verify an organization's ID token presented as an RFC 8693 subject_token. Pure: the
caller supplies the provider registry, the keys and the time.

Accepted only if: its issuer is a registered provider of the calling client's own
organization and is active; it is signed with one of that provider's keys and an
asymmetric algorithm; ``aud`` names one of the provider's registered audiences; ``exp``,
``iat`` and ``nbf`` hold (with leeway) and it does not live longer than ``max_lifetime``.
Single use is the caller's job (it needs storage): ``digest`` identifies the token.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jwt

from ..base import jose

MAX_BYTES = 16 * 1024
REQUIRED = ["iss", "sub", "aud", "exp", "iat"]
MAX_SUBJECT = 255


class SubjectTokenRefused(Exception):
    """A refused subject_token: ``reason`` is a stable code, ``message`` is safe to show."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason, self.message = reason, message


@dataclass(frozen=True)
class Provider:
    id: str
    issuer: str
    organization_id: str
    audiences: tuple[str, ...]
    active: bool


@dataclass(frozen=True)
class VerifiedIdToken:
    provider: Provider
    subject: str
    expires_at: datetime
    digest: str
    #: Every verified claim (sign-in reads nonce, auth_time, acr and amr).
    claims: Mapping[str, Any] = field(default_factory=dict)


KeyLookup = Callable[[Provider, str | None], jwt.PyJWK]


def verify_id_token(
    token: str, *, providers: Callable[[str], Provider | None], organization_id: str,
    key: KeyLookup, now: datetime, leeway: timedelta, max_lifetime: timedelta,
) -> VerifiedIdToken:
    try:
        header, unverified = jose.peek(token, MAX_BYTES)
    except jose.JwtRefused as refused:
        raise SubjectTokenRefused("malformed", f"the subject_token {refused.detail}") from None
    provider = _provider(providers, unverified.get("iss"), organization_id)
    claims = _decode(token, header, provider, key)
    # Kept as "used" until the token could no longer be accepted (exp plus the leeway).
    expires_at = _check_times(claims, now, leeway, max_lifetime) + leeway
    subject = claims["sub"]
    if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT:
        raise SubjectTokenRefused("malformed", f"sub must be 1 to {MAX_SUBJECT} characters")
    return VerifiedIdToken(provider, subject, expires_at, _digest(token, claims), claims)


def _provider(providers: Callable[[str], Provider | None], issuer: Any,
              organization_id: str) -> Provider:
    provider = providers(issuer) if isinstance(issuer, str) else None
    if provider is None:
        raise SubjectTokenRefused("unknown_issuer", "the subject_token's issuer is not a "
                                                    "registered identity provider")
    if provider.organization_id != organization_id:
        raise SubjectTokenRefused("idp_of_another_organization", "the subject_token comes "
                                  "from another organization's identity provider")
    if not provider.active:
        raise SubjectTokenRefused("idp_suspended", "the identity provider is suspended")
    return provider


#: How each refusal of the verifier reads to the partner.
MESSAGES = {
    "wrong_audience": "the subject_token's aud is not a registered audience",
    "wrong_issuer": "the subject_token's claims are invalid",
    "bad_signature": "the signature does not verify",
    "malformed": "the subject_token's claims are invalid",
}


def _decode(token: str, header: dict[str, Any], provider: Provider, key: KeyLookup
            ) -> dict[str, Any]:
    try:
        alg = jose.allowed_algorithm(header, jose.ASYMMETRIC_ALGORITHMS)
    except jose.JwtRefused:
        raise SubjectTokenRefused("algorithm_not_allowed", "the signing algorithm is not "
                                                           "allowed") from None
    kid = header.get("kid")
    signing_key = key(provider, kid if isinstance(kid, str) else None)
    try:
        return jose.verify_signature(token, signing_key, alg, audience=list(provider.audiences),
                                     issuer=provider.issuer, required=REQUIRED)
    except jose.JwtRefused as refused:
        if refused.reason == "missing_claim":
            raise SubjectTokenRefused("missing_claim", f"the subject_token lacks the "
                                                       f"{refused.claim} claim") from None
        reason = refused.reason if refused.reason != "wrong_issuer" else "malformed"
        raise SubjectTokenRefused(reason, MESSAGES[refused.reason]) from None


def _check_times(claims: dict[str, Any], now: datetime, leeway: timedelta,
                 max_lifetime: timedelta) -> datetime:
    try:
        return jose.check_times(claims, now, leeway, max_lifetime)
    except jose.JwtRefused as refused:
        raise SubjectTokenRefused(refused.reason, f"the subject_token {refused.detail}"
                                  ) from None


def _digest(token: str, claims: dict[str, Any]) -> str:
    """Identify the token: by issuer and jti when it has one, else by its signed content
    (not its text: a re-encoded signature must not make it a new token)."""
    jti = claims.get("jti")
    source = (f"{claims['iss']}\0{jti}" if isinstance(jti, str) and jti
              else json.dumps(claims, sort_keys=True))
    return hashlib.sha256(source.encode()).hexdigest()
