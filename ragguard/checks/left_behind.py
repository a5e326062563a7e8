"""``left-behind``: what the branch being left still owes.

Uncommitted changes (carried along to the next branch), commits that are not
on its upstream (or on no remote at all), and its runs that are not finished
or not synced.
"""

from __future__ import annotations

from ragguard.checks import Context, Finding, quote
from ragguard.checks._runs import finish_finding, sync_finding

CHECK = "left-behind"
_SHOWN_CHANGES = 3


def check(ctx: Context) -> list[Finding]:
    left = ctx.left
    if left is None:
        return []
    findings = []
    if left.changes:
        findings.append(_changes(ctx))
    if left.unpushed:
        findings.append(_commits(ctx))
    for run in ctx.runs:
        for finding in (finish_finding(ctx, run, CHECK), sync_finding(ctx, run, CHECK)):
            if finding is not None:
                findings.append(finding)
    return findings


def _changes(ctx: Context) -> Finding:
    assert ctx.left is not None
    left = ctx.left
    paths = [entry[3:] for entry in left.changes[:_SHOWN_CHANGES]]
    more = len(left.changes) - len(paths)
    listed = ", ".join(paths) + (f" and {more} more" if more > 0 else "")
    count = len(left.changes)
    noun = "change" if count == 1 else "changes"
    if ctx.stage == "post-checkout":
        message = f"{count} uncommitted {noun} came along to this branch ({listed})"
        fix = f"git switch {quote(left.branch)} && git add -A && git commit"
    else:
        message = f"{count} uncommitted {noun} would come along ({listed})"
        fix = "git add -A && git commit"
    return Finding(CHECK, "block", f"branch {left.branch}", message, fix)


def _commits(ctx: Context) -> Finding:
    assert ctx.left is not None
    left = ctx.left
    branch = quote(left.branch)
    n = left.unpushed
    commits = "1 commit" if n == 1 else f"{n} commits"
    are = "is" if n == 1 else "are"
    if left.remote is None:
        message = f"{commits} exist{'s' if n == 1 else ''} only here: "
        message += "the repository has no remote"
        fix = f"git remote add origin <url> && git push -u origin {branch}"
    elif left.upstream is None:
        message = f"has no upstream; {commits} {are} on no remote"
        fix = f"git push -u {quote(left.remote)} {branch}"
    else:
        message = f"{commits} {are} not on {left.upstream}"
        fix = f"git push {quote(left.remote)} {branch}"
    return Finding(CHECK, "block", f"branch {left.branch}", message, fix)
