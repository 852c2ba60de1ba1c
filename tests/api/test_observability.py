"""What an operator watches: Prometheus metrics at /metrics (issued and refused tokens,
latency per endpoint, ledger writes, status-list rebuilds), a request id on every answer
and log line, JSON logs on request, an optional access log; none of it holding a secret,
a token or a client id."""

from __future__ import annotations

import json
import logging
import re
from urllib.parse import urlsplit

import pytest
from prometheus_client.parser import text_string_to_metric_families

from entitlements.base import logs
from entitlements.web.observability import current_request_id
from tests.support.helpers import basic

GRANT = {"grant_type": "client_credentials"}


def sample(client, name: str, **labels: str) -> float:
    """The value of metric sample ``name`` with ``labels`` now (0 when absent)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return found.value
    return 0.0


def test_tokens_issued_and_refused_are_counted(client, partner):
    issued = sample(client, "entitlements_tokens_issued_total", grant="client_credentials")
    refused = sample(client, "entitlements_requests_refused_total", endpoint="oauth.token",
                     reason="invalid_client")
    writes = sample(client, "entitlements_ledger_write_seconds_count")
    timed = sample(client, "entitlements_request_seconds_count", endpoint="oauth.token",
                   method="POST")
    assert client.post("/oauth/token", data=GRANT,
                       headers=basic(partner.client_id, partner.client_secret)).status_code == 200
    assert client.post("/oauth/token", data=GRANT,
                       headers=basic(partner.client_id, "wrong")).status_code == 401
    assert sample(client, "entitlements_tokens_issued_total",
                  grant="client_credentials") == issued + 1
    assert sample(client, "entitlements_requests_refused_total", endpoint="oauth.token",
                  reason="invalid_client") == refused + 1
    assert sample(client, "entitlements_ledger_write_seconds_count") == writes + 1
    assert sample(client, "entitlements_request_seconds_count", endpoint="oauth.token",
                  method="POST") == timed + 2


def test_status_list_rebuilds_are_counted(client, partner):
    client.post("/oauth/token", data=GRANT,
                headers=basic(partner.client_id, partner.client_secret))
    before = sample(client, "entitlements_status_list_rebuilds_total")
    uri = client.get("/status-lists").get_json()["status_lists"][0]
    assert client.get(urlsplit(uri).path).status_code == 200
    assert sample(client, "entitlements_status_list_rebuilds_total") == before + 1


def test_metrics_hold_no_secret_id_or_token(client, partner):
    token = client.post("/oauth/token", data=GRANT, headers=basic(
        partner.client_id, partner.client_secret)).get_json()["access_token"]
    client.post("/oauth/token", data=GRANT, headers=basic("cli_made_up", "guess"))
    text = client.get("/metrics").get_data(as_text=True)
    for secret in (partner.client_id, partner.client_secret, token, "cli_made_up", "guess"):
        assert secret not in text


def test_labels_stay_bounded_whatever_the_caller_sends(client):
    client.open("/oauth/token", method="BREW")
    client.get("/no/such/" + "x" * 50)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'method="BREW"' not in text and "xxxxx" not in text
    assert 'endpoint="unmatched"' in text


def test_metrics_can_be_turned_off(make_app, settings):
    off = make_app(settings=settings.with_overrides(metrics=False)).test_client()
    assert off.get("/metrics").status_code == 404


def test_every_answer_has_a_request_id(client):
    mine = client.get("/healthz", headers={"X-Request-Id": "edge-42.a_b"})
    assert mine.headers["X-Request-Id"] == "edge-42.a_b"
    made = client.get("/healthz", headers={"X-Request-Id": "no spaces; not <this>"})
    assert re.fullmatch(r"[0-9a-f]{16}", made.headers["X-Request-Id"])
    refused = client.post("/oauth/token", data="x\x00=1",
                          content_type="application/x-www-form-urlencoded")
    assert refused.status_code == 400 and refused.headers["X-Request-Id"]


@pytest.fixture
def json_logs(capsys):
    logs.configure("INFO", "json", current_request_id)
    yield capsys
    logger = logging.getLogger(logs.ROOT)
    for handler in [h for h in logger.handlers if getattr(h, "entitlements", False)]:
        logger.removeHandler(handler)
    logger.propagate = True


def test_json_logs_carry_the_request_id_and_no_secret(make_app, settings, partner, json_logs):
    client = make_app(settings=settings.with_overrides(access_log=True)).test_client()
    issued = client.post("/oauth/token", data=GRANT, headers={
        **basic(partner.client_id, partner.client_secret), "X-Request-Id": "req-7"})
    refused = client.post("/oauth/token?client_secret=in-the-query", data=GRANT)
    lines = [json.loads(line) for line in json_logs.readouterr().err.splitlines()]
    access = [line for line in lines if line["logger"] == logs.ACCESS]
    assert [line["message"].split()[:3] for line in access] == [
        ["POST", "/oauth/token", "200"], ["POST", "/oauth/token", str(refused.status_code)]]
    assert access[0]["request_id"] == "req-7" and access[0]["level"] == "INFO"
    assert access[1]["request_id"] == refused.headers["X-Request-Id"]
    text = json.dumps(lines)
    for secret in (partner.client_secret, "in-the-query", issued.get_json()["access_token"]):
        assert secret not in text


def test_the_access_log_is_off_by_default(client, caplog):
    with caplog.at_level(logging.INFO, logger=logs.ACCESS):
        client.get("/healthz")
    assert [r for r in caplog.records if r.name == logs.ACCESS] == []
