"""Bad input: every odd folder becomes a run with a state and a one-line reason."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest
from test_runs_crosscheck import proto_records

import wandbgen
from ragguard.runs.index import find_run_folders, load_runs, run_to_json
from ragguard.runs.logfile import BLOCK, read_log
from wandblog import write_log


@pytest.fixture
def wandb_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "wandb"
    folder.mkdir()
    return folder


def _copy(sample_runs: wandbgen.SampleRuns, case: str, wandb_dir: Path) -> Path:
    source = sample_runs.folders[case]
    target = wandb_dir / source.name
    shutil.copytree(source, target, symlinks=True)
    return target


def _log(folder: Path) -> Path:
    return next(folder.glob("*.wandb"))


def _only_run(wandb_dir: Path, **kwargs: float):
    (run,) = load_runs([wandb_dir], **kwargs)
    assert run.reason is None or "\n" not in run.reason
    return run


def test_zero_byte_log_is_empty(sample_runs, wandb_dir):
    folder = _copy(sample_runs, "finished", wandb_dir)
    _log(folder).write_bytes(b"")
    run = _only_run(wandb_dir)
    assert (run.state, run.reason) == ("empty", "the log is 0 bytes")


def test_garbage_is_unreadable(sample_runs, wandb_dir):
    folder = _copy(sample_runs, "finished", wandb_dir)
    _log(folder).write_bytes(os.urandom(5000))
    run = _only_run(wandb_dir)
    assert run.state == "unreadable"
    assert run.reason == "not a W&B transaction log (bad header)"


def test_checksum_mismatch_in_the_middle_is_reported(sample_runs, wandb_dir):
    folder = _copy(sample_runs, "finished", wandb_dir)
    data = bytearray(_log(folder).read_bytes())
    data[len(data) // 2] ^= 0xFF
    _log(folder).write_bytes(bytes(data))
    run = _only_run(wandb_dir)
    assert run.state == "finished"  # the exit record after the damage still counts
    assert "checksum mismatch at offset" in (run.reason or "")


def test_damaged_run_record_is_unreadable(sample_runs, wandb_dir):
    folder = _copy(sample_runs, "finished", wandb_dir)
    data = bytearray(_log(folder).read_bytes())
    run_at = 7 + 7 + data[11]  # the header record's chunk, then the run record's
    data[run_at + 20] ^= 0xFF
    _log(folder).write_bytes(bytes(data))
    run = _only_run(wandb_dir)
    assert run.state == "unreadable"
    assert run.reason == f"no run record: checksum mismatch at offset {run_at}"


def test_zeroed_log_is_unreadable(sample_runs, wandb_dir):
    folder = _copy(sample_runs, "finished", wandb_dir)
    data = bytearray(_log(folder).read_bytes())
    data[7:] = bytes(len(data) - 8) + b"x"
    _log(folder).write_bytes(bytes(data))
    run = _only_run(wandb_dir)
    assert (run.state, run.reason) == (
        "unreadable", "no record decodes: zeroed bytes at offset 7",
    )  # fmt: skip


def test_truncated_log_is_crashed_with_the_reason(sample_runs, wandb_dir):
    folder = _copy(sample_runs, "finished", wandb_dir)
    data = _log(folder).read_bytes()
    _log(folder).write_bytes(data[:-5])  # SIGKILL in the middle of a write
    run = _only_run(wandb_dir, stale_after=0.0)
    assert run.state == "crashed"
    assert "log ends inside a record at offset" in run.reason


def test_truncated_inside_a_multi_block_record(sample_runs):
    data = _log(sample_runs.folders["finished"]).read_bytes()
    records = [r.SerializeToString() for r in proto_records(data)]
    big_config = records[1] + b"\x2a" + bytes([0x80, 0x80, 0x04]) + b"x" * 65536
    log = write_log(records[:2] + [big_config])  # one record over three blocks
    assert read_log(io.BytesIO(log), len(log), deep=True).damage == []
    cut = log[: 2 * BLOCK + 100]
    result = read_log(io.BytesIO(cut), len(cut), deep=True)
    assert result.truncated
    begun = len(write_log(records[:2]))
    assert result.damage == [f"log ends inside a record at offset {begun}"]
    assert result.facts.run_seen


def test_header_only_log_is_empty(sample_runs, wandb_dir):
    folder = _copy(sample_runs, "early", wandb_dir)
    assert _log(folder).stat().st_size == 7
    assert _only_run(wandb_dir).state == "empty"


def test_log_shorter_than_its_header(sample_runs, wandb_dir):
    folder = _copy(sample_runs, "finished", wandb_dir)
    _log(folder).write_bytes(b":W&")
    run = _only_run(wandb_dir)
    assert (run.state, run.reason) == ("empty", "the log is shorter than its header")


def test_folder_with_only_debug_log(wandb_dir):
    folder = wandb_dir / "run-20250101_000000-abcd1234" / "logs"
    folder.mkdir(parents=True)
    (folder / "debug.log").write_text("2025-01-01 INFO Current SDK version is 0.19.3\n")
    run = _only_run(wandb_dir)
    assert (run.id, run.state, run.mode) == ("abcd1234", "empty", "online")
    assert run.wandb_version == "0.19.3"
    assert "only debug logs" in run.reason


def test_folder_without_a_log_but_with_files(wandb_dir):
    files = wandb_dir / "offline-run-20250101_000000-efgh5678" / "files"
    files.mkdir(parents=True)
    (files / "wandb-metadata.json").write_text(
        '{"git": {"commit": "abc123", "remote": "https://example.com/r.git"}}'
    )
    run = _only_run(wandb_dir)
    assert (run.state, run.sync, run.commit) == ("empty", "unsynced", "abc123")
    assert "no transaction log" in run.reason


def test_pre_010_folder(wandb_dir):
    folder = wandb_dir / "dryrun-20191220_140406-meifn9da"
    folder.mkdir()
    (folder / "wandb-metadata.json").write_text(
        '{"state": "finished", "exitcode": 0, "project": "p",'
        ' "startedAt": "2019-12-20T14:04:07", "heartbeatAt": "2019-12-20T14:05:07"}'
    )
    (folder / "config.yaml").write_text(
        "wandb_version: 1\n_wandb:\n  desc: null\n  value:\n    cli_version: 0.8.19\n"
        "lr:\n  desc: null\n  value: 0.1\n"
    )
    run = _only_run(wandb_dir)
    assert (run.state, run.mode, run.sync, run.exit_code) == (
        "finished", "legacy", "unsynced", 0,
    )  # fmt: skip
    assert run.config == {"lr": 0.1}
    assert run.wandb_version == "0.8.19"
    assert run.runtime_s == 60.0


def test_log_that_cannot_be_opened_is_unreadable(sample_runs, wandb_dir):
    folder = _copy(sample_runs, "finished", wandb_dir)
    log = _log(folder)
    log.unlink()
    log.mkdir()  # a directory where the log should be: open() fails even as root
    run = _only_run(wandb_dir)
    assert run.state == "unreadable"
    assert run.reason.startswith("cannot read run-")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without permission")
def test_log_without_permission_is_unreadable(sample_runs, wandb_dir):
    folder = _copy(sample_runs, "finished", wandb_dir)
    _log(folder).chmod(0)
    run = _only_run(wandb_dir)
    assert run.state == "unreadable"


def test_symlink_loops_and_latest_run_are_not_followed(sample_runs, wandb_dir):
    folder = _copy(sample_runs, "finished", wandb_dir)
    (wandb_dir / "latest-run").symlink_to(folder.name)
    (wandb_dir / "loop").symlink_to(wandb_dir)
    (folder / "files" / "again").symlink_to(folder)
    nested = wandb_dir / "nested"
    nested.mkdir()
    (nested / "up").symlink_to("..")
    assert find_run_folders(wandb_dir) == [str(folder)]
    assert _only_run(wandb_dir).state == "finished"


def test_copied_latest_run_directory_merges_with_its_original(sample_runs, wandb_dir):
    folder = _copy(sample_runs, "finished", wandb_dir)
    shutil.copytree(folder, wandb_dir / "latest-run", symlinks=True)
    run = _only_run(wandb_dir)
    assert run.segments == (str(folder),)


def test_copied_latest_run_alone_is_still_a_run(sample_runs, wandb_dir):
    source = sample_runs.folders["finished"]
    shutil.copytree(source, wandb_dir / "latest-run", symlinks=True)
    run = _only_run(wandb_dir)
    assert run.state == "finished"
    assert run.id == source.name.rsplit("-", 1)[1]


def test_names_that_are_not_utf8(sample_runs, wandb_dir):
    source = sample_runs.folders["finished"]
    target = os.path.join(os.fsencode(wandb_dir), b"run-20250101_000000-\xff\xfeid")
    shutil.copytree(os.fsencode(source), target, symlinks=True)
    cache_dir = wandb_dir.parent / "cache"
    (run,) = load_runs([wandb_dir], cache_dir=cache_dir)
    assert run.state == "finished"
    assert load_runs([wandb_dir], cache_dir=cache_dir) == [run]  # from the cache
    assert (
        run.reason == "the folder's path is not valid UTF-8 (shown with replacements)"
    )
    assert "\ufffd" in run_to_json(run)["path"]
    json.dumps(run_to_json(run), ensure_ascii=False).encode("utf-8")


def test_ids_with_colons_in_folder_names(sample_runs, wandb_dir):
    source = sample_runs.folders["failed"]
    shutil.copytree(source, wandb_dir / "run-20220919_191541-2022-09-19-19:15:41")
    run = _only_run(wandb_dir)
    assert run.state == "failed"


def test_dir_that_is_itself_a_run_folder(sample_runs):
    folder = sample_runs.folders["finished"]
    (run,) = load_runs([folder])
    assert run.path == str(folder)


def test_mid_log_config_is_missed_fast_and_read_deep(sample_runs, wandb_dir, capsys):
    """The documented caveat of the fast path, and what --deep does about it."""
    from wandb.proto import wandb_internal_pb2 as pb

    from ragguard.cli import main

    folder = _copy(sample_runs, "finished", wandb_dir)
    records = [r.SerializeToString() for r in proto_records(_log(folder).read_bytes())]
    mid = pb.Record()
    mid.config.update.add(key="reranker", value_json='"cross-encoder"')
    filler = [records[4]] * 20000  # a few MB of repeated records
    _log(folder).write_bytes(
        write_log(
            records[:4] + filler + [mid.SerializeToString()] + filler + records[4:]
        )
    )
    fast = _only_run(wandb_dir)
    assert fast.partial and "reranker" not in fast.config
    assert fast.state == "finished" and fast.config_value("retriever.k") == 5
    deep = load_runs([wandb_dir], deep=True)[0]
    assert not deep.partial and deep.config["reranker"] == "cross-encoder"
    assert main(["runs", "--dir", str(wandb_dir)]) == 0
    table = capsys.readouterr().out
    assert "finished*" in table and "--deep reads everything" in table
