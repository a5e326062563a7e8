"""Which runs belong to a branch, and to a push, in real repositories."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import ragguard.gitrepo
from conftest import git
from ragguard.config import DEFAULT_POLICY, Policy, WandbPolicy
from ragguard.gitrepo import Repo
from ragguard.runs.model import Run
from ragguard.selection import (
    branch_commits,
    pushed_commits,
    runs_of_branch,
    runs_of_push,
)


def commit(work: Path, name: str) -> str:
    (work / name).write_text(name + "\n")
    git(work, "add", "--", name)
    git(work, "commit", "-q", "-m", f"Add {name} to the experiment")
    return git(work, "rev-parse", "HEAD").stdout.strip()


def run(run_id: str, commit: str | None, **extra: Any) -> Run:
    return Run(
        id=run_id,
        path=f"wandb/offline-run-20260101_000000-{run_id}",
        mode="offline",
        state="finished",
        sync="unsynced",
        commit=commit,
        project=extra.pop("project", "rag"),
        **extra,
    )


@pytest.fixture
def branches(repo: Path) -> dict[str, str]:
    """main (pushed), exp/a with two commits, exp/b with one; exp/a unpushed."""
    ids = {"base": git(repo, "rev-parse", "HEAD").stdout.strip()}
    git(repo, "switch", "-q", "-c", "exp/a")
    ids["a1"] = commit(repo, "a1.txt")
    ids["a2"] = commit(repo, "a2.txt")
    git(repo, "switch", "-q", "-c", "exp/b", "main")
    ids["b1"] = commit(repo, "b1.txt")
    git(repo, "switch", "-q", "main")
    return ids


def test_runs_of_a_branch_are_its_own_commits_plus_named_runs(
    repo: Path, branches: dict[str, str]
) -> None:
    runs = [
        run("r-a2", branches["a2"]),
        run("r-a1", branches["a1"]),
        run("r-base", branches["base"]),
        run("r-b1", branches["b1"]),
        run("r-named", branches["base"], config={"git_branch": "exp/a"}),
        run("r-nocommit", None),
    ]
    found = runs_of_branch(Repo.discover(repo), "exp/a", runs, DEFAULT_POLICY)
    assert [r.id for r in found] == ["r-a2", "r-a1", "r-named"]
    found = runs_of_branch(Repo.discover(repo), "exp/b", runs, DEFAULT_POLICY)
    assert [r.id for r in found] == ["r-b1"]
    assert runs_of_branch(Repo.discover(repo), "gone", runs, DEFAULT_POLICY) == []


def test_only_the_policy_projects_count(repo: Path, branches: dict[str, str]) -> None:
    runs = [run("mine", branches["a1"]), run("other", branches["a1"], project="x")]
    policy = Policy(wandb=WandbPolicy(projects=("rag",)))
    found = runs_of_branch(Repo.discover(repo), "exp/a", runs, policy)
    assert [r.id for r in found] == ["mine"]


def test_the_default_is_compared_through_its_remote_tracking_ref(
    repo: Path, branches: dict[str, str]
) -> None:
    # A commit on local main that origin does not have yet counts for a
    # branch made from it: it is not on the team's default branch.
    local = commit(repo, "local-main.txt")
    git(repo, "switch", "-q", "-c", "exp/c")
    c1 = commit(repo, "c1.txt")
    found = Repo.discover(repo)
    assert branch_commits(found, "exp/c", DEFAULT_POLICY) == {c1, local}
    # The default branch's own runs: its commits not yet on the remote.
    assert branch_commits(found, "main", DEFAULT_POLICY) == {local}


def test_without_a_remote_the_local_default_is_the_base(tmp_path: Path) -> None:
    work = tmp_path / "solo"
    git(tmp_path, "init", "-q", str(work))
    commit(work, "base.txt")
    git(work, "switch", "-q", "-c", "exp/solo")
    mine = commit(work, "solo.txt")
    found = Repo.discover(work)
    assert branch_commits(found, "exp/solo", DEFAULT_POLICY) == {mine}
    assert branch_commits(found, "main", DEFAULT_POLICY) == set()


def test_a_new_branch_push_is_compared_with_what_the_remote_has(
    repo: Path, branches: dict[str, str]
) -> None:
    found = Repo.discover(repo)
    new = pushed_commits(found, branches["a2"], None, "origin")
    assert new == {branches["a1"], branches["a2"]}
    git(repo, "push", "-q", "origin", f"{branches['a1']}:refs/heads/exp/a")
    found = Repo.discover(repo)
    assert pushed_commits(found, branches["a2"], branches["a1"], "origin") == {
        branches["a2"]
    }
    # A push to a URL: no remote-tracking refs to subtract.
    assert pushed_commits(found, branches["a2"], None, None) == {
        branches["a2"],
        branches["a1"],
        branches["base"],
    }


def test_a_push_to_the_default_answers_for_the_runs_being_pushed(
    repo: Path, branches: dict[str, str]
) -> None:
    git(repo, "merge", "-q", "--ff-only", "exp/a")
    runs = [
        run("r-a2", branches["a2"]),
        run("r-base", branches["base"]),
        run("r-b1", branches["b1"]),
    ]
    found = Repo.discover(repo)
    selected, new = runs_of_push(
        found,
        local_oid=branches["a2"],
        remote_oid=branches["base"],
        remote="origin",
        branch="main",
        runs=runs,
        policy=DEFAULT_POLICY,
    )
    assert [r.id for r in selected] == ["r-a2"]
    assert new == {branches["a1"], branches["a2"]}


def test_a_push_of_a_branch_answers_for_its_runs(
    repo: Path, branches: dict[str, str]
) -> None:
    runs = [
        run("r-a1", branches["a1"]),
        run("named", None, config={"git_branch": "exp/a"}),
    ]
    selected, _ = runs_of_push(
        Repo.discover(repo),
        local_oid=branches["a2"],
        remote_oid=None,
        remote="origin",
        branch="exp/a",
        runs=runs,
        policy=DEFAULT_POLICY,
    )
    assert [r.id for r in selected] == ["r-a1", "named"]


def test_a_thousand_runs_cost_one_rev_list(
    repo: Path, branches: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = [
        run(f"r{n}", branches["a1"] if n % 2 else branches["base"]) for n in range(1000)
    ]
    found = Repo.discover(repo)
    found.refs  # noqa: B018  (warm: refs are shared by every fact)
    found.remotes  # noqa: B018
    calls: list[tuple[str, ...]] = []
    real = ragguard.gitrepo._run

    def counting(args: Any, **kwargs: Any) -> Any:
        calls.append(tuple(args))
        return real(args, **kwargs)

    monkeypatch.setattr(ragguard.gitrepo, "_run", counting)
    selected = runs_of_branch(found, "exp/a", runs, DEFAULT_POLICY)
    assert len(selected) == 500
    assert [c[0] for c in calls] == ["rev-list"]
