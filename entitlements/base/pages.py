"""Keyset pagination: a list is read in pages of ``limit`` rows ordered by a unique key,
and the next page starts after the last row's key, carried in an opaque cursor. Rows added
or removed between pages never shift what the next page holds, and every page costs one
indexed query however deep it is."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, literal, tuple_
from sqlalchemy.orm import Session

from .errors import InvalidInput
from .fields import in_utc_range

T = TypeVar("T")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_CURSOR = 512


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(key: Sequence[Any]) -> str:
    values = [{"t": v.isoformat()} if isinstance(v, datetime) else v for v in key]
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, types: Sequence[type]) -> list[Any]:
    """The key a cursor carries; InvalidInput (``invalid_cursor``) for anything we did not
    make for a list ordered by columns of these ``types``."""
    try:
        if len(cursor) > MAX_CURSOR:
            raise ValueError
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError
        decoded = [_value(v) for v in values]
        if not all(isinstance(v, t) for v, t in zip(decoded, types, strict=True)):
            raise ValueError
        return decoded
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("the cursor is not one this list gave", code="invalid_cursor") \
            from None


def _value(value: Any) -> Any:
    """A key's part as the cursor carries it: a time (with its offset, existing in UTC), a
    string, or an integer a database column holds."""
    if isinstance(value, dict) and set(value) == {"t"} and isinstance(value["t"], str):
        moment = datetime.fromisoformat(value["t"])
        if moment.tzinfo is None:
            raise ValueError
        return in_utc_range(moment, ValueError)
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)
                                  and -(2**63) <= value < 2**63):
        return value
    raise ValueError


def beyond(key: Sequence[Any], values: Sequence[Any], *, descending: bool = False) -> Any:
    """The rows whose ``key`` columns come after ``values`` in the key's order."""
    after = tuple_(*(literal(value, column.type)  # bound as the column binds its values
                     for value, column in zip(values, key, strict=True)))
    return tuple_(*key) < after if descending else tuple_(*key) > after


def paginate(session: Session, query: Select[Any], key: Sequence[Any], *,
             cursor: str | None, limit: int, descending: bool = False) -> Page[Any]:
    """One page of ``query`` ordered by the ``key`` columns (unique together), after
    ``cursor``."""
    limit = max(1, min(limit, MAX_LIMIT))
    if cursor:
        values = decode_cursor(cursor, [c.type.python_type for c in key])
        query = query.where(beyond(key, values, descending=descending))
    order = [c.desc() for c in key] if descending else list(key)
    rows = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    last = [getattr(rows[-1], c.key) for c in key] if more and rows else None
    return Page(rows, encode_cursor(last) if last else None)


def every(read: Callable[..., Page[T]], *args: Any, at_most: int | None = None,
          **filters: Any) -> list[T]:
    """Every row of a paginated listing (or the first ``at_most``), read page by page (the
    CLI's lists)."""
    rows: list[T] = []
    cursor = None
    while at_most is None or len(rows) < at_most:
        wanted = MAX_LIMIT if at_most is None else min(MAX_LIMIT, at_most - len(rows))
        page = read(*args, cursor=cursor, limit=wanted, **filters)
        rows += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    return rows
