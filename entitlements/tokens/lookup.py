"""Read one of our own access tokens back (introspection, revocation): its signature with a
published key of ours, and its record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt

from ..base.db import Database
from ..kernel import claims as c
from ..signing.keyring import KeyRing
from .state import token_state

MAX_TOKEN_BYTES = 16 * 1024


@dataclass(frozen=True)
class FoundToken:
    claims: dict[str, Any]
    client_id: str
    expires_at: datetime
    active: bool


def find_issued(token: str, *, ring: KeyRing, issuer: str, db: Database, now: datetime
                ) -> FoundToken | None:
    """Our token with a valid signature and a record, or None for anything else."""
    if not token or len(token) > MAX_TOKEN_BYTES:
        return None
    try:
        header = jwt.get_unverified_header(token)
        info = ring.find(str(header.get("kid")), now)
        if info is None or header.get("typ") != c.ACCESS_TOKEN_TYP:
            return None
        claims = jwt.decode(
            token, jwt.PyJWK(info.public_jwk).key, algorithms=[info.alg], issuer=issuer,
            options={"verify_aud": False, "verify_exp": False, "verify_nbf": False,
                     "verify_iat": False, "require": list(c.REQUIRED_CLAIMS)},
        )
    except (jwt.InvalidTokenError, jwt.PyJWKError):
        return None
    state = token_state(db, str(claims[c.JWT_ID]))
    if state is None:
        return None
    return FoundToken(claims, state.client_id, state.expires_at, state.active)
