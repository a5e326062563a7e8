"""Post-merge validation: run the policy's command after a merge, loudly.

git ignores the exit status of ``post-merge``, so a failed validation cannot
undo the merge. It is made impossible to miss instead: a banner on stderr, a
record under the git dir (``ragguard/validation.json``) that ``ragguard
status`` shows until a later validation passes, and a non-zero exit status
from ``ragguard validate``.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from ragguard.config import Policy
from ragguard.errors import BadInputError

Outcome = Literal["passed", "failed", "timeout", "not-run"]
RECORD = "validation.json"


@dataclass(frozen=True)
class Validation:
    outcome: Outcome
    command: str
    commit: str | None
    exit_code: int | None
    seconds: float
    finished_at: float
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in ("passed", "not-run")


def command_argv(validate: str | Sequence[str]) -> list[str]:
    """The policy's command as an argument vector. A string is a command line
    for ``sh -c`` (``pytest -q && python eval.py`` means what it says), as in
    a Makefile or a CI step: it comes from the repository's own policy file,
    never from a branch name. A list runs as it is, with no shell."""
    if isinstance(validate, str):
        argv = ["/bin/sh", "-c", validate] if validate.strip() else []
    else:
        argv = list(validate)
    if not argv:
        raise BadInputError("post_merge.validate is empty; name a command to run.")
    return argv


def run_validation(
    policy: Policy, root: Path, commit: str | None, env: dict[str, str]
) -> Validation:
    """Run ``post_merge.validate`` in ``root`` with its time limit, streaming
    its output to ours."""
    validate = policy.post_merge.validate
    started = time.monotonic()
    if validate is None:
        return _result("not-run", "", commit, None, started, "no post_merge.validate")
    argv = command_argv(validate)
    shown = validate if isinstance(validate, str) else shlex.join(argv)
    try:
        proc = subprocess.Popen(
            argv, cwd=root, env=env, stdin=subprocess.DEVNULL, start_new_session=True
        )
    except OSError as error:
        return _result("failed", shown, commit, None, started, str(error))
    try:
        code = proc.wait(timeout=policy.post_merge.timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        limit = f"stopped after the {policy.post_merge.timeout:g} s time limit"
        return _result("timeout", shown, commit, None, started, limit)
    outcome: Outcome = "passed" if code == 0 else "failed"
    return _result(outcome, shown, commit, code, started)


def _result(
    outcome: Outcome,
    command: str,
    commit: str | None,
    code: int | None,
    started: float,
    detail: str = "",
) -> Validation:
    seconds = round(time.monotonic() - started, 3)
    return Validation(outcome, command, commit, code, seconds, time.time(), detail)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def record_path(git_dir: Path) -> Path:
    return git_dir / "ragguard" / RECORD


def save(git_dir: Path, validation: Validation) -> None:
    """Keep the result for ``ragguard status``; atomic, never a partial file."""
    from ragguard.atomic import write_atomic

    text = json.dumps(asdict(validation), indent=1)
    write_atomic(record_path(git_dir), text.encode("utf-8"))


def load(git_dir: Path) -> Validation | None:
    """The last recorded validation, or ``None`` when there is none (or it
    cannot be read: a broken record must not break ``status``)."""
    try:
        data: dict[str, Any] = json.loads(record_path(git_dir).read_text("utf-8"))
        return Validation(**data)
    except (OSError, ValueError, TypeError):
        return None


def report_lines(validation: Validation) -> list[str]:
    """What to print: one line when it passed, a banner when it did not."""
    if validation.outcome == "not-run":
        return ["ragguard: no post-merge validation configured (post_merge.validate)"]
    where = f" at {validation.commit[:12]}" if validation.commit else ""
    if validation.ok:
        return [
            f"ragguard: validation passed{where}: {validation.command}"
            f" ({validation.seconds:.1f} s)"
        ]
    status = (
        f"exited {validation.exit_code}"
        if validation.exit_code is not None
        else validation.detail
    )
    bar = "!" * 72
    return [
        bar,
        f"!! VALIDATION FAILED after the merge{where}",
        f"!! {validation.command} {status}",
        "!! The merge is in place: git cannot undo it from a hook.",
        "!! Fix it, or revert the merge: git revert -m 1 HEAD",
        "!! Run it again by hand: ragguard validate",
        bar,
    ]


def print_report(validation: Validation) -> None:
    stream = sys.stdout if validation.ok else sys.stderr
    for line in report_lines(validation):
        print(line, file=stream)
    stream.flush()


def validate_command(cwd: Path | None = None) -> int:
    """``ragguard validate``: run and record the validation for HEAD by hand."""
    from ragguard.config import load_policy
    from ragguard.gitrepo import Repo, clean_env

    repo = Repo.discover(cwd)
    policy = load_policy(repo.root)
    if policy.post_merge.validate is None:
        raise BadInputError(
            "no validation to run: set post_merge.validate in .ragguard.yaml."
        )
    result = run_validation(policy, repo.root, repo.head_oid, clean_env())
    save(repo.git_dir, result)
    print_report(result)
    return 0 if result.ok else 1
