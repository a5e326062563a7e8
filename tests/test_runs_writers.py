"""A killed run is ``crashed`` as soon as this machine can tell its writers
are gone (real SIGKILLed runs: the user process and wandb-core)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import wandbgen
from ragguard.runs.folder import Segment, read_segment
from ragguard.runs.index import WRITER_GRACE, judge_state, load_runs, writers_dead

LONG = 10 * 86400.0  # a stale_after no session-made run can exceed


def _segment(folder: Path) -> Segment:
    return read_segment(str(folder))


def _wait_dead(segment: Segment, bound: float = 20.0) -> None:
    """wandb-core exits on its own shortly after its parent; wait for that."""
    deadline = time.monotonic() + bound
    while not writers_dead(segment):
        assert time.monotonic() < deadline, f"writers of {segment.path} still alive"
        time.sleep(0.1)


def test_killed_run_names_both_writers(sample_runs: wandbgen.SampleRuns):
    segment = _segment(sample_runs.folders["killed"])
    assert segment.pid and segment.core_pid and segment.pid != segment.core_pid
    assert segment.host == socket.gethostname()
    assert not segment.exit_seen and segment.log_size > 7


def test_sigkilled_run_is_crashed_within_stale_after(sample_runs):
    segment = _segment(sample_runs.folders["killed"])
    _wait_dead(segment)
    state, reason = judge_state(segment, time.time(), LONG, grace=0.0)
    assert state == "crashed"
    assert reason and reason.startswith("no exit record")
    assert f"its process {segment.pid} has exited" in reason


def test_grace_period_keeps_a_just_written_log_running(sample_runs):
    segment = _segment(sample_runs.folders["killed"])
    _wait_dead(segment)
    assert segment.log_mtime
    just_after = segment.log_mtime + WRITER_GRACE / 2
    assert judge_state(segment, just_after, LONG)[0] == "running"
    after = segment.log_mtime + WRITER_GRACE + 1
    assert judge_state(segment, after, LONG)[0] == "crashed"


def test_unknown_liveness_keeps_the_stale_after_rule(sample_runs, tmp_path):
    segment = _segment(sample_runs.folders["killed"])
    _wait_dead(segment)
    now = time.time()
    for unknown in (
        segment._replace(host="another-machine"),
        segment._replace(host=None),
        segment._replace(pid=None, core_pid=None),
    ):
        assert not writers_dead(unknown)
        assert judge_state(unknown, now, LONG, grace=0.0)[0] == "running"
        assert judge_state(unknown, now, 0.0, grace=0.0)[0] == "crashed"
    # A folder without its debug logs (copied without logs/): no pid known.
    copy = tmp_path / Path(segment.path).name
    shutil.copytree(segment.path, copy, symlinks=True)
    shutil.rmtree(copy / "logs")
    (run,) = load_runs([tmp_path], stale_after=LONG)
    assert run.state == "running"


def test_live_core_alone_is_not_known_dead(sample_runs):
    # A shared wandb-core (wandb.setup) outlives the user process that died;
    # this test process stands in for that live core.
    segment = _segment(sample_runs.folders["killed"])._replace(core_pid=os.getpid())
    assert not writers_dead(segment)
    assert judge_state(segment, time.time(), LONG, grace=0.0)[0] == "running"


def test_zombie_and_reused_pids_count_as_dead(sample_runs):
    segment = _segment(sample_runs.folders["killed"])
    _wait_dead(segment)
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 20
        while _proc_state(zombie.pid) != "Z":  # exited, not reaped yet
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert writers_dead(segment._replace(pid=zombie.pid))
    finally:
        zombie.wait()
    # A live process started long after the run began holds a reused pid.
    reused = segment._replace(pid=os.getpid(), started_at=1.0)
    assert writers_dead(reused)


def test_fresh_sigkilled_run_is_crashed_once_wandb_core_exits(repo: Path):
    folder = wandbgen.write_run(repo, ending="sigkill", kill_after=0.5)
    segment = _segment(folder)
    assert segment.core_pid is not None
    _wait_dead(segment)
    # The log does not change after the kill: no exit record is ever written.
    time.sleep(1.0)
    again = _segment(folder)
    assert (again.log_size, again.log_mtime) == (segment.log_size, segment.log_mtime)
    assert not again.exit_seen
    assert judge_state(again, time.time(), 900.0, grace=0.0)[0] == "crashed"


def test_live_writer_is_running_whatever_the_grace(repo: Path):
    folder = wandbgen.write_run(repo, ending="running")
    try:
        segment = _segment(folder)
        assert not writers_dead(segment)
        state, _reason = judge_state(segment, time.time() + 3600, 0.0, grace=0.0)
        assert state == "running"
    finally:
        wandbgen.kill_running()


def _proc_state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0].decode()
    except OSError:
        return "?"


pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc/self"), reason="liveness is read from Linux's /proc"
)
