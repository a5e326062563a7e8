"""The run index on real runs written by the installed wandb (offline mode)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

import wandbgen
from ragguard.cli import main
from ragguard.runs.index import default_roots, load_runs, run_to_json
from ragguard.runs.model import Run

REQUIRED_KEYS = {
    "id", "path", "mode", "state", "exit_code", "sync", "project", "entity",
    "name", "tags", "config", "summary", "commit", "remote", "started_at",
    "runtime_s", "size_bytes", "wandb_version", "dirty", "reason",
}  # fmt: skip


def _by_path(runs: list[Run]) -> dict[str, Run]:
    return {segment: run for run in runs for segment in run.segments}


@pytest.fixture(scope="module")
def indexed(sample_runs: wandbgen.SampleRuns) -> dict[str, Run]:
    """Each sample case's run, read with stale_after=0 (nothing is running)."""
    roots = default_roots(sample_runs.repo, ["wandb"])
    runs = _by_path(load_runs(roots, stale_after=0.0))
    return {name: runs[str(folder)] for name, folder in sample_runs.folders.items()}


def test_default_roots_find_nested_wandb_dirs(sample_runs: wandbgen.SampleRuns):
    roots = default_roots(sample_runs.repo, ["wandb"])
    assert roots == [sample_runs.repo / "wandb", sample_runs.repo / "experiments/wandb"]


def test_finished_run_has_every_fact(indexed, sample_runs):
    run = indexed["finished"]
    assert (run.state, run.exit_code, run.sync, run.mode) == (
        "finished", 0, "unsynced", "offline",
    )  # fmt: skip
    assert run.name == "bm25-k5"
    assert run.project == "rag"
    assert run.tags == ("retriever:bm25", "k=5")
    assert run.config_value("retriever.type") == "bm25"
    assert run.config_value("retriever.k") == 5
    assert run.config["chunk_size"] == 256
    assert run.summary["recall@5"] == 0.81
    assert run.summary["eval"] == {"mrr": 0.5}
    assert run.summary["loss"] == 0.5
    assert run.commit == sample_runs.commit
    assert run.remote == "https://example.com/team/rag.git"
    assert run.wandb_version == _installed_wandb()
    assert run.dirty is True  # WANDB_SAVE_CODE=true wrote files/diff.patch
    assert run.started_at and abs(run.started_at - time.time()) < 86400
    assert run.size_bytes > run_log_size(run)
    assert run.reason is None and not run.partial


def test_exception_is_failed(indexed):
    run = indexed["failed"]
    assert (run.state, run.exit_code) == ("failed", 1)
    assert run.config_value("retriever.type") == "dense"
    assert run.dirty is None  # no WANDB_SAVE_CODE: unknown, not clean


def test_sigkill_mid_run_is_crashed_with_its_records(indexed):
    run = indexed["killed"]
    assert run.state == "crashed"
    assert run.exit_code is None
    assert run.project == "rag"  # the run record was flushed before the kill
    assert run.reason and run.reason.startswith("no exit record")


def test_sigkill_mid_run_is_running_while_fresh(sample_runs, tmp_path):
    # Within the grace period after its last write, a run whose processes
    # are gone still counts as running (test_runs_writers covers the rest).
    folder = tmp_path / sample_runs.folders["killed"].name
    shutil.copytree(sample_runs.folders["killed"], folder, symlinks=True)
    (log,) = folder.glob("*.wandb")
    os.utime(log)  # written just now
    # A generous stale_after: the session's runs may be older than 15 minutes.
    (run,) = load_runs([folder.parent], stale_after=10 * 86400.0)
    assert run.state == "running"


def test_early_kill_is_empty(indexed):
    run = indexed["early"]
    assert run.state == "empty"
    assert run.reason == "the log holds only its header"


def test_resumed_run_is_one_run_with_two_segments(indexed, sample_runs):
    run = indexed["resumed"]
    assert indexed["resumed-first"] is run
    assert run.id == "resumed01"
    assert run.segments == (
        str(sample_runs.folders["resumed-first"]),
        str(sample_runs.folders["resumed"]),
    )
    assert run.path == str(sample_runs.folders["resumed"])
    assert (run.state, run.exit_code) == ("finished", 0)
    assert run.summary["recall@5"] == 0.9
    assert "resumed: 2 folders" in (run.reason or "")


def test_second_project_under_a_nested_wandb_dir(indexed):
    assert indexed["other-project"].project == "rag-b"
    assert indexed["other-project"].state == "finished"


def test_synced_marker_makes_an_offline_run_synced(indexed):
    assert indexed["synced"].sync == "synced"
    assert indexed["finished"].sync == "unsynced"


def test_resumed_run_is_synced_only_when_every_segment_is(sample_runs, tmp_path):
    wandb_dir = tmp_path / "wandb"
    for name in ("resumed-first", "resumed"):
        shutil.copytree(
            sample_runs.folders[name], wandb_dir / sample_runs.folders[name].name
        )
    newest = wandb_dir / sample_runs.folders["resumed"].name
    (newest / "run-resumed01.wandb.synced").write_bytes(b"")
    (run,) = load_runs([wandb_dir])
    assert run.sync == "unsynced"
    oldest = wandb_dir / sample_runs.folders["resumed-first"].name
    (oldest / "run-resumed01.wandb.synced").write_bytes(b"")
    (run,) = load_runs([wandb_dir])
    assert run.sync == "synced"


def test_runs_are_newest_first(sample_runs):
    runs = load_runs(default_roots(sample_runs.repo, ["wandb"]))
    starts = [run.started_at for run in runs]
    assert starts == sorted(starts, reverse=True)


def test_running_process_is_running_even_when_stale(repo: Path):
    folder = wandbgen.write_run(repo, ending="running")
    try:
        (run,) = load_runs([folder.parent], stale_after=0.0)
        assert run.state == "running"  # header only so far, but its writer lives
    finally:
        wandbgen.kill_running()
    (run,) = load_runs([folder.parent], stale_after=0.0)
    assert run.state in ("empty", "crashed")


def test_cli_json_has_the_documented_keys(sample_runs, capsys, monkeypatch):
    monkeypatch.chdir(sample_runs.repo)
    assert main(["runs", "--json", "--stale-after", "0"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert {item["id"] for item in printed} >= {"resumed01"}
    for item in printed:
        assert item.keys() >= REQUIRED_KEYS
    assert len(printed) == len(sample_runs.folders) - 1  # resumed: two folders


def test_cli_filters(sample_runs, capsys, monkeypatch):
    monkeypatch.chdir(sample_runs.repo)
    main(["runs", "--json", "--stale-after", "0", "--state", "failed"])
    assert [r["state"] for r in json.loads(capsys.readouterr().out)] == ["failed"]
    main(["runs", "--json", "--sync", "synced"])
    assert [r["tags"] for r in json.loads(capsys.readouterr().out)] == [["synced"]]
    main(["runs", "--json", "--commit", sample_runs.commit[:8]])
    with_commit = json.loads(capsys.readouterr().out)
    assert with_commit and all(r["commit"] == sample_runs.commit for r in with_commit)
    main(["runs", "--json", "--commit", "0000000"])
    assert json.loads(capsys.readouterr().out) == []


def test_cli_table(sample_runs, capsys, monkeypatch):
    monkeypatch.chdir(sample_runs.repo)
    assert main(["runs", "--stale-after", "0"]) == 0
    out = capsys.readouterr().out
    header, *rows = out.splitlines()
    assert header.split() == ["ID", "NAME", "STATE", "SYNC", "COMMIT", "TAGS",
                              "METRICS", "AGE"]  # fmt: skip
    bm25 = next(row for row in rows if "bm25-k5" in row)
    assert "finished" in bm25 and sample_runs.commit[:7] in bm25
    assert "recall@5=0.81" in bm25 and "retriever:bm25,k=5" in bm25


def test_cli_outside_a_repository(sample_runs, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["runs"]) == 4
    assert "--dir" in capsys.readouterr().err
    wandb_dir = sample_runs.repo / "wandb"
    assert main(["runs", "--json", "--dir", str(wandb_dir)]) == 0
    assert len(json.loads(capsys.readouterr().out)) >= 5
    assert main(["runs", "--dir", str(tmp_path / "missing")]) == 6


def test_nothing_is_written_into_run_folders(sample_runs, tmp_path):
    copy = tmp_path / "wandb"
    shutil.copytree(sample_runs.repo / "wandb", copy, symlinks=True)
    before = _snapshot(copy)
    load_runs([copy], cache_dir=tmp_path / "cache", deep=True)
    load_runs([copy], cache_dir=tmp_path / "cache")
    assert _snapshot(copy) == before


def test_json_round_trips_every_run(sample_runs):
    for run in load_runs(default_roots(sample_runs.repo, ["wandb"])):
        assert json.loads(json.dumps(run_to_json(run)))["id"] == run.id


def run_log_size(run: Run) -> int:
    return sum(p.stat().st_size for p in Path(run.path).glob("*.wandb"))


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    found = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            info = os.lstat(os.path.join(folder, name))
            found[os.path.join(folder, name)] = (info.st_size, info.st_mtime_ns)
    return found


def _installed_wandb() -> str:
    from importlib.metadata import version

    return version("wandb")
