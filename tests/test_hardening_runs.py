"""Issue 8, situations 1-8: W&B run folders as users meet them.

Each test makes real offline runs with the installed wandb (``wandbgen``) in a
real repository with a bare remote, and drives real git with ragguard's hooks
installed where a hook is what the user meets.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import pytest
import wandb_server
from test_runs_crosscheck import proto_records

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
from wandblog import frame, write_log

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
    # Nothing at all, not only the next step: its run record (the commit) is
    # not written yet, and that must not make it a run "without a commit".
    shown = status(repo)
    assert "sync" not in shown.next
    assert not [f for f in shown.findings if "sync" in f.fix], shown.findings


def test_1_a_header_only_copy_of_an_old_run_is_empty(
    repo: Path, tmp_path: Path
) -> None:
    """A copy's mtime is fresh, but its folder name says when the run began:
    a header-only log begun days ago is not a run being written."""
    live = wandbgen.write_run(repo, ending="running", run_id="old00001")
    begun = time.strftime("%Y%m%d_%H%M%S", time.localtime(time.time() - 3 * 86400))
    copy = tmp_path / "old" / "wandb" / f"offline-run-{begun}-old00001"
    shutil.copytree(live, copy, ignore=shutil.ignore_patterns("logs"))
    assert _log(copy).stat().st_size == 7
    (run,) = load_runs([copy.parent])
    assert run.state == "empty", run.reason


def test_1_a_run_killed_in_its_first_seconds_is_empty(repo: Path) -> None:
    early = wandbgen.write_run(repo, ending="early-kill", run_id="early001")
    assert _log(early).stat().st_size == 7
    _until(lambda: _writers_gone(early), "wandb-core to exit")
    (run,) = load_runs([repo / "wandb"])  # a fresh log, its writers known dead
    assert run.state == "empty"


def test_a_core_log_shared_by_two_runs_gives_each_its_own_core(
    repo: Path, tmp_path: Path
) -> None:
    """wandb-core names its log by the second it started, so two runs begun
    in the same second link to one file holding both cores' socket lines;
    each run's writer is the core whose socket names that run's process."""
    first = wandbgen.write_run(repo, run_id="first001")
    second = wandbgen.write_run(repo, run_id="second01")
    own = read_segment(str(second))
    other = read_segment(str(first))
    assert own.core_pid and other.core_pid and own.core_pid != other.core_pid

    # The file both would have linked to: the first core's lines come first.
    shared = tmp_path / "core-debug-shared.log"
    shared.write_bytes(
        (first / "logs" / "debug-core.log").read_bytes()
        + (second / "logs" / "debug-core.log").read_bytes()
    )
    copy = tmp_path / "wandb" / second.name
    shutil.copytree(second, copy, symlinks=True)
    (copy / "logs" / "debug-core.log").unlink()
    (copy / "logs" / "debug-core.log").symlink_to(shared)
    seen = read_segment(str(copy))
    assert (seen.pid, seen.core_pid) == (own.pid, own.core_pid)


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


def test_2_a_run_synced_twice_by_wandb_warns_and_is_duplicated(
    repo: Path,
    server: wandb_server.Server,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The marker above is made by hand; here the real ``wandb sync`` makes it
    (against openwandb on loopback), and the server shows why the second
    upload earns its warning: it holds every logged point twice."""
    (repo / ".ragguard.yaml").write_text(
        f"wandb:\n  entity: {wandb_server.ENTITY}\n  project: twice\n"
    )
    wandbgen.write_run(
        repo, run_id="real0002", project="twice",
        history=[{"loss": 1.0 / (step + 1)} for step in range(5)],
    )  # fmt: skip
    monkeypatch.setenv("WANDB_BASE_URL", server.url)
    monkeypatch.setenv("WANDB_API_KEY", server.api_key)
    monkeypatch.chdir(repo)
    assert main(["sync", "--all"]) == 0
    assert capsys.readouterr().out.splitlines() == ["real0002 synced", "1 synced"]
    once = _points(server, "real0002")
    assert once == 5

    (run,) = load_runs([repo / "wandb"])
    assert (run.state, run.sync) == ("finished", "synced")
    assert plan([run]) == [] and run_checks("pre-push", _ctx(repo, (run,))) == []
    assert main(["sync", "--all"]) == 0
    assert capsys.readouterr().out.startswith("nothing to sync: ")
    assert _points(server, "real0002") == once

    assert main(["sync", "real0002"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "warning: real0002 is already synced; syncing it again can duplicate "
        "its data on the server: check W&B first",
        "real0002 synced",
        "1 synced",
    ]
    assert _points(server, "real0002") == 2 * once


def _points(server: wandb_server.Server, run_id: str) -> int:
    """How many ``loss`` points the server holds for the run."""
    url = f"{server.url}/api/v2/runs/{run_id}/metrics?key=loss"
    with urllib.request.urlopen(url, timeout=10) as response:
        return len(json.load(response)["metrics"])


# --- 3. finished, killed and live runs in one folder ---------------------------------


def test_3_only_ended_unsynced_runs_block_a_push(repo: Path) -> None:
    (repo / ".ragguard.yaml").write_text("wandb:\n  stale_after: 1s\n")
    _commit_doc(repo, "exp/a", "Document the BM25 retrieval experiment")
    _install(repo)
    with ThreadPoolExecutor(max_workers=4) as pool:
        jobs = [
            pool.submit(wandbgen.write_run, repo, run_id="done0003"),
            pool.submit(
                wandbgen.write_run, repo, run_id="fail0003", ending="exception"
            ),
            pool.submit(wandbgen.write_run, repo, run_id="kill0003", ending="sigkill"),
            pool.submit(wandbgen.write_run, repo, run_id="live0003", ending="running"),
        ]
        done, failed, killed, _live = (job.result() for job in jobs)
    _until(lambda: _quiet(_log(killed)), "the killed run's log to stay unchanged")

    states = {r.id: r.state for r in load_runs([repo / "wandb"], stale_after=1.0)}
    assert states == {"done0003": "finished", "fail0003": "failed",
                      "kill0003": "crashed", "live0003": "running"}  # fmt: skip
    pushed = git(repo, "push", "-u", "origin", "exp/a", check=False)
    text = _out(pushed)
    assert pushed.returncode == 1, text
    assert "ragguard pre-push: blocked by 2 problems, 3 warnings" in text
    assert "[runs-synced] run done0003: offline run is not synced to W&B" in text
    assert "[runs-synced] run fail0003: offline run is not synced to W&B" in text
    assert "[runs-finished] run fail0003: failed with exit code 1" in text
    assert "[runs-finished] run kill0003: crashed: no exit record" in text
    assert "[runs-finished] run live0003: is still running" in text
    killed_path = killed.relative_to(repo).as_posix()
    assert (
        f"rerun it; to dismiss it, keep what it logged: wandb sync {killed_path} "
        f"or delete it: rm -r -- {killed_path}" in text
    )

    _marker(done)
    _marker(failed)
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
        handle.write(frame(records[2:], size_at))
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

    # Kept in W&B, the run without a commit is dismissed: status stops naming it.
    _marker(no_commit)
    assert "nocom006" not in {f.subject.split()[1] for f in status(repo).findings}


# --- 7. a project or entity other than the policy's ---------------------------


def test_7_the_sync_command_names_project_and_entity(repo: Path) -> None:
    """Every printed ``wandb sync``: the unsynced runs' and the crashed one's."""
    (repo / ".ragguard.yaml").write_text(
        "wandb:\n  entity: team\n  project: rag\n  stale_after: 1s\n"
    )
    _commit_doc(repo, "exp/c", "Try a cross-encoder reranker")
    with ThreadPoolExecutor(max_workers=3) as pool:
        jobs = [
            pool.submit(wandbgen.write_run, repo, run_id="other007", project="rag-b"),
            pool.submit(wandbgen.write_run, repo, run_id="same0007", project="rag"),
            pool.submit(
                wandbgen.write_run, repo, run_id="kill0007", project="rag-b",
                ending="sigkill",
            ),
        ]  # fmt: skip
        other, same, killed = (job.result() for job in jobs)
    _until(lambda: _quiet(_log(killed)), "the killed run's log to stay unchanged")
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
    (crashed,) = [f for f in status(repo).findings if "kill0007" in f.subject]
    assert f"wandb sync -p rag -e team {killed.relative_to(repo)} or" in crashed.fix


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


@contextlib.contextmanager
def _kernel(repo: Path, script: str) -> Iterator[list[str]]:
    """A Python process that runs ``script`` in ``repo`` and lives on, as a
    notebook kernel or a sweep agent does; the words of its READY line.
    Killed at the end, as a kernel restart would."""
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=repo,
        env=wandbgen.run_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().split()[1:]
    finally:
        process.kill()
        process.wait(timeout=30)


def _read(repo: Path) -> dict[str, Run]:
    return {r.id: r for r in load_runs([repo / "wandb"], stale_after=0.0)}


def test_8_runs_left_open_in_a_notebook_say_so(repo: Path) -> None:
    with _kernel(repo, _NOTEBOOK) as (first, last):
        # finish() returns before wandb-core has always written the exit
        # record out: wait for it, as a user's next command would meet it.
        _until(lambda: _read(repo)[last].state == "finished", "the exit record")
        runs = _read(repo)
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
    (folder,) = (repo / "wandb").glob(f"*-{first}")
    _until(lambda: _writers_gone(folder), "wandb-core to exit")
    runs = _read(repo)
    assert (runs[first].state, runs[first].shared_with) == ("crashed", last)
    crashed = finish_finding(_ctx(repo, ()), runs[first], "runs-finished")
    assert crashed is not None
    assert crashed.message == (
        f"crashed: no exit record; run {last} ended in the same process, so this "
        "is a notebook run left open when the kernel restarted"
    )
    assert "rm -r -- wandb/" in crashed.fix


_SWEEP = textwrap.dedent(
    """
    import time, wandb
    for trial in range(2):  # as wandb.agent runs trials, one after the other
        run = wandb.init(project="rag", reinit="create_new")
        for step in range(100):
            run.log({"loss": 1.0 / (step + 1), "note": "x" * 1000})
        if trial == 0:
            run.finish()
    print("READY", run.id, flush=True)
    time.sleep(3600)
    """
)


def test_8_the_current_run_of_a_loop_in_one_process_is_simply_running(
    repo: Path,
) -> None:
    """A sweep agent runs its trials in one process, each begun after the
    previous one ended: the trial under way is running, not left open."""
    with _kernel(repo, _SWEEP) as (current,):
        _until(lambda: len(_read(repo)) == 2, "both trials' logs")
        (ended,) = [r for r in _read(repo).values() if r.id != current]
        _until(lambda: _read(repo)[ended.id].state == "finished", "the exit record")
        runs = _read(repo)
        assert runs[current].state == "running"
        assert runs[current].shared_with is None
        found = finish_finding(_ctx(repo, ()), runs[current], "runs-finished")
        assert found is not None and "notebook" not in found.message


def test_8_a_reused_pid_alone_does_not_make_a_notebook(
    repo: Path, tmp_path: Path
) -> None:
    """Two runs share a kernel only when both the user process and wandb-core
    match: pids are reused, and a later process with the first one's pid but
    its own wandb-core is another session, not a notebook left open."""
    # One after the other: wandb-core names its log by the second it started.
    killed = wandbgen.write_run(repo, run_id="kill0008", ending="early-kill")
    ended = wandbgen.write_run(repo, run_id="done0008")
    _until(lambda: _writers_gone(killed), "wandb-core to exit")
    root = tmp_path / "wandb"
    for folder in (killed, ended):
        shutil.copytree(folder, root / folder.name)  # links become files
    dead, later = read_segment(str(killed)), read_segment(str(ended))
    assert dead.pid and dead.core_pid and later.pid and later.core_pid
    assert dead.core_pid != later.core_pid
    _give_pid(root / ended.name, later.pid, dead.pid)
    copied = read_segment(str(root / ended.name))
    assert (copied.pid, copied.core_pid) == (dead.pid, later.core_pid)
    runs = {r.id: r for r in load_runs([root], stale_after=0.0)}
    assert runs["done0008"].state == "finished"
    assert runs["kill0008"].shared_with is None


def _give_pid(folder: Path, old: int, new: int) -> None:
    """Rewrite a run folder's logs as if its user process had had pid ``new``."""
    logs = folder / "logs"
    debug = (logs / "debug.log").read_text()
    debug = debug.replace(f":{old} [", f":{new} [")
    (logs / "debug.log").write_text(debug.replace(f"pid to {old}", f"pid to {new}"))
    core = (logs / "debug-core.log").read_text()
    (logs / "debug-core.log").write_text(core.replace(f"wandb-{old}-", f"wandb-{new}-"))
