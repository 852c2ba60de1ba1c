"""Refused requests (a wrong secret, a bad assertion, a bad body, an admin's refused change),
audited on streams of their own (``streams``): an anonymous caller's refusals share no lock
with admin changes, other requests or other processes, and throttling bounds their rate. A
refusal is never made to fail because its audit event could not be written: that is logged,
and the refusal answered as it was."""

from __future__ import annotations

import logging
from typing import Any

from ..base.clock import Clock
from ..base.db import Database
from . import service as audit
from .streams import WriterPool, writer_for

log = logging.getLogger("entitlements.audit")


class RefusalLog:
    def __init__(self, db: Database, clock: Clock, *, max_writers: int = 4,
                 wait: float = 1.0) -> None:
        self._clock = clock
        self._pool = WriterPool(lambda: writer_for(db, clock, "refusals"),
                                max_writers=max_writers, wait=wait)

    def record(self, *, actor: str, action: str, reason: str, details: dict[str, Any]) -> bool:
        """Append one refusal event (outcome failure); False when it could not be written."""
        event = audit.new_event(at=self._clock.now(), actor=actor, action=action,
                                outcome=audit.FAILURE, reason=reason, details=details)
        try:
            with self._pool.writer() as writer:
                writer.write([event])
        except Exception as error:  # noqa: BLE001 - never turn a refusal into a 500
            log.warning("could not audit a refused request (%s): %s", action,
                        type(error).__name__)
            return False
        return True

    def close(self) -> None:
        self._pool.close()
