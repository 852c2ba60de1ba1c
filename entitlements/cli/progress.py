"""A progress bar on stderr for long commands (bulk revocation, report exports, rebuilds,
imports): the work's ``Tracker``. Quiet with ``--json`` (its output is for scripts) and when
stderr is no terminal (a log file has no use for a bar)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import click

from ..base.progress import Tracker, Untracked


class Bar:
    def __init__(self, label: str, file: TextIO) -> None:
        self._label, self._file = label, file
        self._bar: Any = None

    def expect(self, total: int) -> None:
        self._bar = click.progressbar(length=max(total, 1), label=self._label,
                                      file=self._file, show_pos=True)
        self._bar.__enter__()

    def advance(self, count: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(count)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


@contextmanager
def progress(label: str, quiet: bool, file: TextIO | None = None) -> Iterator[Tracker]:
    file = file or sys.stderr
    if quiet or not file.isatty():
        yield Untracked()
        return
    bar = Bar(label, file)
    try:
        yield bar
    finally:
        bar.close()
