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
        return _running(ctx, run, check)
    if state == "crashed":
        return _crashed(ctx, run, check)
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


def _running(ctx: Context, run: Run, check: str) -> Finding:
    """A run still being written blocks leaving the branch. At pre-push it
    warns unless the policy makes runs-finished block there: the next push,
    and leaving the branch, check the run again."""
    path = quote(ctx.shown(run.path))
    wait = f"wait for the process writing {path} to exit (or stop it), then retry"
    severity: FindingSeverity = "block"
    message, fix = "is still running; wait for it to end before you leave", wait
    if ctx.stage == "pre-push" and ctx.policy.severity(check, ctx.stage) == "block":
        message = "is still running; wait for it to end before you push"
    elif ctx.stage == "pre-push":
        severity = "warn"
        message = "is still running: a push lets it through, its results are not in"
        fix = "nothing to do now: it is checked again on your next push"
    elif ctx.stage == "post-checkout":  # already left: nothing to wait for here
        severity = "warn"
        message = "is still running: its results are not in yet"
        fix = "let it end; it is checked again on your next push or switch"
    if run.shared_with:
        message = (
            f"is still open: run {run.shared_with} ended in the same process "
            "(a notebook?) but this one has no exit record until run.finish() "
            "is called on it or the kernel restarts"
        )
        fix = "call run.finish() on it in the notebook (or restart the kernel)"
    return _f(check, severity, run, message, fix)


def _crashed(ctx: Context, run: Run, check: str) -> Finding | None:
    """A crashed run warns until it is dismissed: kept in W&B (synced) or
    deleted. A run made elsewhere (read from W&B) always warns."""
    local = not run.path.startswith("wandb:")
    if local and run.sync == "synced":
        return None  # kept: W&B holds what it logged
    path = quote(ctx.shown(run.path))
    message = "crashed: no exit record and its log stopped changing"
    if run.shared_with:
        message = (
            f"crashed: no exit record; run {run.shared_with} ended in the same "
            "process, so this is a notebook run left open when the kernel restarted"
        )
    if not local:
        return _f(check, "warn", run, message, "rerun it; W&B keeps what it logged")
    fix = (
        "rerun it; to dismiss it, keep what it logged: "
        f"{sync_command(ctx, run)} or delete it: rm -r -- {path}"
    )
    return _f(check, "warn", run, message, fix)


def sync_finding(ctx: Context, run: Run, check: str) -> Finding | None:
    """What a run that is not (known to be) in W&B needs, or ``None``.

    Only runs that ended (finished or failed) are asked to sync: a running run
    has nothing final to upload yet, and a crashed one is reported by
    runs-finished with both ways to dismiss it.
    """
    if run.state not in ("finished", "failed"):
        return None
    if run.sync == "unsynced":
        message = f"{run.mode} run is not synced to W&B"
        return _f(check, "block", run, message, sync_command(ctx, run))
    if run.sync == "unconfirmed":
        message = "upload to W&B is not confirmed"
        fix = f"check it in W&B{_at(run)}, or upload again: {sync_command(ctx, run)}"
        return _f(check, "warn", run, message, fix)
    return None


def sync_command(ctx: Context, run: Run) -> str:
    """``wandb sync`` for ``run``, naming the project and entity where the
    run's own would send it elsewhere than the policy's (``ragguard sync``
    always uses the policy's)."""
    wandb = ctx.policy.wandb
    args = ["wandb", "sync"]
    if wandb.project and run.project != wandb.project:
        args += ["-p", quote(wandb.project)]
    if wandb.entity and run.entity != wandb.entity:
        args += ["-e", quote(wandb.entity)]
    return " ".join([*args, quote(ctx.shown(run.path))])


def _at(run: Run) -> str:
    url = run.url()
    return f" ({url})" if url else ""


def _f(
    check: str, severity: FindingSeverity, run: Run, message: str, fix: str
) -> Finding:
    return Finding(check, severity, subject(run), message, fix)
