"""Thin Authlib grants: they validate the request, then hand over to the server."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import grants

from .scopes import choose_audience

CLIENT_CREDENTIALS = "client_credentials"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # RFC 8693
GRANT_TYPES = (CLIENT_CREDENTIALS, TOKEN_EXCHANGE)

#: Client authentication methods accepted at every endpoint that authenticates clients.
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        self.request.client = client
        self.request.audience = choose_audience(
            self.request.payload.datalist.get("resource", []), self.server.catalog.snapshot()
        )
        self.server.entitle(self.request, client.subject)

    def create_token_response(self) -> tuple[int, dict, list[tuple[str, str]]]:
        signed = self.server.issue_token(self.request)
        body = {
            "access_token": signed.token,
            "token_type": "Bearer",
            "expires_in": signed.expires_in,
            "scope": signed.scope,
        }
        return 200, body, self.TOKEN_RESPONSE_HEADER
