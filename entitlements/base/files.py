"""Files written whole or not at all: written aside (``NAME.partial``), then renamed into
place, so a reader (or a crash) never meets half a file."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def written_whole(path: Path) -> Iterator[BinaryIO]:
    """A file to write ``path`` through; it takes the name once the block ends without an
    error."""
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as out:
        yield out
    os.replace(partial, path)


def write_whole(path: Path, content: bytes) -> None:
    with written_whole(path) as out:
        out.write(content)
