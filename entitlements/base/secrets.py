"""Client secrets: 256 random bits, shown once, stored only as a SHA-256 digest.

A fast digest is right here, unlike for passwords: the secret is uniformly random
and 256 bits long, so there is nothing for a slow hash to protect against, and the
token endpoint stays fast.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SCHEME = "sha256"


def generate_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """The SHA-256 digest kept of a random value handed out (codes, cookies, links, refresh
    tokens): the value itself is never stored."""
    return hashlib.sha256(value.encode()).hexdigest()


def hash_secret(secret: str) -> str:
    return f"{SCHEME}${hashlib.sha256(secret.encode()).hexdigest()}"


def check_secret(secret: str, stored: str | None) -> bool:
    """Constant-time comparison of a presented secret with its stored digest."""
    if not stored or not secret:
        return False
    candidate = hash_secret(secret)
    return hmac.compare_digest(candidate.encode(), stored.encode())


def same(presented: str, expected: str) -> bool:
    """Constant-time equality of two strings, any characters in them (``compare_digest``
    refuses non-ASCII strings with an error: compared as UTF-8 bytes here)."""
    return hmac.compare_digest(presented.encode(), expected.encode())
