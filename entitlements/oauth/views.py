"""/oauth/token, /oauth/introspect, /oauth/revoke, the JWKS and discovery documents."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

import jwt
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error
from flask import Blueprint, Response, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from ..web.guards import validate_form_request
from . import ledger
from .metadata import server_metadata
from .server import EntitlementsServer

blueprint = Blueprint("oauth", __name__)


def server() -> EntitlementsServer:
    return current_app.extensions["entitlements.oauth"]


@blueprint.post("/oauth/token")
def token() -> Response:
    return _form_endpoint("grant.refused", _create_token_response,
                          repeatable=frozenset({"resource"}))


def _create_token_response() -> Response:
    if not request.form.get("grant_type"):
        raise InvalidRequestError("Missing 'grant_type' parameter.")
    return server().create_token_response()


@blueprint.post("/oauth/introspect")
def introspect() -> Response:
    return _form_endpoint(
        "introspection.refused", lambda: server().create_endpoint_response("introspection")
    )


@blueprint.post("/oauth/revoke")
def revoke() -> Response:
    return _form_endpoint(
        "revocation.refused", lambda: server().create_endpoint_response("revocation")
    )


@blueprint.get("/.well-known/oauth-authorization-server")
@blueprint.get("/.well-known/openid-configuration")
def metadata() -> Response:
    oauth = server()
    tiers = oauth.policies.active(oauth.clock.now()).tiers
    response = jsonify(server_metadata(oauth.settings, tiers))
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


@blueprint.get("/jwks.json")
def jwks() -> Response:
    oauth = server()
    response = jsonify(oauth.keys.get().jwks(oauth.clock.now()))
    response.cache_control.public = True
    response.cache_control.max_age = oauth.settings.jwks_max_age
    response.add_etag()
    return response.make_conditional(request)


def _form_endpoint(
    refusal: str, respond: Callable[[], Response], repeatable: frozenset[str] = frozenset()
) -> Response:
    oauth = server()
    try:
        validate_form_request(request, repeatable=repeatable)
        response = respond()
    except OAuth2Error as error:
        response = oauth.handle_error_response(None, error)
    if response.status_code >= 400:
        _audit_refusal(oauth, refusal, response)
    return response


def _audit_refusal(oauth: EntitlementsServer, action: str, response: Response) -> None:
    body = response.get_json(silent=True) or {}
    ledger.record_refusal(
        oauth.db, at=oauth.clock.now(), actor="anonymous", action=action,
        error=str(body.get("error", "invalid_request")),
        description=body.get("error_description"),
        details={"claimed_client_id": _claimed_client_id(), "reason": body.get("reason"),
                 "grant_type": _form_value("grant_type"), "status": response.status_code},
    )


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
