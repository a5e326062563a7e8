"""Write real W&B run folders with the installed wandb, in offline mode.

Each run is made by a child Python process so that an uncaught exception or a
SIGKILL ends a real run the way it ends in the field. Tests call these through
the fixtures in ``conftest.py``; nothing here fakes the files wandb writes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Ending = Literal["finish", "exception", "sigkill", "early-kill", "running"]

_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, time
    import wandb

    spec = json.loads(sys.argv[1])
    run = wandb.init(
        project=spec["project"],
        id=spec.get("id"),
        resume=spec.get("resume"),
        tags=spec.get("tags") or None,
        config=spec.get("config") or None,
        name=spec.get("name"),
        dir=spec.get("dir"),
    )
    for step, metrics in enumerate(spec.get("history") or [{}]):
        run.log(metrics)
    for key, value in (spec.get("summary") or {}).items():
        run.summary[key] = value
    print("RUN-DIR", run.dir, flush=True)
    ending = spec["ending"]
    if ending == "finish":
        run.finish()
    elif ending == "exception":
        raise RuntimeError("experiment failed on purpose")
    else:
        print("READY", flush=True)
        time.sleep(3600)
    """
)


def run_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_CONSOLE="off")
    env.pop("WANDB_API_KEY", None)
    return env


def write_run(
    cwd: Path,
    *,
    project: str = "rag",
    ending: Ending = "finish",
    tags: list[str] | None = None,
    config: Mapping[str, Any] | None = None,
    summary: Mapping[str, Any] | None = None,
    history: list[Mapping[str, Any]] | None = None,
    run_id: str | None = None,
    resume: str | None = None,
    name: str | None = None,
    wandb_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    kill_after: float = 2.0,
    flush_timeout: float = 90.0,
) -> Path:
    """Make one run in ``cwd`` and return its run folder.

    ``running`` leaves the process alive and returns at once; the caller must
    kill it (see :func:`kill_running`). ``sigkill`` waits at least
    ``kill_after`` seconds and until wandb has flushed records past the 7-byte
    header (offline wandb 0.31 flushes about every 15 s; at most
    ``flush_timeout`` seconds, then it raises), then kills: a run killed
    mid-run. ``early-kill`` kills as soon as the run exists, which leaves a
    header-only log.
    """
    spec = {
        "project": project,
        "ending": ending,
        "tags": tags,
        "config": dict(config or {}),
        "summary": dict(summary or {}),
        "history": list(history or [{}]),
        "id": run_id,
        "resume": resume,
        "name": name,
        "dir": str(wandb_dir) if wandb_dir else None,
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, json.dumps(spec)],
        cwd=cwd,
        env=run_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    run_dir = _read_run_dir(proc)
    if ending in ("finish", "exception"):
        proc.wait(timeout=120)
    elif ending == "running":
        _RUNNING.append(proc)
    else:
        if ending == "sigkill":
            time.sleep(kill_after)
            _wait_for_records(run_dir.parent, proc, flush_timeout)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    return run_dir.parent


_RUNNING: list[subprocess.Popen[str]] = []


def kill_running() -> None:
    while _RUNNING:
        proc = _RUNNING.pop()
        proc.kill()
        proc.wait(timeout=30)


def _wait_for_records(folder: Path, proc: subprocess.Popen[str], bound: float) -> None:
    """Poll until the run's ``.wandb`` holds more than its 7-byte header."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        logs = list(folder.glob("run-*.wandb"))
        if logs and logs[0].stat().st_size > 7:
            return
        if proc.poll() is not None:
            break
        time.sleep(0.25)
    proc.kill()
    proc.wait(timeout=30)
    raise RuntimeError(f"wandb wrote no records to {folder} within {bound:.0f} s")


def _read_run_dir(proc: subprocess.Popen[str]) -> Path:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("RUN-DIR "):
            return Path(line.split(" ", 1)[1].strip())
    err = proc.stderr.read() if proc.stderr else ""
    raise RuntimeError(f"wandb run did not start: {err[-2000:]}")


# --- a sample of real runs, made once per test session ---------------------


@dataclass(frozen=True)
class SampleRuns:
    """Real offline runs in a real repository, one per ending the index knows.

    ``folders`` maps a case name to its run folder (``resumed`` to the newer
    of its two folders, ``resumed-first`` to the older).
    """

    repo: Path
    commit: str
    folders: Mapping[str, Path]


def make_sample_runs(base: Path, env: Mapping[str, str]) -> SampleRuns:
    """Write the sample (about 20 s, most of it waiting for wandb to flush)."""
    from concurrent.futures import ThreadPoolExecutor

    repo = base / "repo"
    commit = _sample_repo(repo, env)
    save_code = {**env, "WANDB_SAVE_CODE": "true"}
    (repo / "train.py").write_text("print('chunk size 512')\n")  # a dirty tree
    jobs: dict[str, Any] = {
        "finished": dict(
            ending="finish",
            name="bm25-k5",
            tags=["retriever:bm25", "k=5"],
            config={"retriever": {"type": "bm25", "k": 5}, "chunk_size": 256},
            summary={"recall@5": 0.81, "eval": {"mrr": 0.5}},
            history=[{"loss": 1.0}, {"loss": 0.5}],
            env=save_code,
        ),
        "failed": dict(ending="exception", config={"retriever": {"type": "dense"}}),
        "killed": dict(
            ending="sigkill", history=[{"loss": 1.0 / (i + 1)} for i in range(50)]
        ),
        "early": dict(ending="early-kill"),
        "other-project": dict(
            ending="finish", project="rag-b", wandb_dir=repo / "experiments"
        ),
        "synced": dict(ending="finish", tags=["synced"]),
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {
            name: pool.submit(write_run, repo, **{"env": env, **spec})
            for name, spec in jobs.items()
        }
        resumed = pool.submit(_resumed_pair, repo, env)
        folders = {name: future.result() for name, future in futures.items()}
        folders["resumed-first"], folders["resumed"] = resumed.result()
    # `wandb sync` needs a server; it marks a run synced with this empty file.
    marker = folders["synced"] / f"run-{_folder_id(folders['synced'])}.wandb.synced"
    marker.write_bytes(b"")
    return SampleRuns(repo=repo, commit=commit, folders=folders)


def _resumed_pair(repo: Path, env: Mapping[str, str]) -> tuple[Path, Path]:
    first = write_run(repo, ending="exception", run_id="resumed01", env=env)
    time.sleep(1.1)  # folder names carry the start second
    second = write_run(
        repo,
        ending="finish",
        run_id="resumed01",
        resume="allow",
        summary={"recall@5": 0.9},
        env=env,
    )
    return first, second


def _sample_repo(repo: Path, env: Mapping[str, str]) -> str:
    repo.mkdir(parents=True)

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args],
            cwd=repo,
            env=dict(env),
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    git("init", "-q")
    (repo / "train.py").write_text("print('chunk size 256')\n")
    (repo / ".gitignore").write_text("wandb/\n")
    git("add", "train.py", ".gitignore")
    git("commit", "-q", "-m", "Add the training script")
    git("remote", "add", "origin", "https://example.com/team/rag.git")
    return git("rev-parse", "HEAD")


def _folder_id(folder: Path) -> str:
    """The run id in ``offline-run-<date>_<time>-<id>``."""
    return folder.name.split("-", 3)[-1]
