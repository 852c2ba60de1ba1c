"""Conditional GETs with the standard library (a gateway installs no HTTP client)."""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass

MAX_BYTES = 8 * 1024 * 1024


class FetchError(Exception):
    """The document could not be fetched."""


@dataclass(frozen=True)
class Fetched:
    body: bytes | None  # None: not modified
    etag: str | None


def get(url: str, *, etag: str | None = None, timeout: float = 5.0,
        max_bytes: int = MAX_BYTES) -> Fetched:
    if not url.startswith(("https://", "http://")):
        raise FetchError(f"refusing to fetch {url!r}")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url, headers={"If-None-Match": etag} if etag else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            body = response.read(max_bytes + 1)
            if len(body) > max_bytes:
                raise FetchError(f"{url} is larger than {max_bytes} bytes")
            return Fetched(body, response.headers.get("ETag"))
    except urllib.error.HTTPError as error:
        if error.code == 304:
            return Fetched(None, etag)
        raise FetchError(f"{url}: HTTP {error.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise FetchError(f"{url}: {type(error).__name__}") from None
