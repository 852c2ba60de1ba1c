"""RFC 8693 token exchange: a partner's backend trades one of its people's ID tokens
(from the organization's own identity provider) for an entitlement token about that person.

The client authenticates as usual. The request names the ID token as ``subject_token``
of type ``id_token``; ``resource`` or ``audience`` (RFC 8693 section 2.1) pick the gateway
and ``scope`` the tiers, as for client credentials. Everything is checked before anything
is written: then the ID token is marked used, the person found (or created), and the token
issued with the person's citizenship summary.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from authlib.oauth2.rfc6749 import UnauthorizedClientError
from authlib.oauth2.rfc6749.grants import BaseGrant, TokenEndpointMixin

from ..identity_providers.id_token import SubjectTokenRefused
from ..policy.subjects import person_subject
from .dpop import bound_key
from .errors import ReasonedInvalidRequest
from .grants import entitlement
from .scopes import choose_audience
from .supported import AUTH_METHODS, TOKEN_EXCHANGE

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
        audience = choose_audience([*targets.get("resource", []), *targets.get("audience", [])],
                                   self.server.resources.snapshot())
        issuance = self.server.issuance
        if not issuance.has_identity_provider(client.organization_id):
            raise ReasonedInvalidRequest("no_identity_provider", "The client's organization "
                                         "has no registered identity provider.")
        with _reasoned():
            self.request.id_token = issuance.verify_id_token(client, form["subject_token"])
        self.request.citizenship = issuance.known_citizenship(self.request.id_token)
        self.request.entitlement = entitlement(
            self.server, client,
            person_subject(client.organization_id, client.trust_level,
                           self.request.citizenship),
            audience, self.request.payload.scope, bound_key(client, self.request))

    def create_token_response(self) -> tuple[int, dict, list[tuple[str, str]]]:
        request = self.request
        with _reasoned():
            signed = self.server.issuance.issue_for_person(
                request.client, request.entitlement, request.id_token, request.citizenship)
        body = {
            "access_token": signed.token,
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "token_type": signed.token_type,
            "expires_in": signed.expires_in,
            "scope": signed.scope,
        }
        return 200, body, self.TOKEN_RESPONSE_HEADER


@contextmanager
def _reasoned() -> Iterator[None]:
    """A refused subject_token as ``invalid_request`` with its ``reason``."""
    try:
        yield
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
