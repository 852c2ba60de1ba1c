"""The kernel's DPoP pieces: the RFC 7638 thumbprint, ``htu`` normalization, the access
token hash, one proof per request, and stateless nonces."""

from __future__ import annotations

import pytest

from entitlements.kernel import dpop
from entitlements.kernel.dpop import Nonces, ProofRefused

#: RFC 7638 section 3.1: the example RSA key and its thumbprint.
RFC7638_KEY = {
    "kty": "RSA", "alg": "RS256", "kid": "2011-04-29", "e": "AQAB",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tS"
         "oc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YG"
         "jQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
         "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
}


def test_the_thumbprint_is_rfc_7638s():
    assert dpop.thumbprint(RFC7638_KEY) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_the_token_hash_is_base64url_sha256():
    # RFC 9449 section 7.1's example token and its ath.
    assert dpop.token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU") == (
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo")


@pytest.mark.parametrize(("given", "normal"), [
    ("https://Server.Example.com/token", "https://server.example.com/token"),
    ("HTTPS://server.example.com:443/token?x=1#y", "https://server.example.com/token"),
    ("http://127.0.0.1:80", "http://127.0.0.1/"),
    ("http://127.0.0.1:8080/a/b", "http://127.0.0.1:8080/a/b"),
    ("https://[::1]:8443/t", "https://[::1]:8443/t"),
    ("/relative", None), ("https://x:notaport/", None), (None, None), ("ftp://x/", None),
    ("garbage", None),
])
def test_htu_normalization(given, normal):
    assert dpop.normalize_uri(given) == normal


def test_a_path_keeps_its_case():
    assert dpop.normalize_uri("https://a.example/Token") != dpop.normalize_uri(
        "https://a.example/token")


def test_one_proof_per_request_even_when_a_server_joined_two():
    assert dpop.single([]) is None
    assert dpop.single(["a.b.c"]) == "a.b.c"
    for values in (["a.b.c", "d.e.f"], ["a.b.c, d.e.f"]):
        with pytest.raises(ProofRefused) as refused:
            dpop.single(values)
        assert refused.value.reason == "dpop_multiple_proofs"


def test_a_nonce_lives_one_to_two_lifetimes_and_only_for_its_secret():
    nonces, other = Nonces("s" * 32, 60), Nonces("t" * 32, 60)
    nonce = nonces.current(1000)
    assert nonces.valid(nonce, 1000) and nonces.valid(nonce, 1079)
    assert not nonces.valid(nonce, 1140)  # two slots on
    assert not other.valid(nonce, 1000)
    assert not nonces.valid(None, 1000) and not nonces.valid("x" * 65, 1000)


def test_a_challenge_names_the_algorithms():
    assert dpop.challenge(("ES256", "EdDSA")) == 'DPoP algs="ES256 EdDSA"'
    assert dpop.challenge(("ES256",), "use_dpop_nonce", "dpop_nonce_required") == (
        'DPoP error="use_dpop_nonce", error_description="dpop_nonce_required", algs="ES256"')
