"""Status-list indexes for new tokens, reserved in blocks per process: one short
transaction per ``block`` tokens, so issuance never queues on a shared row."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..base.clock import Clock
from ..base.db import Database
from .models import StatusListRecord

#: 2^20 one-bit entries: 128 KiB raw, a few KiB compressed while revocations are rare.
LIST_SIZE = 1 << 20
BLOCK = 1024


@dataclass(frozen=True)
class StatusSlot:
    list_id: int
    idx: int


class StatusIndexAllocator:
    def __init__(self, db: Database, clock: Clock, *, block: int = BLOCK,
                 list_size: int = LIST_SIZE) -> None:
        if not 0 < block <= list_size:
            raise ValueError("block must be between 1 and list_size")
        self._db, self._clock = db, clock
        self.block, self.list_size = block, list_size
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._list_id, self._next, self._end = 0, 0, 0

    def allocate(self) -> StatusSlot:
        with self._lock:
            if self._pid != os.getpid():  # a forked worker must not share its parent's block
                self._pid, self._next, self._end = os.getpid(), 0, 0
            if self._next >= self._end:
                self._list_id, self._next = self._reserve()
                self._end = self._next + self.block
            slot = StatusSlot(self._list_id, self._next)
            self._next += 1
            return slot

    def _reserve(self) -> tuple[int, int]:
        for _attempt in range(5):
            try:
                with self._db.transaction() as session:
                    return self._reserve_in(session)
            except IntegrityError:  # another process opened the same new list first
                continue
        raise RuntimeError("could not reserve status list indexes")

    def _reserve_in(self, session: Session) -> tuple[int, int]:
        newest = session.scalar(select(func.max(StatusListRecord.id)))
        row = (session.get(StatusListRecord, newest, with_for_update=True)
               if newest is not None else None)
        if row is None or row.next_index + self.block > row.size:
            row = StatusListRecord(id=(newest or 0) + 1, size=self.list_size, next_index=0,
                                   created_at=self._clock.now())
            session.add(row)
            session.flush()
        start = row.next_index
        row.next_index = start + self.block
        return row.id, start
