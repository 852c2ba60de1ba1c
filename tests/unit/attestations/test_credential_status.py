"""CredentialStatus: the status lists credentials reference, fetched over HTTPS (faked with
``responses``), verified with the credential issuer's keys, cached, and failing closed."""

from __future__ import annotations

import io
from collections.abc import Iterator
from types import SimpleNamespace

import jwt
import pytest
import responses

from entitlements.attestations.credential_status import MAX_TOKEN_BYTES, CredentialStatus
from entitlements.attestations.verify import AttestationRefused
from entitlements.base import cache
from entitlements.kernel.status_list import INVALID, MEDIA_TYPE, SUSPENDED, VALID
from tests.support.attestations import (
    ISSUER,
    NOW,
    REVOKED_IDX,
    SIGNING_KEY,
    STATUS_URI,
    SUSPENDED_IDX,
    VALID_IDX,
    jwt_attestation,
    status_claim,
    status_token,
    trusted_issuer,
    verify_jwt,
)

OTHER_URI = "https://verifier.example/statuslists/2"


def trusted(**overrides):
    return trusted_issuer({"sd-jwt-vc"}, **overrides)


@pytest.fixture
def http() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as mock:
        yield mock


def serve(http: responses.RequestsMock, body=None, uri: str = STATUS_URI, **kwargs) -> None:
    http.add(responses.GET, uri, body=status_token() if body is None else body,
             content_type=MEDIA_TYPE, **kwargs)


def refusal(check: CredentialStatus, idx: int = VALID_IDX, uri: str = STATUS_URI) -> str:
    with pytest.raises(AttestationRefused) as refused:
        check(trusted(), uri, idx, NOW)
    assert refused.value.message
    return refused.value.reason


def test_each_entry_reads_as_the_list_says(http):
    serve(http)
    check = CredentialStatus()
    assert [check(trusted(), STATUS_URI, i, NOW) for i in (VALID_IDX, REVOKED_IDX,
                                                           SUSPENDED_IDX)] == [
        VALID, INVALID, SUSPENDED]
    assert http.calls[0].request.headers["Accept"] == MEDIA_TYPE


def test_a_second_check_within_the_ttl_makes_no_second_request(http):
    serve(http)
    check = CredentialStatus(ttl=60)
    assert check(trusted(), STATUS_URI, VALID_IDX, NOW) == VALID
    assert check(trusted(), STATUS_URI, REVOKED_IDX, NOW) == INVALID
    assert len(http.calls) == 1


def test_the_list_is_fetched_again_once_the_ttl_has_passed(http, monkeypatch):
    clock = SimpleNamespace(now=1000.0)
    monkeypatch.setattr(cache, "time", SimpleNamespace(monotonic=lambda: clock.now))
    serve(http)
    check = CredentialStatus(ttl=60)
    check(trusted(), STATUS_URI, VALID_IDX, NOW)
    clock.now += 59
    check(trusted(), STATUS_URI, VALID_IDX, NOW)
    assert len(http.calls) == 1
    clock.now += 2
    check(trusted(), STATUS_URI, VALID_IDX, NOW)
    assert len(http.calls) == 2


def test_each_list_and_issuer_is_cached_apart(http):
    serve(http)
    serve(http, status_token(uri=OTHER_URI), uri=OTHER_URI)
    check = CredentialStatus()
    check(trusted(), STATUS_URI, VALID_IDX, NOW)
    check(trusted(), OTHER_URI, VALID_IDX, NOW)
    check(trusted(issuer="https://other-verifier.example"), STATUS_URI, VALID_IDX, NOW)
    assert [call.request.url for call in http.calls] == [STATUS_URI, OTHER_URI, STATUS_URI]


def test_a_failed_fetch_is_not_cached(http):
    serve(http, status=503)
    serve(http)
    check = CredentialStatus()
    assert refusal(check) == "status_unavailable"
    assert check(trusted(), STATUS_URI, VALID_IDX, NOW) == VALID
    assert len(http.calls) == 2


def test_an_index_outside_the_list_is_malformed(http):
    serve(http, status_token(size=16))
    assert refusal(CredentialStatus(), idx=16) == "malformed"


def test_a_list_of_another_uri_is_unavailable(http):
    serve(http, status_token(uri=OTHER_URI))
    assert refusal(CredentialStatus()) == "status_unavailable"


def test_an_oversize_body_is_unavailable(http):
    serve(http, "a" * (MAX_TOKEN_BYTES + 1))
    assert refusal(CredentialStatus()) == "status_unavailable"


@pytest.mark.parametrize("body", [
    pytest.param("not a jwt", id="not-a-jwt"),
    pytest.param(b"\xff\xfe", id="not-ascii"),
    pytest.param(jwt.encode({"sub": STATUS_URI, "iat": 1, "status_list": {"bits": 1, "lst": ""}},
                            SIGNING_KEY, algorithm="ES256", headers={"kid": "verifier-1"}),
                 id="typ-not-statuslist"),
    pytest.param(status_token(expires_at=int(NOW.timestamp())), id="expired"),
])
def test_an_unusable_list_is_unavailable(http, body):
    serve(http, body)
    assert refusal(CredentialStatus()) == "status_unavailable"


def test_a_non_https_uri_is_malformed_without_a_request(http):
    """Not "unavailable, retry later": no retry can make it HTTPS."""
    assert refusal(CredentialStatus(), uri="http://verifier.example/statuslists/1") == (
        "malformed")
    assert len(http.calls) == 0


class _StalledBody(io.RawIOBase):
    """A body whose bytes never come: the read times out after the headers arrived."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        raise TimeoutError("read timed out")


def test_a_body_that_times_out_while_read_is_unavailable(http):
    serve(http, io.BufferedReader(_StalledBody()))
    assert refusal(CredentialStatus()) == "status_unavailable"


def test_the_jwt_format_honours_a_status_claim(http):
    """The JWT format's issuer (test_verify's) signs its own status list."""
    serve(http, status_token(key=SIGNING_KEY))
    check = CredentialStatus()
    token = jwt_attestation(status=status_claim(REVOKED_IDX))
    with pytest.raises(AttestationRefused) as refused:
        verify_jwt(token, status=check)
    assert refused.value.reason == "credential_revoked"
    facts = verify_jwt(jwt_attestation(status=status_claim(VALID_IDX)),
                              status=check)
    assert facts.issuer == ISSUER
    assert len(http.calls) == 1


def test_a_redirect_is_not_followed(http):
    """The list is read where the credential says, or not at all: a redirect could lead off
    HTTPS or to another host."""
    http.add(responses.GET, STATUS_URI, status=302,
             headers={"Location": "http://elsewhere.example/statuslists/1"})
    serve(http, uri="http://elsewhere.example/statuslists/1")  # a valid list, never asked for
    http.assert_all_requests_are_fired = False
    assert refusal(CredentialStatus()) == "status_unavailable"
    assert [call.request.url for call in http.calls] == [STATUS_URI]
