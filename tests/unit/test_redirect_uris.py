"""Which redirect URIs may be registered, and when a presented one matches (RFC 6749 3.1.2,
RFC 8252 7, RFC 9700 2.1)."""

from __future__ import annotations

import pytest

from entitlements.base.errors import InvalidInput
from entitlements.clients.redirects import matches, validate_redirect_uris


@pytest.mark.parametrize("uri", ["https://app.example/cb", "http://127.0.0.1/cb",
                                 "http://[::1]:8080/cb", "com.example.app:/oauth"])
def test_these_may_be_registered(uri):
    assert validate_redirect_uris([uri, uri]) == [uri]


@pytest.mark.parametrize(("uri", "why"), [
    ("http://app.example/cb", "https"), ("http://localhost/cb", "https"),
    ("https://app.example/cb#frag", "fragment"), ("javascript:alert(1)", "private-use"),
    ("cb", "private-use"), ("https://app.example/ cb", "printable"),
])
def test_these_may_not(uri, why):
    with pytest.raises(InvalidInput, match=why):
        validate_redirect_uris([uri])


@pytest.mark.parametrize(("presented", "expected"), [
    ("https://app.example/cb", True),
    ("https://app.example/cb/", False), ("https://app.example/cb?x=1", False),
    ("https://APP.example/cb", False), ("http://127.0.0.1:4321/cb", True),
    ("http://127.0.0.1:4321/other", False), ("http://[::1]:9/cb", False),
    ("http://127.0.0.1:notaport/cb", False),
])
def test_exact_match_except_a_loopback_port(presented, expected):
    assert matches(["https://app.example/cb", "http://127.0.0.1/cb"], presented) is expected
