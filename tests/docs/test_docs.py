"""Every command block of the README and of docs/ runs, as a new user would run it, against
the service ``./scripts/run`` starts (see ``tests.support.docs``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import docs


@pytest.mark.parametrize("page", docs.pages(), ids=lambda p: p.name)
def test_every_command_block_runs(page: Path, tmp_path: Path):
    blocks = docs.blocks(page)
    with docs.sandbox(tmp_path) as (root, url):
        done = docs.run(blocks, root, url)
    assert done.returncode == 0, (
        f"{docs.failed_block(done.stderr)} failed:\n{done.stderr[-4000:]}\n{done.stdout[-2000:]}")


def test_the_runner_runs_shell_and_python_and_nothing_else():
    page = docs.Block(docs.REPO / "README.md", 1, "bash", "X=1\n")
    python = docs.Block(docs.REPO / "README.md", 5, "python", "print(1)\n")
    shown = docs.Block(docs.REPO / "README.md", 9, "json", '{"not": "run"}\n')
    script = docs.script([page, python, shown], "http://127.0.0.1:1")
    assert "X=1" in script and "print(1)" in script and '"not"' not in script
    skipped = docs.script([docs.Block(page.path, 1, "bash", "./scripts/run --port 9\n"
                                      "curl http://127.0.0.1:8000/healthz\n")],
                          "http://127.0.0.1:1")
    assert "./scripts/run" not in skipped and "curl http://127.0.0.1:1/healthz" in skipped


def test_every_page_has_blocks_that_run():
    assert all(any(b.runs for b in docs.blocks(page)) for page in docs.pages())


@pytest.mark.parametrize("page", docs.pages(), ids=lambda p: p.name)
def test_every_local_link_and_picture_exists(page: Path):
    """A relative link or image of a page names a file of the repository (anchors aside)."""
    targets = re.findall(r"\]\(([^)\s]+)\)", page.read_text())
    local = [t.split("#")[0] for t in targets if not re.match(r"^[a-z]+:|^#", t)]
    missing = [t for t in local if t and not (page.parent / t).exists()]
    assert missing == []
