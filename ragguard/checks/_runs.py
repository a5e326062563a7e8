"""Per-run findings shared by runs-finished, runs-synced and left-behind."""

from __future__ import annotations

from ragguard.checks import Context, Finding, FindingSeverity, quote
from ragguard.runs.model import Run


def subject(run: Run) -> str:
    name = f" ({run.name})" if run.name else ""
    return f"run {run.id}{name}"


def finish_finding(ctx: Context, run: Run, check: str) -> Finding | None:
    """What a run that did not finish cleanly needs, or ``None``."""
    path = quote(ctx.shown(run.path))
    state = run.state
    if state == "running":
        message = "is still running; wait for it to end before you leave or push"
        fix = f"wait for the process writing {path} to exit (or stop it), then retry"
        return _f(check, "block", run, message, fix)
    if state == "crashed":
        message = "crashed: no exit record and its log stopped changing"
        fix = f"rerun it, or keep what it logged: wandb sync {path}"
        return _f(check, "warn", run, message, fix)
    if state == "failed":
        code = run.exit_code
        message = "failed" + (f" with exit code {code}" if code is not None else "")
        fix = f"read {quote(ctx.shown(run.path) + '/files/output.log')}, fix, rerun"
        return _f(check, "warn", run, message, fix)
    if state == "empty":
        message = "is empty: it logged nothing" + (
            f" ({run.reason})" if run.reason else ""
        )
        return _f(check, "warn", run, message, f"rm -r -- {path}")
    if state == "unreadable":
        message = "cannot be read: " + (run.reason or "corrupt log")
        return _f(check, "warn", run, message, f"inspect {path}; remove it if broken")
    return None


def sync_finding(ctx: Context, run: Run, check: str) -> Finding | None:
    """What a run that is not (known to be) in W&B needs, or ``None``."""
    if run.state in ("empty", "unreadable"):
        return None  # `wandb sync` chokes on these; runs-finished reports them
    path = quote(ctx.shown(run.path))
    if run.sync == "unsynced":
        message = f"{run.mode} run is not synced to W&B"
        fix = f"wandb sync {path}"
        if run.state == "running":
            fix = f"after it ends: wandb sync {path}"
        return _f(check, "block", run, message, fix)
    if run.sync == "unconfirmed":
        message = "upload to W&B is not confirmed"
        fix = f"check it in W&B{_at(run)}, or upload again: wandb sync {path}"
        return _f(check, "warn", run, message, fix)
    return None


def _at(run: Run) -> str:
    url = run.url()
    return f" ({url})" if url else ""


def _f(
    check: str, severity: FindingSeverity, run: Run, message: str, fix: str
) -> Finding:
    return Finding(check, severity, subject(run), message, fix)
