"""Canonical base64url (RFC 7515 section 2): what every JWS segment is written in."""

from __future__ import annotations

import base64
import binascii

_URLSAFE = bytes.maketrans(b"-_", b"+/")
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALUE = {char: value for value, char in enumerate(_ALPHABET)}
#: The bits the last character of a 2- or 3-character tail must leave zero.
_TAIL_MASK = {2: 0x0F, 3: 0x03}


def decode(text: str) -> bytes:
    """The URL-safe alphabet, no padding, and zero trailing bits only, so a token has one
    spelling and a cache or a blocklist keyed on its text cannot be dodged by writing it
    another way. ValueError otherwise."""
    raw = text.encode("ascii")
    tail = len(raw) % 4
    if raw.translate(None, _ALPHABET) or tail == 1:
        raise ValueError("not base64url without padding")
    if tail and _VALUE[raw[-1]] & _TAIL_MASK[tail]:
        raise ValueError("base64url with non-zero trailing bits")
    try:
        return binascii.a2b_base64(raw.translate(_URLSAFE) + b"=" * (-len(raw) % 4),
                                   strict_mode=True)
    except binascii.Error as error:
        raise ValueError(str(error)) from None


def encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
