"""Checks every OAuth endpoint's request passes before Authlib sees it."""

from __future__ import annotations

import base64
import binascii

from authlib.oauth2.rfc6749 import InvalidRequestError
from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge

from ..oauth.errors import authentication_failed, echo
from .limits import form_has_nul

FORM_TYPE = "application/x-www-form-urlencoded"


def validate_form_request(request: Request, *, repeatable: frozenset[str] = frozenset(),
                          allow_empty: bool = False) -> None:
    """RFC 6749 sections 2.3 and 3.2: a UTF-8 form body, no query string, no repeated
    parameter, at most one set of client credentials."""
    if allow_empty and not request.content_length and not request.mimetype:
        return
    if request.mimetype != FORM_TYPE:
        raise InvalidRequestError(f"The request body must be {FORM_TYPE}.", status_code=400)
    if request.args:
        raise InvalidRequestError("Parameters must be sent in the request body, not the URL.")
    try:
        raw = request.get_data(cache=True)
        form = request.form
    except RequestEntityTooLarge:
        raise InvalidRequestError(
            f"The request body is larger than {request.max_content_length} bytes.",
            status_code=413,
        ) from None
    if not _is_utf8(raw) or (raw.strip() and not form):
        raise InvalidRequestError("The request body is not a valid form.")
    for name in form:
        if name not in repeatable and len(form.getlist(name)) > 1:
            raise InvalidRequestError(f"Parameter '{echo(name)}' is repeated.")
    holding_nul = form_has_nul(request)
    if holding_nul is not None:
        raise InvalidRequestError(f"Parameter '{echo(holding_nul)}' holds a NUL character.")
    credentials = ("Authorization" in request.headers, "client_secret" in form,
                   "client_assertion" in form)
    if sum(credentials) > 1:
        # RFC 6749 section 2.3: one authentication method per request.
        raise InvalidRequestError("Use exactly one client authentication method per request.")
    _check_basic(request.headers.get("Authorization"))


def _check_basic(header: str | None) -> None:
    """Basic credentials must be base64 of UTF-8 ``id:secret`` (RFC 7617); anything else
    is a failed authentication like any other, not an error inside the OAuth library."""
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if ":" not in decoded or "\x00" in decoded:
        raise authentication_failed("the Basic credentials are not base64 of UTF-8 id:secret")


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True

