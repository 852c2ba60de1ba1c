"""Run a documentation page's command blocks the way a new user would, so a walkthrough that
drifts from the code fails the suite.

A page runs in a sandbox that looks like a fresh clone (the repository's files linked in, its
``.venv`` active), with the service started by ``./scripts/run`` on a free port, as the
README's quick start says. Then every ``bash`` block runs, in order, in one shell (variables
carry from block to block, ``set -euo pipefail``), and every ``python`` block runs with that
shell's exported variables. Other blocks (``text``, ``json``, ``nginx``, ...) show output or
configuration and are not run.

What the runner does beside the page's own words:
- ``http://127.0.0.1:8000`` in a block becomes the sandbox service's address;
- a ``./scripts/run`` line is the service the runner already started, and a ``./scripts/test``
  line is the suite itself: both are skipped.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.support.live import free_port

REPO = Path(__file__).resolve().parents[2]
LINKED = (".venv", "entitlements", "migrations", "scripts", "pyproject.toml", "README.md",
          "docs")
RUN = {"bash", "sh", "python"}
SERVICE = "http://127.0.0.1:8000"
FENCE = re.compile(r"^```([\w+-]*)(.*)$")
SKIPPED = re.compile(r"^\s*\./scripts/(run|test)\b.*$", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    lang: str
    code: str

    @property
    def runs(self) -> bool:
        return self.lang in RUN

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def pages() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    found, lines = [], path.read_text().splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        start, body = i + 1, []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        found.append(Block(path, start, opening.group(1), "\n".join(body) + "\n"))
        i += 1
    return found


def script(page: list[Block], service: str) -> str:
    """One bash script of the page's runnable blocks, each announced on stderr."""
    parts = ["set -euo pipefail", "source .venv/bin/activate"]
    for number, block in enumerate(page):
        if not block.runs:
            continue
        code = SKIPPED.sub("", block.code).replace(SERVICE, service)
        parts.append(f"echo '>>> block {number} ({block.where})' >&2")
        if block.lang == "python":
            parts.append(f"python - <<'PYTHON_BLOCK'\n{code}PYTHON_BLOCK")
        else:
            parts.append(code)
    return "\n".join(parts) + "\n"


@contextmanager
def sandbox(root: Path) -> Iterator[tuple[Path, str]]:
    """A fresh-clone look-alike at ``root`` with the service running; yields (root, url)."""
    for name in LINKED:
        if (REPO / name).exists():
            (root / name).symlink_to(REPO / name)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = environment(root, url)
    log = (root / "service.log").open("w")
    service = subprocess.Popen(["./scripts/run", "--port", str(port), "--workers", "1"],
                               cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        _wait_until_up(url, service, root / "service.log")
        yield root, url
    finally:
        os.killpg(service.pid, signal.SIGTERM)
        service.wait(timeout=30)
        log.close()


def environment(root: Path, url: str) -> dict[str, str]:
    """The shell a new user has: no ENTITLEMENTS_* of the test run, HOME in the sandbox,
    and the sandbox as the checkout whose var/ and keys/ hold the defaults (the package
    itself is the real checkout's, installed in place)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTITLEMENTS_")}
    env.update(HOME=str(root), ENTITLEMENTS_ISSUER=url, ENTITLEMENTS_HOME=str(root),
               PYTHONDONTWRITEBYTECODE="1")
    return env


def run(page: list[Block], root: Path, url: str, timeout: float = 600
        ) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script(page, url)], cwd=root,
                          env=environment(root, url), capture_output=True, text=True,
                          timeout=timeout)


def failed_block(stderr: str) -> str:
    announced = re.findall(r">>> block \d+ \(([^)]*)\)", stderr)
    return announced[-1] if announced else "before the first block"


def _wait_until_up(url: str, service: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if service.poll() is not None:
            raise AssertionError(f"./scripts/run exited:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the service did not come up:\n{log.read_text()[-3000:]}")
