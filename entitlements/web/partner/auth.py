"""What the partner endpoints share: a form body, and the caller authenticated as its OAuth
client with any of the token endpoint's methods. Refusals are problem+json (``web.errors``)."""

from __future__ import annotations

from flask import request

from ...oauth.client_record import ClientRecord
from ...oauth.supported import AUTH_METHODS
from ..errors import Family, FamilyBlueprint
from ..guards import validate_form_request
from ..services import services


def partner_blueprint(name: str, import_name: str) -> FamilyBlueprint:
    return FamilyBlueprint(name, import_name, family=Family.PROBLEM, no_store=True)


def authenticated_client(endpoint: str) -> ClientRecord:
    """The calling client, from a valid form and credentials (OAuth2Error otherwise)."""
    validate_form_request(request, allow_empty=True)
    server = services().oauth
    return server.authenticate_client(server.create_oauth2_request(None), AUTH_METHODS,
                                      endpoint)
