"""The one place errors become HTTP responses.

OAuth endpoints answer in RFC 6749 JSON; everything else in RFC 9457
problem+json. Anything unexpected is logged with its traceback and answered
with a generic 500 that reveals nothing.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, json, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from ..errors import ProblemError

log = logging.getLogger("entitlements.errors")
OAUTH_PREFIXES = ("/oauth/", "/attestations")
PROBLEM_TYPE = "application/problem+json"
ADMIN_REALM = 'Bearer realm="entitlements-admin"'


def register(app: Flask) -> None:
    app.register_error_handler(ProblemError, _problem_error)
    app.register_error_handler(ValidationError, _validation_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def problem(status: int, title: str, detail: str, type_uri: str = "about:blank",
            **extra: object) -> Response:
    body = {"type": type_uri, "title": title, "status": status, "detail": detail, **extra}
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_TYPE)


def oauth_error(status: int, error: str, description: str) -> Response:
    body = json.dumps({"error": error, "error_description": description})
    response = Response(body, status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _problem_error(error: ProblemError) -> Response:
    if error.detail:
        log.info("%s: %s", error.code, error.detail)
    response = problem(error.status, error.title, error.message, error.type_uri,
                       **error.members)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = ADMIN_REALM
    return response


def _validation_error(error: ValidationError) -> Response:
    return problem(400, "Invalid input", "The request body failed validation.",
                   "urn:entitlements:problem:invalid_input", errors=error.normalized_messages())


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    description = error.description or error.name
    if request.path.startswith(OAUTH_PREFIXES):
        response = oauth_error(status, "invalid_request", description)
    else:
        response = problem(status, error.name, description)
    for name, value in error.get_headers():
        if name.lower() == "allow":
            response.headers[name] = value
    return response


def _unexpected(error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    if request.path.startswith(OAUTH_PREFIXES):
        return oauth_error(500, "server_error", "The server met an unexpected error.")
    return problem(500, "Internal server error", "The server met an unexpected error.")
