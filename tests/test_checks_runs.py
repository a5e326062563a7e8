"""runs-finished, runs-synced and run-metadata on the branch's runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ragguard.checks import Context, run_metadata, runs_finished, runs_synced
from ragguard.config import DEFAULT_POLICY, parse_policy
from ragguard.runs.model import Run

ROOT = Path("/repo")


def run(
    run_id: str, state: str = "finished", sync: str = "unsynced", **extra: Any
) -> Run:
    return Run(
        id=run_id,
        path=str(ROOT / "wandb" / f"offline-run-20260101_000000-{run_id}"),
        mode=extra.pop("mode", "offline"),
        state=state,
        sync=sync,  # type: ignore[arg-type]
        **extra,
    )


def ctx(*runs: Run, policy=DEFAULT_POLICY) -> Context:
    return Context(
        stage="pre-push", policy=policy, root=ROOT, branch="exp/a", runs=runs
    )


def test_runs_finished_by_state() -> None:
    found = runs_finished.check(
        ctx(
            run("ok"),
            run("live", "running"),
            run("dead", "crashed"),
            run("bad", "failed", exit_code=1),
            run("void", "empty", reason="header only"),
            run("junk", "unreadable", reason="bad crc"),
        )
    )
    by_id = {f.subject.split()[1]: f for f in found}
    assert "ok" not in by_id
    # A push carries code, not results: a live run warns there, and blocks
    # only leaving the branch (tests/test_hardening_runs.py).
    assert by_id["live"].severity == "warn" and "still running" in by_id["live"].message
    assert by_id["live"].fix.startswith("nothing to do now")
    assert by_id["dead"].severity == "warn"
    assert "wandb sync wandb/offline-run-20260101_000000-dead" in by_id["dead"].fix
    assert "exit code 1" in by_id["bad"].message
    assert by_id["bad"].fix.startswith(
        "read wandb/offline-run-20260101_000000-bad/files/"
    )
    assert by_id["void"].fix == "rm -r -- wandb/offline-run-20260101_000000-void"
    assert "bad crc" in by_id["junk"].message


def test_a_policy_can_make_a_push_wait_for_running_runs() -> None:
    policy = parse_policy("checks:\n  runs-finished: {pre-push: block}\n")
    (found,) = runs_finished.check(ctx(run("live", "running"), policy=policy))
    assert found.severity == "block"
    assert found.fix.startswith("wait for the process writing wandb/offline-run-")


def test_runs_synced_gives_the_exact_sync_command() -> None:
    found = runs_synced.check(
        ctx(
            run("off"),
            run("done", sync="synced"),
            run(
                "online",
                sync="unconfirmed",
                mode="online",
                entity="team",
                project="rag",
            ),
            run("void", "empty"),
            run("live", "running"),
        )
    )
    by_id = {f.subject.split()[1]: f for f in found}
    assert set(by_id) == {"off", "online"}  # a live run has nothing final yet
    assert by_id["off"].severity == "block"
    assert by_id["off"].fix == "wandb sync wandb/offline-run-20260101_000000-off"
    assert by_id["online"].severity == "warn"
    assert "https://wandb.ai/team/rag/runs/online" in by_id["online"].fix


def test_run_paths_with_spaces_are_quoted() -> None:
    odd = Run(
        id="q",
        path="/repo/my runs/offline-run-20260101_000000-q",
        mode="offline",
        state="finished",
        sync="unsynced",
    )
    [finding] = runs_synced.check(ctx(odd))
    assert finding.fix == "wandb sync 'my runs/offline-run-20260101_000000-q'"


def test_run_metadata() -> None:
    policy = parse_policy(
        "runs:\n  require_tags: ['retriever:*']\n"
        "  require_config: [retriever.k, chunk]\n"
    )
    good = run(
        "good", tags=("retriever:bm25",), config={"retriever": {"k": 5}, "chunk": 9}
    )
    dotted = run(
        "dot", tags=("retriever:dense",), config={"retriever.k": 5, "chunk": 1}
    )
    bad = run(
        "bad",
        tags=("x",),
        config={"retriever": {}},
        sync="synced",
        entity="team",
        project="rag",
    )
    found = run_metadata.check(
        ctx(good, dotted, bad, run("void", "empty"), policy=policy)
    )
    assert len(found) == 1
    [f] = found
    assert f.subject == "run bad" and f.severity == "block"
    assert "tags matching 'retriever:*'" in f.message
    assert "config keys retriever.k, chunk" in f.message
    assert 'tags=["retriever:<value>"]' in f.fix
    assert "RAGGUARD_SKIP=run-metadata" in f.fix  # the local log never changes
    assert run_metadata.check(ctx(bad)) == []  # nothing required by default
