"""The SDK's time: every check and every age reads a ``Clock``, so a test (or a replay) moves
time by hand instead of sleeping."""

from __future__ import annotations

import threading
import time
from time import monotonic as _monotonic
from time import time as _wall_time
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the epoch: what ``exp``, ``nbf`` and windows are compared with."""
        ...

    def monotonic(self) -> float:
        """Seconds that only move forward: what ages, cool-downs and cache lifetimes use."""
        ...


class SystemClock:
    #: The standard library's own functions: no Python frame on a decision's path.
    time = staticmethod(_wall_time)
    monotonic = staticmethod(_monotonic)


class ManualClock:
    """A clock that moves only when told (``advance``, ``set``), for tests of gateways."""

    def __init__(self, start: float | None = None) -> None:
        self._time = time.time() if start is None else start
        self._monotonic = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        with self._lock:
            return self._time

    def monotonic(self) -> float:
        with self._lock:
            return self._monotonic

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._time += seconds
            self._monotonic += seconds

    def set(self, when: float) -> None:
        """Jump the wall clock to ``when``; the monotonic clock moves by as much, if forward."""
        with self._lock:
            self._monotonic += max(0.0, when - self._time)
            self._time = when
