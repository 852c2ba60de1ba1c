"""OpenID Connect ID tokens (OIDC Core 2): about a person signed in through their
organization's provider, for the client that asked, signed with the service's key."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..base.clock import epoch
from ..signing.compact import sign_compact
from ..signing.keyring import KeyRingCache

#: OpenID Connect's algorithm every client accepts by default (OIDC Core 15.1, and the
#: default of ``id_token_signed_response_alg``), whatever signs access tokens.
ID_TOKEN_ALG = "RS256"


@dataclass(frozen=True)
class SignIn:
    """The sign-in an ID token reports."""

    person_id: str
    auth_time: int
    nonce: str | None
    acr: str | None
    amr: list[str] | None


def at_hash(access_token: str, alg: str) -> str:
    """The left half of the access token's hash, by the signature's hash (OIDC Core 3.1.3.6;
    SHA-512 for EdDSA with Ed25519)."""
    digest = (hashlib.sha512 if alg == "EdDSA" else
              hashlib.sha384 if alg.endswith("384") else
              hashlib.sha512 if alg.endswith("512") else hashlib.sha256)(access_token.encode())
    half = digest.digest()[: digest.digest_size // 2]
    return base64.urlsafe_b64encode(half).rstrip(b"=").decode()


def sign_id_token(keys: KeyRingCache, sign_in: SignIn, *, issuer: str, client_id: str,
                  access_token: str, now: datetime, ttl: timedelta) -> str:
    info, private_key = keys.signer_of(ID_TOKEN_ALG, now)
    issued = now.replace(microsecond=0)
    claims: dict[str, Any] = {
        "iss": issuer, "sub": sign_in.person_id, "aud": client_id, "azp": client_id,
        "iat": epoch(issued), "exp": epoch(issued + ttl), "auth_time": sign_in.auth_time,
        "jti": secrets.token_urlsafe(18), "at_hash": at_hash(access_token, info.alg)}
    if sign_in.nonce:
        claims["nonce"] = sign_in.nonce
    if sign_in.acr:
        claims["acr"] = sign_in.acr
    if sign_in.amr:
        claims["amr"] = sign_in.amr
    return sign_compact(claims, private_key, alg=info.alg, kid=info.kid, typ="JWT")
