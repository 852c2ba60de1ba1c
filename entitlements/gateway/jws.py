"""Compact JWS verification against pre-parsed public keys, with cryptography directly:
PyJWT parses each JWK once; per token we do only what the signature needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

from ..kernel.base64url import decode as b64decode
from ..kernel.claims import SIGNING_ALGORITHMS
from ..kernel.jsonload import loads

#: What the entitlement service signs with. Never ``none``, never HMAC.
ALGORITHMS = frozenset(SIGNING_ALGORITHMS)
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_ECDSA_SHA384 = ec.ECDSA(hashes.SHA384())
_PSS_SHA256 = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)  # RFC 7518 3.5
MAX_TOKEN_BYTES = 16 * 1024


class TokenRejected(Exception):
    """A token that must not be honoured; ``reason`` is a stable code."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason


@dataclass(frozen=True)
class PublicKey:
    kid: str
    alg: str
    key: Any

    @classmethod
    def from_jwk(cls, jwk: dict[str, Any]) -> PublicKey | None:
        """The key, or None for one we would never accept (private, symmetric, unknown)."""
        alg = jwk.get("alg")
        if not _allowed(alg) or jwk.get("kty") == "oct" or "d" in jwk or not jwk.get("kid"):
            return None
        try:
            return cls(jwk["kid"], alg, jwt.PyJWK(jwk, algorithm=alg).key)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
            return None

    def verify(self, signing_input: bytes, signature: bytes) -> bool:
        """RFC 7518's ES256, ES384, EdDSA (RFC 8037), RS256 and PS256, as ``alg`` says."""
        alg = self.alg
        try:
            if alg == "ES256" or alg == "ES384":
                half = 32 if alg == "ES256" else 48
                if len(signature) != 2 * half:
                    return False
                der = utils.encode_dss_signature(int.from_bytes(signature[:half], "big"),
                                                 int.from_bytes(signature[half:], "big"))
                self.key.verify(der, signing_input,
                                _ECDSA_SHA256 if alg == "ES256" else _ECDSA_SHA384)
            elif alg == "EdDSA":
                self.key.verify(signature, signing_input)
            elif alg == "PS256":
                self.key.verify(signature, signing_input, _PSS_SHA256, hashes.SHA256())
            else:
                self.key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError, TypeError, AttributeError):
            return False
        return True


def _is_typ(value: Any, typ: str) -> bool:
    if not isinstance(value, str):
        return False
    value = value.lower()
    return value == typ or value == "application/" + typ


def _allowed(alg: Any) -> bool:
    """An allowed algorithm name (a list or an object in its place is simply not one)."""
    return isinstance(alg, str) and alg in ALGORITHMS


_HEADERS: dict[str, dict[str, Any]] = {}


def _header(segment: str) -> Any:
    """Parsed once per distinct header: a service signs every token with a few of them."""
    header = _HEADERS.get(segment)
    if header is None:
        header = loads(b64decode(segment))
        if len(_HEADERS) >= 64:
            _HEADERS.clear()
        _HEADERS[segment] = header
    return header


def split(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, payload, signing input, signature) of a compact JWS, or TokenRejected."""
    if len(token) > MAX_TOKEN_BYTES:
        raise TokenRejected("malformed", "the token is too large")
    try:
        first = token.index(".")
        second = token.index(".", first + 1)
        if token.find(".", second + 1) != -1:
            raise ValueError("too many segments")
        header = _header(token[:first])
        payload = loads(b64decode(token[first + 1:second]))
        signature = b64decode(token[second + 1:])
        signing_input = token[:second].encode("ascii")
    except (ValueError, UnicodeError, RecursionError):
        raise TokenRejected("malformed", "not a compact JWS") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise TokenRejected("malformed", "header and payload must be JSON objects")
    return header, payload, signing_input, signature


#: Headers already admitted for a ``typ``: (header object, typ) -> (alg, kid).
_ADMITTED: dict[tuple[int, str], tuple[dict[str, Any], str, Any]] = {}


def _admitted(header: dict[str, Any], typ: str) -> tuple[str, Any]:
    """(alg, kid) of a header fit for ``typ``, or TokenRejected; checked once per parsed
    header (``_header`` hands out one object per distinct header)."""
    found = _ADMITTED.get((id(header), typ))
    if found is not None and found[0] is header:
        return found[1], found[2]
    alg = header.get("alg")
    if not _allowed(alg):
        raise TokenRejected("algorithm_not_allowed", f"alg {str(alg)[:20]!r}")
    if "crit" in header:
        raise TokenRejected("unsupported_critical_header", "crit names extensions this "
                                                           "gateway does not understand")
    if not _is_typ(header.get("typ"), typ):
        raise TokenRejected("wrong_typ", f"typ must be {typ}")
    if len(_ADMITTED) >= 128:
        _ADMITTED.clear()
    _ADMITTED[(id(header), typ)] = (header, alg, header.get("kid"))
    return alg, header.get("kid")


def verified(token: str, key_for: Any, typ: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a token signed by ``key_for(kid)`` with an allowed algorithm and
    the expected ``typ`` (or its ``application/`` media type form, RFC 7515 section 4.1.9);
    TokenRejected otherwise. A ``crit`` header is refused: the SDK understands no extension
    that must be understood (RFC 7515 section 4.1.11)."""
    header, payload, signing_input, signature = split(token)
    alg, kid = _admitted(header, typ)
    key = key_for(kid)
    if key is None:
        raise TokenRejected("unknown_kid", "no published key has this kid")
    if key.alg != alg or not key.verify(signing_input, signature):
        raise TokenRejected("bad_signature", "the signature does not verify")
    return header, payload
