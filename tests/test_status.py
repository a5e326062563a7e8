"""``ragguard status`` on real offline W&B runs in a real repository."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import ragworld
from conftest import git
from ragguard.cli import main
from ragguard.status import render, status
from ragguard.validate import Validation, save


def screen(work: Path) -> list[str]:
    return render(status(work))


def test_an_experiment_branch_with_unsynced_runs(work: Path) -> None:
    git(work, "switch", "-q", "exp/bm25")
    lines = screen(work)
    assert lines[:6] == [
        "ragguard status: exp/bm25 -> origin/main",
        "  doc         docs/branches/exp/bm25.md",
        "  runs        3 runs: 2 finished, 1 failed; 3 unsynced",
        "  commits     no upstream; 1 commit on no remote",
        "  changes     none",
        "  merge gate  blocked: the best run bm25a002 is unsynced: "
        "W&B does not have it",
    ]
    assert (
        "  blocked  [runs-synced] run bm25a002 (bm25-k10): "
        "offline run is not synced to W&B" in lines
    )
    assert (
        "  warning  [runs-finished] run bm25a003 (bm25-k20): failed with exit code 1"
        in lines
    )
    assert lines[-1] == "next: ragguard sync"


def test_next_is_the_first_blocking_fix(work: Path) -> None:
    git(work, "switch", "-q", "exp/bm25")
    for run_id in ("bm25a001", "bm25a002", "bm25a003"):
        ragworld.mark_synced(work, run_id)
    st = status(work)
    assert st.next == "git push -u origin exp/bm25"
    git(work, "push", "-q", "-u", "origin", "exp/bm25")
    lines = screen(work)
    assert "  commits     up to date with origin/exp/bm25" in lines
    assert "  merge gate  passes: beats origin/main's best" in lines
    assert (
        lines[-1] == "next: ragguard report --format markdown  (for the pull request)"
    )


def test_uncommitted_changes_come_first(work: Path) -> None:
    git(work, "switch", "-q", "exp/empty")
    (work / "notes.txt").write_text("chunk sizes to try\n")
    lines = screen(work)
    assert "  doc         missing (docs/branches/exp/empty.md)" in lines
    assert "  changes     1 uncommitted" in lines
    assert lines[-1] == "next: ragguard doc init exp/empty"  # the doc blocks first


def test_the_default_branch(work: Path) -> None:
    assert screen(work) == [
        "ragguard status: main (the default branch)",
        "  runs        1 run: 1 finished; 1 synced",  # main's history: the baseline
        "  commits     up to date with origin/main",
        "  changes     none",
        "next: nothing: all clear",
    ]


def test_a_failed_validation_is_shown_until_one_passes(work: Path) -> None:
    git_dir = Path(git(work, "rev-parse", "--absolute-git-dir").stdout.strip())
    failed = Validation("failed", "pytest -q eval", "a" * 40, 1, 2.5, time.time())
    save(git_dir, failed)
    lines = screen(work)
    assert (
        "  VALIDATION FAILED after the last merge at aaaaaaaaaaaa: "
        "pytest -q eval exited 1" in lines
    )
    assert lines[-1] == "next: ragguard validate"
    save(git_dir, Validation("passed", "pytest -q eval", "b" * 40, 0, 2.0, time.time()))
    assert not any("VALIDATION" in line for line in screen(work))


def test_detached_head(work: Path) -> None:
    git(work, "switch", "-q", "--detach", "HEAD")
    lines = screen(work)
    assert lines[0].startswith("ragguard status: HEAD is detached at ")
    assert lines[-1] == "next: git switch BRANCH"


def test_cli(
    work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(work)
    assert main(["status"]) == 0
    assert capsys.readouterr().out.startswith("ragguard status: main")


def test_status_imports_neither_wandb_nor_gitpython(work: Path) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from ragguard.cli import main; main(['status']);"
        "bad = {'wandb', 'git'} & set(sys.modules); assert not bad, bad"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=work, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("ignore", "warned"),
    [("*.wandb\n", True), ("/wandb/\n", False), ("wandb/*\n", False)],
)
def test_a_run_root_half_covered_by_gitignore_is_reported(
    work: Path, ignore: str, warned: bool
) -> None:
    """`*.wandb` keeps the logs out, but `git add .` would still commit every
    run's files/ and logs/."""
    (work / ".gitignore").write_text(ignore)
    found = [f for f in status(work).findings if f.check == "staged-runs"]
    assert [f.subject for f in found] == (["wandb/"] if warned else [])
