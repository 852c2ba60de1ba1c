"""Reading JSON on a gateway's per-request path: orjson (a C parser, about three times
faster) when it is installed, else the standard library, made as strict as orjson (no
``NaN`` or ``Infinity``), so both read a token alike. ``loads`` raises ValueError."""

from __future__ import annotations

import json
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - exercised where orjson is not installed
    orjson = None  # type: ignore[assignment]


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _standard(data: bytes | str) -> Any:
    text = data.decode() if isinstance(data, bytes) else data  # UTF-8 only, as orjson
    return json.loads(text, parse_constant=_no_constants)


#: ``loads(bytes or str)``: the document, or ValueError.
loads = orjson.loads if orjson is not None else _standard
FAST = orjson is not None
