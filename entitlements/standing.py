"""Suspend and reinstate a registered party (an attestation issuer, an identity provider):
one audited move between ``active`` and ``suspended``, refused when it changes nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from .audit import service as audit
from .errors import Conflict, InvalidInput
from .organizations.service import Actor

STATUSES = ("active", "suspended")


def set_status(session: Session, actor: Actor, row: Any, status: str, reason: str, *,
               kind: str, label: str) -> Any:
    """Move ``row`` to ``status``; audited as ``<kind>.suspended`` or ``<kind>.reinstated``."""
    if status not in STATUSES:
        raise InvalidInput("status is active or suspended")
    if row.status == status:
        raise Conflict(f"{label} {row.id} is already {status}")
    row.status, row.updated_at = status, actor.now
    verb = "suspended" if status == "suspended" else "reinstated"
    audit.record(session, at=actor.now, actor=actor.name, action=f"{kind}.{verb}",
                 target=row.id, reason=reason)
    return row
