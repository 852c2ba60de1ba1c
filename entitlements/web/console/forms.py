"""Console forms read through the same marshmallow schemas the admin API loads JSON with:
empty fields are absent, checkboxes are true when sent, lists are repeated fields."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from flask import request
from marshmallow import Schema

from ...base.errors import InvalidInput
from ...base.fields import AwareDateTime
from ..limits import form_has_nul

DIGITS = re.compile(r"[0-9]{1,18}")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
LOCAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?")
#: What every console form carries besides its own fields (``session`` checks them).
CONTROLS = frozenset({"csrf_token", "form_nonce", "back"})


def form(schema: Schema, *, lists: Collection[str] = (), flags: Collection[str] = (),
         ints: Collection[str] = (), extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The posted form, loaded by ``schema`` (ValidationError names the fields at fault);
    ``ints`` are sent as numbers (a field that is not one is left for the schema to refuse);
    ``extra`` are values the page's URL gives rather than the form. A NUL character
    anywhere is refused, as on the admin API (PostgreSQL cannot store it)."""
    where = form_has_nul(request)
    if where is not None:
        raise InvalidInput(f"{where or 'a field'} holds a NUL character, which is not allowed")
    data: dict[str, Any] = {name: value.strip() for name, value in request.form.items()
                            if name not in CONTROLS and name not in lists and value.strip()}
    for name in lists:
        values = [v.strip() for v in request.form.getlist(name) if v.strip()]
        if values:
            data[name] = values
    for name in flags:
        data[name] = request.form.get(name) in ("on", "true", "yes")
    for name in ints:
        if isinstance(data.get(name), str) and DIGITS.fullmatch(data[name]):
            data[name] = int(data[name])
    for name, field in schema.fields.items():
        key = field.data_key or name
        if isinstance(field, AwareDateTime) and isinstance(data.get(key), str):
            data[key] = in_utc_unless_said(data[key])
    return schema.load({**data, **(extra or {})})


def in_utc_unless_said(text: str) -> str:
    """A time typed in a form: a date alone is its midnight, and a time with no offset is
    UTC (the console shows every time in UTC); anything else is left for the schema."""
    if DATE.fullmatch(text):
        return f"{text}T00:00:00+00:00"
    if LOCAL_TIME.fullmatch(text):
        return text.replace(" ", "T") + "+00:00"
    return text
