"""Answers are written with orjson yet read exactly as Flask's own provider wrote them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID

import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from entitlements.web.limits import StrictJSON


@dataclass
class Point:
    x: int
    y: str


VALUES = [
    {"b": 1, "a": [True, None, 2.5], "ü": "zoë ☃", "nested": {"z": 1, "y": {"x": []}}},
    {"when": datetime(2026, 6, 1, 12, 30, tzinfo=UTC), "day": date(2026, 6, 1)},
    {"id": UUID("12345678-1234-5678-1234-567812345678"), "point": Point(1, "a")},
    {"huge": 2**70, "small": -(2**63)},
    ["\u2028", "\x00\x1f", '"quoted"', "back\\slash"],
]


@pytest.fixture
def providers() -> tuple[StrictJSON, DefaultJSONProvider]:
    app = Flask(__name__)
    return StrictJSON(app), DefaultJSONProvider(app)


@pytest.mark.parametrize("value", VALUES)
def test_the_same_json_as_flask_writes(providers, value):
    ours, flasks = providers
    written = ours.dumps(value, separators=(",", ":"))
    assert json.loads(written) == json.loads(flasks.dumps(value, separators=(",", ":")))


def test_keys_are_sorted_and_the_text_is_compact_utf8(providers):
    ours, _ = providers
    assert ours.dumps({"b": 1, "a": "é"}, separators=(",", ":")) == '{"a":"é","b":1}'


def test_indented_output_is_the_standard_librarys(providers):
    ours, flasks = providers
    assert ours.dumps({"a": [1]}, indent=2) == flasks.dumps({"a": [1]}, indent=2)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400",
                                    "18446744073709551616", "9" * 5000])
def test_a_number_other_readers_would_read_otherwise_is_refused(providers, number):
    ours, _ = providers
    with pytest.raises(ValueError):
        ours.loads(f'{{"a": {number}}}')


def test_ordinary_numbers_are_read(providers):
    ours, _ = providers
    assert ours.loads('{"a": 1.5e300, "b": -9223372036854775808, "c": 0.1}') == {
        "a": 1.5e300, "b": -(2**63), "c": 0.1}
