"""Verifying other parties' JWTs: client assertions, ID tokens, attestations, SD-JWT issuer
and key-binding JWTs, credential status lists.

One set of primitives with one table of reason codes, so PyJWT's exceptions are mapped in
one place. Each caller composes them (peek, algorithm, its own key lookup, signature, its own
time rules) and words the refusal for its audience. Times come from the caller's clock, never
from PyJWT's.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

#: Asymmetric signature algorithms only: never ``none``, never an HMAC that a public
#: key could be abused as the secret of.
ASYMMETRIC_ALGORITHMS = ("ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256",
                         "RS384", "RS512", "EdDSA")

#: Every reason a foreign JWT is refused for, and what it means.
REASONS = {
    "malformed": "is not a well-formed JWT, or a claim has the wrong type",
    "algorithm_not_allowed": "is signed with an algorithm that is not allowed",
    "unknown_key": "is signed with a key that is not registered",
    "bad_signature": "has a signature that does not verify",
    "wrong_issuer": "names another issuer",
    "wrong_audience": "is not addressed to us",
    "missing_claim": "lacks a required claim",
    "expired": "has expired",
    "not_yet_valid": "is not valid yet",
    "lifetime_too_long": "lives longer than is accepted",
}


class JwtRefused(Exception):
    """A foreign JWT that breaks a rule. ``reason`` is a key of ``REASONS``; ``detail`` is a
    fixed phrase that completes "the token ..." (never caller-supplied text); ``claim`` names
    the claim or header member at fault, when there is one."""

    def __init__(self, reason: str, detail: str | None = None, *, claim: str | None = None
                 ) -> None:
        where = f" ({claim})" if claim else ""
        super().__init__(f"{reason}{where}: {detail or REASONS[reason]}")
        self.reason, self.claim = reason, claim
        self.detail = detail or REASONS[reason]


def peek(token: str, max_bytes: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWS, unverified: only to find its issuer and key."""
    if not token or len(token) > max_bytes:
        raise JwtRefused("malformed", "is missing or too large")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except (jwt.InvalidTokenError, RecursionError):
        raise JwtRefused("malformed", "is not a well-formed JWT") from None
    return header, claims


def allowed_algorithm(header: dict[str, Any], allowed: Collection[str]) -> str:
    """The header's ``alg`` when it is one of ``allowed``."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in allowed:
        raise JwtRefused("algorithm_not_allowed", claim="alg")
    return alg


def verify_signature(token: str, key: Any, alg: str, *, issuer: str | None = None,
                     audience: str | Sequence[str] | None = None,
                     required: Sequence[str] = ()) -> dict[str, Any]:
    """The claims, once the signature verifies with ``key`` and ``alg`` and ``iss``, ``aud``
    and the ``required`` claims hold. Times are the caller's to check."""
    try:
        return jwt.decode(
            token, key, algorithms=[alg], issuer=issuer,
            audience=list(audience) if isinstance(audience, list | tuple) else audience,
            options={"require": list(required), "verify_aud": audience is not None,
                     "verify_exp": False, "verify_nbf": False, "verify_iat": False})
    except jwt.InvalidAudienceError:
        raise JwtRefused("wrong_audience", claim="aud") from None
    except jwt.InvalidIssuerError:
        raise JwtRefused("wrong_issuer", claim="iss") from None
    except jwt.MissingRequiredClaimError as error:
        raise JwtRefused("missing_claim", claim=error.claim) from None
    except (jwt.InvalidSignatureError, jwt.InvalidAlgorithmError, jwt.InvalidKeyError):
        raise JwtRefused("bad_signature") from None
    except (jwt.InvalidTokenError, RecursionError):
        raise JwtRefused("malformed") from None


def numeric_date(claims: dict[str, Any], name: str) -> datetime | None:
    """The claim ``name`` as an aware datetime; None when absent; ValueError when it is
    not a NumericDate (RFC 7519 section 2) or out of range."""
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(f"'{name}' is not a NumericDate")
    try:
        moment = datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"'{name}' is out of range") from None
    if not 1 < moment.year < 9999:  # a leeway added or taken must not overflow
        raise ValueError(f"'{name}' is out of range")
    return moment


def check_times(claims: dict[str, Any], now: datetime, leeway: timedelta,
                max_lifetime: timedelta) -> datetime:
    """A token's ``exp``, once its times hold at ``now`` (with ``leeway`` for clock skew):
    not expired, not issued nor usable (``nbf``) in the future, and living no longer than
    ``max_lifetime``. ``exp`` and ``iat`` are required."""
    try:
        expires, issued = numeric_date(claims, "exp"), numeric_date(claims, "iat")
        not_before = numeric_date(claims, "nbf") or issued
    except ValueError:
        raise JwtRefused("malformed") from None
    if expires is None or issued is None or not_before is None:
        raise JwtRefused("missing_claim", claim="exp" if expires is None else "iat")
    if expires + leeway <= now:
        raise JwtRefused("expired", claim="exp")
    if min(issued, not_before) - leeway > now:
        raise JwtRefused("not_yet_valid", claim="iat")
    if expires - issued > max_lifetime:
        raise JwtRefused("lifetime_too_long", f"lives longer than "
                         f"{int(max_lifetime.total_seconds())} seconds", claim="exp")
    return expires
