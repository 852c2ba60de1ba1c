"""Reading JSON on a gateway's per-request path: orjson (a C parser, about three times
faster) when it is installed, else the standard library, made to read numbers as orjson
does (no ``NaN`` or ``Infinity``; an integer past 64 bits becomes a float, and one past any
float is refused), so both read a token alike. ``loads`` raises ValueError."""

from __future__ import annotations

import json
import math
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - exercised where orjson is not installed
    orjson = None  # type: ignore[assignment]


_INT_RANGE = range(-(2**63), 2**64)


def not_json(name: str) -> Any:
    """The standard parser's ``parse_constant``: NaN and Infinity are refused."""
    raise ValueError(f"{name} is not JSON")


def _finite(number: float) -> float:
    if math.isinf(number):
        raise ValueError("number is infinity when parsed as double")
    return number


def finite_float(text: str) -> float:
    """The standard parser's ``parse_float``: a number past any float (``1e400``) is
    refused, not read as infinity."""
    return _finite(float(text))


def _integer(text: str) -> int | float:
    if len(text) > 25:  # far past 64 bits: never parse a huge integer digit by digit
        return _finite(float(text))
    value = int(text)
    return value if value in _INT_RANGE else _finite(float(value))


def _standard(data: bytes | str) -> Any:
    text = data.decode() if isinstance(data, bytes) else data  # UTF-8 only, as orjson
    return json.loads(text, parse_constant=not_json, parse_int=_integer,
                      parse_float=finite_float)


#: ``loads(bytes or str)``: the document, or ValueError.
loads = orjson.loads if orjson is not None else _standard
FAST = orjson is not None
