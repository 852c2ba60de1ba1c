"""CPU time of processes, read from /proc: a server's process tree and PostgreSQL's."""

from __future__ import annotations

import os
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (which may hold spaces)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def process_tree(root: int) -> list[int]:
    """``root`` and every process descended from it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(entry.name)) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, queue = [], [root]
    while queue:
        pid = queue.pop()
        tree.append(pid)
        queue.extend(children.get(pid, []))
    return tree


def postgres_pids() -> list[int]:
    """Every PostgreSQL server process on this machine (its backends come and go)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU of these processes (all their threads), in seconds."""
    ticks = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / CLOCK_TICKS


class CpuMeter:
    """CPU seconds a server and PostgreSQL spend between ``start`` and ``stop``. A
    PostgreSQL backend that exits meanwhile takes its time with it, so the database's
    share is read from the processes alive at each end (the benchmarks keep connections
    open)."""

    def __init__(self, server: list[int], database: bool = True) -> None:
        self.server, self.database = server, database
        self._at: tuple[float, float] = (0.0, 0.0)

    def _now(self) -> tuple[float, float]:
        return cpu_seconds(self.server), cpu_seconds(postgres_pids()) if self.database else 0.0

    def start(self) -> None:
        self._at = self._now()

    def stop(self) -> tuple[float, float]:
        """(server seconds, PostgreSQL seconds) since ``start``."""
        server, database = self._now()
        return server - self._at[0], max(0.0, database - self._at[1])
