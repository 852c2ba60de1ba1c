"""Keeping a gateway's documents fresh in the background: one daemon thread that refreshes
every period and backs off while the issuer cannot be reached, and that a forked worker
restarts for itself."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("entitlements.gateway")
MAX_BACKOFF = 30.0


class Poller:
    def __init__(self, refresh: Callable[[], bool], interval: float,
                 max_backoff: float = MAX_BACKOFF,
                 wait: Callable[[float], bool] | None = None) -> None:
        """``refresh()`` polls once and says whether it succeeded; after a failure the next
        try waits twice as long as the last, up to ``max_backoff``. ``wait(seconds)`` sleeps
        and says whether to stop (by default: until ``stop()``)."""
        if interval <= 0:
            raise ValueError("the poll interval must be positive")
        self._refresh, self.interval, self.max_backoff = refresh, interval, max_backoff
        self._wait = wait
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.started = False  # asked to run (and not stopped): a forked child runs one too

    def start(self) -> None:
        self.started = True
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="entitlements-gateway",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.started = False
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None

    def restart_after_fork(self) -> None:
        """In a forked child: the parent's thread did not come along; start one of its own
        when the parent had one."""
        self._thread = None
        if self.started:
            self.start()

    def run(self) -> None:
        """Poll until stopped (the thread's body)."""
        wait = self._wait or self._stop.wait
        delay = self.interval
        while not wait(delay):
            try:
                ok = self._refresh()
            except Exception:  # the poller must outlive anything one poll can meet
                log.warning("a poll failed; retrying with backoff", exc_info=True)
                ok = False
            delay = self.interval if ok else min(self.max_backoff,
                                                 max(delay, self.interval) * 2)
