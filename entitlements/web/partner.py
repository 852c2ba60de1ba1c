"""What partner-facing endpoints share: a form body, and the caller authenticated as its
OAuth client with any of the token endpoint's methods (RFC 6749 errors otherwise)."""

from __future__ import annotations

from collections.abc import Callable

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import Response, current_app, request

from ..oauth.client_record import ClientRecord
from ..oauth.grants import AUTH_METHODS
from .guards import validate_form_request


def partner_call(handler: Callable[[ClientRecord], Response], endpoint: str) -> Response:
    server = current_app.extensions["entitlements.oauth"]
    try:
        validate_form_request(request, allow_empty=True)
        client = server.authenticate_client(server.create_oauth2_request(None), AUTH_METHODS,
                                            endpoint)
    except OAuth2Error as error:
        return server.handle_error_response(None, error)
    return handler(client)
