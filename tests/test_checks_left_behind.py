"""left-behind: what a branch still owes when it is left."""

from __future__ import annotations

from pathlib import Path

from ragguard.checks import Context, LeftFacts
from ragguard.checks.left_behind import check
from ragguard.config import DEFAULT_POLICY
from ragguard.runs.model import Run


def verdict(left: LeftFacts, stage: str = "post-checkout", runs: tuple = ()) -> list:
    ctx = Context(
        stage=stage,
        policy=DEFAULT_POLICY,
        root=Path("/r"),
        branch=left.branch,
        left=left,
        runs=runs,
    )
    return check(ctx)


def test_nothing_owed() -> None:
    assert verdict(LeftFacts("exp/a", upstream="origin/exp/a", remote="origin")) == []
    assert verdict(LeftFacts("exp/new", remote="origin")) == []  # no commits of its own


def test_changes_carried_along() -> None:
    left = LeftFacts(
        "exp/a",
        changes=(" M a.py", "?? b.py", "M  c.py", " D d.py"),
        upstream="origin/exp/a",
        remote="origin",
    )
    [f] = verdict(left)
    assert (
        f.message == "4 uncommitted changes came along to this branch "
        "(a.py, b.py, c.py and 1 more)"
    )
    assert f.fix == "git switch exp/a && git add -A && git commit"
    [f] = verdict(left, stage="switch")
    assert "would come along" in f.message and f.fix == "git add -A && git commit"


def test_unpushed_commits_upstream_or_not() -> None:
    [f] = verdict(
        LeftFacts("exp/a", unpushed=2, upstream="origin/exp/a", remote="origin")
    )
    assert f.message == "2 commits are not on origin/exp/a"
    [f] = verdict(
        LeftFacts("exp/a", unpushed=1, upstream="origin/exp/a", remote="origin")
    )
    assert f.message == "1 commit is not on origin/exp/a"
    assert f.fix == "git push origin exp/a"
    [f] = verdict(LeftFacts("exp/ü b", unpushed=1, remote="origin"))
    assert f.message == "has no upstream; 1 commit is on no remote"
    assert f.fix == "git push -u origin 'exp/ü b'"
    [f] = verdict(LeftFacts("exp/a", unpushed=3, remote=None))
    assert "no remote" in f.message
    assert f.fix == "git remote add origin <url> && git push -u origin exp/a"


def test_runs_left_unfinished_or_unsynced() -> None:
    runs = (
        Run(
            id="r1",
            path="/r/wandb/offline-run-20260101_000000-r1",
            mode="offline",
            state="running",
            sync="unsynced",
        ),
        Run(
            id="r2",
            path="/r/wandb/offline-run-20260101_000000-r2",
            mode="offline",
            state="finished",
            sync="synced",
        ),
    )
    # Still running: it must end first; nothing suggests syncing it yet.
    leaving = verdict(LeftFacts("exp/a", remote="origin"), "switch", runs)
    assert [(f.subject, f.check) for f in leaving] == [("run r1", "left-behind")]
    assert leaving[0].severity == "block"
    assert leaving[0].message == "is still running; wait for it to end before you leave"
    assert "sync" not in leaving[0].fix
    # After the switch there is nothing to wait for: a report, not an order.
    (left,) = verdict(LeftFacts("exp/a", remote="origin"), runs=runs)
    assert left.severity == "warn" and "still running" in left.message
    assert left.fix == "let it end; it is checked again on your next push or switch"
