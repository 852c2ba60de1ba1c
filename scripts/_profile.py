"""Where a server's CPU goes under load: py-spy samples its workers while a load runs, and
the stacks that held the GIL are summed per function (self time and inclusive time)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

RATE = 250  # samples per second and process
TOP = 25
#: Frames every sample passes through (threads, the event loop, the server's start-up).
PLUMBING = ("threading.py", "concurrent/futures", "click/", "granian/", "multiprocessing/",
            "runpy", "entitlements/cli/", "asyncio/base_events.py", "(<string>)")


def profile_top(pids: list[int], load: Callable[[], object], top: int = TOP) -> str:
    """Run ``load`` while py-spy samples ``pids``; the top entries as text."""
    spy = shutil.which("py-spy")
    if spy is None:
        return "profile skipped: py-spy is not installed (pip install py-spy)"
    with tempfile.TemporaryDirectory() as folder:
        outputs = [Path(folder) / f"{pid}.txt" for pid in pids]
        samplers = [subprocess.Popen([spy, "record", "--gil", "--nonblocking", "-r", str(RATE),
                                      "-f", "raw", "-o", str(out), "-p", str(pid)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    for pid, out in zip(pids, outputs, strict=True)]
        try:
            load()
        finally:
            for sampler in samplers:
                sampler.send_signal(2)  # SIGINT: py-spy writes what it has and exits
                sampler.wait(timeout=30)
        stacks = [line for out in outputs if out.exists() for line in out.read_text().splitlines()]
    return _summary(stacks, top)


def _summary(lines: list[str], top: int) -> str:
    own, inclusive, total = Counter(), Counter(), 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [re.sub(r":\d+\)$", ")", f) for f in stack.split(";")[1:]]  # no process
        if not frames:
            continue
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    if not total:
        return "profile: no samples"
    rows = [f"profile: {total} samples of the workers holding the GIL",
            "  self  function"]
    rows += [f"{100 * n / total:5.1f}%  {name[:110]}" for name, n in own.most_common(top)]
    rows += ["  incl  function"]
    rows += [f"{100 * n / total:5.1f}%  {name[:110]}"
             for name, n in inclusive.most_common() if not any(f in name for f in PLUMBING)][:top]
    return "\n".join(rows)
