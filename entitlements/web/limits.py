"""Bounds on what a request may carry, checked before any view reads it: the body's size
and arrival time (refused unread by the ASGI front, ``web.asgi``, or by the WSGI server), the
depth of a JSON body, and the characters a value may hold. A request that breaks one gets a
clear 4xx in its endpoint family's format, and a refused body closes the connection (its
unread rest must not be parsed as the next request)."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Flask, Request, Response, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import (
    BadRequest,
    RequestEntityTooLarge,
    RequestTimeout,
    RequestURITooLarge,
)

from ..kernel.jsonload import finite_float, not_json
from .asgi import BODY_REFUSED

#: Answers after which the connection cannot be trusted to be at a request boundary.
CLOSES = frozenset({408, 413, 414, 431})
#: How deeply a JSON body may nest (objects and arrays).
MAX_JSON_DEPTH = 32
#: Sorted keys, as Flask's own provider; dates and dataclasses as Flask converts them.
ORJSON_OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
                  | orjson.OPT_PASSTHROUGH_DATACLASS)
#: The longest path and query string taken (bytes as sent); nothing here needs more.
MAX_URL_BYTES = 8 * 1024


class StrictJSON(DefaultJSONProvider):
    """Request bodies read as JSON every reader after us agrees on (RFC 8259 section 6):
    ``NaN``, ``Infinity`` and numbers past any float (``1e400``), which Python's parser lets
    through, and integers past 64 bits, which others read as floats, are refused (a
    malformed body). Answers are written with orjson (UTF-8, keys sorted, Flask's
    conversions for dates and the like); the standard library writes what orjson refuses,
    and indented output."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return super().loads(s, parse_constant=not_json, parse_float=finite_float,
                             parse_int=_int64, **kwargs)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs.keys() - {"separators"}:
            return super().dumps(obj, **kwargs)
        try:
            return orjson.dumps(obj, default=self.default, option=ORJSON_OPTIONS).decode()
        except TypeError:
            return super().dumps(obj, **kwargs)


def _int64(text: str) -> int:
    value = int(text)
    if not -(2**63) <= value < 2**63:
        raise ValueError("an integer past 64 bits")
    return value


def register(app: Flask) -> None:
    app.json = StrictJSON(app)
    app.before_request(_refused_body)
    app.before_request(_url_within_bounds)
    app.before_request(_no_nul_in_the_url)
    app.after_request(_close_after_refusal)


def _url_within_bounds() -> None:
    environ = request.environ
    size = len(environ.get("PATH_INFO", "")) + len(environ.get("QUERY_STRING", ""))
    if size > MAX_URL_BYTES:
        raise RequestURITooLarge(f"The URL is longer than {MAX_URL_BYTES} bytes.")


def _no_nul_in_the_url() -> None:
    if "\x00" in request.path or any("\x00" in k or "\x00" in v
                                       for k, v in request.args.items(multi=True)):
        raise BadRequest("The URL holds a NUL character.")


def _refused_body() -> None:
    refused = request.environ.get(BODY_REFUSED)
    if refused == 413:
        raise RequestEntityTooLarge(f"The request body is larger than "
                                    f"{request.max_content_length} bytes.")
    if refused == 408:
        raise RequestTimeout("The request body did not arrive in time.")


def _close_after_refusal(response: Response) -> Response:
    if response.status_code in CLOSES:
        response.headers["Connection"] = "close"
    return response


def json_depth(raw: bytes) -> int:
    """How deeply the JSON text nests, without parsing it (brackets outside strings)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def nul_in(value: object, path: str = "") -> str | None:
    """The path of the first string (key or value) holding a NUL character, which
    PostgreSQL cannot store; None when there is none."""
    if isinstance(value, str):
        return path or "/" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}/{key}"
            if "\x00" in str(key):
                return where
            found = nul_in(item, where)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_in(item, f"{path}/{index}")
            if found:
                return found
    return None


def form_has_nul(form_request: Request) -> str | None:
    """The name of the first form parameter (or its value) holding a NUL character."""
    for name, value in form_request.form.items(multi=True):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "")
    return None
