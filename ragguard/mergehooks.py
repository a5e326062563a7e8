"""The merge moments: the gate in ``pre-merge-commit`` and ``pre-push``, and
validation in ``post-merge``.

git runs ``pre-merge-commit`` only for a merge that makes a commit, never for
a fast-forward: ``pre-push`` of the protected branch and ``ragguard gate`` in
CI catch those. ``post-merge`` cannot undo a merge; see
:mod:`ragguard.validate` for how a failure is kept in view.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from ragguard.checks import Context, Finding
from ragguard.config import Policy
from ragguard.errors import Exit, RagguardError

if TYPE_CHECKING:
    from ragguard.gitrepo import Repo
    from ragguard.hooks import Hook
    from ragguard.runs.model import Run


def gate_policy(hook: Hook, target_commit: str | None) -> Policy:
    """The policy the target branch holds at ``target_commit``: a merge
    cannot bring the rules that judge it (nor switch the gate off). A target
    without a policy file has the defaults, which name no merge metric."""
    from ragguard.config import DEFAULT_POLICY
    from ragguard.gate import target_policy

    if target_commit is None:
        return hook.policy
    return target_policy(hook.repo, target_commit) or DEFAULT_POLICY


def wants_gate(hook: Hook, policy: Policy, branch: str | None, stage: str) -> bool:
    """Whether a change to ``branch`` is judged by the merge gate."""
    skipped = {"merge-gate", "all"} & hook.skip.checks
    return bool(
        branch
        and policy.branches.is_protected(branch)
        and policy.severity("merge-gate", stage) != "off"
        and policy.merge.metric
        and not skipped
    )


def gate_findings(ctx: Context, stage: str) -> list[Finding]:
    """The merge-gate check on ``ctx`` (whose policy is the target's), with
    the severity that policy gives it at ``stage``."""
    from ragguard.checks import cap, merge_gate

    configured = ctx.policy.severity("merge-gate", stage)
    return [
        replace(f, severity=cap(f.severity, configured)) for f in merge_gate.check(ctx)
    ]


def runs_reachable(hook: Hook, tips: list[str], exclude: list[str]) -> list[Run]:
    """The policy's runs whose commit is reachable from ``tips`` only."""
    from ragguard.selection import contained_in, in_projects, runs_on_commits

    mine = in_projects(hook.runs(), hook.policy)
    if len(tips) == 1 and not exclude:  # a whole history: walk from the runs
        run_commits = {run.commit for run in mine if run.commit}
        commits = contained_in(hook.repo, tips[0], run_commits)
    else:
        commits = set(hook.repo.rev_list(tips, exclude)) if tips else set()
    return runs_on_commits(mine, commits)


def push_gate(
    hook: Hook, ctx: Context, local_oid: str, target_tip: str | None
) -> list[Finding]:
    """The merge gate for a push to a protected branch, by the policy the
    remote's branch holds: the runs on every commit the push adds to it (also
    those the remote has on other branches: an experiment pushed before it
    was merged) against the runs it already has (``target_tip``)."""
    policy = gate_policy(hook, target_tip)
    if not wants_gate(hook, policy, ctx.branch, "pre-push"):
        return []
    excluded = [target_tip] if target_tip else []
    merged = runs_reachable(hook, [local_oid], excluded)
    baseline = runs_reachable(hook, [target_tip], []) if target_tip else []
    gated = replace(
        ctx, policy=policy, merge_runs=tuple(merged), target_runs=tuple(baseline)
    )
    return gate_findings(gated, "pre-push")


def pre_merge_commit(hook: Hook, argv: list[str], stdin: str) -> int:
    """Gate a merge into a protected branch before git makes its commit."""
    from ragguard.hooks import finish

    return finish(hook, merge_findings(hook))


def merge_findings(hook: Hook) -> list[Finding]:
    """The merge gate's findings for the merge under way, if any. Also run
    by pre-commit: a merge stopped by a conflict (or by this gate) is
    finished with `git commit`, which runs no pre-merge-commit hook."""
    stage = "pre-merge-commit"
    ctx = _merge_context(hook, stage)
    return [] if ctx is None else gate_findings(ctx, stage)


def _merge_context(hook: Hook, stage: str) -> Context | None:
    from ragguard.hooks import doc_state

    repo = hook.repo
    target = repo.current_branch()
    policy = gate_policy(hook, repo.head_oid)  # HEAD is the target, pre-merge
    wanted = wants_gate(hook, policy, target, stage)
    head = merge_head(repo, hook.env) if wanted else None
    if head is None or repo.head_oid is None or _is_upstream(repo, head, target):
        return None  # no merge, or `git pull` of the branch itself
    name = _branch_at(repo, head, target)
    head_runs = runs_reachable(hook, [head], [repo.head_oid])
    if name:
        head_runs += [r for r in hook.runs() if r.git_branch == name]
    merged = tuple({run.id: run for run in head_runs}.values())
    return Context(
        stage=stage,
        policy=policy,
        root=repo.root,
        branch=target,
        default_branch=repo.default_branch(policy),
        runs=merged,
        merge_runs=merged,
        target_runs=tuple(runs_reachable(hook, [repo.head_oid], [])),
        merge_head=name or head[:12],
        # Only a named branch has a doc to ask for.
        doc=doc_state(repo, policy, name, head) if name else None,
    )


def _is_upstream(repo: Repo, oid: str, branch: str | None) -> bool:
    """Whether ``oid`` is a remote's copy of ``branch`` itself (a pull)."""
    from ragguard.gitrepo import REMOTES

    return any(
        name.startswith(REMOTES) and name.split("/", 3)[-1] == branch and ref.oid == oid
        for name, ref in repo.refs.items()
    )


def merge_head(repo: Repo, env: Mapping[str, str]) -> str | None:
    """The commit being merged. git 2.39 writes ``MERGE_HEAD`` only after a
    conflict; for a clean merge it tells the hook in ``GITHEAD_<oid>``
    variables (the merge's labels), or in ``GIT_REFLOG_ACTION``."""
    result = repo.git("rev-parse", "-q", "--verify", "MERGE_HEAD", check=False)
    if result.returncode == 0 and result.stdout.strip():
        return result.stdout.strip()
    labelled = [key[len("GITHEAD_") :] for key in env if key.startswith("GITHEAD_")]
    found = repo.existing_commits(labelled)
    if len(found) == 1:
        return found.pop()
    action = env.get("GIT_REFLOG_ACTION", "").split()
    if len(action) == 2 and action[0] == "merge" and not action[1].startswith("-"):
        from ragguard.gate import resolve_commit

        try:
            return resolve_commit(repo, action[1])
        except RagguardError:
            return None
    return None


def _branch_at(repo: Repo, oid: str, current: str | None) -> str | None:
    """The branch whose tip is ``oid`` (the branch being merged): a local
    branch, else a remote-tracking one without its remote's name."""
    from ragguard.gitrepo import HEADS, REMOTES

    for name, ref in repo.refs.items():
        short = name[len(HEADS) :]
        if name.startswith(HEADS) and ref.oid == oid and short != current:
            return short
    for name, ref in repo.refs.items():
        short = name.split("/", 3)[-1]
        remote = name.startswith(REMOTES) and not ref.symref
        if remote and ref.oid == oid and short not in (current, "HEAD"):
            return short
    return None


def post_merge(hook: Hook, argv: list[str], stdin: str) -> int:
    """After a merge into a protected branch: compare, validate, record."""
    from ragguard import validate

    repo = hook.repo
    branch = repo.current_branch()
    if not branch or not hook.policy.branches.is_protected(branch):
        return int(Exit.OK)
    before = _orig_head(repo)
    hook.print(_comparison(hook, branch, before))
    if hook.policy.post_merge.validate is None:
        return int(Exit.OK)
    from ragguard.gitrepo import clean_env

    hook.print([f"ragguard: validating the merge into {branch} ..."])
    result = validate.run_validation(
        hook.policy, repo.root, repo.head_oid, clean_env(hook.env)
    )
    validate.save(repo.git_dir, result)
    validate.print_report(result)
    return int(Exit.OK)


def _orig_head(repo: Repo) -> str | None:
    result = repo.git("rev-parse", "-q", "--verify", "ORIG_HEAD", check=False)
    oid = result.stdout.strip()
    return oid if result.returncode == 0 and oid else None


def _comparison(hook: Hook, branch: str, before: str | None) -> list[str]:
    """The merged runs' best next to the baseline the branch had before."""
    from ragguard.gate import best_run, fmt_delta, fmt_number, improvement

    metric, goal = hook.policy.merge.metric, hook.policy.merge.goal
    head = hook.repo.head_oid
    if not metric or head is None or before is None:
        return []
    merged, value = best_run(runs_reachable(hook, [head], [before]), metric, goal)
    before_runs = runs_reachable(hook, [before], [])
    if hook.policy.merge.require_synced:  # the baseline the gate used
        before_runs = [run for run in before_runs if run.sync == "synced"]
    base, base_value = best_run(before_runs, metric, goal)
    if merged is None or value is None:
        return [f"ragguard: merged into {branch}: no finished run logged {metric}"]
    line = f"ragguard: merged into {branch}: best {metric} {fmt_number(value)}"
    line += f" (run {merged.id})"
    if base is not None and base_value is not None:
        delta = improvement(value, base_value, goal)
        line += f", baseline {fmt_number(base_value)} (run {base.id}),"
        line += f" delta {fmt_delta(delta)}"
    return [line]
