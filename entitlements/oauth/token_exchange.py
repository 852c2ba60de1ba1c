"""RFC 8693 token exchange: a partner's backend trades one of its people's ID tokens
(from the organization's own identity provider) for an entitlement token about that person.

The client authenticates as usual. The request names the ID token as ``subject_token``
of type ``id_token``; ``resource`` or ``audience`` (RFC 8693 section 2.1) pick the gateway
and ``scope`` the tiers, as for client credentials. Everything is checked before anything
is written: then the ID token is marked used, the person found (or created), and the token
issued with the person's citizenship summary.
"""

from __future__ import annotations

from datetime import timedelta

from authlib.oauth2.rfc6749 import UnauthorizedClientError
from authlib.oauth2.rfc6749.grants import BaseGrant, TokenEndpointMixin

from ..identity_providers import exchange
from ..identity_providers.id_token import SubjectTokenRefused, VerifiedIdToken, verify_id_token
from ..policy.subjects import person_subject
from .errors import ReasonedInvalidRequest
from .grants import AUTH_METHODS, TOKEN_EXCHANGE
from .scopes import choose_audience

ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"


class TokenExchangeGrant(BaseGrant, TokenEndpointMixin):
    GRANT_TYPE = TOKEN_EXCHANGE
    TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

    def validate_token_request(self) -> None:
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(TOKEN_EXCHANGE):
            raise UnauthorizedClientError("The client may not use token exchange.")
        self.request.client = client
        form = self.request.payload.data
        _check_token_types(form)
        targets = self.request.payload.datalist
        self.request.audience = choose_audience(
            [*targets.get("resource", []), *targets.get("audience", [])],
            self.server.catalog.snapshot())
        self.request.id_token = self._verified_id_token(form["subject_token"])
        self.request.citizenship = self.server.known_citizenship(self.request.id_token)
        self.server.entitle(self.request, person_subject(
            client.organization_id, client.trust_level, self.request.citizenship))

    def create_token_response(self) -> tuple[int, dict, list[tuple[str, str]]]:
        signed = self.server.exchange_token(self.request)
        body = {
            "access_token": signed.token,
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": "Bearer",
            "expires_in": signed.expires_in,
            "scope": signed.scope,
        }
        return 200, body, self.TOKEN_RESPONSE_HEADER


    def _verified_id_token(self, token: str) -> VerifiedIdToken:
        """The ID token, verified for the client's own organization, or a refusal."""
        org_id, server = self.request.client.organization_id, self.server
        with server.db.sessions() as session:
            if not exchange.has_provider(session, org_id):
                raise ReasonedInvalidRequest("no_identity_provider", "The client's "
                                             "organization has no registered identity provider.")
            providers, keys = exchange.registry(session, server.remote_jwks)
            try:
                return verify_id_token(
                    token, providers=providers, organization_id=org_id, key=keys,
                    now=server.clock.now(),
                    leeway=timedelta(seconds=server.settings.clock_leeway),
                    max_lifetime=timedelta(seconds=server.settings.id_token_max_lifetime))
            except SubjectTokenRefused as refused:
                raise ReasonedInvalidRequest(refused.reason,
                                             f"subject_token: {refused.message}.") from None


def _check_token_types(form: dict) -> None:
    if not form.get("subject_token"):
        raise ReasonedInvalidRequest("missing_subject_token", "Missing 'subject_token'.")
    if form.get("subject_token_type") != ID_TOKEN_TYPE:
        raise ReasonedInvalidRequest("unsupported_subject_token_type",
                                     f"'subject_token_type' must be {ID_TOKEN_TYPE}.")
    requested = form.get("requested_token_type")
    if requested not in (None, ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE):
        raise ReasonedInvalidRequest("unsupported_requested_token_type",
                                     f"Only {ACCESS_TOKEN_TYPE} can be issued.")
    if form.get("actor_token") or form.get("actor_token_type"):
        raise ReasonedInvalidRequest("actor_token_unsupported", "The authenticated client "
                                     "is the actor; 'actor_token' is not accepted.")
