"""RFC 7662 introspection and RFC 7009 revocation of our JWT access tokens.

Unlike Authlib's RFC 9068 module, JWT access tokens here are revocable: the
token's record is marked, and introspection reflects it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt
from authlib.oauth2.rfc6749 import TokenMixin
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from ..gateway import claims as c
from . import ledger
from .grants import AUTH_METHODS

MAX_TOKEN_BYTES = 16 * 1024


@dataclass(frozen=True)
class TokenView(TokenMixin):
    claims: dict[str, Any]
    client_id: str
    expires_at: datetime
    inactive: bool
    now: datetime

    def check_client(self, client: Any) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.claims.get(c.SCOPE, "")

    def get_expires_in(self) -> int:
        return max(0, int((self.expires_at - self.now).total_seconds()))

    def is_expired(self) -> bool:
        return self.expires_at <= self.now

    def is_revoked(self) -> bool:
        return self.inactive


def find_token(server: Any, token_string: str) -> TokenView | None:
    """Our token with a valid signature and a record, or None for anything else."""
    if not token_string or len(token_string) > MAX_TOKEN_BYTES:
        return None
    now = server.clock.now()
    try:
        header = jwt.get_unverified_header(token_string)
        info = server.keys.get().find(str(header.get("kid")), now)
        if info is None or header.get("typ") != c.ACCESS_TOKEN_TYP:
            return None
        claims = jwt.decode(
            token_string, jwt.PyJWK(info.public_jwk).key, algorithms=[info.alg],
            issuer=server.settings.issuer,
            options={"verify_aud": False, "verify_exp": False, "verify_nbf": False,
                     "verify_iat": False, "require": list(c.REQUIRED_CLAIMS)},
        )
    except (jwt.InvalidTokenError, jwt.PyJWKError):
        return None
    state = ledger.token_state(server.db, str(claims[c.JWT_ID]))
    if state is None:
        return None
    return TokenView(claims, state.client_id, state.expires_at, not state.active, now)


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenView | None:
        return find_token(self.server, token_string)

    def check_permission(self, token: TokenView, client: Any, request: Any) -> bool:
        """A client may introspect its own tokens; gateway clients may introspect any."""
        return client.may_introspect or token.check_client(client)

    def introspect_token(self, token: TokenView) -> dict[str, Any]:
        return {"active": True, "token_type": "Bearer", **token.claims}


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS
    SUPPORTED_TOKEN_TYPES = ("access_token",)

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenView | None:
        return find_token(self.server, token_string)

    def revoke_token(self, token: TokenView, request: Any) -> None:
        ledger.revoke(self.server.db, token.claims[c.JWT_ID], request.client.client_id,
                      self.server.clock.now())
