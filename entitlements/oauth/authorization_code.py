"""The authorization code grant (RFC 6749 4.1) with PKCE S256 for every client (RFC 7636,
RFC 9700 2.1.1), public clients included (RFC 8252). Authlib validates the authorization
request and the token request; the sign-in steps between them are the web layer's, and
redeeming the code is the issuance layer's (``issuance.codes``)."""

from __future__ import annotations

from typing import Any, Protocol

from authlib.oauth2.rfc6749 import InvalidRequestError, grants
from authlib.oauth2.rfc7636 import CodeChallenge

from ..issuance.codes import CodeGrant, CodeRedemption
from ..resources.directory import ResourceDirectory
from .dpop import refresh_key
from .scopes import choose_audience
from .supported import AUTH_METHODS, PUBLIC, REFRESH_TOKEN


class CodeServer(Protocol):
    codes: CodeRedemption
    resources: ResourceDirectory


class S256Challenge(CodeChallenge):
    """PKCE, S256 only: a plain challenge protects nothing a stolen request does not show."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send 'code_challenge' with "
                                      "'code_challenge_method=S256'.")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'.")
        super().validate_code_verifier(grant, result)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = [*AUTH_METHODS, PUBLIC]
    server: CodeServer  # type: ignore[assignment]

    def validate_token_request(self) -> None:
        super().validate_token_request()
        grant: CodeGrant = self.request.authorization_code
        # A code bound with dpop_jkt (RFC 9449 10) is redeemed only with a proof by that key.
        self.request.jkt = refresh_key(self.request.client, self.request,
                                       grant.params.get("dpop_jkt"))

    def query_authorization_code(self, code: str, client: Any) -> CodeGrant | None:
        return self.server.codes.find(code, client.client_id)

    def authenticate_user(self, authorization_code: CodeGrant) -> str:
        return authorization_code.person_id

    def create_token_response(self) -> tuple[int, dict, list[tuple[str, str]]]:
        request = self.request
        grant: CodeGrant = request.authorization_code
        resource = grant.params.get("resource")
        audience = choose_audience([resource] if resource else [],
                                   self.server.resources.snapshot())
        body = self.server.codes.redeem(request.client, grant, audience,
                                        with_refresh=request.client.check_grant_type(
                                            REFRESH_TOKEN), jkt=request.jkt)
        return 200, body, self.TOKEN_RESPONSE_HEADER

    def save_authorization_code(self, code: str, request: Any) -> None:
        raise NotImplementedError("codes are issued by the consent step (operations.signin)")
