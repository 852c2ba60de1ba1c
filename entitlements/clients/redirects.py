"""Redirect URIs: which may be registered, and when a presented one matches.

Registered: absolute, no fragment; ``https``, or ``http`` on a loopback address for native
apps (RFC 8252 7.3), or a private-use scheme in reverse-domain form (RFC 8252 7.1).
Matched: exactly, as a string (RFC 9700 2.1), except that a loopback IP redirect may use
any port, since a native app gets its port from the system when it runs (RFC 8252 7.3).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ..base.errors import InvalidInput

MAX_URIS = 10
MAX_LENGTH = 500
#: Loopback IPs, not "localhost", which a resolver may send elsewhere (RFC 8252 8.3).
LOOPBACK_IPS = ("127.0.0.1", "::1")
PRIVATE_USE_SCHEME = re.compile(r"^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$")


def validate_redirect_uris(uris: list[str]) -> list[str]:
    if len(uris) > MAX_URIS:
        raise InvalidInput(f"at most {MAX_URIS} redirect URIs")
    for uri in uris:
        problem = _problem(uri)
        if problem:
            raise InvalidInput(f"redirect URI {uri[:100]!r} {problem}")
    return list(dict.fromkeys(uris))


def _problem(uri: str) -> str | None:
    if len(uri) > MAX_LENGTH or any(ord(ch) < 33 or ch == "\x7f" for ch in uri):
        return f"must be at most {MAX_LENGTH} printable characters without spaces"
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        return "must have no fragment"
    if parts.scheme == "https" and parts.netloc:
        return None
    if parts.scheme == "http":
        if parts.hostname in LOOPBACK_IPS:
            return None
        return "must use https, or http on 127.0.0.1 or [::1] for a native app"
    if PRIVATE_USE_SCHEME.match(parts.scheme) and not parts.netloc and parts.path:
        return None
    return "must use https, loopback http or a reverse-domain private-use scheme"


def matches(registered: list[str], presented: str) -> bool:
    if presented in registered:
        return True
    loose = _without_loopback_port(presented)
    return loose is not None and any(_without_loopback_port(r) == loose for r in registered)


def _without_loopback_port(uri: str) -> str | None:
    parts = urlsplit(uri)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK_IPS:
        return None
    try:
        parts.port  # noqa: B018 - a malformed port is no match
    except ValueError:
        return None
    host = "[::1]" if parts.hostname == "::1" else parts.hostname
    return parts._replace(netloc=host).geturl()
