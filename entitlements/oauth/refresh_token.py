"""The refresh token grant (RFC 6749 6): rotated, replay-detecting, decided again on every
use (``issuance.refreshes``). ``scope`` may only narrow what the sign-in allowed."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import (
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
    grants,
)

from ..issuance.refreshes import RefreshRefused
from .dpop import refresh_key
from .errors import ReasonedInvalidGrant
from .scopes import choose_audience
from .supported import AUTH_METHODS, PUBLIC, REFRESH_TOKEN


class RefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [*AUTH_METHODS, PUBLIC]

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(REFRESH_TOKEN):
            raise UnauthorizedClientError("The client may not use refresh tokens.")
        token = self.request.form.get("refresh_token")
        if not token:
            raise InvalidRequestError("Missing 'refresh_token'.")
        try:
            presented = self.server.refreshes.find(token, client.client_id)
        except RefreshRefused as refused:
            raise ReasonedInvalidGrant(refused.reason, refused.message) from None
        asked = (self.request.form.get("scope") or "").split()
        if set(asked) - set(presented.family.scope.split()):
            raise InvalidScopeError("A refresh may only narrow the scope of the sign-in.")
        self.request.jkt = refresh_key(client, self.request, presented.family.dpop_jkt)
        self.request.client, self.request.presented = client, presented

    def create_token_response(self) -> tuple[int, dict, list[tuple[str, str]]]:
        presented: Any = self.request.presented
        resource = presented.family.resource
        audience = choose_audience([resource] if resource else [],
                                   self.server.resources.snapshot())
        try:
            body = self.server.refreshes.redeem(self.request.client, presented, audience,
                                                self.request.jkt)
        except RefreshRefused as refused:
            raise ReasonedInvalidGrant(refused.reason, refused.message) from None
        return 200, body, self.TOKEN_RESPONSE_HEADER
