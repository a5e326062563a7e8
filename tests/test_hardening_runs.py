"""Issue 8, situations 1-8: W&B run folders as users meet them.

Each test makes real offline runs with the installed wandb (``wandbgen``) in a
real repository with a bare remote, and drives real git with ragguard's hooks
installed where a hook is what the user meets.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import pytest
from test_runs_crosscheck import proto_records, write_log

import wandbgen
from conftest import git, run_ragguard
from ragguard.checks import Context, run_checks
from ragguard.checks._runs import finish_finding
from ragguard.cli import main
from ragguard.config import DEFAULT_POLICY
from ragguard.runs.folder import read_segment
from ragguard.runs.index import load_runs
from ragguard.runs.logfile import BLOCK, HEAD_MAX, read_log
from ragguard.runs.model import Run
from ragguard.status import status
from ragguard.sync import plan

pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc/self"), reason="writer liveness is read from /proc"
)


def _log(folder: Path) -> Path:
    return next(folder.glob("run-*.wandb"))


def _marker(folder: Path) -> None:
    """What ``wandb sync`` leaves behind (it needs a server these tests lack)."""
    log = _log(folder)
    log.with_name(log.name + ".synced").touch()


def _run_id(folder: Path) -> str:
    return folder.name.split("-", 3)[-1]


def _until(condition: Callable[[], bool], what: str, bound: float = 30.0) -> None:
    deadline = time.monotonic() + bound
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.1)


def _writers_gone(folder: Path) -> bool:
    """The run's user process and wandb-core have exited (read from /proc)."""
    segment = read_segment(str(folder))
    pids = [p for p in (segment.pid, segment.core_pid) if p]
    return bool(pids) and not any(_alive(pid) for pid in pids)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def _quiet(log: Path, seconds: float = 1.5) -> bool:
    return time.time() - log.stat().st_mtime >= seconds


def _ctx(root: Path, runs: tuple[Run, ...], stage: str = "pre-push") -> Context:
    return Context(
        stage=stage, policy=DEFAULT_POLICY, root=root, branch="exp/a", runs=runs
    )


def _out(done: subprocess.CompletedProcess[str]) -> str:
    return done.stdout + done.stderr


def _commit_doc(repo: Path, branch: str, message: str) -> None:
    git(repo, "switch", "-q", "-c", branch)
    doc = repo / "docs" / "branches" / f"{branch}.md"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(f"# {branch}\n\n## Goal\n\nLearn whether BM25 beats dense.\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)


def _install(repo: Path) -> None:
    done = run_ragguard(repo, "install")
    assert done.returncode == 0, _out(done)


# --- 1. a run still writing its 7-byte header ------------------------------------


def test_1_a_run_whose_log_is_only_its_header_is_running(
    repo: Path, tmp_path: Path
) -> None:
    live = wandbgen.write_run(repo, ending="running", run_id="live0001")
    assert _log(live).stat().st_size == 7  # wandb's first flush comes after ~15 s
    (run,) = load_runs([repo / "wandb"], stale_after=0.0)
    assert run.state == "running"  # its process is alive here

    # Seen from another machine over a shared disk: no process to look at.
    seen = tmp_path / "elsewhere" / "wandb" / live.name
    shutil.copytree(live, seen, ignore=shutil.ignore_patterns("logs"))
    (copy,) = load_runs([seen.parent])
    assert copy.state == "running", copy.reason

    found = [f for r in (run, copy) for f in run_checks("pre-push", _ctx(repo, (r,)))]
    assert [f.check for f in found] == ["runs-finished"] * 2
    for finding in found:
        assert finding.severity == "warn" and "still running" in finding.message
        assert "sync" not in finding.fix
    assert all((p.skip or "").startswith("still running") for p in plan([run, copy]))
    assert "sync" not in status(repo).next


def test_1_a_run_killed_in_its_first_seconds_is_empty(repo: Path) -> None:
    early = wandbgen.write_run(repo, ending="early-kill", run_id="early001")
    assert _log(early).stat().st_size == 7
    _until(lambda: _writers_gone(early), "wandb-core to exit")
    (run,) = load_runs([repo / "wandb"])  # a fresh log, its writers known dead
    assert run.state == "empty"


# --- 2. a run synced twice ----------------------------------------------------------


def test_2_a_synced_run_is_never_proposed_again_and_a_resync_warns(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = wandbgen.write_run(repo, run_id="twice002")
    _marker(folder)
    (run,) = load_runs([repo / "wandb"])
    assert (run.state, run.sync) == ("finished", "synced")
    assert plan([run]) == []
    assert run_checks("pre-push", _ctx(repo, (run,))) == []

    monkeypatch.chdir(repo)
    assert main(["sync", "--all"]) == 0
    assert capsys.readouterr().out == (
        "nothing to sync: this repository has no unsynced offline runs\n"
    )
    assert main(["sync", "--dry-run", "twice002"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        "warning: twice002 is already synced; syncing it again can duplicate "
        "its data on the server: check W&B first"
    )
    assert lines[1].startswith("twice002 would sync: wandb sync ")


# --- 3. finished, killed and live runs in one folder ---------------------------------


def test_3_only_ended_unsynced_runs_block_a_push(repo: Path) -> None:
    (repo / ".ragguard.yaml").write_text("wandb:\n  stale_after: 1s\n")
    _commit_doc(repo, "exp/a", "Document the BM25 retrieval experiment")
    _install(repo)
    with ThreadPoolExecutor(max_workers=3) as pool:
        jobs = [
            pool.submit(wandbgen.write_run, repo, run_id="done0003"),
            pool.submit(wandbgen.write_run, repo, run_id="kill0003", ending="sigkill"),
            pool.submit(wandbgen.write_run, repo, run_id="live0003", ending="running"),
        ]
        done, killed, _live = (job.result() for job in jobs)
    _until(lambda: _quiet(_log(killed)), "the killed run's log to stay unchanged")

    states = {r.id: r.state for r in load_runs([repo / "wandb"], stale_after=1.0)}
    assert states == {"done0003": "finished", "kill0003": "crashed",
                      "live0003": "running"}  # fmt: skip
    pushed = git(repo, "push", "-u", "origin", "exp/a", check=False)
    text = _out(pushed)
    assert pushed.returncode == 1, text
    assert "ragguard pre-push: blocked by 1 problem, 2 warnings" in text
    assert "[runs-synced] run done0003: offline run is not synced to W&B" in text
    assert "[runs-finished] run kill0003: crashed: no exit record" in text
    assert "[runs-finished] run live0003: is still running" in text
    killed_path = killed.relative_to(repo).as_posix()
    assert (
        f"rerun it; to dismiss it, keep what it logged: wandb sync {killed_path} "
        f"or delete it: rm -r -- {killed_path}" in text
    )

    _marker(done)
    pushed = git(repo, "push", "-u", "origin", "exp/a", check=False)
    assert pushed.returncode == 0, _out(pushed)

    # Kept in W&B, the crashed run is dismissed: nothing names it again, and
    # nothing proposes to sync it a second time (situation 2).
    _marker(killed)
    assert not [f for f in status(repo).findings if "kill0003" in f.subject]


# --- 4. a multi-GB log; run data staged; .gitignore without wandb/ -------------------


class _Counted:
    """A real open file that counts the bytes read from it."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.read_bytes += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.handle.seek(offset, whence)


def _frame(records: list[bytes], start: int) -> bytes:
    """``records`` as log chunks written from the block boundary ``start``."""
    assert start % BLOCK == 0
    out = bytearray()
    for record in records:
        first = True
        while True:
            room = BLOCK - len(out) % BLOCK
            if room < 7:
                out += b"\0" * room
                continue
            piece, record = record[: room - 7], record[room - 7 :]
            kind = (1 if not record else 2) if first else (4 if not record else 3)
            crc = zlib.crc32(bytes([kind]) + piece)
            out += crc.to_bytes(4, "little") + len(piece).to_bytes(2, "little")
            out += bytes([kind]) + piece
            first = False
            if not record:
                break
    return bytes(out)


def test_4_a_log_of_several_gigabytes_is_read_at_its_head_and_tail(
    repo: Path, tmp_path: Path
) -> None:
    source = wandbgen.write_run(repo, run_id="big00004", summary={"recall@5": 0.8})
    records = [r.SerializeToString() for r in proto_records(_log(source).read_bytes())]
    folder = tmp_path / "wandb" / source.name
    shutil.copytree(source, folder)
    size_at = 3 << 30  # 3 GiB, a sparse file: the middle takes no disk
    with _log(folder).open("wb") as handle:
        handle.write(write_log(records[:2]))  # header and run records
        handle.seek(size_at)
        handle.write(_frame(records[2:], size_at))
    size = _log(folder).stat().st_size
    assert size > size_at

    with _log(folder).open("rb", buffering=0) as raw:
        counted = _Counted(raw)
        result = read_log(counted, size)  # type: ignore[arg-type]
    assert result.facts.exit_seen and result.partial and not result.damage
    assert counted.read_bytes <= HEAD_MAX + 4 * BLOCK
    (run,) = load_runs([folder.parent])
    assert (run.state, run.summary["recall@5"]) == ("finished", 0.8)


def test_4_run_data_outside_gitignore_is_reported_and_blocked(repo: Path) -> None:
    (repo / ".gitignore").write_text("*.pyc\n")
    git(repo, "commit", "-q", "-am", "Ignore only compiled Python files")
    folder = wandbgen.write_run(repo, run_id="stage004")
    stray = repo / "results" / "run-stage004.wandb"
    stray.parent.mkdir()
    shutil.copy(_log(folder), stray)
    (repo / "train.py").write_text("print('bm25')\n")

    found = [f for f in status(repo).findings if f.check == "staged-runs"]
    assert [(f.subject, f.severity, f.fix) for f in found] == [
        ("wandb/", "warn", "printf '\\n%s\\n' /wandb/ >> .gitignore")
    ]
    assert "is not in .gitignore" in found[0].message

    _install(repo)
    git(repo, "add", "-A")
    blocked = git(repo, "commit", "-m", "Add the BM25 training script", check=False)
    text = _out(blocked)
    assert blocked.returncode == 1, text
    fixes = [line.split("fix: ", 1)[1] for line in text.splitlines() if "fix: " in line]
    assert sorted(fixes) == [
        "git rm -r -q --cached -- results/run-stage004.wandb && "
        "printf '\\n%s\\n' /results/run-stage004.wandb >> .gitignore",
        "git rm -r -q --cached -- wandb && printf '\\n%s\\n' /wandb/ >> .gitignore",
    ]
    for fix in fixes:
        subprocess.run(["sh", "-c", fix], cwd=repo, check=True)
    done = git(repo, "commit", "-m", "Add the BM25 training script", check=False)
    assert done.returncode == 0, _out(done)
    assert not [f for f in status(repo).findings if f.check == "staged-runs"]


# --- 5. where runs are looked for ---------------------------------------------


def test_5_runs_under_wandb_dir_and_dir_are_found_and_the_rest_not_checked(
    repo: Path, tmp_path: Path
) -> None:
    shared = tmp_path / "shared-runs"
    unusable = repo / "README.md" / "runs"  # under a file: wandb cannot make it
    env = dict(os.environ)
    with ThreadPoolExecutor(max_workers=3) as pool:
        jobs = [
            pool.submit(
                wandbgen.write_run, repo, run_id="wdir0005",
                env={**env, "WANDB_DIR": str(shared)},
            ),
            pool.submit(
                wandbgen.write_run, repo, run_id="nest0005",
                wandb_dir=repo / "experiments",
            ),
            pool.submit(
                wandbgen.write_run, repo, run_id="lost0005",
                env={**env, "WANDB_DIR": str(unusable)},
            ),
        ]  # fmt: skip
        found, nested, lost = (job.result() for job in jobs)
    assert found.parent == shared / "wandb"
    assert nested.parent == repo / "experiments" / "wandb"
    fallback = Path(env["TMPDIR"]) / "wandb"
    assert lost.parent == fallback  # wandb fell back to the temp folder

    listed = run_ragguard(repo, "runs", env={**env, "WANDB_DIR": str(shared)})
    lines = listed.stdout.splitlines()
    assert {line.split()[0] for line in lines[1:-1]} == {"wdir0005", "nest0005"}
    assert lines[-1] == (
        f"searched: wandb, $WANDB_DIR/wandb ({shared / 'wandb'}), "
        "*/wandb up to 3 levels down"
    )
    assert listed.stderr == ""

    blind = {**env, "WANDB_DIR": str(unusable)}
    listed = run_ragguard(repo, "runs", env=blind)
    not_checked = (
        f"{fallback}: wandb writes runs there when $WANDB_DIR ({unusable}) cannot "
        "be written; set WANDB_DIR to a writable folder inside the repository"
    )
    assert listed.stdout.splitlines()[-1] == f"not checked: {not_checked}"
    assert "lost0005" not in listed.stdout
    printed = run_ragguard(repo, "runs", "--json", env=blind)
    assert {r["id"] for r in json.loads(printed.stdout)} == {"nest0005"}
    assert printed.stderr == f"not checked: {not_checked}\n"
    shown = run_ragguard(repo, "status", env=blind)
    assert f"  not checked {not_checked}" in shown.stdout.splitlines()

    shutil.rmtree(repo / "experiments")
    empty = run_ragguard(repo, "status", env=env).stdout.splitlines()
    assert "  runs        none; searched wandb, */wandb up to 3 levels down" in empty


# --- 6. runs without a commit, and on an amended commit -----------------------


def test_6_a_run_without_commit_and_one_on_an_amended_commit_are_named(
    repo: Path, tmp_path: Path
) -> None:
    _commit_doc(repo, "exp/b", "Try chunk size 256 for retrieval")
    amended = git(repo, "rev-parse", "HEAD").stdout.strip()
    outside = tmp_path / "outside"
    outside.mkdir()
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [
            pool.submit(wandbgen.write_run, repo, run_id="amend006"),
            pool.submit(wandbgen.write_run, outside, run_id="nocom006"),
        ]
        _on_amended, made_outside = (job.result() for job in jobs)
    git(repo, "commit", "-q", "--amend", "-m", "Try chunk size 512 for retrieval")
    # Made on a cluster's scratch disk, say, then brought in to be synced.
    no_commit = repo / "wandb" / made_outside.name
    shutil.move(made_outside, no_commit)
    (run,) = [r for r in load_runs([repo / "wandb"]) if r.id == "nocom006"]
    assert run.commit is None

    by_id = {f.subject.split()[1]: f for f in status(repo).findings
             if f.check == "run-commit"}  # fmt: skip
    assert set(by_id) == {"amend006", "nocom006"}
    assert "which no branch contains (amended or rebased)" in by_id["amend006"].message
    assert by_id["amend006"].fix == (
        f"git tag ragguard/run-amend006 {amended} && "
        "git push origin refs/tags/ragguard/run-amend006"
    )
    shown = no_commit.relative_to(repo).as_posix()
    assert by_id["nocom006"].message.startswith("records no commit")
    assert by_id["nocom006"].fix == (
        f"keep it: wandb sync {shown} or delete it: rm -r -- {shown}; "
        "start runs from inside the repository"
    )

    _install(repo)
    pushed = _out(git(repo, "push", "-u", "origin", "exp/b", check=False))
    assert f"run amend006: records commit {amended[:12]}, which no branch" in pushed
    assert f"fix: {by_id['amend006'].fix}" in pushed


# --- 7. a project or entity other than the policy's ---------------------------


def test_7_the_sync_command_names_project_and_entity(repo: Path) -> None:
    (repo / ".ragguard.yaml").write_text("wandb:\n  entity: team\n  project: rag\n")
    _commit_doc(repo, "exp/c", "Try a cross-encoder reranker")
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = [
            pool.submit(wandbgen.write_run, repo, run_id="other007", project="rag-b"),
            pool.submit(wandbgen.write_run, repo, run_id="same0007", project="rag"),
        ]
        other, same = (job.result() for job in jobs)
    fixes = {
        f.subject.split()[1]: f.fix
        for f in status(repo).findings
        if f.check == "runs-synced"
    }
    # Offline runs record no entity: a plain `wandb sync` goes to the user's.
    assert fixes == {
        "other007": f"wandb sync -p rag -e team {other.relative_to(repo)}",
        "same0007": f"wandb sync -e team {same.relative_to(repo)}",
    }


# --- 8. several runs in one notebook cell --------------------------------------

_NOTEBOOK = textwrap.dedent(
    """
    import time, wandb
    first = wandb.init(project="rag", reinit="create_new")
    for step in range(100):  # enough to be flushed at once
        first.log({"loss": 1.0 / (step + 1), "note": "x" * 1000})
    last = wandb.init(project="rag", reinit="create_new")
    last.finish()
    print("READY", first.id, last.id, flush=True)
    time.sleep(3600)
    """
)


def test_8_runs_left_open_in_a_notebook_say_so(repo: Path) -> None:
    kernel = subprocess.Popen(
        [sys.executable, "-c", _NOTEBOOK],
        cwd=repo,
        env=wandbgen.run_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert kernel.stdout is not None
        _ready, first, last = kernel.stdout.readline().split()

        def read() -> dict[str, Run]:
            return {r.id: r for r in load_runs([repo / "wandb"], stale_after=0.0)}

        # finish() returns before wandb-core has always written the exit
        # record out: wait for it, as a user's next command would meet it.
        _until(lambda: read()[last].state == "finished", "the exit record")
        runs = read()
        assert (runs[last].state, runs[first].state) == ("finished", "running")
        assert runs[first].shared_with == last
        open_one = finish_finding(_ctx(repo, ()), runs[first], "runs-finished")
        assert open_one is not None
        assert open_one.message == (
            f"is still open: run {last} ended in the same process (a notebook?) "
            "but this one has no exit record until run.finish() is called on it "
            "or the kernel restarts"
        )
        assert open_one.fix == (
            "call run.finish() on it in the notebook (or restart the kernel)"
        )
    finally:
        kernel.kill()  # a kernel restart
        kernel.wait(timeout=30)
    (folder,) = (repo / "wandb").glob(f"*-{first}")
    _until(lambda: _writers_gone(folder), "wandb-core to exit")
    runs = {r.id: r for r in load_runs([repo / "wandb"], stale_after=0.0)}
    assert (runs[first].state, runs[first].shared_with) == ("crashed", last)
    crashed = finish_finding(_ctx(repo, ()), runs[first], "runs-finished")
    assert crashed is not None
    assert crashed.message == (
        f"crashed: no exit record; run {last} ended in the same process, so this "
        "is a notebook run left open when the kernel restarted"
    )
    assert "rm -r -- wandb/" in crashed.fix
