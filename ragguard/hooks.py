"""One entry per git hook: gather the facts, run the stage's checks, print,
return the exit code.

``ragguard hook <stage> [git's arguments]`` calls :func:`run_hook` for both
install paths. Facts are gathered only for the checks the policy turns on at
the stage, so a hook pays only for what it checks. Hooks are read-only: the
only file they write is the skip log under the git dir (and the run index's
cache).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from ragguard.checks import (
    Context,
    DocState,
    Finding,
    LeftFacts,
    Skip,
    cap,
    log_skip,
    quote,
    run_checks,
    skip_from_env,
    unknown_skips,
    worst,
)
from ragguard.config import Policy, load_policy
from ragguard.errors import BadInputError, Exit
from ragguard.gitrepo import HEADS, REMOTES, TAGS, CommitInfo, Repo, is_zero_oid
from ragguard.hooktypes import HOOK_TYPES
from ragguard.render import (
    Painter,
    plural,
    render_findings,
    skip_hint,
    skipped_line,
    use_colour,
)
from ragguard.runs.model import STATES, Run

log = logging.getLogger(__name__)

STAGES = HOOK_TYPES
RUN_CHECKS = (
    "runs-finished",
    "runs-synced",
    "run-metadata",
    "run-commit",
    "left-behind",
)
# Checks of the commit moments that pre-push (and `ragguard gate` in CI) apply
# again to the commits being pushed, at the severity of their own stage: what
# `git commit --no-verify` let through is caught before it leaves the machine.
PUSH_ALSO = {"commit-msg": "commit-msg", "staged-runs": "pre-commit"}
# Set by `ragguard switch` for the `git switch` it runs, naming the branch
# whose debts it has just printed: post-checkout does not print them again.
REPORTED_LEFT = "RAGGUARD_REPORTED_LEFT"


@dataclass
class Hook:
    """What every stage shares: the repository, policy, skip and output."""

    stage: str
    repo: Repo
    policy: Policy
    skip: Skip
    out: TextIO
    env: Mapping[str, str]
    _runs: list[Run] | None = None

    @property
    def paint(self) -> Painter:
        return Painter(use_colour(self.out, self.env))

    def enabled(self, stage: str | None = None) -> dict[str, str]:
        """Check id -> severity at the stage, minus what RAGGUARD_SKIP skips."""
        table = dict(self.policy.checks_for(stage or self.stage))
        if "all" in self.skip.checks:
            return {}
        return {k: v for k, v in table.items() if k not in self.skip.checks}

    def skipped(self, stage: str | None = None) -> list[str]:
        stage = stage or self.stage
        table = [c for c, _ in self.policy.checks_for(stage)]
        if stage == "pre-push":
            table += list(checked_again(self.policy, frozenset()))
        return [c for c in table if c in self.skip.checks or "all" in self.skip.checks]

    def runs(self) -> list[Run]:
        """Every local run (warm: read from the run index's cache)."""
        if self._runs is None:
            from ragguard.selection import local_runs

            self._runs = local_runs(self.repo, self.policy)
        return self._runs

    def print(self, lines: Iterable[str]) -> None:
        for line in lines:
            try:
                self.out.write(line + "\n")
            except UnicodeEncodeError:  # a terminal that cannot show a name
                encoding = getattr(self.out, "encoding", None) or "ascii"
                safe = line.encode(encoding, "backslashreplace").decode(encoding)
                self.out.write(safe + "\n")
        self.out.flush()


def run_hook(
    stage: str,
    argv: Sequence[str],
    stdin: TextIO | str | None = None,
    *,
    out: TextIO | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Run the hook ``stage`` with git's arguments ``argv`` and standard input;
    return the exit code (:class:`~ragguard.errors.Exit`)."""
    if stage not in STAGES:
        known = ", ".join(STAGES)
        error = BadInputError(
            f"unknown hook stage {stage!r}; expected one of: {known} "
            "(usage: ragguard hook STAGE [git's arguments])."
        )
        error.exit_code = Exit.USAGE  # a usage mistake: exit 2, like click's
        raise error
    out = out or sys.stdout
    started = time.perf_counter()
    try:
        if stage in _AFTER_THE_FACT:
            return _never_failing(stage, argv, out, env, cwd)
        text = stdin if isinstance(stdin, str) else _read(stdin)
        hook = _hook(stage, out, env, cwd)
        return _STAGE_RUNNERS[stage](hook, list(argv), text)
    finally:
        elapsed = (time.perf_counter() - started) * 1000
        log.debug("hook %s took %.1f ms", stage, elapsed)


def _hook(
    stage: str, out: TextIO, env: Mapping[str, str] | None, cwd: Path | None
) -> Hook:
    env = os.environ if env is None else env
    repo = Repo.discover(cwd)
    hook = Hook(stage, repo, load_policy(repo.root), skip_from_env(env), out, env)
    _warn_unknown_skips(hook)
    return hook


def _never_failing(
    stage: str,
    argv: Sequence[str],
    out: TextIO,
    env: Mapping[str, str] | None,
    cwd: Path | None,
) -> int:
    """post-checkout and post-merge cannot undo what git did: report what can
    be reported and exit 0 whatever happens (a bad policy file included)."""
    from ragguard.errors import RagguardError

    try:
        _AFTER_THE_FACT[stage](_hook(stage, out, env, cwd), list(argv))
    except RagguardError as error:
        out.write(f"ragguard {stage}: {error.message}\n")
    except Exception as error:
        log.debug("%s failed", stage, exc_info=True)
        out.write(f"ragguard {stage}: could not report ({error})\n")
    return int(Exit.OK)


def _read(stream: TextIO | None) -> str:
    if stream is None or stream.isatty():
        return ""
    return stream.read()


def _warn_unknown_skips(hook: Hook) -> None:
    unknown = unknown_skips(hook.skip)
    if unknown:
        hook.print(
            [f"ragguard: RAGGUARD_SKIP names unknown checks: {', '.join(unknown)}"]
        )


# --- shared ---------------------------------------------------------------------


def finish(hook: Hook, findings: Sequence[Finding], *, can_block: bool = True) -> int:
    """Print the outcome, log any skip, and return the exit code."""
    skipped = hook.skipped()
    if skipped:
        branch = hook.repo.current_branch()
        log_skip(hook.repo.git_dir, hook.stage, skipped, branch, hook.skip.reason)
        hook.print([skipped_line(hook.stage, skipped, hook.skip.reason)])
    if hook.enabled() or findings:
        hook.print(render_findings(hook.stage, findings, paint=hook.paint))
    if hook.env.get("GIT_PREFIX") and any(f.fix for f in findings):
        # Fixes name paths from the repository root; git ran in a subfolder.
        root = quote(hook.repo.root)
        hook.print([f"(run the fixes from the repository root: cd {root})"])
    if can_block and worst(findings) == "block":
        hook.print(skip_hint(hook.stage, findings))
        return int(Exit.BLOCKED)
    return int(Exit.OK)


def doc_state(repo: Repo, policy: Policy, branch: str, commit: str | None) -> DocState:
    """The branch doc in the work tree, or in ``commit`` when given."""
    from ragguard.docs import doc_path

    try:
        full = doc_path(repo.root, policy.branches.doc, branch)
    except BadInputError as error:
        return DocState(path="", text=None, problem=error.message)
    rel = full.relative_to(repo.root).as_posix()
    if not full.is_file() and repo.ignores_case:
        from ragguard.docs import find_ignoring_case

        rel = find_ignoring_case(repo.root, rel) or rel
        full = repo.root / rel
    on_disk = full.is_file()
    if commit is None:
        return DocState(
            rel, _read_text(full) if on_disk else None, in_work_tree=on_disk
        )
    text = repo.blob_text(commit, rel)
    if text is None and repo.ignores_case:
        # git records the case the checkout had when the doc was added.
        found = repo.tree_path_icase(commit, rel)
        if found:
            rel, text = found, repo.blob_text(commit, found)
    return DocState(rel, text, where="the pushed commit", in_work_tree=on_disk)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _run_roots(hook: Hook) -> tuple[Path, ...]:
    """The configured run roots and ``$WANDB_DIR/wandb``; nested ``*/wandb``
    folders are recognised by staged-runs from the paths themselves."""
    roots = [hook.repo.root / d for d in hook.policy.wandb.dirs]
    wandb_dir = hook.env.get("WANDB_DIR")
    if wandb_dir:
        roots.append(Path(wandb_dir) / "wandb")
    return tuple(dict.fromkeys(roots))


def _branch_runs(hook: Hook, branch: str | None) -> tuple[Run, ...]:
    if branch is None:
        return ()
    from ragguard.selection import runs_of_branch

    return tuple(runs_of_branch(hook.repo, branch, hook.runs(), hook.policy))


# --- pre-commit -------------------------------------------------------------------


def _pre_commit(hook: Hook, argv: list[str], stdin: str) -> int:
    enabled = hook.enabled()
    merging: list[Finding] = []
    if hook.repo.operation_in_progress() == "MERGE_HEAD":
        from ragguard.mergehooks import merge_findings

        merging = merge_findings(hook)
    if not enabled:
        return finish(hook, merging)
    repo, branch = hook.repo, hook.repo.current_branch()
    ctx = Context(
        stage=hook.stage,
        policy=hook.policy,
        root=repo.root,
        branch=branch,
        default_branch=repo.default_branch(hook.policy),
    )
    if "staged-runs" in enabled:
        ctx = replace(
            ctx, staged=tuple(repo.staged_paths()), run_roots=_run_roots(hook)
        )
        ctx = replace(ctx, ignored=_ignored_run_data(repo, ctx))
    if "branch-doc" in enabled and branch and branch != ctx.default_branch:
        ctx = replace(ctx, doc=doc_state(repo, hook.policy, branch, None))
    if enabled.keys() & set(RUN_CHECKS):
        ctx = replace(ctx, runs=_branch_runs(hook, branch))
    return finish(hook, run_checks(hook.stage, ctx, hook.skip.checks) + merging)


def _ignored_run_data(repo: Repo, ctx: Context) -> frozenset[str]:
    """The staged run-data paths that ``.gitignore`` covers (added with
    ``git add -f``): one git call, and none when no run data is staged."""
    from ragguard.checks.staged_runs import run_data_paths

    paths = run_data_paths(ctx)
    if not paths:
        return frozenset()
    out = repo.git(
        "check-ignore",
        "--no-index",
        "-z",
        "--stdin",
        input="\0".join(paths) + "\0",
        check=False,
    )
    return frozenset(p for p in out.stdout.split("\0") if p)


# --- commit-msg -------------------------------------------------------------------


def _commit_msg(hook: Hook, argv: list[str], stdin: str) -> int:
    if not argv:
        raise BadInputError(
            "commit-msg needs the message file: ragguard hook commit-msg FILE"
        )
    if not hook.enabled():
        return finish(hook, [])
    path = Path(argv[0])
    try:
        message = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise BadInputError(
            f"cannot read the commit message {path}: {error}"
        ) from error
    ctx = Context(
        stage=hook.stage,
        policy=hook.policy,
        root=hook.repo.root,
        message=message,
        message_file=str(path.resolve()),
        commit_scope=_commit_scope(hook.env),
        comment_char=_comment_char(hook.repo, message),
    )
    findings = run_checks(hook.stage, ctx, hook.skip.checks)
    if findings and _replayed(hook.repo, message, ctx.comment_char):
        findings = []
    return finish(hook, findings)


def _replayed(repo: Repo, message: str, comment_char: str) -> bool:
    """Whether the message is that of the commit being cherry-picked (git
    runs commit-msg on `git cherry-pick --continue`): it was judged, or its
    skip logged, when it was first made, and a pick must not stop on it."""
    from ragguard.checks.commit_msg import message_text, subject

    if not repo.in_progress("CHERRY_PICK_HEAD"):
        return False
    picked = repo.git("log", "-1", "--format=%B", "CHERRY_PICK_HEAD", "--", check=False)
    if picked.returncode != 0:
        return False
    mine = subject(message_text(message, comment_char))
    return bool(mine) and mine == subject(picked.stdout)


def _commit_scope(env: Mapping[str, str]) -> str:
    """``git commit -a`` and ``git commit PATHS`` hand the hook a temporary
    index; a fix that reuses the message must repeat them."""
    index = os.path.basename(env.get("GIT_INDEX_FILE", ""))
    if index == "index.lock":
        return "-a"
    return "paths" if index.startswith("next-index") else ""


def _comment_char(repo: Repo, message: str) -> str:
    if "\n#" not in "\n" + message and not message.startswith("#"):
        value = repo.config_get("core.commentChar")
        if value and value != "auto":
            return value[0]
    return "#"


# --- pre-push ---------------------------------------------------------------------


@dataclass(frozen=True)
class PushedRef:
    local_ref: str
    local_oid: str
    remote_ref: str
    remote_oid: str

    @property
    def deletes(self) -> bool:
        """A push that deletes the remote ref (git sends a zero local id)."""
        return is_zero_oid(self.local_oid)

    @property
    def remote_had(self) -> str | None:
        """The remote's id of the ref before the push; ``None`` for a new ref
        (git sends the zero id, of 40 or 64 digits)."""
        return None if is_zero_oid(self.remote_oid) else self.remote_oid


def parse_push_lines(text: str) -> list[PushedRef]:
    """git's pre-push standard input: ``<local ref> <local oid> <remote ref>
    <remote oid>`` per line. Ref names hold no ASCII space or control
    character, but may hold letters Python's ``split()`` and ``splitlines()``
    break on (U+00A0, U+2028): split on git's own separators only."""
    refs = []
    for line in text.split("\n"):
        parts = line.removesuffix("\r").split(" ")
        if len(parts) == 4 and all(parts):
            refs.append(PushedRef(*parts))
    return refs


def refs_from_pre_commit(repo: Repo, env: Mapping[str, str]) -> list[PushedRef]:
    """The one ref the pre-commit framework passes in ``PRE_COMMIT_*``."""
    remote_ref = env.get("PRE_COMMIT_REMOTE_BRANCH", "")
    local_ref = env.get("PRE_COMMIT_LOCAL_BRANCH", "") or "HEAD"
    local_oid = env.get("PRE_COMMIT_TO_REF", "")
    if not local_oid:
        result = repo.git(
            "rev-parse",
            "-q",
            "--verify",
            "--end-of-options",
            local_ref + "^{commit}",
            check=False,
        )
        local_oid = result.stdout.strip()
    if not remote_ref or not local_oid:
        return []
    # FROM_REF is a commit the remote has (or the parent of the first new one).
    base = env.get("PRE_COMMIT_FROM_REF", "") or repo.zero_oid
    return [PushedRef(local_ref, local_oid, remote_ref, base)]


def _pre_push(hook: Hook, argv: list[str], stdin: str) -> int:
    env = hook.env
    remote_name = argv[0] if argv else env.get("PRE_COMMIT_REMOTE_NAME", "")
    refs = parse_push_lines(stdin)
    if not refs and env.get("PRE_COMMIT_REMOTE_BRANCH"):
        refs = refs_from_pre_commit(hook.repo, env)
    remote = remote_name if remote_name in hook.repo.remotes else None
    if remote is None and remote_name:
        remote = hook.repo.remote_for_url(remote_name)
    findings: list[Finding] = []
    checked = [ref for ref in refs if _wanted(hook, ref)]
    if not checked:
        # Deletions, tags without push.check_tags, refs outside refs/heads/:
        # nothing a branch check applies to arrives.
        return int(Exit.OK)
    for ref in checked:
        found = _ref_findings(hook, ref, remote, remote_name)
        if len(checked) > 1:
            found = [
                replace(f, subject=f"{_short(ref.remote_ref)}: {f.subject}")
                for f in found
            ]
        findings.extend(found)
    return finish(hook, findings)


def _ref_findings(
    hook: Hook, ref: PushedRef, remote: str | None, shown: str
) -> list[Finding]:
    """Everything pre-push says about one pushed ref: its checks, the merge
    gate (by the remote branch's policy) and the commit checks again."""
    from ragguard.selection import judged_commits

    ctx = _push_context(hook, ref, remote, shown)
    found = run_checks(hook.stage, ctx, hook.skip.checks) + list(ctx.gate)
    if ctx.branch is None or not checked_again(hook.policy, hook.skip.checks):
        return found
    commits = judged_commits(
        hook.repo,
        local_oid=ref.local_oid,
        remote_oid=ref.remote_had,
        remote=remote,
        branch=ctx.branch,
        policy=hook.policy,
    )
    again = commit_findings(
        hook.repo, hook.policy, commits, hook.skip.checks, tip=ref.local_oid
    )
    local = ref.local_ref.removeprefix(HEADS)
    on_branch = ref.local_ref.startswith(HEADS)
    if again and on_branch and local != hook.repo.current_branch():
        # The fixes rewrite the pushed branch, which is not the one checked out.
        again = [replace(f, fix=f"git switch {quote(local)} && {f.fix}") for f in again]
    return found + again


def _short(ref: str) -> str:
    for prefix in (HEADS, TAGS):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return ref


def _wanted(hook: Hook, ref: PushedRef) -> bool:
    if ref.deletes:
        return False  # nothing arrives on the remote
    if ref.remote_ref.startswith(TAGS):
        return hook.policy.push.check_tags
    return ref.remote_ref.startswith(HEADS)


def _push_context(
    hook: Hook, ref: PushedRef, remote: str | None, shown: str
) -> Context:
    from ragguard.selection import runs_of_push

    repo, policy, enabled = hook.repo, hook.policy, hook.enabled()
    is_tag = ref.remote_ref.startswith(TAGS)
    on_branch = ref.remote_ref.startswith(HEADS)
    branch = ref.remote_ref[len(HEADS) :] if on_branch else None
    remote_oid = ref.remote_had
    ctx = Context(
        stage=hook.stage,
        policy=policy,
        root=repo.root,
        branch=branch,
        default_branch=repo.default_branch(policy),
        remote=shown or remote,
    )
    if "branch-doc" in enabled and branch and branch != ctx.default_branch:
        ctx = replace(ctx, doc=doc_state(repo, policy, branch, ref.local_oid))
    if branch:  # protected or not, by the remote branch's own policy
        from ragguard.mergehooks import push_gate

        tip = _remote_tip(repo, remote, branch, remote_oid)
        ctx = replace(ctx, gate=tuple(push_gate(hook, ctx, ref.local_oid, tip)))
    if not enabled.keys() & set(RUN_CHECKS):
        return ctx
    runs, new = runs_of_push(
        repo,
        local_oid=ref.local_oid,
        remote_oid=remote_oid,
        remote=remote,
        branch=branch or "",
        runs=hook.runs(),
        policy=policy,
    )
    if is_tag:
        runs = [run for run in runs if run.commit in new]
    if "run-metadata" in enabled:
        runs = _read_fully_if_missing(hook, runs)
    # --- remote checks (ragguard/remote.py): W&B confirms uploads and adds the
    # pushed commits' runs made elsewhere; time-limited, never blocks by itself.
    if policy.wandb.remote:
        from ragguard.remote import augment_push

        runs, notes = augment_push(
            hook,
            runs,
            local_oid=ref.local_oid,
            remote_oid=remote_oid,
            remote=remote,
            branch=branch or "",
        )
        hook.print(notes)
    # --- end of remote checks
    ctx = replace(ctx, runs=tuple(runs))
    if "run-commit" in enabled:
        ctx = with_lost_commits(repo, policy, hook.runs(), ctx, ref.local_oid, remote)
    return ctx


def _remote_tip(
    repo: Repo, remote: str | None, branch: str, remote_oid: str | None
) -> str | None:
    """What the remote's ``branch`` points at before this push."""
    if remote_oid and repo.existing_commits([remote_oid]):
        return remote_oid
    ref = repo.refs.get(f"{REMOTES}{remote}/{branch}") if remote else None
    return ref.oid if ref else None


def _read_fully_if_missing(hook: Hook, runs: Sequence[Run]) -> list[Run]:
    """Runs read the fast way (head and tail of the log) may miss config set
    mid-run: read those that look incomplete once more, in full, before
    blocking on them."""
    from ragguard.checks.run_metadata import is_missing

    suspects = [r for r in runs if r.partial and is_missing(r, hook.policy)]
    if not suspects:
        return list(runs)
    import time

    from ragguard.runs.folder import read_segment
    from ragguard.runs.index import group

    segments = [
        read_segment(path, deep=True)
        for run in suspects
        for path in (run.segments or (run.path,))
    ]
    now, stale = time.time(), hook.policy.wandb.stale_after
    full = {run.id: run for run in group(segments, now=now, stale_after=stale)}
    return [full.get(run.id, run) for run in runs]


def with_lost_commits(
    repo: Repo,
    policy: Policy,
    runs: Sequence[Run],
    ctx: Context,
    local_oid: str,
    remote: str | None,
) -> Context:
    """Fill ``lost_commits`` and ``orphans`` for run-commit (a few git calls)
    as a push of ``local_oid`` to ``remote`` sees them. A run of a commit
    amended or rebased away is still the branch's run: it joins ``runs``, to
    be finished and synced like the others."""
    from ragguard.checks.run_commit import MISSING, ORPHANED, UNPUSHED
    from ragguard.selection import in_projects

    everyone = in_projects(runs, policy)
    wanted = {run.commit for run in everyone if run.commit}
    present = repo.existing_commits(wanted)
    lost: dict[str, str] = {c: MISSING for c in wanted - present}
    unreachable = set(repo.rev_list(sorted(present), repo.all_tips)) & present
    lost.update({c: ORPHANED for c in unreachable})
    mine = {run.commit for run in ctx.runs if run.commit in present} - unreachable
    after_push = [local_oid, *repo.remote_tips(remote)]
    lost.update(
        {c: UNPUSHED for c in set(repo.rev_list(sorted(mine), after_push)) & mine}
    )
    orphans = _orphans_of(repo, ctx, everyone, unreachable, local_oid)
    mine_missing = {r.commit for r in ctx.runs if r.commit in lost}
    keep = mine_missing | {r.commit for r in orphans}
    known = {run.id for run in ctx.runs}
    return replace(
        ctx,
        runs=ctx.runs + tuple(run for run in orphans if run.id not in known),
        lost_commits={c: why for c, why in lost.items() if c in keep},
        orphans=tuple(orphans),
    )


def _orphans_of(
    repo: Repo, ctx: Context, runs: list[Run], unreachable: set[str], tip: str
) -> list[Run]:
    """Runs on amended or rebased-away commits that belonged to this branch:
    their commit's parent is still in the pushed history."""
    if not unreachable:
        return []
    parents = repo.parents(unreachable)
    firsts = {c: ps[0] for c, ps in parents.items() if ps}
    outside = set(repo.rev_list(sorted(set(firsts.values())), [tip]))
    inside = {c for c, parent in firsts.items() if parent not in outside}
    return [run for run in runs if run.commit in inside and run not in ctx.runs]


# --- what `git commit --no-verify` let through -------------------------------------


def commit_findings(
    repo: Repo,
    policy: Policy,
    commits: Collection[str],
    skip: frozenset[str],
    *,
    tip: str,
) -> list[Finding]:
    """``commit-msg`` and ``staged-runs`` on commits already made, at the
    severity of their own stage: pre-push and ``ragguard gate`` catch what
    ``git commit --no-verify`` skipped. ``tip`` is the commit pushed or
    judged, which the fixes rewrite back to."""
    wanted = checked_again(policy, skip)
    if not wanted or not commits:
        return []
    found: list[Finding] = []
    for info in repo.commit_log(commits):
        if "commit-msg" in wanted:
            found += _message_findings(repo, policy, info, tip)
        if "staged-runs" in wanted:
            found += _run_data_findings(policy, info, tip)
    return [
        replace(f, severity=cap(f.severity, policy.severity(f.check, wanted[f.check])))
        for f in found
    ]


def checked_again(policy: Policy, skip: frozenset[str]) -> dict[str, str]:
    """The commit checks the policy turns on and RAGGUARD_SKIP leaves:
    check id -> the stage whose severity they keep."""
    if "all" in skip:
        return {}
    return {
        check: stage
        for check, stage in PUSH_ALSO.items()
        if policy.severity(check, stage) != "off" and check not in skip
    }


def _message_findings(
    repo: Repo, policy: Policy, info: CommitInfo, tip: str
) -> list[Finding]:
    from ragguard.checks import commit_msg

    ctx = Context(
        stage="commit-msg", policy=policy, root=repo.root, message=info.message
    )
    subject = f"commit {info.oid[:10]}"
    fix = _rewrite(info, tip, "reword")
    return [
        replace(f, subject=f"{subject} {f.subject}", fix=fix)
        for f in commit_msg.check(ctx)
    ]


def _run_data_findings(policy: Policy, info: CommitInfo, tip: str) -> list[Finding]:
    from ragguard.checks.staged_runs import run_data_by_root

    roots = [d.strip("/").removeprefix("./") for d in policy.wandb.dirs]
    grouped = run_data_by_root(info.paths, roots)
    if not grouped:
        return []
    # One finding for the commit, whatever its roots: its fix rewrites it once.
    # A commit of nothing but run data cannot be amended without it: undo it
    # (the files stay in the working tree), or, below HEAD, let it be empty.
    total = sum(map(len, grouped.values()))
    only_data = total == len(info.paths)
    message = (
        f"W&B run data was committed in {info.oid[:10]} ({plural(total, 'file')}); "
        "runs belong in W&B, not in git history"
    )
    untrack = f"git rm -r -q --cached -- {' '.join(map(quote, grouped))} && "
    untrack += "git commit --amend --no-edit" + (" --allow-empty" * only_data)
    fix = _rewrite(info, tip, "edit", then=untrack)
    if only_data and info.oid == tip and info.parents:
        fix = "git reset -q HEAD~1"
    return [Finding("staged-runs", "block", ", ".join(grouped), message, fix)]


def _rewrite(info: CommitInfo, tip: str, action: str, then: str = "") -> str:
    """How to change a commit already made: amend it when it is the tip,
    else an interactive rebase that stops at it."""
    if info.oid == tip:
        return then or "git commit --amend"
    short = info.oid[:10]
    base = f"{short}~1" if info.parents else "--root"
    steps = f"mark {short} '{action}'" + (
        f", then {then} && git rebase --continue" if then else ""
    )
    return f"git rebase -i {base}  ({steps})"


# --- post-checkout ----------------------------------------------------------------


def _report_checkout(hook: Hook, argv: list[str]) -> None:
    env = hook.env
    if len(argv) < 3:
        argv = [
            env.get("PRE_COMMIT_FROM_REF", ""),
            env.get("PRE_COMMIT_TO_REF", ""),
            env.get("PRE_COMMIT_CHECKOUT_TYPE", ""),
        ]
    old, new, flag = argv[:3]
    repo = hook.repo
    if flag != "1" or not old or is_zero_oid(old):
        return  # a file checkout, a clone or `git worktree add`
    if repo.operation_in_progress() or not _is_a_switch(repo):
        return
    left = repo.previous_branch()
    arrived = repo.current_branch()
    if arrived and old == new and repo.just_created(arrived):
        # `git switch -c` (or a first switch to a branch made at this very
        # commit): nothing is left behind, the work comes along.
        hook.print(arrival_summary(hook, arrived)[:1])
        return
    if left and left != arrived and env.get(REPORTED_LEFT) != left:
        findings = _left_findings(hook, left)
        heading = f"ragguard: left {left}"
        if findings or hook.skipped():
            hook.print(
                render_findings(hook.stage, findings, paint=hook.paint, heading=heading)
            )
    hook.print(arrival_summary(hook, arrived))


def _is_a_switch(repo: Repo) -> bool:
    """Whether the user switched: git logs ``checkout: moving from A to B``
    for a switch, and other words when a rebase (any backend), a pull or a
    reset moves HEAD, some before their state folder exists."""
    moved_by = repo.head_moved_by()
    return not moved_by or moved_by.startswith("checkout: moving from ")


def left_context(hook: Hook, left: str, stage: str) -> Context:
    """The context of the ``left-behind`` checks for the branch ``left``."""
    repo, policy = hook.repo, hook.policy
    enabled = hook.enabled(stage)
    ctx = Context(
        stage=stage,
        policy=policy,
        root=repo.root,
        branch=left,
        default_branch=repo.default_branch(policy),
    )
    if "left-behind" in enabled:
        ctx = replace(ctx, left=left_facts(repo, policy, left))
    if enabled.keys() & set(RUN_CHECKS):
        ctx = replace(ctx, runs=_branch_runs(hook, left))
    return ctx


def _left_findings(hook: Hook, left: str) -> list[Finding]:
    ctx = left_context(hook, left, hook.stage)
    found = run_checks(hook.stage, ctx, hook.skip.checks)
    # What the branch owes as a whole first, then its runs.
    return sorted(found, key=lambda f: f.check != "left-behind")


def left_facts(repo: Repo, policy: Policy, branch: str) -> LeftFacts:
    tip = repo.branch_oid(branch)
    upstream = repo.upstream_of(branch)
    remote = _remote_of(repo, upstream) if upstream else _push_remote(repo, policy)
    if tip is None:
        unpushed = 0
    elif upstream:
        unpushed = len(repo.rev_list([tip], [repo.refs[upstream].oid]))
    elif repo.remotes:
        all_remote = [r.oid for r in repo.refs.values() if r.name.startswith(REMOTES)]
        unpushed = len(repo.rev_list([tip], all_remote))
    else:
        from ragguard.selection import branch_commits

        unpushed = len(branch_commits(repo, branch, policy))
    from ragguard.checks.staged_runs import run_data_root

    # Run folders in an un-ignored run root are not work to commit:
    # staged-runs refuses them, so they must not count as left behind.
    roots = list(policy.wandb.dirs)
    changes = [
        c for c in repo.uncommitted() if not run_data_root(c[3:].rstrip("/"), roots)
    ]
    return LeftFacts(
        branch=branch,
        changes=tuple(changes),
        unpushed=unpushed,
        upstream=upstream[len(REMOTES) :] if upstream else None,
        remote=remote,
    )


def _push_remote(repo: Repo, policy: Policy) -> str | None:
    """Where a branch without upstream would be pushed: ``remote.pushDefault``,
    ``origin`` or the only remote, else the remote the default branch tracks.
    ``None`` only when the repository has no remote at all."""
    named = repo.config_get("remote.pushDefault") or repo.primary_remote()
    if named or not repo.remotes:
        return named
    default = repo.upstream_of(repo.default_branch(policy))
    return (_remote_of(repo, default) if default else None) or repo.remotes[0]


def _remote_of(repo: Repo, upstream: str) -> str | None:
    names = [n for n in repo.remotes if upstream.startswith(f"{REMOTES}{n}/")]
    return max(names, key=len) if names else None


def arrival_summary(hook: Hook, branch: str | None) -> list[str]:
    """A summary of the branch arrived on: doc, runs, best run, then the
    doc's Goal line and a compact table of the runs, best first."""
    repo, policy = hook.repo, hook.policy
    if branch is None:
        at = (repo.head_oid or "")[:12]
        return [
            f"ragguard: detached at {at} (no branch, so no branch doc; "
            "to keep commits made here: git switch -c NAME)"
        ]
    from ragguard.report import summary_block

    parts = []
    doc = None
    if branch != repo.default_branch(policy):
        doc = doc_state(repo, policy, branch, None)
        parts.append(_doc_word(doc))
    if branch == repo.default_branch(policy):
        from ragguard.compare import branch_side_runs

        # The default branch's runs are its whole history: the baseline.
        runs = tuple(branch_side_runs(repo, branch, hook.runs(), policy))
    else:
        runs = _branch_runs(hook, branch)
    parts.append(_runs_words(runs))
    best = _best(runs, policy)
    if best:
        parts.append(best)
    line = f"ragguard: on {branch}: " + "; ".join(parts)
    return [line, *summary_block(runs, policy, doc.text if doc else None)]


def _doc_word(doc: DocState) -> str:
    if doc.problem or doc.text is None:
        return "no doc (ragguard doc init)"
    from ragguard.docs import doc_is_filled

    return f"doc {doc.path}" if doc_is_filled(doc.text) else f"doc {doc.path} unfilled"


def _runs_words(runs: Sequence[Run]) -> str:
    if not runs:
        return "no runs"
    states: dict[str, int] = {}
    for run in runs:
        states[run.state] = states.get(run.state, 0) + 1
    said = ", ".join(f"{states[s]} {s}" for s in STATES if s in states)
    unsynced = sum(run.sync != "synced" for run in runs)
    sync = f", {unsynced} not synced" if unsynced else ", all synced"
    noun = "run" if len(runs) == 1 else "runs"
    return f"{len(runs)} {noun} ({said}{sync})"


def _best(runs: Sequence[Run], policy: Policy) -> str | None:
    """``best M = v (run id)`` by the metric the summary table ranks with."""
    from ragguard.compare import choose_metric, goal_of, ranked
    from ragguard.gate import metric_value

    metric = choose_metric(runs, policy)
    if metric is None or not runs:
        return None
    best = ranked(runs, metric, goal_of(metric, policy))[0]
    value = metric_value(best, metric)
    if value is None:
        return None
    return f"best {metric} = {value:.4g} (run {best.id})"


def _pre_merge_commit(hook: Hook, argv: list[str], stdin: str) -> int:
    from ragguard.mergehooks import pre_merge_commit

    return pre_merge_commit(hook, argv, stdin)


def _post_merge(hook: Hook, argv: list[str]) -> None:
    from ragguard.mergehooks import post_merge

    post_merge(hook, argv, "")


_STAGE_RUNNERS: dict[str, Callable[[Hook, list[str], str], int]] = {
    "pre-commit": _pre_commit,
    "commit-msg": _commit_msg,
    "pre-push": _pre_push,
    "pre-merge-commit": _pre_merge_commit,
}
_AFTER_THE_FACT: dict[str, Callable[[Hook, list[str]], None]] = {
    "post-checkout": _report_checkout,
    "post-merge": _post_merge,
}


# --- ragguard check ---------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    stage: str
    branch: str | None
    findings: tuple[Finding, ...]
    skipped: tuple[str, ...]

    @property
    def blocked(self) -> bool:
        return worst(self.findings) == "block"


CHECK_STAGES = ("pre-commit", "commit-msg", "pre-push", "post-checkout", "switch")


def check_now(stage: str, *, cwd: Path | None = None) -> CheckResult:
    """Run a stage's checks by hand against the repository as it is now:
    ``commit-msg`` reads HEAD's message, ``pre-push`` pretends to push the
    current branch to its upstream, ``post-checkout`` and ``switch`` pretend
    to leave the current branch."""
    if stage not in CHECK_STAGES:
        known = ", ".join(CHECK_STAGES)
        raise BadInputError(f"unknown stage {stage!r}; expected one of: {known}.")
    repo = Repo.discover(cwd)
    hook = Hook(
        stage, repo, load_policy(repo.root), skip_from_env(), sys.stdout, os.environ
    )
    branch = repo.current_branch()
    if stage == "pre-push":
        findings = _manual_pre_push(hook, branch)
        return CheckResult(stage, branch, tuple(findings), tuple(hook.skipped()))
    ctx = _MANUAL[stage](hook, branch)
    findings = run_checks(stage, ctx, hook.skip.checks) if ctx else []
    return CheckResult(stage, branch, tuple(findings), tuple(hook.skipped()))


def _manual_pre_commit(hook: Hook, branch: str | None) -> Context | None:
    ctx = Context(
        stage=hook.stage,
        policy=hook.policy,
        root=hook.repo.root,
        branch=branch,
        default_branch=hook.repo.default_branch(hook.policy),
        staged=tuple(hook.repo.staged_paths()),
        run_roots=_run_roots(hook),
        runs=_branch_runs(hook, branch),
    )
    if branch and branch != ctx.default_branch:
        ctx = replace(ctx, doc=doc_state(hook.repo, hook.policy, branch, None))
    return ctx


def _manual_commit_msg(hook: Hook, branch: str | None) -> Context | None:
    if hook.repo.head_oid is None:
        return None
    message = hook.repo.git("log", "-1", "--format=%B", hook.repo.head_oid).stdout
    return Context(
        stage=hook.stage, policy=hook.policy, root=hook.repo.root, message=message
    )


def _manual_pre_push(hook: Hook, branch: str | None) -> list[Finding]:
    """As if the current branch were pushed to its upstream. A detached HEAD
    (a CI checkout) is checked as a push of no branch: its runs, no doc."""
    repo = hook.repo
    tip = repo.head_oid
    if tip is None:
        return []
    upstream = repo.upstream_of(branch) if branch else None
    remote = _remote_of(repo, upstream) if upstream else repo.primary_remote()
    if branch is None:
        ref = PushedRef("HEAD", tip, "HEAD", repo.zero_oid)
        ctx = _push_context(hook, ref, remote, remote or "")
        return run_checks(hook.stage, ctx, hook.skip.checks)
    tracking = repo.refs.get(f"{REMOTES}{remote}/{branch}") if remote else None
    ref = PushedRef(
        HEADS + branch,
        tip,
        HEADS + branch,
        tracking.oid if tracking else repo.zero_oid,
    )
    return _ref_findings(hook, ref, remote, remote or "")


def _manual_leave(hook: Hook, branch: str | None) -> Context | None:
    if branch is None:
        return None
    return left_context(hook, branch, hook.stage)


_MANUAL: dict[str, Callable[[Hook, str | None], Context | None]] = {
    "pre-commit": _manual_pre_commit,
    "commit-msg": _manual_commit_msg,
    "post-checkout": _manual_leave,
    "switch": _manual_leave,
}


def finding_to_json(finding: Finding) -> dict[str, str]:
    return {
        "check": finding.check,
        "severity": finding.severity,
        "subject": finding.subject,
        "message": finding.message,
        "fix": finding.fix,
    }


def print_check(
    result: CheckResult, *, as_json: bool, out: TextIO | None = None
) -> None:
    """``ragguard check``'s output: the hook's rendering, or JSON."""
    out = out or sys.stdout
    if as_json:
        import json

        data = {
            "stage": result.stage,
            "branch": result.branch,
            "blocked": result.blocked,
            "skipped": list(result.skipped),
            "findings": [finding_to_json(f) for f in result.findings],
        }
        out.write(json.dumps(data, indent=2) + "\n")
        return
    paint = Painter(use_colour(out))
    lines = render_findings(result.stage, result.findings, paint=paint)
    if result.skipped:
        lines.insert(0, f"skipped by RAGGUARD_SKIP: {', '.join(result.skipped)}")
    out.write("\n".join(lines) + "\n")


USAGE = """usage: ragguard hook STAGE [git's arguments]
  ragguard hook pre-commit
  ragguard hook commit-msg MSGFILE
  ragguard hook pre-push REMOTE-NAME REMOTE-URL   (refs on standard input)
  ragguard hook post-checkout OLD NEW FLAG
  ragguard hook pre-merge-commit | post-merge"""


def main(argv: Sequence[str]) -> int:
    """``python -m ragguard hook ...`` without loading the click CLI: the
    same contract and exit codes as ``ragguard hook``, a faster start."""
    from ragguard.errors import RagguardError

    if not argv or argv[0] in ("-h", "--help"):
        sys.stderr.write(USAGE + "\n")
        return int(Exit.OK if argv and argv[0] in ("-h", "--help") else Exit.USAGE)
    try:
        return run_hook(argv[0], argv[1:], sys.stdin)
    except RagguardError as error:
        sys.stderr.write(f"ragguard: {error.message}\n")
        return int(error.exit_code)
    except KeyboardInterrupt:
        return 130
    except Exception:
        if log.isEnabledFor(logging.DEBUG):
            raise
        sys.stderr.write(
            "ragguard: unexpected error; for the traceback, run the git command "
            "again with RAGGUARD_DEBUG=1\n"
        )
        return int(Exit.CRASH)
