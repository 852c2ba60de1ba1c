"""Token Status List (draft-ietf-oauth-status-list): the status array, the reference a token
carries, and the rules of the signed token (whose signature each side verifies its own way).

A status list packs one status of ``bits`` bits per referenced token into a byte array
(index ``i`` at byte ``i*bits // 8``, bit offset ``(i*bits) % 8`` from the least significant
bit), compressed with zlib (RFC 1950) and base64url encoded without padding.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

VALID = 0
INVALID = 1
SUSPENDED = 2

#: The JOSE header ``typ`` of a status list token, and its media type over HTTP.
STATUS_LIST_TYP = "statuslist+jwt"
MEDIA_TYPE = "application/statuslist+jwt"

#: Claim names: ``status`` in a referenced token, ``status_list`` in both tokens.
STATUS = "status"
STATUS_LIST = "status_list"
IDX = "idx"
URI = "uri"
TTL = "ttl"

ALLOWED_BITS = (1, 2, 4, 8)
#: Default bound on a decompressed status list (16 MiB: 134M entries of one bit).
MAX_BYTES = 16 * 1024 * 1024
#: zlib's run-length strategy: a list is mostly long runs of one byte (valid tokens), which
#: it finds at a hundredth of the default strategy's cost at level 9, the output a few
#: percent longer (a million entries, 1% revoked at random: about 15 KB in 1 ms, against
#: 14 KB in 75 ms). Any zlib reader inflates it.
COMPRESSION_LEVEL = 9
COMPRESSION_STRATEGY = zlib.Z_RLE

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


class StatusList:
    """A fixed-size array of ``size`` statuses, each ``bits`` bits wide."""

    def __init__(self, size: int, bits: int = 1) -> None:
        _check_bits(bits)
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"status list size must be a non-negative int, got {size!r}")
        self._bits = bits
        self._size = size
        self._data = bytearray((size * bits + 7) // 8)

    @property
    def bits(self) -> int:
        return self._bits

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"StatusList(size={self._size}, bits={self._bits})"

    def get(self, index: int) -> int:
        byte, shift = self._locate(index)
        return (self._data[byte] >> shift) & self._mask

    def set(self, index: int, value: int) -> None:
        byte, shift = self._locate(index)
        self._check_value(value)
        cleared = self._data[byte] & ~(self._mask << shift)
        self._data[byte] = cleared | (value << shift)

    def set_many(self, indexes: Iterable[int], value: int) -> None:
        """``set(index, value)`` for every index, checked as ``set`` checks them; one bit
        wide, in one pass over the bytes (a list is built from every revoked token)."""
        self._check_value(value)
        indexes = list(indexes)
        if self._bits != 1 or not all(type(index) is int for index in indexes):
            for index in indexes:
                self.set(index, value)
            return
        if indexes and not (min(indexes) >= 0 and max(indexes) < self._size):
            bad = next(i for i in indexes if not 0 <= i < self._size)
            raise ValueError(f"index {bad!r} out of range for a status list of {self._size}")
        data = self._data
        if value:
            for index in indexes:
                data[index >> 3] |= 1 << (index & 7)
        else:
            for index in indexes:
                data[index >> 3] &= ~(1 << (index & 7)) & 0xFF

    def to_bytes(self) -> bytes:
        """The uncompressed byte array."""
        return bytes(self._data)

    def encode(self) -> dict[str, Any]:
        """The ``status_list`` claim: ``{"bits": ..., "lst": ...}``."""
        compressor = zlib.compressobj(COMPRESSION_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS,
                                      zlib.DEF_MEM_LEVEL, COMPRESSION_STRATEGY)
        compressed = compressor.compress(self._data) + compressor.flush()
        lst = base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")
        return {"bits": self._bits, "lst": lst}

    @classmethod
    def decode(cls, obj: Any, *, max_bytes: int = MAX_BYTES) -> StatusList:
        """Parse a ``status_list`` claim; its size is the number of entries the bytes hold."""
        if not isinstance(obj, dict):
            raise ValueError("status list must be a JSON object")
        bits = obj.get("bits")
        _check_bits(bits)
        lst = obj.get("lst")
        if not isinstance(lst, str):
            raise ValueError("status list 'lst' must be a string")
        data = _inflate(_b64url_decode(lst), max_bytes)
        status_list = cls(len(data) * 8 // bits, bits)
        status_list._data[:] = data
        return status_list

    def keeping_revocations(self, previous: StatusList) -> StatusList:
        """This list with every entry ``previous`` holds INVALID kept INVALID: revocation is
        final, so a replayed older list can never bring a revoked token back."""
        if (previous.bits, previous.size) != (self._bits, self._size):
            raise ValueError("the status list changed its size or width")
        merged = StatusList(self._size, self._bits)
        if self._bits == 1:  # INVALID is the one bit: a bitwise OR
            length = len(self._data)
            union = int.from_bytes(self._data, "little") | int.from_bytes(previous._data, "little")
            merged._data[:] = union.to_bytes(length, "little")
            return merged
        merged._data[:] = self._data
        for index in range(self._size):
            if previous.get(index) == INVALID:
                merged.set(index, INVALID)
        return merged

    @property
    def _mask(self) -> int:
        return (1 << self._bits) - 1

    def _check_value(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= self._mask:
            raise ValueError(f"status {value!r} does not fit in {self._bits} bits")

    def _locate(self, index: int) -> tuple[int, int]:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < self._size:
            raise ValueError(f"index {index!r} out of range for a status list of {self._size}")
        offset = index * self._bits
        return offset // 8, offset % 8


def _check_bits(bits: Any) -> None:
    if isinstance(bits, bool) or bits not in ALLOWED_BITS:
        raise ValueError(f"status list bits must be one of {ALLOWED_BITS}, got {bits!r}")


def _b64url_decode(text: str) -> bytes:
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("status list 'lst' is not base64url without padding")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except binascii.Error as exc:
        raise ValueError(f"status list 'lst' is not valid base64url: {exc}") from exc


def _inflate(data: bytes, max_bytes: int) -> bytes:
    """Decompress a complete zlib stream, refusing output beyond ``max_bytes``."""
    decompressor = zlib.decompressobj()
    try:
        out = decompressor.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise ValueError(f"status list 'lst' is not valid zlib data: {exc}") from exc
    if len(out) > max_bytes:
        raise ValueError(f"status list decompresses to more than {max_bytes} bytes")
    if not decompressor.eof:
        raise ValueError("status list 'lst' is a truncated zlib stream")
    if decompressor.unused_data:
        raise ValueError("status list 'lst' has data after the zlib stream")
    return out


def reference(claims: dict[str, Any]) -> tuple[str, int] | None:
    """``(uri, idx)`` of a referenced token's status list entry; None without ``status``."""
    if STATUS not in claims:
        return None
    status = claims[STATUS]
    if not isinstance(status, dict) or not isinstance(status.get(STATUS_LIST), dict):
        raise ValueError(f"'{STATUS}' claim has no '{STATUS_LIST}' object")
    entry = status[STATUS_LIST]
    idx, uri = entry.get(IDX), entry.get(URI)
    if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
        raise ValueError(f"status list '{IDX}' must be a non-negative integer, got {idx!r}")
    if not isinstance(uri, str) or not uri:
        raise ValueError(f"status list '{URI}' must be a non-empty string")
    return uri, idx


class StatusListTokenError(ValueError):
    """A status list token that breaks a rule; ``reason`` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class StatusListToken:
    """What a verified status list token says: the list, and how long it may be cached."""

    statuses: StatusList
    ttl: float | None
    expires_at: float | None


def read_status_list_token(header: dict[str, Any], claims: dict[str, Any], *, uri: str,
                           now: float, leeway: float = 0.0, max_bytes: int = MAX_BYTES
                           ) -> StatusListToken:
    """The rules every status list token must pass once its signature is verified (by the
    gateway with its own keys, by the server with a credential issuer's): the ``typ``, the
    list it names (``sub``), its times and ``ttl``, and a well-formed list. ValueError names
    what is wrong."""
    if header.get("typ") != STATUS_LIST_TYP:
        raise StatusListTokenError("wrong_typ", f"status list token typ is "
                                   f"{str(header.get('typ'))[:40]!r}, not {STATUS_LIST_TYP}")
    if claims.get("sub") != uri:
        raise StatusListTokenError("wrong_status_list", f"status list token sub "
                                   f"{str(claims.get('sub'))[:200]!r} is not {uri!r}")
    if _number(claims, "iat") is None:
        raise StatusListTokenError("missing_claims", "status list token lacks 'iat'")
    exp = _number(claims, "exp")
    if exp is not None and now >= exp + leeway:
        raise StatusListTokenError("expired", "status list token has expired")
    nbf = _number(claims, "nbf")
    if nbf is not None and now < nbf - leeway:
        raise StatusListTokenError("not_yet_valid", "status list token is not yet valid")
    ttl = _number(claims, TTL)
    if ttl is not None and ttl <= 0:
        raise StatusListTokenError("malformed", f"status list token '{TTL}' must be positive")
    try:
        statuses = StatusList.decode(claims.get(STATUS_LIST), max_bytes=max_bytes)
    except ValueError as error:
        raise StatusListTokenError("malformed", str(error)) from None
    return StatusListToken(statuses, ttl, exp)


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise StatusListTokenError("malformed", f"status list token '{name}' must be a number")
    return value
