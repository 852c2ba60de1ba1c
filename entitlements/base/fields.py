"""Marshmallow fields shared by request schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import ValidationError, fields


class AwareDateTime(fields.AwareDateTime):
    """An ISO 8601 time with its offset, that also exists in UTC: ``9999-12-31T23:59:59-12:00``
    parses, but is past the last representable instant, and would fail when stored or
    compared in UTC (a 500), so it is refused here."""

    default_error_messages = {
        "invalid": "Not a valid date and time: give ISO 8601 with an offset, such as "
                   "2026-06-14T09:00:00+00:00.",
        "invalid_awareness": "The time has no offset: add one, such as +00:00 for UTC."}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        return in_utc_range(moment, ValidationError)


def in_utc_range(moment: datetime, error: type[Exception]) -> datetime:
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise error("the time is out of range once converted to UTC") from None
    return moment


class StrictBoolean(fields.Boolean):
    """JSON ``true`` or ``false`` only: not 0 and 1, not "yes" or "true"."""

    truthy = frozenset({True})
    falsy = frozenset({False})

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value
