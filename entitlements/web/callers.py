"""Who a request says it comes from, before anything is verified: the client id it claims
and the address it comes from. Recorded in refusal events and used as throttling keys;
never trusted for anything else."""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import unquote

import jwt
from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

#: Longer claims are cut: keys and audit details stay bounded.
MAX_CLAIM = 64


def claimed_client_id() -> str | None:
    """The client id in the form, the Basic credentials or a client assertion's ``sub``."""
    claimed = form_value("client_id") or _basic_username()
    if not claimed:
        assertion = form_value("client_assertion")
        try:
            claimed = jwt.decode(assertion or "", options={"verify_signature": False}).get("sub")
        except jwt.InvalidTokenError:
            claimed = None
    return str(claimed)[:MAX_CLAIM] if claimed else None


def source_address() -> str:
    """The peer's address (the client's, past ``ENTITLEMENTS_PROXY_HOPS`` trusted proxies)."""
    return request.remote_addr or "unknown"


def form_value(name: str) -> Any:
    if request.mimetype != "application/x-www-form-urlencoded":
        return None
    try:
        request.get_data(cache=True)  # kept whole: the views check the raw body too
        value = request.form.get(name)
    except RequestEntityTooLarge:
        return None
    return value[:MAX_CLAIM] if isinstance(value, str) and name != "client_assertion" else value


def _basic_username() -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return unquote(decoded.split(":", 1)[0])
