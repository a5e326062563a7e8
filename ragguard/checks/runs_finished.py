"""``runs-finished``: the branch's runs ended, and ended well."""

from __future__ import annotations

from ragguard.checks import Context, Finding
from ragguard.checks._runs import finish_finding

CHECK = "runs-finished"


def check(ctx: Context) -> list[Finding]:
    found = (finish_finding(ctx, run, CHECK) for run in ctx.runs)
    return [finding for finding in found if finding is not None]
