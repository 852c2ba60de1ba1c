"""The OpenAPI document lists every status an admin operation answers: each operation is
probed without a key, with a body of the wrong type, malformed JSON, an empty object and
unknown ids, and every answer's status must be among the operation's documented ones."""

from __future__ import annotations

import re

import pytest

from tests.support.factories import admin_key

PROBES = {
    "no key": {"headers": {}},
    "wrong type": {"data": "x", "content_type": "text/plain"},
    "malformed JSON": {"data": "{", "content_type": "application/json"},
    "empty object": {"json": {}},
    "wrong shapes": {"json": {"name": 1, "reason": [], "level": None, "base_version": "1"}},
}


@pytest.fixture
def key(db, clock) -> str:
    with db.transaction() as session:
        return admin_key(session, clock.now(), "alice").secret


def test_every_answer_is_documented(client, key):
    document = client.get("/admin/openapi.json").get_json()
    undocumented = []
    for path, operations in document["paths"].items():
        url = re.sub(r"\{(\w+)\}", lambda m: "12345" if m.group(1) in (
            "number", "activation_id") else f"unknown_{m.group(1)}", path)
        url = url.replace("unknown_action", "suspend")
        for method, operation in operations.items():
            documented = {int(code) for code in operation["responses"]}
            for probe, options in PROBES.items():
                headers = options.get("headers", {"Authorization": f"Bearer {key}"})
                kwargs = {k: v for k, v in options.items() if k != "headers"}
                if method == "get":
                    kwargs = {}
                status = client.open(url, method=method.upper(), headers=headers,
                                     **kwargs).status_code
                if status not in documented:
                    undocumented.append((method.upper(), path, probe, status))
    assert undocumented == []


def test_the_two_person_rule_is_documented(client):
    document = client.get("/admin/openapi.json").get_json()
    approve = document["paths"]["/admin/trust-requests/{request_id}/approve"]["post"]
    assert {"403", "409", "404", "429"} <= set(approve["responses"])
    listing = document["paths"]["/admin/organizations"]["get"]
    assert "409" not in listing["responses"] and "415" not in listing["responses"]
