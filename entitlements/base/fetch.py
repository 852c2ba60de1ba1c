"""Bounded HTTP GETs of other parties' documents (JWKS, status lists).

The body is streamed, so errors can come from urllib3 as well as from requests."""

from __future__ import annotations

import requests
import urllib3


class FetchFailed(Exception):
    """The document could not be fetched, or was larger than allowed."""


def get_bounded(uri: str, *, max_bytes: int, timeout: float, accept: str) -> bytes:
    """The body at ``uri``, read no further than ``max_bytes`` (a hostile server cannot
    make us buffer more)."""
    try:
        with requests.get(uri, timeout=timeout, stream=True, allow_redirects=False,
                          headers={"Accept": accept}) as response:
            if response.is_redirect:  # it could lead off HTTPS, or to another host
                raise FetchFailed(f"{uri} redirects elsewhere; not followed")
            response.raise_for_status()
            body = response.raw.read(max_bytes + 1, decode_content=True)
    except (requests.RequestException, urllib3.exceptions.HTTPError) as error:
        raise FetchFailed(f"cannot fetch {uri}: {type(error).__name__}") from None
    if len(body) > max_bytes:
        raise FetchFailed(f"the document at {uri} is larger than {max_bytes} bytes")
    return body
