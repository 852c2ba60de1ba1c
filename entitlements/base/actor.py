"""Who makes a change, and when: the actor every audited change records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

#: The actor of changes the service makes itself (its first signing key, say).
SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class Actor:
    name: str
    now: datetime
    #: The admin role that allowed this change (the audit trail records it), if an admin's.
    role: str | None = None
