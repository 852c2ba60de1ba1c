"""Conditional GETs with the standard library (a gateway installs no HTTP client)."""

from __future__ import annotations

import http.client
import ipaddress
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_BYTES = 8 * 1024 * 1024


class FetchError(Exception):
    """The document could not be fetched."""


@dataclass(frozen=True)
class Fetched:
    body: bytes | None  # None: not modified
    etag: str | None


def require_secure(url: str, *, allow_http: bool = False) -> str:
    """``url`` itself if it is HTTPS, or plain HTTP to this machine (or anywhere, when the
    gateway was told to allow it): documents that decide access must not cross a network
    in the clear, where anyone on the path could hold back a revocation."""
    parts = urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and (
            allow_http or _is_loopback(parts.hostname or ""))):
        return url
    raise FetchError(f"refusing {url!r}: HTTPS is required off this machine")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A document is fetched from the URL the metadata names, or not at all: a redirect
    could lead off HTTPS, or to another host."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # urllib then raises the 3xx as an HTTPError


_OPENER = urllib.request.build_opener(_NoRedirects)


def get(url: str, *, etag: str | None = None, timeout: float = 5.0,
        max_bytes: int = MAX_BYTES) -> Fetched:
    if not url.startswith(("https://", "http://")):
        raise FetchError(f"refusing to fetch {url!r}")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, headers={"If-None-Match": etag} if etag else {})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = response.read(max_bytes + 1)
            if len(body) > max_bytes:
                raise FetchError(f"{url} is larger than {max_bytes} bytes")
            return Fetched(body, response.headers.get("ETag"))
    except urllib.error.HTTPError as error:
        if error.code == 304:
            return Fetched(None, etag)
        raise FetchError(f"{url}: HTTP {error.code}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as error:
        raise FetchError(f"{url}: {type(error).__name__}") from None
