"""How long work says how far it got: the console's live status (a job's row) and the CLI's
progress bar both follow it."""

from __future__ import annotations

from typing import Protocol


class Tracker(Protocol):
    def expect(self, total: int) -> None:
        """How many steps the work has, once known."""

    def advance(self, count: int = 1) -> None:
        """``count`` more steps are done."""


class Untracked:
    """Progress nobody follows."""

    def expect(self, total: int) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        pass


class Tee:
    """Progress several follow at once (a job's row and a terminal's bar)."""

    def __init__(self, *trackers: Tracker) -> None:
        self._trackers = trackers

    def expect(self, total: int) -> None:
        for tracker in self._trackers:
            tracker.expect(total)

    def advance(self, count: int = 1) -> None:
        for tracker in self._trackers:
            tracker.advance(count)
