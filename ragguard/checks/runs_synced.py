"""``runs-synced``: the branch's runs are in W&B, not only on this machine."""

from __future__ import annotations

from ragguard.checks import Context, Finding
from ragguard.checks._runs import sync_finding

CHECK = "runs-synced"


def check(ctx: Context) -> list[Finding]:
    found = (sync_finding(ctx, run, CHECK) for run in ctx.runs)
    return [finding for finding in found if finding is not None]
