"""``run-commit``: a run's results can be reproduced from the remote.

The hook works out which recorded commits are lost (``Context.lost_commits``):
gone from the repository, amended or rebased away, or not going to be on the
remote after this push.
"""

from __future__ import annotations

from ragguard.checks import Context, Finding, quote
from ragguard.checks._runs import subject

CHECK = "run-commit"

MISSING = "missing"  # no such commit here
ORPHANED = "orphaned"  # on no branch: amended or rebased away
UNPUSHED = "unpushed"  # exists, but will not be on the remote after the push


def check(ctx: Context) -> list[Finding]:
    findings = []
    seen = set()
    for run in (*ctx.runs, *ctx.orphans):
        why = ctx.lost_commits.get(run.commit or "")
        if why is None or run.id in seen:
            continue
        seen.add(run.id)
        findings.append(_finding(ctx, run.id, run.commit or "", why, subject(run)))
    return findings


def _finding(ctx: Context, run_id: str, commit: str, why: str, subj: str) -> Finding:
    short = commit[:12]
    # A tag keeps the commit on the remote without a branch to document, and
    # pre-push lets tags through unless push.check_tags is set.
    keep = f"ragguard/run-{run_id}"
    remote = ctx.remote or "origin"
    if why == MISSING:
        message = f"records commit {short}, which is not in this repository"
        fix = "rerun it on a pushed commit; its results cannot be reproduced"
    elif why == ORPHANED:
        message = (
            f"records commit {short}, which no branch contains (amended or rebased)"
        )
        fix = f"git tag {quote(keep)} {commit} && "
        fix += f"git push {quote(remote)} {quote('refs/tags/' + keep)}"
    else:
        message = (
            f"records commit {short}, which will not be on {remote} after this push"
        )
        fix = f"git push {quote(remote)} {commit}:{quote('refs/tags/' + keep)}"
    message += "; its results cannot be reproduced from the remote"
    return Finding(CHECK, "warn", subj, message, fix)
