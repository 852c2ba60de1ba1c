"""Sliding-window counters in this process's memory, for throttling without Redis.

The same arithmetic as the ``limits`` library's sliding-window-counter strategy (the count
of the current fixed window plus the previous window's, weighted by how much of it still
overlaps), with the same ``hit``/``test``/``get_window_stats`` calls, so the throttle uses
either. ``limits``' own memory storage starts a timer thread to expire keys, several hundred
a second under load; these counters expire nothing on a timer: a key's state is replaced
when its window moves, and at most ``max_keys`` keys are kept (the least recently counted
go first).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

from limits import RateLimitItem

#: Keys kept; beyond this the least recently counted are forgotten.
MAX_KEYS = 100_000


class WindowStats(NamedTuple):
    reset_time: float
    remaining: int


class LocalWindows:
    def __init__(self, max_keys: int = MAX_KEYS,
                 clock: Callable[[], float] = time.time) -> None:
        self._max_keys, self._clock = max_keys, clock
        self._lock = threading.Lock()
        #: key -> [window number, count in it, count in the window before]
        self._windows: OrderedDict[str, list[int]] = OrderedDict()

    def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Count one, unless that would go over ``item``'s amount."""
        return self._count(item, identifiers, cost=1)

    def test(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Whether one more would still be within ``item``'s amount (counts nothing)."""
        return self._count(item, identifiers, cost=0)

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        now, expiry = self._clock(), item.get_expiry()
        with self._lock:
            used = self._weighted(self._state(item, identifiers, now), now, expiry)
        return WindowStats((now // expiry + 1) * expiry, max(0, item.amount - int(used)))

    def _count(self, item: RateLimitItem, identifiers: tuple[str, ...], cost: int) -> bool:
        now = self._clock()
        with self._lock:
            state = self._state(item, identifiers, now)
            if int(self._weighted(state, now, item.get_expiry())) + max(cost, 1) > item.amount:
                return False
            state[1] += cost
            return True

    def _state(self, item: RateLimitItem, identifiers: tuple[str, ...], now: float
               ) -> list[int]:
        key = item.key_for(*identifiers)
        window = int(now // item.get_expiry())
        state = self._windows.get(key)
        if state is None:
            state = self._windows[key] = [window, 0, 0]
            if len(self._windows) > self._max_keys:
                self._windows.popitem(last=False)
        else:
            self._windows.move_to_end(key)
            if state[0] != window:  # moved on: the current count becomes the previous one
                previous = state[1] if state[0] == window - 1 else 0
                state[:] = [window, 0, previous]
        return state

    @staticmethod
    def _weighted(state: list[int], now: float, expiry: int) -> float:
        """The current window's count plus the previous one's share still in the slide
        (rounded down by the callers, as ``limits`` does)."""
        elapsed = (now % expiry) / expiry
        return state[1] + state[2] * (1 - elapsed)
