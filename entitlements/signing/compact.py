"""JWS compact serialization (RFC 7515) of the tokens this service signs, with
``cryptography`` directly.

Every access token is signed here, so the work is kept to what a token needs: the protected
header is serialized once per key and type (it never changes), the claims once with orjson,
and the signature is the key's own. PyJWT does the same with generic machinery that cost
about ten times the raw signature; its ``decode`` reads these tokens unchanged (tested).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from ..kernel import base64url
from .keystore import PrivateKey

#: The bytes of each coordinate of a P-256 signature (RFC 7518 3.4: r and s, 32 each).
P256_BYTES = 32
ES256 = ec.ECDSA(hashes.SHA256())


@lru_cache(maxsize=64)
def protected_header(alg: str, kid: str, typ: str | None) -> str:
    """The header segment, encoded once per key and type."""
    header = {"alg": alg, "kid": kid, **({"typ": typ} if typ else {})}
    return base64url.encode(orjson.dumps(header))


def sign_compact(claims: dict[str, Any], key: PrivateKey, *, alg: str, kid: str,
                 typ: str | None = None) -> str:
    """``header.payload.signature`` of ``claims``, signed by ``key`` as ``alg``."""
    signing_input = f"{protected_header(alg, kid, typ)}.{base64url.encode(orjson.dumps(claims))}"
    return f"{signing_input}.{base64url.encode(_signature(signing_input.encode(), key, alg))}"


def _signature(data: bytes, key: PrivateKey, alg: str) -> bytes:
    if alg == "ES256" and isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, ES256))
        return r.to_bytes(P256_BYTES, "big") + s.to_bytes(P256_BYTES, "big")
    if alg == "EdDSA" and isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    if alg == "RS256" and isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    raise ValueError(f"a {type(key).__name__} cannot sign {alg}")
