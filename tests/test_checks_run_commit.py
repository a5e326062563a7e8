"""run-commit: results reproducible from the remote."""

from __future__ import annotations

from pathlib import Path

from ragguard.checks import Context
from ragguard.checks.run_commit import MISSING, ORPHANED, UNPUSHED, check
from ragguard.config import DEFAULT_POLICY
from ragguard.runs.model import Run


def run(run_id: str, commit: str) -> Run:
    return Run(
        id=run_id,
        path=f"/r/wandb/run-20260101_000000-{run_id}",
        mode="online",
        state="finished",
        sync="unconfirmed",
        commit=commit,
    )


def test_lost_commits_warn_with_a_fix() -> None:
    a, b, c, d = "a" * 40, "b" * 40, "c" * 40, "d" * 40
    ctx = Context(
        stage="pre-push",
        policy=DEFAULT_POLICY,
        root=Path("/r"),
        branch="exp/a",
        remote="origin",
        runs=(run("gone", a), run("local", b), run("fine", d)),
        orphans=(run("amended", c),),
        lost_commits={a: MISSING, b: UNPUSHED, c: ORPHANED},
    )
    found = {f.subject: f for f in check(ctx)}
    assert set(found) == {"run gone", "run local", "run amended"}
    assert all(f.severity == "warn" for f in found.values())
    assert "not in this repository" in found["run gone"].message
    assert found["run local"].fix == f"git push origin {b}:refs/tags/ragguard/run-local"
    assert found["run amended"].fix == (
        f"git tag ragguard/run-amended {c} && "
        "git push origin refs/tags/ragguard/run-amended"
    )
    assert "amended or rebased" in found["run amended"].message
