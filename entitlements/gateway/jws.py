"""Compact JWS verification against pre-parsed public keys, with cryptography directly:
PyJWT parses each JWK once; per token we do only what the signature needs.

A token is read once: its ASCII bytes are split on the dots, each segment decoded from
canonical base64url in one pass (``b64decode``), the payload parsed once (orjson when it is
installed, the standard library otherwise, with the same answers: ``kernel.jsonload``). A
header is parsed and admitted (``alg``, ``crit``, ``typ``) once per distinct header segment:
a service signs every token with a few of them."""

from __future__ import annotations

from binascii import a2b_base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding

from ..kernel.claims import SIGNING_ALGORITHMS
from ..kernel.jsonload import loads

#: What the entitlement service signs with. Never ``none``, never HMAC.
ALGORITHMS = frozenset(SIGNING_ALGORITHMS)
_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())
_ECDSA_SHA384 = ec.ECDSA(hashes.SHA384())
_PSS_SHA256 = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)  # RFC 7518 3.5
MAX_TOKEN_BYTES = 16 * 1024
#: Distinct headers remembered per ``typ`` (emptied when full).
MAX_HEADERS = 64


class TokenRejected(Exception):
    """A token that must not be honoured; ``reason`` is a stable code."""

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.reason = reason


# -- canonical base64url (RFC 7515 section 2) --------------------------------------------

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#: base64url to base64; '+', '/' and '=' (base64's, not base64url's) become a character
#: that ``a2b_base64`` refuses in strict mode, as it refuses any other outside its alphabet.
_TO_BASE64 = bytes.maketrans(b"-_+/=", b"+/!!!")
_PADDING = (b"", b"", b"==", b"=")
#: The last characters a 2- or 3-character tail may end with: those whose bits past the
#: data are zero (a 1-character tail is never base64).
_CLEAN_TAIL = (frozenset(), frozenset(),
               frozenset(c for i, c in enumerate(_ALPHABET) if not i & 0x0F),
               frozenset(c for i, c in enumerate(_ALPHABET) if not i & 0x03))


def b64decode(segment: bytes | str) -> bytes:
    """The bytes of canonical base64url: the URL-safe alphabet, no padding, and zero
    trailing bits, so a token has one spelling and a cache or a blocklist keyed on its text
    cannot be dodged by writing it another way. ValueError otherwise (as
    ``kernel.base64url.decode``, in one pass of C)."""
    if isinstance(segment, str):
        segment = segment.encode("ascii")
    tail = len(segment) & 3
    if tail and segment[-1] not in _CLEAN_TAIL[tail]:
        raise ValueError("not base64url without padding and with zero trailing bits")
    return a2b_base64(segment.translate(_TO_BASE64) + _PADDING[tail], strict_mode=True)


# -- keys --------------------------------------------------------------------------------

def _der_integer(value: bytes) -> bytes:
    value = value.lstrip(b"\0") or b"\0"
    return b"\0" + value if value[0] & 0x80 else value


def raw_to_der(signature: bytes, half: int) -> bytes:
    """An ECDSA signature as JWS writes it (R and S, ``half`` bytes each, RFC 7518 3.4) in
    the DER form cryptography verifies; ``half`` is at most 48, so every length is short."""
    r, s = _der_integer(signature[:half]), _der_integer(signature[half:])
    return b"".join((b"\x30", bytes((len(r) + len(s) + 4, 2, len(r))), r,
                     bytes((2, len(s))), s))


def _der_frames(half: int) -> tuple[tuple[tuple[bytes, bytes], ...], ...]:
    """What DER puts around R and S of ``half`` bytes each when neither starts with a zero
    byte, by their top bits (set: a zero byte goes first, to keep the integer positive):
    ``frames[r >> 7][s >> 7]`` is (what goes before R, what goes between R and S)."""
    def frame(r_high: int, s_high: int) -> tuple[bytes, bytes]:
        r_length, s_length = half + r_high, half + s_high
        return (bytes((0x30, r_length + s_length + 4, 2, r_length)) + b"\0" * r_high,
                bytes((2, s_length)) + b"\0" * s_high)
    return tuple(tuple(frame(r, s) for s in (0, 1)) for r in (0, 1))


def _verifier(alg: str, key: Any) -> Callable[[bytes, bytes], bool]:
    """``verify(signing_input, signature)`` for RFC 7518's ES256, ES384, RS256 and PS256
    and RFC 8037's EdDSA, bound to ``key`` once."""
    check = key.verify
    if alg == "ES256" or alg == "ES384":
        half, algorithm = (32, _ECDSA_SHA256) if alg == "ES256" else (48, _ECDSA_SHA384)
        size, frames = 2 * half, _der_frames(half)

        def verify(signing_input: bytes, signature: bytes) -> bool:
            if len(signature) != size:
                return False
            if signature[0] and signature[half]:  # neither R nor S starts with a zero byte
                head, middle = frames[signature[0] >> 7][signature[half] >> 7]
                der = b"".join((head, signature[:half], middle, signature[half:]))
            else:
                der = raw_to_der(signature, half)
            try:
                check(der, signing_input, algorithm)
            except (InvalidSignature, ValueError, TypeError):
                return False
            return True
    elif alg == "EdDSA":
        def verify(signing_input: bytes, signature: bytes) -> bool:
            try:
                check(signature, signing_input)
            except (InvalidSignature, ValueError, TypeError):
                return False
            return True
    else:
        scheme = _PSS_SHA256 if alg == "PS256" else padding.PKCS1v15()
        sha256 = hashes.SHA256()

        def verify(signing_input: bytes, signature: bytes) -> bool:
            try:
                check(signature, signing_input, scheme, sha256)
            except (InvalidSignature, ValueError, TypeError):
                return False
            return True
    return verify


def _refusing(signing_input: bytes, signature: bytes) -> bool:
    return False


@dataclass(frozen=True)
class PublicKey:
    kid: str
    alg: str
    key: Any
    #: ``verify(signing_input, signature)``: True when the signature verifies, by ``alg``
    #: with ``key`` (ES256, ES384, EdDSA, RS256, PS256); made once per key.
    verify: Callable[[bytes, bytes], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            verify = _verifier(self.alg, self.key)
        except AttributeError:  # not a key object: it verifies nothing
            verify = _refusing
        object.__setattr__(self, "verify", verify)

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


# -- tokens ------------------------------------------------------------------------------

def _is_typ(value: Any, typ: str) -> bool:
    if not isinstance(value, str):
        return False
    value = value.lower()
    return value == typ or value == "application/" + typ


def _allowed(alg: Any) -> bool:
    """An allowed algorithm name (a list or an object in its place is simply not one)."""
    return isinstance(alg, str) and alg in ALGORITHMS


def _malformed(message: str = "not a compact JWS") -> TokenRejected:
    return TokenRejected("malformed", message)


def _segments(token: str) -> tuple[bytes, int, int]:
    """The token's ASCII and the places of its two dots; ValueError unless it has exactly
    three segments (UnicodeEncodeError, a ValueError, for anything but ASCII)."""
    raw = token.encode("ascii")
    first = raw.index(b".")
    second = raw.index(b".", first + 1)
    if raw.find(b".", second + 1) != -1:
        raise ValueError("too many segments")
    return raw, first, second


def split(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """(header, payload, signing input, signature) of a compact JWS, or TokenRejected."""
    if len(token) > MAX_TOKEN_BYTES:
        raise _malformed("the token is too large")
    try:
        raw, first, second = _segments(token)
        header = loads(b64decode(raw[:first]))
        payload = loads(b64decode(raw[first + 1:second]))
        signature = b64decode(raw[second + 1:])
    except (ValueError, RecursionError):
        raise _malformed() from None
    if type(header) is not dict or type(payload) is not dict:
        raise _malformed("header and payload must be JSON objects")
    return header, payload, raw[:second], signature


class Reader:
    """Verifies compact JWS of one ``typ`` (or its ``application/`` media type form, RFC
    7515 section 4.1.9, in any case) signed with an allowed algorithm by the key its
    ``kid`` names, the key's own algorithm. A ``crit`` header is refused: the SDK
    understands no extension that must be understood (RFC 7515 section 4.1.11).

    What a header segment says is kept once admitted: ``(header, alg, kid)``."""

    def __init__(self, typ: str) -> None:
        self.typ = typ
        self._admitted: dict[bytes, tuple[dict[str, Any], str, Any]] = {}

    def verified(self, token: str, key_for: Callable[[Any], PublicKey | None]
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Header and claims of ``token`` signed by ``key_for(kid)``, or TokenRejected:
        ``malformed`` first (form, base64url, JSON objects), then the header's
        ``algorithm_not_allowed``, ``unsupported_critical_header`` or ``wrong_typ``, then
        ``unknown_kid`` and ``bad_signature``."""
        if len(token) > MAX_TOKEN_BYTES:
            raise _malformed("the token is too large")
        try:
            raw = token.encode()  # anything but ASCII then fails base64url
            first = raw.index(b".")
            second = raw.index(b".", first + 1)
            if raw.find(b".", second + 1) != -1:
                raise ValueError("too many segments")
            head = raw[:first]
            admitted = self._admitted.get(head)
            if admitted is None:
                header = loads(b64decode(head))
            # b64decode of the payload and the signature, inlined: every token's path
            body = raw[first + 1:second]
            tail = len(body) & 3
            if tail and body[-1] not in _CLEAN_TAIL[tail]:
                raise ValueError("not canonical base64url")
            payload = loads(a2b_base64(body.translate(_TO_BASE64) + _PADDING[tail],
                                       strict_mode=True))
            body = raw[second + 1:]
            tail = len(body) & 3
            if tail and body[-1] not in _CLEAN_TAIL[tail]:
                raise ValueError("not canonical base64url")
            signature = a2b_base64(body.translate(_TO_BASE64) + _PADDING[tail],
                                   strict_mode=True)
        except (ValueError, RecursionError):
            raise _malformed() from None
        if type(payload) is not dict or (admitted is None and type(header) is not dict):
            raise _malformed("header and payload must be JSON objects")
        if admitted is None:
            admitted = self._admit(head, header)
        header, alg, kid = admitted
        key = key_for(kid)
        if key is None:
            raise TokenRejected("unknown_kid", "no published key has this kid")
        if key.alg != alg or not key.verify(raw[:second], signature):
            raise TokenRejected("bad_signature", "the signature does not verify")
        return header, payload

    def _admit(self, head: bytes, header: dict[str, Any]) -> tuple[dict[str, Any], str, Any]:
        alg = header.get("alg")
        if not _allowed(alg):
            raise TokenRejected("algorithm_not_allowed", f"alg {str(alg)[:20]!r}")
        if "crit" in header:
            raise TokenRejected("unsupported_critical_header", "crit names extensions this "
                                                               "gateway does not understand")
        if not _is_typ(header.get("typ"), self.typ):
            raise TokenRejected("wrong_typ", f"typ must be {self.typ}")
        admitted = (header, alg, header.get("kid"))
        if len(self._admitted) >= MAX_HEADERS:
            self._admitted.clear()
        self._admitted[head] = admitted
        return admitted


_READERS: dict[str, Reader] = {}


def verified(token: str, key_for: Callable[[Any], PublicKey | None], typ: str
             ) -> tuple[dict[str, Any], dict[str, Any]]:
    """``Reader(typ).verified(token, key_for)``, with one reader per ``typ``."""
    reader = _READERS.get(typ)
    if reader is None:
        reader = _READERS.setdefault(typ, Reader(typ))
    return reader.verified(token, key_for)
