"""Which runs belong to a branch.

W&B records the commit of a run, never the branch. A branch's runs are the
runs whose commit is reachable from the branch tip and not from the default
branch (its remote-tracking ref when there is one), plus the runs whose config
names the branch in ``git_branch``. Reachability costs one ``git rev-list``
of the branch's own commits into a set, whatever the number of runs.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

from ragguard.config import Policy
from ragguard.gitrepo import HEADS, REMOTES, Repo
from ragguard.runs.model import Run


def local_runs(
    repo: Repo, policy: Policy, roots: Sequence[Path] | None = None
) -> list[Run]:
    """Every local run of the repository (under ``roots`` when the caller
    has found them already), through the run index's cache under the git
    common dir (the cache every hook and command shares)."""
    from ragguard.runs.index import default_roots, load_runs

    return load_runs(
        default_roots(repo.root, policy.wandb.dirs) if roots is None else roots,
        cache_dir=repo.common_dir / "ragguard",
        stale_after=policy.wandb.stale_after,
    )


def contained_in(repo: Repo, tip: str | None, commits: Collection[str]) -> set[str]:
    """The ``commits`` that ``tip``'s history contains. Walks from the commits
    until they meet that history instead of listing all of it: 4 ms instead of
    50 ms on 10,000 commits."""
    if tip is None:
        return set()
    present = repo.existing_commits(commits)
    if not present:
        return set()
    return present - set(repo.rev_list(sorted(present), [tip]))


def in_projects(runs: Iterable[Run], policy: Policy) -> list[Run]:
    """The runs of the policy's projects (all of them when none is listed)."""
    projects = policy.wandb.projects
    return [run for run in runs if not projects or run.project in projects]


def runs_on_commits(
    runs: Iterable[Run], commits: Collection[str], names: Collection[str] = ()
) -> list[Run]:
    """Runs whose commit is in ``commits`` or whose ``git_branch`` is in
    ``names``, in the order given."""
    return [
        run
        for run in runs
        if (run.commit and run.commit in commits) or (run.git_branch in names)
    ]


def branch_commits(repo: Repo, branch: str, policy: Policy) -> set[str]:
    """The commits that are the branch's own: reachable from its tip and not
    from the default branch's remote-tracking ref (else the local branch).

    For the default branch itself these are its commits not yet on the remote.
    """
    tip = repo.branch_oid(branch)
    if tip is None:
        return set()
    return set(repo.rev_list([tip], _base_tips(repo, branch, policy)))


def _base_tips(repo: Repo, branch: str, policy: Policy) -> list[str]:
    default = repo.default_branch(policy)
    remote = repo.primary_remote()
    tracking = repo.refs.get(f"{REMOTES}{remote}/{default}") if remote else None
    if branch == default:
        return [tracking.oid] if tracking else [repo.branch_oid(branch) or ""]
    if tracking:
        return [tracking.oid]
    local = repo.refs.get(HEADS + default)
    return [local.oid] if local else []


def runs_of_branch(
    repo: Repo, branch: str, runs: Sequence[Run], policy: Policy
) -> list[Run]:
    """The runs of ``branch``, newest first as in ``runs``."""
    commits = branch_commits(repo, branch, policy)
    return runs_on_commits(in_projects(runs, policy), commits, {branch})


def pushed_commits(
    repo: Repo, local_oid: str, remote_oid: str | None, remote: str | None
) -> set[str]:
    """The commits a push makes new on the remote: reachable from the pushed
    id and not from what the remote had (its old id of the ref when known,
    and every remote-tracking ref of the remote)."""
    exclude = repo.remote_tips(remote)
    if remote_oid and repo.existing_commits([remote_oid]):
        exclude.append(remote_oid)
    return set(repo.rev_list([local_oid], exclude))


def runs_of_push(
    repo: Repo,
    *,
    local_oid: str,
    remote_oid: str | None,
    remote: str | None,
    branch: str,
    runs: Sequence[Run],
    policy: Policy,
) -> tuple[list[Run], set[str]]:
    """The runs a push of ``branch`` (the remote's branch name) is answerable
    for, and the commits it makes new on the remote.

    A push to the default branch answers for the runs on the commits being
    pushed. Any other branch answers for its runs: commits reachable from the
    pushed id and not from the default branch, plus runs naming the branch.
    """
    new = pushed_commits(repo, local_oid, remote_oid, remote)
    if branch == repo.default_branch(policy):
        return runs_on_commits(in_projects(runs, policy), new), new
    base = _base_tips(repo, branch, policy)
    own = set(repo.rev_list([local_oid], base)) if base else new
    return runs_on_commits(in_projects(runs, policy), own, {branch}), new


def judged_commits(
    repo: Repo,
    *,
    local_oid: str,
    remote_oid: str | None,
    remote: str | None,
    branch: str,
    policy: Policy,
) -> set[str]:
    """The pushed commits whose making pre-push judges again: new on the
    remote and the branch's own. A first push of the default branch to an
    empty remote judges none: history made before the guard is not re-judged."""
    new = pushed_commits(repo, local_oid, remote_oid, remote)
    if not new:
        return set()
    base = _base_tips(repo, branch, policy)
    return new & set(repo.rev_list([local_oid], base)) if base else set()
