"""What every verification of a foreign JWT shares: the algorithms we accept, and
NumericDate parsing that never raises anything but ``ValueError``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

#: Asymmetric signature algorithms only: never ``none``, never an HMAC that a public
#: key could be abused as the secret of.
ASYMMETRIC_ALGORITHMS = ("ES256", "ES384", "ES512", "PS256", "PS384", "PS512", "RS256",
                         "RS384", "RS512", "EdDSA")


def numeric_date(claims: dict[str, Any], name: str) -> datetime | None:
    """The claim ``name`` as an aware datetime; None when absent; ValueError when it is
    not a NumericDate (RFC 7519 section 2) or out of range."""
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(f"'{name}' is not a NumericDate")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"'{name}' is out of range") from None
