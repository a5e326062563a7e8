"""Server-side checks for a ``pre-receive`` hook: where ``--no-verify`` ends.

A server holds no run folders, so it checks what the pushed commits carry:
commit messages (``commit-msg``), run data added to git (``staged-runs``) and,
for branches other than the default one, the branch doc in the pushed tip
(``branch-doc``). The policy comes from the server's current tip of the
pushed branch, else its default branch: a push cannot weaken the rules that
judge it. Each check counts with the strongest severity the policy gives it
at any client stage, because nothing after the server can catch it.

The merge gate needs runs; on the server it says where to run it instead
(``ragguard gate`` in CI).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ragguard.checks import Context, DocState, Finding, cap
from ragguard.config import (
    DEFAULT_POLICY,
    POLICY_FILE,
    Policy,
    Severity,
    parse_policy,
)
from ragguard.errors import PolicyError

_RANK = {"off": 0, "warn": 1, "block": 2}


@dataclass(frozen=True)
class Update:
    old: str
    new: str
    ref: str

    @property
    def branch(self) -> str | None:
        prefix = "refs/heads/"
        return self.ref[len(prefix) :] if self.ref.startswith(prefix) else None


def parse_updates(text: str) -> list[Update]:
    """``<old> <new> <ref>`` lines, as git feeds ``pre-receive``."""
    updates = []
    for line in text.splitlines():
        parts = line.split(" ", 2)
        if len(parts) == 3:
            updates.append(Update(*parts))
    return updates


class ServerRepo:
    """The receiving repository, read with git in the hook's own environment
    (which carries the quarantine that makes the pushed objects visible)."""

    def __init__(self, cwd: Path, env: Mapping[str, str]) -> None:
        self.cwd = cwd
        self.env = {**env, "GIT_OPTIONAL_LOCKS": "0"}

    def git(self, *args: str, input: str | None = None) -> str:
        result = subprocess.run(
            ["git", *args],
            cwd=self.cwd,
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout if result.returncode == 0 else ""

    def blob(self, commit: str, path: str) -> str | None:
        if not commit:
            return None
        result = subprocess.run(
            ["git", "cat-file", "blob", f"{commit}:{path}"],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            return None
        return result.stdout.decode("utf-8", "replace")

    def new_commits(self, new: str) -> list[tuple[str, str, list[str]]]:
        """(id, message, paths added or changed) of each commit the push adds."""
        out = self.git(
            "log",
            "-z",
            "--name-only",
            "--format=%x01%H%x02%B%x03",
            new,
            "--not",
            "--all",
        )
        commits = []
        for chunk in out.split("\x01")[1:]:
            oid, _, rest = chunk.partition("\x02")
            message, _, names = rest.partition("\x03")
            paths = [p for p in names.strip("\0\n").split("\0") if p.strip("\n")]
            commits.append((oid, message, [p.lstrip("\n") for p in paths]))
        return commits

    def default_branch(self) -> str:
        head = self.git("symbolic-ref", "-q", "HEAD").strip()
        return head.removeprefix("refs/heads/") or "main"

    def tip(self, ref: str) -> str:
        return self.git("rev-parse", "-q", "--verify", f"{ref}^{{commit}}").strip()


def server_policy(repo: ServerRepo, update: Update, zero: str) -> Policy:
    """The policy at the ref's current tip, else the default branch's."""
    tip = update.old if update.old != zero else repo.tip("HEAD")
    text = repo.blob(tip, POLICY_FILE) if tip else None
    if text is None:
        return DEFAULT_POLICY
    return parse_policy(text, f"{tip[:12]}:{POLICY_FILE}")


def strongest(policy: Policy, check: str) -> Severity:
    stages = policy.checks.get(check, {})
    return max(stages.values(), key=_RANK.__getitem__, default="off")


def check_update(repo: ServerRepo, update: Update, policy: Policy) -> list[Finding]:
    """Every finding for one pushed branch."""
    from ragguard.checks import branch_doc, commit_msg, staged_runs

    base = Context(stage="pre-receive", policy=policy, root=repo.cwd)
    commits = repo.new_commits(update.new)
    found: list[Finding] = []
    for oid, message, _ in commits:
        for f in commit_msg.check(replace(base, message=message)):
            found.append(replace(f, subject=f"commit {oid[:10]} {f.subject}"))
    roots = tuple(repo.cwd / d for d in policy.wandb.dirs)
    paths = tuple(sorted({p for _, _, names in commits for p in names}))
    found += staged_runs.check(replace(base, staged=paths, run_roots=roots))
    default = policy.branches.default or repo.default_branch()
    doc = _doc_state(repo, update, policy)
    found += branch_doc.check(
        replace(base, branch=update.branch, default_branch=default, doc=doc)
    )
    return [
        replace(f, severity=cap(f.severity, strongest(policy, f.check)))
        for f in found
        if strongest(policy, f.check) != "off"
    ]


def _doc_state(repo: ServerRepo, update: Update, policy: Policy) -> DocState | None:
    from ragguard.docs import doc_path
    from ragguard.errors import BadInputError

    if update.branch is None:
        return None
    try:
        full = doc_path(repo.cwd, policy.branches.doc, update.branch)
    except BadInputError as error:
        return DocState(path="", text=None, problem=error.message)
    rel = full.relative_to(repo.cwd).as_posix()
    text = repo.blob(update.new, rel)
    return DocState(path=rel, text=text, where="the pushed commit")


def receive(
    stdin: str, *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> tuple[int, list[str]]:
    """Judge every pushed branch; return the exit code and the lines to print."""
    env = os.environ if env is None else env
    repo = ServerRepo(cwd or Path.cwd(), env)
    lines: list[str] = []
    blocked = False
    for update in parse_updates(stdin):
        zero = "0" * len(update.new)
        if update.new == zero or update.branch is None:
            continue
        try:
            policy = server_policy(repo, update, zero)
        except PolicyError as error:
            lines.append(f"ragguard: {update.ref}: {error.message}")
            blocked = True
            continue
        findings = check_update(repo, update, policy)
        blocked |= any(f.severity == "block" for f in findings)
        lines += _render(update, findings, policy)
    return (1 if blocked else 0), lines


def _render(update: Update, findings: Sequence[Finding], policy: Policy) -> list[str]:
    name = update.branch or update.ref
    if not findings:
        lines = [f"ragguard: {name}: ok"]
    else:
        lines = []
        for f in findings:
            word = "blocked" if f.severity == "block" else "warning"
            lines.append(
                f"ragguard: {name}: {word} [{f.check}] {f.subject}: {f.message}"
            )
            if f.fix:
                lines.append(f"    fix: {f.fix}")
    if (
        update.branch
        and policy.branches.is_protected(update.branch)
        and policy.merge.metric
    ):
        lines.append(
            f"ragguard: {name}: the merge gate needs the runs, which live in W&B, "
            "not on this server: run `ragguard gate` in CI"
        )
    return lines
