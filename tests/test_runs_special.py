"""Run folders that could hang or break the index: named pipes in place of the
files it reads, and metrics logged as NaN or infinity."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import wandbgen
from ragguard.cli import main
from ragguard.runs.index import load_runs, run_to_json

# A regression hangs on open(); the subprocess's timeout turns it into a failure.
TIMEOUT = 60

READ_FILES = (
    "files/config.yaml",
    "files/wandb-summary.json",
    "files/wandb-metadata.json",
    "logs/debug.log",
    "logs/debug-internal.log",
)


def _fifo_folder(wandb_dir: Path, run_id: str = "fifo1") -> Path:
    folder = wandb_dir / f"offline-run-20260101_000000-{run_id}"
    folder.mkdir(parents=True)
    os.mkfifo(folder / f"run-{run_id}.wandb")
    return folder


def _strict(text: str) -> object:
    def refuse(token: str) -> object:
        raise ValueError(f"not strict JSON: {token}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_fifo_log_makes_the_run_unreadable_without_hanging(repo: Path):
    _fifo_folder(repo / "wandb")
    done = subprocess.run(
        [sys.executable, "-m", "ragguard", "runs", "--json", "--stale-after", "0"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (run,) = _strict(done.stdout)  # type: ignore[misc]
    assert run["id"] == "fifo1"
    assert run["state"] == "unreadable"
    reason = "cannot read run-fifo1.wandb: it is a named pipe, not a regular file"
    assert run["reason"] == reason


_READ_EACH = textwrap.dedent(
    """
    import json, sys
    from ragguard.runs.folder import open_regular, read_segment
    for path in sys.argv[1:]:
        segment = read_segment(path)
        print(json.dumps([segment.unreadable, segment.reason]), flush=True)
    try:
        open_regular(sys.argv[1] + "/files/config.yaml")
    except OSError as error:
        print(json.dumps(str(error)), flush=True)
    """
)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_fifo_in_place_of_any_file_read_is_unreadable(sample_runs, tmp_path):
    folders = []
    for number, name in enumerate(READ_FILES):
        folder = tmp_path / f"case{number}" / sample_runs.folders["finished"].name
        shutil.copytree(sample_runs.folders["finished"], folder, symlinks=True)
        (folder / name).unlink(missing_ok=True)  # offline runs lack some
        os.mkfifo(folder / name)
        folders.append(str(folder))
    done = subprocess.run(
        [sys.executable, "-c", _READ_EACH, *folders],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    *results, opened = [json.loads(line) for line in done.stdout.splitlines()]
    assert results == [
        [True, f"cannot read {name}: it is a named pipe, not a regular file"]
        for name in READ_FILES
    ]
    assert "not a regular file" in opened


def test_nan_and_infinity_give_strict_json(repo: Path, capsys, monkeypatch):
    nan, inf = float("nan"), float("inf")
    wandbgen.write_run(
        repo,
        ending="finish",
        config={"lr": inf},
        # wandb 0.31 stores NaN set on run.summary as null; logged, it stays NaN.
        summary={"best": inf, "eval": {"worst": -inf, "ok": 0.5}},
        history=[{"loss": nan}],
    )
    (run,) = load_runs([repo / "wandb"])
    assert run.summary["loss"] != run.summary["loss"]  # kept as NaN in the Run
    item = run_to_json(run)
    assert _strict(json.dumps(item, allow_nan=False)) == item
    assert item["summary"]["loss"] == "NaN"
    assert item["summary"]["best"] == "Infinity"
    assert item["summary"]["eval"] == {"worst": "-Infinity", "ok": 0.5}
    assert item["config"]["lr"] == "Infinity"
    monkeypatch.chdir(repo)
    assert main(["runs", "--json"]) == 0
    (printed,) = _strict(capsys.readouterr().out)  # type: ignore[misc]
    assert printed["summary"]["loss"] == "NaN"


def test_finite_values_are_passed_through_uncopied(sample_runs):
    (run, *_rest) = load_runs([sample_runs.repo / "wandb"])
    item = run_to_json(run)
    assert item["summary"] is run.summary and item["config"] is run.config
