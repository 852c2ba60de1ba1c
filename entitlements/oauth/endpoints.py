"""RFC 7662 introspection and RFC 7009 revocation of our JWT access tokens.

Unlike Authlib's RFC 9068 module, JWT access tokens here are revocable: the
token's record is marked, and introspection reflects it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from authlib.oauth2.rfc6749 import TokenMixin
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from ..base.actor import Actor
from ..issuance.refreshes import end_family
from ..kernel import claims as c
from ..kernel import dpop
from ..signin import refresh
from ..tokens.lookup import FoundToken, find_issued
from ..tokens.revocation import revoke_one
from .supported import AUTH_METHODS, PUBLIC


@dataclass(frozen=True)
class TokenView(TokenMixin):
    """An issued token as Authlib's endpoints see it."""

    issued: FoundToken
    now: datetime

    @property
    def claims(self) -> dict[str, Any]:
        return self.issued.claims

    def check_client(self, client: Any) -> bool:
        return client.client_id == self.issued.client_id

    def get_scope(self) -> str:
        return self.claims.get(c.SCOPE, "")

    def get_expires_in(self) -> int:
        return max(0, int((self.issued.expires_at - self.now).total_seconds()))

    def is_expired(self) -> bool:
        return self.issued.expires_at <= self.now

    def is_revoked(self) -> bool:
        return not self.issued.active


def find_token(server: Any, token_string: str) -> TokenView | None:
    now = server.clock.now()
    issued = find_issued(token_string, ring=server.keys.get(), issuer=server.settings.issuer,
                         db=server.db, now=now)
    return TokenView(issued, now) if issued is not None else None


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenView | None:
        return find_token(self.server, token_string)

    def check_permission(self, token: TokenView, client: Any, request: Any) -> bool:
        """A client may introspect its own tokens; gateway clients may introspect any."""
        return client.may_introspect or token.check_client(client)

    def introspect_token(self, token: TokenView) -> dict[str, Any]:
        """RFC 7662, with RFC 9449 6.2: a bound token is of type DPoP, and its ``cnf``
        (among its claims) names the key."""
        token_type = dpop.SCHEME if dpop.bound_thumbprint(token.claims) else "Bearer"
        return {"active": True, "token_type": token_type, **token.claims}


@dataclass(frozen=True)
class RefreshView(TokenMixin):
    """A refresh token as the revocation endpoint sees it (revoking it ends its family)."""

    family_id: str
    client_id: str

    def check_client(self, client: Any) -> bool:
        return client.client_id == self.client_id


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = [*AUTH_METHODS, PUBLIC]
    SUPPORTED_TOKEN_TYPES = ("access_token", "refresh_token")

    def query_token(self, token_string: str, token_type_hint: str | None
                    ) -> TokenView | RefreshView | None:
        """The hint only orders the search (RFC 7009 2.1)."""
        order = (self._refresh, self._access) if token_type_hint == "refresh_token" else (
            self._access, self._refresh)
        return order[0](token_string) or order[1](token_string)

    def _access(self, token_string: str) -> TokenView | None:
        return find_token(self.server, token_string)

    def _refresh(self, token_string: str) -> RefreshView | None:
        with self.server.db.sessions() as session:
            row = refresh.find(session, token_string)
            return RefreshView(row.family_id, row.client_id) if row is not None else None

    def revoke_token(self, token: TokenView | RefreshView, request: Any) -> None:
        client_id, now = request.client.client_id, self.server.clock.now()
        if isinstance(token, RefreshView):
            with self.server.db.transaction() as session:
                end_family(session, Actor(client_id, now), token.family_id,
                                      reason="revoked by its client (RFC 7009)")
            return
        revoke_one(self.server.db, token.claims[c.JWT_ID], client_id, now)
