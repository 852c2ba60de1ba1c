"""Credential status: fetch the status list a credential references, verify it with the
credential issuer's keys, and read the credential's entry (IETF Token Status List).

Lists are cached per issuer and URI for ``ttl`` seconds, in a bounded cache. A list that
cannot be fetched or verified refuses the credential (fail closed) with a retryable reason.
"""

from __future__ import annotations

from datetime import datetime

from ..base import jose
from ..base.cache import TTLCache
from ..base.fetch import FetchFailed, get_bounded
from ..kernel import status_list
from .verify import ALGORITHMS, AttestationRefused, TrustedIssuer

MAX_TOKEN_BYTES = 1024 * 1024
MAX_LIST_BYTES = 16 * 1024 * 1024


class CredentialStatus:
    def __init__(self, ttl: float = 60.0, timeout: float = 5.0, maxsize: int = 256) -> None:
        self.timeout = timeout
        self._lists: TTLCache[tuple[str, str], status_list.StatusList] = TTLCache(
            maxsize, ttl)

    def __call__(self, issuer: TrustedIssuer, uri: str, idx: int, now: datetime) -> int:
        if not uri.startswith("https://"):
            raise AttestationRefused("malformed", "the credential's status list is not "
                                                  "served over HTTPS")
        found = self._lists.get_or_load(
            (issuer.issuer, uri), lambda _key: self._load(issuer, uri, now))
        if idx >= found.size:
            raise AttestationRefused("malformed", "the credential's status index is outside "
                                                  "its status list")
        return found.get(idx)

    def _load(self, issuer: TrustedIssuer, uri: str, now: datetime) -> status_list.StatusList:
        try:
            token = get_bounded(uri, max_bytes=MAX_TOKEN_BYTES, timeout=self.timeout,
                                accept=status_list.MEDIA_TYPE).decode("ascii").strip()
            return verify_status_list_token(token, issuer, uri, now)
        except (FetchFailed, UnicodeDecodeError, ValueError) as error:
            raise _unavailable(f"the credential's status list is unusable ({error})") from None


def verify_status_list_token(token: str, issuer: TrustedIssuer, uri: str, now: datetime
                             ) -> status_list.StatusList:
    """The list a status list token published at ``uri`` carries, once signed by one of the
    credential issuer's keys; ValueError otherwise."""
    try:
        header, _ = jose.peek(token, MAX_TOKEN_BYTES)
        alg = jose.allowed_algorithm(header, ALGORITHMS)
        key = issuer.key(header.get("kid"))
        if key is None:
            raise ValueError("the status list is not signed with a key of the credential's "
                             "issuer")
        claims = jose.verify_signature(token, key, alg)
    except jose.JwtRefused as refused:
        raise ValueError(f"invalid status list token: {refused}") from None
    return status_list.read_status_list_token(header, claims, uri=uri, now=now.timestamp(),
                                              max_bytes=MAX_LIST_BYTES).statuses


def _unavailable(message: str) -> AttestationRefused:
    return AttestationRefused("status_unavailable", f"{message}; retry later")
