"""Group commit: requests that wait for the same kind of write share one transaction.

The first request to arrive while no batch is being written leads: it writes its own item
and every item queued behind it (at most ``max_batch``) in one call, then wakes their
requests with the outcome. Items that queued during that write are led by the first of them,
woken to do so; no thread writes more than the one batch its own item is in, and no
background thread or queue outlives a request. Under light load a batch is one item and
costs what a plain write does; under heavy load one statement and one commit serve many
requests, which is what makes durable issuance cheap. A batch the store refuses is written
again an item at a time, so one item it refuses fails its own request only; a store out of
reach fails the batch at once.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from ..base.errors import TemporarilyUnavailable

T = TypeVar("T")


class _Waiting(Generic[T]):
    __slots__ = ("done", "error", "item", "leads", "woken")

    def __init__(self, item: T) -> None:
        self.item = item
        self.woken = threading.Event()
        self.leads = self.done = False
        self.error: BaseException | None = None


class GroupCommit(Generic[T]):
    def __init__(self, write: Callable[[list[T]], None], *, max_batch: int = 64,
                 wait: float = 10.0,
                 item_refused: Callable[[Exception], bool] = lambda error: True) -> None:
        """``item_refused(error)``: whether a failed write may have failed for one item's
        sake, so that writing the batch again an item at a time is worth it (not when the
        store is out of reach: then every item fails at once)."""
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._write, self._max_batch, self._wait = write, max_batch, wait
        self._item_refused = item_refused
        self._lock = threading.Lock()
        self._queue: deque[_Waiting[T]] = deque()
        self._leading = False

    def submit(self, item: T) -> None:
        """Return once ``item`` is written; raise what its batch's write raised."""
        mine = _Waiting(item)
        with self._lock:
            self._queue.append(mine)
            mine.leads = not self._leading
            self._leading = True
        if not mine.leads and not mine.woken.wait(self._wait):
            self._give_up(mine)
        if not mine.done:
            self._lead()
        if mine.error is not None:
            raise mine.error

    def _give_up(self, mine: _Waiting[T]) -> None:
        """Stop waiting, unless the item is already being written or is to lead."""
        with self._lock:
            if mine.leads or mine.done:
                return
            if mine in self._queue:
                self._queue.remove(mine)
                raise TemporarilyUnavailable("The service is overloaded; retry.")
        mine.woken.wait()  # taken into a batch meanwhile: its outcome comes soon

    def _lead(self) -> None:
        with self._lock:
            batch = [self._queue.popleft()
                     for _ in range(min(len(self._queue), self._max_batch))]
        unwritten = TemporarilyUnavailable("The write was interrupted; retry.")
        errors: list[BaseException | None] = [unwritten] * len(batch)
        try:
            errors = self._written(batch)
        finally:  # whatever happened, the waiters hear of it and someone leads next
            with self._lock:
                for waiting, error in zip(batch, errors, strict=True):
                    waiting.done, waiting.error = True, error
                    waiting.woken.set()
                if self._queue:  # the next one leads the items that queued meanwhile
                    self._queue[0].leads = True
                    self._queue[0].woken.set()
                else:
                    self._leading = False

    def _written(self, batch: list[_Waiting[T]]) -> list[BaseException | None]:
        """Each item's outcome. A batch that fails is written again one item at a time, so
        an item the store refuses fails its own request only."""
        try:
            self._write([waiting.item for waiting in batch])
            return [None] * len(batch)
        except Exception as failed:  # noqa: BLE001 - handed to the waiters, who raise it
            if len(batch) == 1 or not self._item_refused(failed):
                return [failed] * len(batch)
        return [self._alone(waiting.item) for waiting in batch]

    def _alone(self, item: T) -> BaseException | None:
        try:
            self._write([item])
        except Exception as failed:  # noqa: BLE001 - handed to the item's waiter
            return failed
        return None
