"""``ragguard switch BRANCH [-c] [--force]``: the block post-checkout cannot give.

git cannot stop a switch from a hook, so this command checks first: the
policy's ``switch`` checks (by default ``left-behind``, ``runs-finished`` and
``runs-synced``, all blocking) for the branch being left. When one blocks it
refuses with the fix commands; ``--force`` switches anyway and writes that to
the skip log. Then it runs ``git switch`` (no shell, the name as one argument)
and the usual post-checkout summary follows: from the installed hook when
there is one, else printed here, never both.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ragguard.checks import (
    Finding,
    log_skip,
    run_checks,
    skip_from_env,
    skip_log_path,
    unknown_skips,
    worst,
)
from ragguard.config import load_policy
from ragguard.errors import BadInputError, Exit
from ragguard.gitrepo import HEADS, REMOTES, Repo
from ragguard.hooks import REPORTED_LEFT, Hook, arrival_summary, left_context
from ragguard.render import render_findings, skip_hint, skipped_line

log = logging.getLogger(__name__)

STAGE = "switch"


def switch(
    branch: str,
    *,
    create: bool = False,
    force: bool = False,
    cwd: Path | None = None,
    out: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Check the branch being left, then ``git switch [-c] BRANCH``; return
    the exit code (:class:`~ragguard.errors.Exit`)."""
    env = os.environ if env is None else env
    out = out or sys.stdout
    check_name(branch)
    repo = Repo.discover(cwd)
    policy = load_policy(repo.root)
    hook = Hook(STAGE, repo, policy, skip_from_env(env), out, env)
    check_target(repo, branch, create)
    hooked = post_checkout_installed(repo)
    left = repo.current_branch()
    owed: list[Skipped] = []
    if left is not None and (create or left != branch):
        code, owed = guard(hook, left, branch, force=force, quiet=hooked)
        if code != Exit.OK:
            return code
        if hooked and any(s.forced for s in owed):  # the hook need not repeat it
            env = {**env, REPORTED_LEFT: left}
    status = git_switch(branch, create=create, cwd=cwd, out=out, env=env)
    return _arrive(hook, branch, left, owed, status, cwd, create)


def _arrive(
    hook: Hook,
    branch: str,
    left: str | None,
    owed: Sequence[Skipped],
    status: int,
    cwd: Path | None,
    create: bool = False,
) -> int:
    """After ``git switch``: log what was skipped, and summarise the branch
    arrived on unless ragguard's post-checkout hook just did."""
    arrived = Repo.discover(cwd)  # HEAD moved: the old facts are stale
    if arrived.current_branch() != branch:
        return int(Exit.BLOCKED)  # git refused; it said why
    for skipped in owed:  # only a switch that happened skipped anything
        log_skip(arrived.git_dir, STAGE, skipped.checks, left, skipped.reason)
    if status != 0:
        # git switched, then a post-checkout hook failed (git passes its status on).
        hook.print([f"ragguard switch: switched, but git exited {status}: see above"])
    # Asked after the switch: the framework reads the arrived branch's config.
    hooked = post_checkout_installed(arrived)
    log.debug("ragguard's post-checkout hook ran: %s", hooked)
    if not hooked:
        _summarise(hook, arrived, brief=create)
    return int(Exit.OK)


@dataclass(frozen=True)
class Skipped:
    """Checks passed over (by RAGGUARD_SKIP or --force), for the skip log."""

    checks: tuple[str, ...]
    reason: str | None
    forced: bool = False  # --force, past blocks that were printed


def check_name(branch: str) -> None:
    """Refuse names git would read as an option, before anything runs."""
    if not branch or branch.startswith("-"):
        raise BadInputError(
            f"{branch!r} is not a branch name: names cannot be empty or start with '-'."
        )


def check_target(repo: Repo, branch: str, create: bool) -> None:
    """A one-line error when ``git switch`` would refuse the branch anyway,
    so that nothing is checked or logged for a switch that cannot happen."""
    exists = HEADS + branch in repo.refs
    if create:
        if exists:
            raise BadInputError(
                f"branch {branch!r} already exists; switch to it: "
                f"ragguard switch {_q(branch)}"
            )
        valid = repo.git("check-ref-format", "--branch", branch, check=False)
        if valid.returncode != 0:
            raise BadInputError(f"{branch!r} is not a valid branch name for git.")
        return
    if exists or len(_remote_matches(repo, branch)) == 1:
        return  # git switch makes a tracking branch for a unique remote one
    raise BadInputError(
        f"branch {branch!r} does not exist; create it with: "
        f"ragguard switch -c {_q(branch)}"
    )


def _remote_matches(repo: Repo, branch: str) -> list[str]:
    return [r for r in repo.remotes if f"{REMOTES}{r}/{branch}" in repo.refs]


def guard(
    hook: Hook, left: str, branch: str, *, force: bool, quiet: bool
) -> tuple[int, list[Skipped]]:
    """Run the ``switch`` checks for ``left`` and print what they found
    (unless ``quiet`` and nothing blocks: the post-checkout hook will say it).

    Returns ``Exit.BLOCKED`` when they block and ``force`` is not given, and
    what the switch skips, to be logged once it has happened.
    """
    ctx = left_context(hook, left, STAGE)
    found = run_checks(STAGE, ctx, hook.skip.checks)
    # As post-checkout says it: what the branch owes as a whole, then its runs.
    findings = sorted(found, key=lambda f: f.check != "left-behind")
    owed = _env_skips(hook)
    blocked = worst(findings) == "block"
    if findings and (blocked or not quiet):
        heading = f"ragguard switch: leaving {left}"
        hook.print(render_findings(STAGE, findings, paint=hook.paint, heading=heading))
    if not blocked:
        return int(Exit.OK), owed
    if force:
        return int(Exit.OK), [*owed, _forced(hook, findings)]
    hook.print(skip_hint(STAGE, findings))
    hook.print([f"Or switch anyway (logged): ragguard switch --force {_q(branch)}"])
    return int(Exit.BLOCKED), []


def _env_skips(hook: Hook) -> list[Skipped]:
    unknown = unknown_skips(hook.skip)
    if unknown:
        hook.print(
            [f"ragguard: RAGGUARD_SKIP names unknown checks: {', '.join(unknown)}"]
        )
    skipped = hook.skipped()
    if not skipped:
        return []
    hook.print([skipped_line(STAGE, skipped, hook.skip.reason)])
    return [Skipped(tuple(skipped), hook.skip.reason)]


def _forced(hook: Hook, findings: Sequence[Finding]) -> Skipped:
    ids = tuple(sorted({f.check for f in findings if f.severity == "block"}))
    reason = "--force" + (f": {hook.skip.reason}" if hook.skip.reason else "")
    path = skip_log_path(hook.repo.git_dir)
    hook.print(
        [
            f"ragguard switch: --force: switching anyway past {', '.join(ids)} "
            f"(logged to {path})"
        ]
    )
    return Skipped(ids, reason, forced=True)


def git_switch(
    branch: str,
    *,
    create: bool,
    cwd: Path | None,
    out: TextIO,
    env: Mapping[str, str],
) -> int:
    """``git switch [-c] BRANCH`` as an argument vector, never through a shell.

    On our real stdout git and its hooks write straight to the terminal;
    otherwise (tests, embedding) their output is copied into ``out``.
    """
    argv = ["git", "switch", *(["-c"] if create else []), branch]
    out.flush()
    if out is sys.stdout:
        return subprocess.run(argv, cwd=cwd, env=dict(env), check=False).returncode
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=dict(env),
        check=False,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    out.write(done.stdout)
    return done.returncode


def post_checkout_installed(repo: Repo) -> bool:
    """Whether git will run ragguard's post-checkout after the switch: a
    ragguard shim, a hook that calls ``ragguard hook post-checkout``, or the
    pre-commit framework's hook with ``ragguard-post-checkout`` configured."""
    from ragguard.install import SHIM_MARK

    path = repo.git_path("hooks") / "post-checkout"
    if not (path.is_file() and os.access(path, os.X_OK)):
        return False
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:8192]
    except OSError:
        return False
    if SHIM_MARK in text or "ragguard hook post-checkout" in text:
        return True
    return "pre-commit" in text and _pre_commit_configured(repo)


def _pre_commit_configured(repo: Repo) -> bool:
    try:
        config = (repo.root / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return "ragguard-post-checkout" in config


def _summarise(hook: Hook, repo: Repo, *, brief: bool = False) -> None:
    """The arrival summary the post-checkout hook would have printed: one
    line for a branch just created."""
    policy = load_policy(repo.root)  # the arrived branch's own policy
    runs = hook._runs if policy.wandb == hook.policy.wandb else None
    arrived = Hook("post-checkout", repo, policy, hook.skip, hook.out, hook.env, runs)
    lines = arrival_summary(arrived, repo.current_branch())
    hook.print(lines[:1] if brief else lines)


def _q(text: str) -> str:
    import shlex

    return shlex.quote(text)
