"""``ragguard sync`` against a real W&B-compatible server on loopback.

The server is openwandb (see ``wandb_server.py`` for the defaults it ships
with and how each is overridden), started once per session and stopped after.
The runs are real offline wandb runs; the uploads are the installed wandb's
own ``wandb sync``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import wandb_server

import wandbgen
from conftest import git, isolated, make_repo
from ragguard.cli import main
from ragguard.config import DEFAULT_POLICY
from ragguard.errors import Exit
from ragguard.runs.model import Run
from ragguard.sync import _judge, human_size, plan, sync_args


@pytest.fixture(scope="session")
def sync_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Branch ``exp/sync`` with a finished and a killed run; ``main`` with one."""
    base = tmp_path_factory.mktemp("sync-runs")
    with isolated(base / "home"):
        yield _make_repo(base)


def _make_repo(base: Path) -> Path:
    work = make_repo(base)
    wandbgen.write_run(work, run_id="onmain01", summary={"recall@5": 0.5})
    git(work, "switch", "-q", "-c", "exp/sync")
    git(work, "commit", "-q", "--allow-empty", "-m", "Try a dense retriever")
    wandbgen.write_run(
        work, run_id="finished", tags=["retriever:dense"], summary={"recall@5": 0.7}
    )
    killed = wandbgen.write_run(work, run_id="killed01", ending="sigkill")
    _wait_until_still(killed / "run-killed01.wandb")
    return work


def _wait_until_still(log: Path, quiet: float = 3.0, limit: float = 60.0) -> None:
    """Wait until the killed run's log has not changed for ``quiet`` seconds
    (wandb-core shuts down about 0.1 s after its parent dies)."""
    deadline = time.monotonic() + limit
    last = log.stat().st_mtime
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = log.stat().st_mtime
        if now == last and time.time() - now >= quiet:
            return
        last = now
    raise AssertionError(f"{log} is still being written after {limit} s")


@pytest.fixture
def work(
    sync_repo: Path,
    server: wandb_server.Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> Path:
    """A copy of the session repository, pointed at the server with its own
    project (named after the test) so that tests do not see each other's runs."""
    copy = tmp_path / "work"
    shutil.copytree(sync_repo, copy, symlinks=True)
    project = request.node.name.replace("_", "-")[:60]
    (copy / ".ragguard.yaml").write_text(_policy(project, stale_after="1s"))
    monkeypatch.setenv("WANDB_BASE_URL", server.url)
    monkeypatch.setenv("WANDB_API_KEY", server.api_key)
    monkeypatch.chdir(copy)
    return copy


def _policy(project: str, stale_after: str) -> str:
    # The killed run counts as running while its log is younger than
    # stale_after; 1s makes it crashed (and syncable) at once.
    return (
        f"wandb:\n  entity: {wandb_server.ENTITY}\n  project: {project}\n"
        f"  stale_after: {stale_after}\n"
    )


def _project(request: pytest.FixtureRequest) -> str:
    return request.node.name.replace("_", "-")[:60]


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def _markers(work: Path) -> set[str]:
    return {path.name for path in (work / "wandb").rglob("*.wandb.synced")}


# --- the server itself ------------------------------------------------------------


def test_the_server_listens_on_loopback_only(server: wandb_server.Server) -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux /proc/net/tcp")
    assert wandb_server.listening_addresses(server.port) == {"127.0.0.1"}
    assert not server.api_key.startswith("local0000")


# --- syncing --------------------------------------------------------------------------


def test_sync_uploads_the_branch_runs_one_by_one(
    work: Path, server: wandb_server.Server, capfd: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(work / "wandb")
    stamps = server.stamps("killed01", "finished", "onmain01")

    assert main(["sync"]) == 0

    out, err = capfd.readouterr()
    assert out.splitlines() == ["killed01 synced", "finished synced", "2 synced"]
    assert "run 1 of 2: killed01 (" in err and "run 2 of 2: finished (" in err
    assert " KB)" in err
    assert server.api_key not in out + err
    _assert_uploaded(server, stamps, {"killed01", "finished"})
    assert server.run("finished")["tags"] == ["retriever:dense"]  # type: ignore[index]
    assert _markers(work) == {"run-finished.wandb.synced", "run-killed01.wandb.synced"}
    after = _snapshot(work / "wandb")
    assert set(before) <= set(after), "ragguard sync deleted files"
    logs = [name for name in before if name.endswith(".wandb")]
    assert logs and all(after[name] == before[name] for name in logs)


def _assert_uploaded(
    server: wandb_server.Server, before: dict[str, str | None], uploaded: set[str]
) -> None:
    after = server.stamps(*before)
    changed = {run_id for run_id in before if after[run_id] != before[run_id]}
    assert changed == uploaded


def test_project_and_entity_come_from_the_policy(
    work: Path,
    server: wandb_server.Server,
    capfd: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    # A run id the server has never seen: openwandb files a run where it
    # first saw it.
    wandbgen.write_run(work, run_id="projpass", project="not-this-one")
    assert main(["sync", "projpass"]) == 0
    assert set(server.runs(_project(request))) == {"projpass"}
    assert server.runs("not-this-one") == {}


def test_a_run_that_may_still_run_is_skipped_with_the_reason(
    work: Path,
    server: wandb_server.Server,
    capfd: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    (work / ".ragguard.yaml").write_text(_policy(_project(request), "1h"))
    # Without its debug logs no writer pid is known, so only stale_after can
    # say the run is over: within the hour it may still be running elsewhere.
    for folder in (work / "wandb").glob("*-killed01"):
        for log in (folder / "logs").glob("debug*.log"):
            log.unlink()
    stamps = server.stamps("killed01", "finished")
    assert main(["sync"]) == 0
    lines = capfd.readouterr().out.splitlines()
    assert lines[0].startswith("killed01 skipped: still running: sync it after")
    assert lines[1:] == ["finished synced", "1 synced, 1 skipped"]
    _assert_uploaded(server, stamps, {"finished"})


def test_sync_again_has_nothing_to_do(
    work: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync"]) == 0
    capfd.readouterr()
    assert main(["sync"]) == 0
    assert "nothing to sync: branch exp/sync" in capfd.readouterr().out


def test_dry_run_uploads_nothing(
    work: Path,
    server: wandb_server.Server,
    capfd: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    stamps = server.stamps("killed01", "finished")
    assert main(["sync", "--dry-run"]) == 0
    out = capfd.readouterr().out
    assert "finished would sync: wandb sync" in out
    assert f"--project {_project(request)}" in out
    assert f"--entity {wandb_server.ENTITY}" in out
    assert out.splitlines()[-1] == "2 would sync"
    assert _markers(work) == set()
    _assert_uploaded(server, stamps, set())


def test_all_includes_other_branches(
    work: Path, server: wandb_server.Server, capfd: pytest.CaptureFixture[str]
) -> None:
    stamps = server.stamps("killed01", "finished", "onmain01")
    assert main(["sync", "--all"]) == 0
    assert capfd.readouterr().out.splitlines()[-1] == "3 synced"
    _assert_uploaded(server, stamps, {"killed01", "finished", "onmain01"})


def test_a_named_run_is_synced_even_when_marked(
    work: Path, server: wandb_server.Server, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", "finished"]) == 0
    stamps = server.stamps("finished", "killed01")
    assert main(["sync", "finished"]) == 0
    assert capfd.readouterr().out.splitlines()[-1] == "1 synced"
    _assert_uploaded(server, stamps, {"finished"})
    assert main(["sync", "nosuchrun"]) == Exit.BAD_INPUT
    assert "nosuchrun" in capfd.readouterr().err
    (folder,) = (work / "wandb").glob("offline-run-*-killed01")
    assert main(["sync", str(folder.relative_to(work))]) == 0
    assert capfd.readouterr().out.splitlines() == ["killed01 synced", "1 synced"]


def test_an_unreachable_server_fails_within_the_timeout(
    work: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WANDB_BASE_URL", f"http://127.0.0.1:{wandb_server.free_port()}")
    assert main(["sync", "--timeout", "4", "finished"]) == Exit.BLOCKED
    out = capfd.readouterr().out
    assert "finished failed: " in out and "no result within 4s" in out
    assert out.splitlines()[-1] == "1 failed"
    assert _markers(work) == set()


def test_not_logged_in_is_a_failure(
    work: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No credentials: the run fails with wandb's own reason, key-free."""
    monkeypatch.delenv("WANDB_API_KEY")
    assert main(["sync", "--timeout", "60", "finished"]) == Exit.BLOCKED
    out = capfd.readouterr().out
    assert "finished failed: " in out and "No API key configured" in out
    assert _markers(work) == set()


# --- planning, without the server -----------------------------------------------------


def _run(run_id: str, state: str, sync: str = "unsynced", mode: str = "offline") -> Run:
    return Run(
        id=run_id,
        path=f"/nowhere/offline-run-x-{run_id}",
        mode=mode,  # type: ignore[arg-type]
        state=state,  # type: ignore[arg-type]
        sync=sync,  # type: ignore[arg-type]
        reason="log is 7 bytes" if state == "empty" else None,
    )


def test_plan_skips_running_empty_and_unreadable_runs_with_a_reason() -> None:
    planned = plan([_run("r", "running"), _run("e", "empty"), _run("u", "unreadable")])
    reasons = {item.run.id: item.skip for item in planned}
    assert reasons["r"] is not None and reasons["r"].startswith("still running")
    assert reasons["e"] == (
        "empty: its log holds no records, there is nothing to upload (log is 7 bytes)"
    )
    assert reasons["u"] == "unreadable"


def test_plan_leaves_out_synced_and_online_runs_unless_named() -> None:
    runs = [
        _run("s", "finished", sync="synced"),
        _run("o", "finished", "unconfirmed", "online"),
    ]
    assert plan(runs) == []
    assert [item.run.id for item in plan(runs, explicit=True)] == ["s", "o"]


def test_sync_args_pass_project_and_entity_from_the_policy() -> None:
    from dataclasses import replace

    policy = replace(
        DEFAULT_POLICY,
        wandb=replace(DEFAULT_POLICY.wandb, project="rag", entity="team"),
    )
    args = sync_args(Path("/w/offline-run-x"), policy)
    assert args[-1] == "/w/offline-run-x"
    assert args[args.index("--project") + 1] == "rag"
    assert args[args.index("--entity") + 1] == "team"
    assert "--project" not in sync_args(Path("/w/x"), DEFAULT_POLICY)


def test_judge_needs_the_finish_line_and_the_marker(tmp_path: Path) -> None:
    finished = "wandb: [rag/abc] Finished syncing wandb/offline-run-x\n"
    assert _judge(tmp_path, 0, finished) == "wandb sync did not mark the run synced"
    assert "did not report finishing" in str(_judge(tmp_path, 0, "wandb: Syncing\n"))
    assert "not logged in" in str(_judge(tmp_path, 0, "wandb: Not authenticated.\n"))
    assert "exited 2" in str(_judge(tmp_path, 2, "Error: No such option\n"))
    (tmp_path / "run-abc.wandb").write_bytes(b"")
    (tmp_path / "run-abc.wandb.synced").write_bytes(b"")
    assert _judge(tmp_path, 0, finished) is None
    error = "wandb: \x1b[41mERROR\x1b[0m upload failed\n" + finished
    assert _judge(tmp_path, 0, error) == "wandb sync reported: ERROR upload failed"


def test_human_size() -> None:
    assert [human_size(n) for n in (0, 999, 1000, 1_234_567, 5 * 10**12)] == [
        "0 B",
        "999 B",
        "1.0 KB",
        "1.2 MB",
        "5000.0 GB",
    ]
