"""Every CLI mistake is one line and a non-zero exit; a filter that matches nothing says so;
a failed check says why and exits non-zero."""

from __future__ import annotations

import pytest

from entitlements.cli import orgs
from tests.support.cli import as_json, failed, ok
from tests.support.fakes import FakeResolver


def test_revoking_by_an_unknown_organization_is_an_error(cli):
    assert failed(cli("tokens", "revoke", "--org", "org_typo", "--reason", "x")) == (
        "entitlements: error: no organization with id 'org_typo'")
    assert "no client" in failed(cli("tokens", "revoke", "--client", "cli_typo",
                                     "--reason", "x"))
    assert "no tier" in failed(cli("tokens", "revoke", "--tier", "nope", "--reason", "x"))


def test_a_filter_that_matches_nothing_says_so(cli, org_id):
    assert ok(cli("tokens", "revoke", "--org", org_id, "--reason", "x")).strip() == (
        "no live token matches those filters; nothing revoked")
    assert as_json(cli("tokens", "revoke", "--org", org_id, "--reason", "x", "--json")) == {
        "revoked": 0}


@pytest.fixture
def dns(monkeypatch) -> FakeResolver:
    resolver = FakeResolver()
    monkeypatch.setattr(orgs, "DnsPythonResolver", lambda: resolver)
    return resolver


def test_a_failed_domain_check_exits_non_zero_with_the_reason(cli, org_id, dns):
    challenge = as_json(cli("orgs", "challenge-domain", org_id, "acme.example", "--json"))
    line = failed(cli("orgs", "check-domain", challenge["id"]))
    assert challenge["details"]["record"] in line and "check failed" in line
    dns.records[challenge["details"]["record"]] = [challenge["details"]["value"]]
    assert ok(cli("orgs", "check-domain", challenge["id"])).strip() == (
        "domain acme.example: verified")


def test_usage_mistakes_are_one_line(cli):
    result = cli("orgs", "create")
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("entitlements: error: Missing argument 'NAME'")
    unknown = cli("orgs", "frobnicate")
    assert unknown.exit_code == 2 and len(unknown.stderr.splitlines()) == 1
