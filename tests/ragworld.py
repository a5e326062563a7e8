"""A small RAG repository with real offline W&B runs, for the switch, status,
compare and report tests. Built once per session; each test copies it.

Commit dates are fixed so that commit ids are the same in every session, and
runs have fixed ids, so golden files can hold both as they are.

- ``main``: one commit (with ``.ragguard.yaml``), pushed; one synced baseline
  run ``base0001`` (dense retriever).
- ``exp/bm25``: one more commit with a filled-in doc, not pushed (no upstream);
  runs ``bm25a001`` (k=5) and ``bm25a002`` (k=10) finished, ``bm25a003``
  failed; none synced.
- ``exp/empty``: a branch at ``main`` with no runs.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import wandbgen

POLICY = """\
wandb:
  entity: team
  project: rag
report:
  metric: eval/recall@5
  rows: 5
merge:
  metric: eval/recall@5
  goal: max
"""

DOC = """\
# Branch `exp/bm25`

## Goal

Learn whether BM25 beats the dense retriever on recall@5.

## Hypothesis

Exact term matches matter for product codes.
"""

BASE = dict(
    run_id="base0001",
    name="dense-baseline",
    tags=["retriever:dense"],
    config={"retriever": {"type": "dense", "k": 5}, "chunk_size": 512},
    summary={"eval/recall@5": 0.78, "eval/mrr": 0.61, "latency_ms": 120},
)
BRANCH_RUNS: tuple[dict[str, Any], ...] = (
    dict(
        run_id="bm25a001",
        name="bm25-k5",
        tags=["retriever:bm25", "k=5"],
        config={"retriever": {"type": "bm25", "k": 5, "k1": 1.2}, "chunk_size": 256},
        summary={"eval/recall@5": 0.81, "eval/mrr": 0.64, "latency_ms": 40},
    ),
    dict(
        run_id="bm25a002",
        name="bm25-k10",
        tags=["retriever:bm25", "k=10"],
        config={"retriever": {"type": "bm25", "k": 10, "k1": 1.2}, "chunk_size": 256},
        summary={"eval/recall@5": 0.84, "eval/mrr": 0.62, "latency_ms": 55},
    ),
    dict(
        run_id="bm25a003",
        name="bm25-k20",
        ending="exception",
        tags=["retriever:bm25", "k=20"],
        config={"retriever": {"type": "bm25", "k": 20, "k1": 1.2}, "chunk_size": 256},
    ),
)


@dataclass(frozen=True)
class World:
    base: Path  # holds origin.git and work/
    main: str  # commit ids
    bm25: str


_BUILT: dict[str, World] = {}


def world(make_dir: Any, env: Mapping[str, str]) -> World:
    """The session's world, built on first use (``make_dir()`` gives a folder)."""
    if "world" not in _BUILT:
        _BUILT["world"] = _build(Path(make_dir()), env)
    return _BUILT["world"]


def copy(world: World, into: Path) -> Path:
    """A private copy of the world; returns its work tree."""
    shutil.copytree(world.base, into, symlinks=True)
    work = into / "work"
    git(work, "remote", "set-url", "origin", str(into / "origin.git"))
    return work


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def mark_synced(work: Path, run_id: str) -> None:
    """What ``wandb sync`` leaves behind (it needs a server these tests lack)."""
    for log in (work / "wandb").glob(f"*-{run_id}/run-{run_id}.wandb"):
        log.with_name(log.name + ".synced").touch()


def _build(base: Path, env: Mapping[str, str]) -> World:
    env = {
        **env,
        "GIT_AUTHOR_DATE": "2026-01-01T12:00:00+0000",
        "GIT_COMMITTER_DATE": "2026-01-01T12:00:00+0000",
    }
    origin, work = base / "origin.git", base / "work"
    git(base, "init", "-q", "--bare", str(origin), env=env)
    git(base, "init", "-q", str(work), env=env)
    (work / "README.md").write_text("# rag\n")
    (work / ".gitignore").write_text("wandb/\n")
    (work / ".ragguard.yaml").write_text(POLICY)
    _commit(work, env, "Start the experiment repository")
    git(work, "remote", "add", "origin", str(origin), env=env)
    git(work, "push", "-q", "-u", "origin", "main", env=env)
    git(work, "remote", "set-head", "origin", "main", env=env)
    wandbgen.write_run(work, env=env, **BASE)
    mark_synced(work, "base0001")
    main = git(work, "rev-parse", "HEAD", env=env)
    git(work, "branch", "exp/empty", env=env)
    git(work, "switch", "-q", "-c", "exp/bm25", env=env)
    doc = work / "docs" / "branches" / "exp" / "bm25.md"
    doc.parent.mkdir(parents=True)
    doc.write_text(DOC)
    (work / "retriever.py").write_text("K1 = 1.2\n")
    _commit(work, env, "Try BM25 retrieval with k1 of 1.2")
    with ThreadPoolExecutor(max_workers=3) as pool:
        jobs = [pool.submit(_write, work, env, spec) for spec in BRANCH_RUNS]
        for job in jobs:
            job.result()
    bm25 = git(work, "rev-parse", "HEAD", env=env)
    git(work, "switch", "-q", "main", env=env)
    return World(base, main, bm25)


def _write(work: Path, env: Mapping[str, str], spec: Mapping[str, Any]) -> Path:
    return wandbgen.write_run(work, env=env, **spec)


def _commit(work: Path, env: Mapping[str, str], message: str) -> None:
    git(work, "add", "-A", env=env)
    git(work, "commit", "-q", "-m", message, env=env)
