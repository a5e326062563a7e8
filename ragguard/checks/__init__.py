"""Checks: pure functions from a :class:`Context` to :class:`Finding` lists.

Each check lives in its own module (``staged-runs`` in ``staged_runs.py``) and
exposes ``check(ctx) -> list[Finding]``. A check reports the severity it
thinks a problem deserves; the policy caps it per stage (``warn`` turns blocks
into warnings, ``off`` does not run the check). The hook gathers the facts a
check reads into the context, so that checks never run git themselves.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ragguard.config import Policy, Severity
from ragguard.runs.model import Run

log = logging.getLogger(__name__)

FindingSeverity = Literal["block", "warn", "info"]
_RANK = {"info": 0, "warn": 1, "block": 2}

CHECK_MODULES: Mapping[str, str] = {
    "staged-runs": "staged_runs",
    "branch-doc": "branch_doc",
    "commit-msg": "commit_msg",
    "runs-finished": "runs_finished",
    "runs-synced": "runs_synced",
    "run-metadata": "run_metadata",
    "run-commit": "run_commit",
    "left-behind": "left_behind",
    "merge-gate": "merge_gate",
}


@dataclass(frozen=True)
class Finding:
    """One problem: which check, how bad, about what, what, and the fix."""

    check: str
    severity: FindingSeverity
    subject: str  # "run 1a2b3c", "branch exp/bm25", a path
    message: str
    fix: str = ""  # the exact command (or, where none exists, what to do)


@dataclass(frozen=True)
class DocState:
    """The branch doc as the check sees it."""

    path: str  # relative to the repository root, "/"-separated
    text: str | None  # None: no doc there
    problem: str | None = None  # the branch name cannot make a doc path
    where: str = "work tree"  # or "the pushed commit"
    in_work_tree: bool = False  # exists on disk (when read from a commit)


@dataclass(frozen=True)
class LeftFacts:
    """What the branch just left (or about to be left) still owes."""

    branch: str
    changes: tuple[str, ...] = ()  # `git status --porcelain` entries
    unpushed: int = 0  # commits not on the upstream (or on no remote)
    upstream: str | None = None  # e.g. origin/exp/bm25
    remote: str | None = None  # the remote to push to; None: no remote at all


@dataclass(frozen=True)
class Context:
    """Everything a check may read. Fields a stage does not need stay empty."""

    stage: str
    policy: Policy
    root: Path
    branch: str | None = None  # the branch checked; None on a detached HEAD
    default_branch: str = "main"
    runs: tuple[Run, ...] = ()  # the branch's runs, newest first
    run_roots: tuple[Path, ...] = ()  # absolute
    staged: tuple[str, ...] = ()  # pre-commit: paths being added
    ignored: frozenset[str] = frozenset()  # staged run data .gitignore covers
    message: str | None = None  # commit-msg: the message text
    message_file: str | None = None  # absolute, so the fix works from any folder
    # How the commit was made, as far as its hook can tell: "-a" (commit -a),
    # "paths" (commit PATHS...) or "" (the index as staged).
    commit_scope: str = ""
    comment_char: str = "#"
    doc: DocState | None = None
    left: LeftFacts | None = None
    # run-commit: commit id -> why its run cannot be reproduced from the remote
    lost_commits: Mapping[str, str] = field(default_factory=dict)
    orphans: tuple[Run, ...] = ()  # runs whose commit was amended or rebased away
    remote: str | None = None  # pre-push: the remote (or URL) pushed to
    # merge-gate: the branch merged into ``branch`` (a protected branch) when
    # known, the runs the merge brings, and the runs already on ``branch``.
    merge_head: str | None = None
    merge_runs: tuple[Run, ...] = ()
    gate: tuple[Finding, ...] = ()  # pre-push: the merge gate's findings
    target_runs: tuple[Run, ...] | None = None
    now: float = field(default_factory=time.time)

    def shown(self, path: str | Path) -> str:
        """A path as the user should type it: relative to the root if inside."""
        full = Path(path)
        try:
            return full.relative_to(self.root).as_posix() or "."
        except ValueError:
            return str(full)


def cap(severity: FindingSeverity, configured: Severity) -> FindingSeverity:
    """A finding's severity limited by the policy's severity for its check."""
    if configured == "warn" and severity == "block":
        return "warn"
    return severity


def run_checks(
    stage: str, ctx: Context, skip: frozenset[str] = frozenset()
) -> list[Finding]:
    """Run the policy's checks for ``stage``, minus ``skip`` (``"all"``: none)."""
    findings: list[Finding] = []
    for check_id, configured in ctx.policy.checks_for(stage):
        if check_id in skip or "all" in skip or check_id not in CHECK_MODULES:
            continue
        started = time.perf_counter()
        module = importlib.import_module(f"ragguard.checks.{CHECK_MODULES[check_id]}")
        found = module.check(ctx)
        elapsed = (time.perf_counter() - started) * 1000
        log.debug("%s: check %s took %.1f ms", stage, check_id, elapsed)
        for finding in found:
            severity = cap(finding.severity, configured)
            findings.append(_with_severity(finding, severity))
    return _dedupe(findings)


def _with_severity(finding: Finding, severity: FindingSeverity) -> Finding:
    if finding.severity == severity:
        return finding
    return Finding(
        finding.check, severity, finding.subject, finding.message, finding.fix
    )


def _dedupe(findings: Sequence[Finding]) -> list[Finding]:
    """One finding per (subject, message): ``left-behind`` repeats what
    ``runs-finished`` and ``runs-synced`` say about the same runs."""
    best: dict[tuple[str, str], Finding] = {}
    for finding in findings:
        key = (finding.subject, finding.message)
        old = best.get(key)
        if old is None or _RANK[finding.severity] > _RANK[old.severity]:
            best[key] = finding
    order = {key: index for index, key in enumerate(best)}
    return sorted(best.values(), key=lambda f: order[(f.subject, f.message)])


def worst(findings: Sequence[Finding]) -> FindingSeverity | None:
    if not findings:
        return None
    return max((f.severity for f in findings), key=_RANK.__getitem__)


# --- RAGGUARD_SKIP ------------------------------------------------------------


@dataclass(frozen=True)
class Skip:
    checks: frozenset[str]  # check ids, or {"all"}
    reason: str | None


def skip_from_env(env: Mapping[str, str] | None = None) -> Skip:
    """``RAGGUARD_SKIP=id[,id]`` or ``all``, and ``RAGGUARD_SKIP_REASON``."""
    env = os.environ if env is None else env
    raw = env.get("RAGGUARD_SKIP", "")
    ids = frozenset(part.strip() for part in raw.split(",") if part.strip())
    reason = env.get("RAGGUARD_SKIP_REASON", "").strip() or None
    return Skip(ids, reason)


def unknown_skips(skip: Skip) -> list[str]:
    return sorted(skip.checks - set(CHECK_MODULES) - {"all"})


def skip_log_path(git_dir: Path) -> Path:
    return git_dir / "ragguard" / "skip.log"


def log_skip(
    git_dir: Path,
    stage: str,
    checks: Sequence[str],
    branch: str | None,
    reason: str | None,
) -> Path:
    """Append one tab-separated line to the skip log under the git dir:
    time, stage, checks, branch and the reason given (or ``-``)."""
    path = skip_log_path(git_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    fields = (stamp, stage, ",".join(checks), branch or "(detached)", reason or "-")
    line = "\t".join(" ".join(f.split()) for f in fields)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    return path


def quote(text: str | Path) -> str:
    """``text`` quoted for a POSIX shell, so that fixes can be pasted as-is."""
    import shlex

    return shlex.quote(str(text))
