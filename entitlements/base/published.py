"""What the documents gateways poll (the status lists, the policy snapshot) share: how long
a signed one counts, when it is re-signed, and its ETag."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from .clock import epoch

#: The documents gateways poll (status lists, the policy snapshot) expire this many seconds
#: after ``iat`` and are re-signed every ``RESIGN_SECONDS``, so an old document replayed to a
#: gateway is refused within minutes, whatever it says.
DOCUMENT_LIFETIME = 300
RESIGN_SECONDS = 60


@dataclass(frozen=True)
class Published:
    token: str
    etag: str  # weak: every process signs the same claims, with its own signature bytes


def validity(now: datetime) -> tuple[int, int]:
    """(iat, exp) of a document signed now: ``iat`` is the start of the re-signing period,
    so every process signs the same claims and answers the same ETag."""
    issued_at = epoch(now) // RESIGN_SECONDS * RESIGN_SECONDS
    return issued_at, issued_at + DOCUMENT_LIFETIME


def document_etag(content: str, issued_at: int) -> str:
    """The ETag of a document whose signed claims ``content`` (what it says, and the kid)
    and ``issued_at`` determine: the same in every process, so it also keys the cache."""
    return hashlib.sha256(f"{content}:{issued_at}".encode()).hexdigest()[:32]
