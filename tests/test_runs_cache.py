"""The run cache: under the git common dir, keyed by log size and mtime, atomic."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import wandbgen
from conftest import git
from ragguard.runs import cache, folder, index
from ragguard.runs.folder import ROW_SCHEMA
from ragguard.runs.index import load_runs


@pytest.fixture
def copied(sample_runs: wandbgen.SampleRuns, repo: Path) -> Path:
    """The repository fixture with copies of the sample run folders."""
    shutil.copytree(sample_runs.repo / "wandb", repo / "wandb", symlinks=True)
    return repo


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Folders actually read (not served from the cache), in order."""
    seen: list[str] = []
    real = folder.read_segment

    def counting(path: str, *, deep: bool = False) -> folder.Segment:
        seen.append(path)
        return real(path, deep=deep)

    monkeypatch.setattr(index, "read_segment", counting)
    return seen


def test_cache_lives_under_the_git_common_dir(copied, tmp_path):
    assert cache.default_cache_dir(copied) == copied / ".git" / "ragguard"
    worktree = tmp_path / "wt"
    git(copied, "worktree", "add", "-q", str(worktree), "-b", "other")
    assert cache.default_cache_dir(worktree / "sub") == copied / ".git" / "ragguard"


def test_outside_a_repository_the_cache_is_the_xdg_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.default_cache_dir(tmp_path / "nowhere") == tmp_path / "xdg/ragguard"


def test_warm_load_reads_nothing_and_agrees(copied, reads):
    roots = [copied / "wandb"]
    cache_dir = cache.default_cache_dir(copied)
    cold = load_runs(roots, cache_dir=cache_dir)
    assert len(reads) == 7 and list(cache_dir.glob("runs-*"))
    reads.clear()
    warm = load_runs(roots, cache_dir=cache_dir)
    assert reads == []
    assert warm == cold


def test_appending_to_a_log_or_syncing_invalidates_one_entry(
    copied, reads, sample_runs
):
    roots = [copied / "wandb"]
    cache_dir = copied / ".git" / "ragguard"
    runs = load_runs(roots, cache_dir=cache_dir)
    name = sample_runs.folders["killed"].name
    killed = next(r for r in runs if Path(r.path).name == name)
    log = next(Path(killed.path).glob("*.wandb"))
    reads.clear()
    with open(log, "ab") as handle:
        handle.write(b"\0" * 3)
    load_runs(roots, cache_dir=cache_dir)
    assert reads == [killed.path]
    finished = next(r for r in runs if r.name == "bm25-k5")
    reads.clear()
    Path(finished.path, f"run-{finished.id}.wandb.synced").write_bytes(b"")
    again = load_runs(roots, cache_dir=cache_dir)
    assert reads == [finished.path]
    assert next(r for r in again if r.id == finished.id).sync == "synced"


def test_deep_entries_serve_fast_loads_but_not_the_reverse(copied, reads):
    roots = [copied / "wandb"]
    cache_dir = copied / ".git" / "ragguard"
    load_runs(roots, cache_dir=cache_dir)
    reads.clear()
    load_runs(roots, cache_dir=cache_dir, deep=True)
    assert len(reads) == 7
    reads.clear()
    load_runs(roots, cache_dir=cache_dir)
    load_runs(roots, cache_dir=cache_dir, deep=True)
    assert reads == []


def test_a_corrupt_cache_is_ignored_and_replaced(copied):
    roots = [copied / "wandb"]
    cache_dir = copied / ".git" / "ragguard"
    expected = load_runs(roots)
    target = cache.cache_file(cache_dir, roots)
    target.parent.mkdir(parents=True)
    target.write_text("not marshal data")
    assert load_runs(roots, cache_dir=cache_dir) == expected
    assert len(cache.load(target, ROW_SCHEMA)) == 7


def test_concurrent_writers_leave_a_valid_cache(copied):
    """Several processes loading at once (two hooks, say) never corrupt it."""
    code = (
        "import sys; from pathlib import Path\n"
        "from ragguard.runs.index import load_runs\n"
        "for _ in range(5):\n"
        "    load_runs([Path(sys.argv[1])], cache_dir=Path(sys.argv[2]))\n"
    )
    cache_dir = copied / ".git" / "ragguard"
    args = [sys.executable, "-c", code, str(copied / "wandb"), str(cache_dir)]
    procs = [subprocess.Popen(args) for _ in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    (written,) = cache_dir.glob("runs-*")
    assert len(cache.load(written, ROW_SCHEMA)) == 7
    assert [p for p in os.listdir(cache_dir) if p.endswith(".tmp")] == []


def test_unwritable_cache_dir_is_not_an_error(copied, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert load_runs([copied / "wandb"], cache_dir=blocker / "cache")
