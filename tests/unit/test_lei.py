"""LEI check digits computed locally, and the GLEIF registry faked with `responses`."""

from __future__ import annotations

import pytest
import requests
import responses

from entitlements.base.errors import InvalidInput
from entitlements.organizations.lei import (
    GLEIF_API,
    GleifRegistry,
    LeiNotFound,
    RegistryUnavailable,
    check_value,
    validate_lei,
)
from tests.support.fakes import BANK_LEI, record

#: Real, published LEIs (GLEIF itself, and a bank), valid under ISO 7064 MOD 97-10.
GLEIF_LEI = "506700GE1G29325QX363"


@pytest.mark.parametrize("lei", [GLEIF_LEI, BANK_LEI, BANK_LEI.lower(), f" {GLEIF_LEI} "])
def test_valid_leis_pass_the_check_digits(lei):
    assert validate_lei(lei) == lei.strip().upper()
    assert check_value(lei.strip().upper()) == 1


@pytest.mark.parametrize("lei", [
    pytest.param("506700GE1G29325QX364", id="last-digit-off"),
    pytest.param("506700GE1G29325QX336", id="check-digits-swapped"),
    pytest.param("506700GE1G29325QX36", id="too-short"),
    pytest.param("506700GE1G29325QX3633", id="too-long"),
    pytest.param("506700GE1G29325QX3A3", id="letter-in-check-digits"),
    pytest.param("506700GE1G2932-QX363", id="punctuation"),
    pytest.param("", id="empty"),
])
def test_invalid_leis_are_refused_without_a_lookup(lei):
    with pytest.raises(InvalidInput) as raised:
        validate_lei(lei)
    assert raised.value.code == "invalid_lei"


@responses.activate(assert_all_requests_are_fired=True)
def test_lookup_reads_name_country_and_status():
    responses.get(f"{GLEIF_API}/lei-records/{BANK_LEI}", json=record(BANK_LEI))
    found = GleifRegistry().lookup(BANK_LEI.lower())
    assert (found.lei, found.legal_name, found.country) == (BANK_LEI, "Acme Labs Inc.", "US")
    assert found.is_current


@responses.activate(assert_all_requests_are_fired=True)
@pytest.mark.parametrize(("entity", "registration"), [
    ("INACTIVE", "ISSUED"), ("ACTIVE", "LAPSED"), ("ACTIVE", "RETIRED")])
def test_lapsed_or_inactive_records_are_not_current(entity, registration):
    responses.get(f"{GLEIF_API}/lei-records/{BANK_LEI}",
                  json=record(BANK_LEI, entity_status=entity, registration=registration))
    assert not GleifRegistry().lookup(BANK_LEI).is_current


@responses.activate(assert_all_requests_are_fired=True)
def test_an_unknown_lei_is_not_found():
    responses.get(f"{GLEIF_API}/lei-records/{GLEIF_LEI}", status=404,
                  json={"errors": [{"status": "404", "title": "Not Found"}]})
    with pytest.raises(LeiNotFound):
        GleifRegistry().lookup(GLEIF_LEI)


@responses.activate(assert_all_requests_are_fired=True)
@pytest.mark.parametrize("reply", [
    pytest.param({"status": 500, "json": {"errors": []}}, id="server-error"),
    pytest.param({"status": 429, "json": {"errors": []}}, id="rate-limited"),
    pytest.param({"body": requests.Timeout()}, id="timeout"),
    pytest.param({"body": requests.ConnectionError()}, id="connection-refused"),
    pytest.param({"status": 200, "body": "<html>maintenance</html>"}, id="not-json"),
    pytest.param({"status": 200, "json": {"data": {"attributes": {}}}}, id="unexpected-shape"),
])
def test_registry_failures_are_retryable_errors_not_crashes(reply):
    responses.get(f"{GLEIF_API}/lei-records/{GLEIF_LEI}", **reply)
    with pytest.raises(RegistryUnavailable) as raised:
        GleifRegistry().lookup(GLEIF_LEI)
    assert raised.value.status == 503 and "retry" in raised.value.message
