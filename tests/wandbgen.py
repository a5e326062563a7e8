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
) -> Path:
    """Make one run in ``cwd`` and return its run folder.

    ``running`` leaves the process alive and returns at once; the caller must
    kill it (see :func:`kill_running`). ``sigkill`` waits ``kill_after``
    seconds after the first log so that wandb has flushed records, then kills;
    ``early-kill`` kills as soon as the run exists.
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
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    return run_dir.parent


_RUNNING: list[subprocess.Popen[str]] = []


def kill_running() -> None:
    while _RUNNING:
        proc = _RUNNING.pop()
        proc.kill()
        proc.wait(timeout=30)


def _read_run_dir(proc: subprocess.Popen[str]) -> Path:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("RUN-DIR "):
            return Path(line.split(" ", 1)[1].strip())
    err = proc.stderr.read() if proc.stderr else ""
    raise RuntimeError(f"wandb run did not start: {err[-2000:]}")
