"""Which URLs of other parties we call: https, or plain http on this machine's loopback
(development and the test suite's own servers)."""

from __future__ import annotations

from urllib.parse import urlsplit

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def is_secure_url(uri: str) -> bool:
    parts = urlsplit(uri)
    if not parts.netloc or parts.fragment:
        return False
    return parts.scheme == "https" or (parts.scheme == "http"
                                       and parts.hostname in LOOPBACK_HOSTS)
