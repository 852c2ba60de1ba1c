"""The service's own JWS signer: what it signs, PyJWT verifies and reads back unchanged."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from entitlements.signing.compact import sign_compact
from entitlements.signing.keystore import generate_private_key

CLAIMS = {"iss": "https://entitlements.test", "sub": "client-1", "exp": 4_102_444_800,
          "entitlements": ["public", "restricted"], "org": {"id": "o1", "trust": "verified"},
          "name": "Zoë Ŝ"}


def segment(token: str, index: int) -> dict:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "RS256"])
def test_pyjwt_verifies_and_reads_back_every_algorithm(alg):
    key = generate_private_key(alg)
    token = sign_compact(CLAIMS, key, alg=alg, kid="k1", typ="at+jwt")
    assert jwt.decode(token, key.public_key(), algorithms=[alg],
                      options={"verify_exp": False, "verify_aud": False}) == CLAIMS
    assert jwt.get_unverified_header(token) == {"alg": alg, "kid": "k1", "typ": "at+jwt"}


def test_an_es256_signature_is_raw_r_and_s_not_der():
    token = sign_compact(CLAIMS, generate_private_key("ES256"), alg="ES256", kid="k1")
    signature = token.split(".")[2]
    assert len(base64.urlsafe_b64decode(signature + "==")) == 64
    assert "typ" not in segment(token, 0)


def test_a_changed_payload_fails_verification():
    key = generate_private_key("ES256")
    header, _, signature = sign_compact(CLAIMS, key, alg="ES256", kid="k1").split(".")
    forged = base64.urlsafe_b64encode(json.dumps({**CLAIMS, "sub": "other"}).encode())
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(f"{header}.{forged.decode().rstrip('=')}.{signature}", key.public_key(),
                   algorithms=["ES256"], options={"verify_exp": False})


@pytest.mark.parametrize(("alg", "key"), [("RS256", ec.generate_private_key(ec.SECP256R1())),
                                          ("ES256", generate_private_key("EdDSA")),
                                          ("HS256", generate_private_key("ES256"))])
def test_a_key_that_cannot_sign_the_algorithm_is_refused(alg, key):
    with pytest.raises(ValueError, match="cannot sign"):
        sign_compact(CLAIMS, key, alg=alg, kid="k1")
