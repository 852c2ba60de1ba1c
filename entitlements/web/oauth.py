"""The OAuth endpoints: /oauth/token, /oauth/introspect and /oauth/revoke (RFC 6749 errors).

Each checks the form (``guards``), hands the request to Authlib, and has its refusals audited
once by the error layer, with the client id the caller claimed (recorded, never trusted)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import jwt
from authlib.oauth2.rfc6749 import InvalidRequestError
from flask import Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from .errors import Family, FamilyBlueprint, audits_refusals
from .guards import validate_form_request
from .services import services

blueprint = FamilyBlueprint("oauth", __name__, url_prefix="/oauth", family=Family.OAUTH)


def _refusal_details(response: Response) -> dict[str, Any]:
    body = response.get_json(silent=True) or {}
    return {"claimed_client_id": _claimed_client_id(), "reason": body.get("reason"),
            "grant_type": _form_value("grant_type")}


@blueprint.post("/token")
@audits_refusals("grant.refused", _refusal_details)
def token() -> Response:
    validate_form_request(request, repeatable=frozenset({"resource"}))
    if not request.form.get("grant_type"):
        raise InvalidRequestError("Missing 'grant_type' parameter.")
    return services().oauth.create_token_response()


@blueprint.post("/introspect")
@audits_refusals("introspection.refused", _refusal_details)
def introspect() -> Response:
    validate_form_request(request)
    return services().oauth.create_endpoint_response("introspection")


@blueprint.post("/revoke")
@audits_refusals("revocation.refused", _refusal_details)
def revoke() -> Response:
    validate_form_request(request)
    return services().oauth.create_endpoint_response("revocation")


def _claimed_client_id() -> str | None:
    """The client id a refused caller claimed to be: never trusted, only recorded."""
    claimed = _form_value("client_id") or _basic_username()
    if not claimed:
        assertion = _form_value("client_assertion")
        try:
            claimed = jwt.decode(assertion or "", options={"verify_signature": False}).get("sub")
        except jwt.InvalidTokenError:
            claimed = None
    return str(claimed)[:64] if claimed else None


def _form_value(name: str) -> Any:
    if request.mimetype != "application/x-www-form-urlencoded":
        return None
    try:
        value = request.form.get(name)
    except RequestEntityTooLarge:
        return None
    return value[:64] if isinstance(value, str) and name != "client_assertion" else value


def _basic_username() -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.split(":", 1)[0]
