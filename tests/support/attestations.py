"""A citizenship verifier of our own for the attestation tests: its keys, its registry
entry, its JWT attestations and its status lists (real keys, real signatures)."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from entitlements.attestations.verify import TrustedIssuer, verify_jwt_attestation
from entitlements.base.remote_jwks import RemoteJwks, find_key
from entitlements.kernel.status_list import INVALID, SUSPENDED, StatusList
from entitlements.tokens.status_lists import encode_status_list_token

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
AUDIENCE = "https://entitlements.example"
NONCE = "n-0S6_WzA2Mj"
ISSUER = "https://verifier.example"
STATUS_URI = "https://verifier.example/statuslists/1"
VALID_IDX, REVOKED_IDX, SUSPENDED_IDX = 1, 3, 5


def keypair(kid: str) -> tuple[ec.EllipticCurvePrivateKey, dict]:
    private = ec.generate_private_key(ec.SECP256R1())
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    return private, {**public, "kid": kid, "alg": "ES256", "use": "sig"}


SIGNING_KEY, SIGNING_JWK = keypair("verifier-1")
#: Another key under the same kid: what a forger would sign with.
STRANGER_KEY, _ = keypair("verifier-1")


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


def trusted_issuer(default_formats: Collection[str], **overrides: Any) -> TrustedIssuer:
    """The verifier as the issuer registry describes it (``formats`` may be overridden)."""
    fields = {"issuer": ISSUER, "find": partial(find_key, RemoteJwks(), jwks_uri=None,
                                                jwks={"keys": [SIGNING_JWK]}, owner="issuer"),
              "formats": frozenset(default_formats), "nationalities": frozenset({"US", "CA"}),
              "assurance_levels": frozenset({"substantial", "high"}),
              "max_age": timedelta(days=365), "active": True}
    return TrustedIssuer(**{**fields, **overrides})


def jwt_attestation(key: Any = SIGNING_KEY, headers: dict | None = None,
                    algorithm: str = "ES256", **overrides: Any) -> str:
    """A JWT attestation of US citizenship at ``high``, for our nonce; ``None`` drops a
    claim."""
    claims = {"iss": ISSUER, "sub": "person-77", "aud": AUDIENCE, "jti": "cred-1",
              "iat": ts(NOW) - 60, "exp": ts(NOW) + 3600,
              "verified_at": ts(NOW - timedelta(days=30)), "nonce": NONCE,
              "nationalities": ["US"], "assurance_level": "high"}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm=algorithm,
                      headers={"kid": "verifier-1", **(headers or {})})


def verify_jwt(token: str, issuer: TrustedIssuer | None = None, **kwargs: Any) -> Any:
    registry = {ISSUER: issuer or trusted_issuer({"jwt"})}
    options = {"issuers": registry.get, "audience": AUDIENCE, "nonce": NONCE, "now": NOW,
               **kwargs}
    return verify_jwt_attestation(token, **options)


def status_claim(idx: int, uri: str = STATUS_URI) -> dict:
    return {"status_list": {"idx": idx, "uri": uri}}


def status_token(*, key: Any = SIGNING_KEY, kid: str = "verifier-1", uri: str = STATUS_URI,
                 size: int = 16, expires_at: int | None = None) -> str:
    """The issuer's status list for ``uri``: REVOKED_IDX revoked, SUSPENDED_IDX suspended."""
    statuses = StatusList(size, 2)
    statuses.set(REVOKED_IDX, INVALID)
    statuses.set(SUSPENDED_IDX, SUSPENDED)
    return encode_status_list_token(
        statuses, private_key=key, algorithm="ES256", kid=kid, issuer=ISSUER, uri=uri,
        issued_at=ts(NOW) - 60,
        expires_at=ts(NOW) + 3600 if expires_at is None else expires_at, ttl=300)
