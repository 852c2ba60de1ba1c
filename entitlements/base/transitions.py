"""Suspend and reinstate a registered party (an attestation issuer, an identity provider):
one move between ``active`` and ``suspended``, refused when it changes nothing."""

from __future__ import annotations

from typing import Any

from .actor import Actor
from .errors import Conflict, InvalidInput

STATUSES = ("active", "suspended")


def set_status(actor: Actor, row: Any, status: str, *, label: str) -> str:
    """Move ``row`` to ``status``; returns the verb the audit event names the move by
    (``suspended`` or ``reinstated``)."""
    if status not in STATUSES:
        raise InvalidInput("status is active or suspended")
    if row.status == status:
        raise Conflict(f"{label} {row.id} is already {status}")
    row.status, row.updated_at = status, actor.now
    return "suspended" if status == "suspended" else "reinstated"
