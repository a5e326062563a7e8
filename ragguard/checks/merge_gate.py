"""``merge-gate``: only the best experiment, by the policy, reaches a
protected branch."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from ragguard.checks import Context, Finding

if TYPE_CHECKING:
    from ragguard.gate import Verdict

CHECK = "merge-gate"


def check(ctx: Context) -> list[Finding]:
    if ctx.target_runs is None or ctx.branch is None:
        return []  # not a merge into a protected branch
    from ragguard.docs import doc_is_filled
    from ragguard.gate import decide

    head = ctx.merge_head or "the push"
    filled = None
    if ctx.doc is not None and ctx.merge_head:
        filled = ctx.doc.text is not None and doc_is_filled(ctx.doc.text)
    verdict = decide(
        ctx.merge_runs,
        ctx.target_runs,
        ctx.policy.merge,
        head=head,
        target=ctx.branch,
        doc_filled=filled,
    )
    if verdict.passed:
        return []
    subject = f"merge of {head} into {ctx.branch}"
    if not ctx.merge_runs:
        # Commits that carry no runs (a typo fix, a CI change) are not an
        # experiment being merged: say so, and let them through. CI's
        # `ragguard gate` still judges branches whose runs are elsewhere.
        what = (
            "the pushed commits carry"
            if ctx.merge_head is None
            else f"{ctx.merge_head} brings"
        )
        message = f"{what} no runs: nothing for the merge gate to judge"
        return [Finding(CHECK, "info", subject, message)]
    fix = verdict.fix or _fix(ctx)
    return [Finding(CHECK, "block", subject, _message(verdict), fix)]


def _message(verdict: Verdict) -> str:
    from ragguard.gate import fmt_delta, fmt_number

    parts = [verdict.reason]
    head, base = verdict.head, verdict.target
    if head.run is not None and head.value is not None:
        parts.append(f"candidate {head.run.id} = {fmt_number(head.value)}")
    if base.run is not None and base.value is not None:
        parts.append(f"baseline {base.run.id} = {fmt_number(base.value)}")
    if verdict.delta is not None:
        parts.append(f"delta {fmt_delta(verdict.delta)}")
    return "; ".join(parts)


def _fix(ctx: Context) -> str:
    """Undo the merge being made; for a push, see the verdict of what is
    pushed (the local branch) against what the remote has."""
    branch = shlex.quote(ctx.branch or "")
    if ctx.merge_head is not None:
        return "git merge --abort  (the merge does not pass the gate)"
    remote = ctx.remote if ctx.remote and "/" not in ctx.remote else None
    target = shlex.quote(f"{remote}/{ctx.branch}") if remote else branch
    return f"ragguard gate --target {target} --head {branch}"
