"""``ragguard status``: one screen for the current branch, ending with the one
command to run next.

It gathers the same facts as the hooks (doc, runs, unpushed commits,
uncommitted changes), runs the ``pre-push`` and ``switch`` checks on them, asks
the merge gate for its verdict when the branch targets the default branch
(always protected), and shows a failed post-merge validation until a later
one passes. Everything comes from the git CLI and the run index's warm cache:
no GitPython, no wandb.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ragguard.checks import Context, DocState, Finding, LeftFacts, run_checks
from ragguard.config import Policy, load_policy
from ragguard.gitrepo import HEADS, REMOTES, Repo
from ragguard.render import LABELS, finding_line
from ragguard.runs.index import Search
from ragguard.runs.model import STATES, SYNCS, Run

if TYPE_CHECKING:
    from ragguard.gate import Verdict
    from ragguard.validate import Validation

_SHOWN_FINDINGS = 6
_RANK = {"block": 0, "warn": 1, "info": 2}


@dataclass(frozen=True)
class Status:
    branch: str | None  # None: detached HEAD
    head: str | None  # the commit HEAD names; None before the first commit
    default_branch: str
    target: str | None  # what the gate compares with; None: no gate
    doc: DocState | None  # None on the default branch or a detached HEAD
    doc_filled: bool | None
    runs: tuple[Run, ...]
    left: LeftFacts | None
    verdict: Verdict | None
    validation: Validation | None  # only a failed one
    findings: tuple[Finding, ...]  # blocks first
    next: str  # the one command to run next
    search: Search | None = None  # where runs were looked for


def status(cwd: Path | None = None) -> Status:
    """The status of the branch checked out in the repository around ``cwd``."""
    from ragguard import validate

    repo = Repo.discover(cwd)
    policy = load_policy(repo.root)
    branch = repo.current_branch()
    default = repo.default_branch(policy)
    failed = validate.load(repo.git_dir)
    failed = failed if failed is not None and not failed.ok else None
    if branch is None:
        return _detached(repo, default, failed)
    return _on_branch(repo, policy, branch, default, failed)


def _detached(repo: Repo, default: str, failed: Validation | None) -> Status:
    nxt = "ragguard validate" if failed else "git switch BRANCH"
    return Status(
        None, repo.head_oid, default, None, None, None, (), None, None, failed, (), nxt
    )


def _on_branch(
    repo: Repo,
    policy: Policy,
    branch: str,
    default: str,
    failed: Validation | None,
) -> Status:
    from ragguard.docs import doc_is_filled
    from ragguard.hooks import doc_state, left_facts
    from ragguard.runs.index import search
    from ragguard.selection import local_runs, runs_of_branch

    found = search(repo.root, policy.wandb.dirs)
    everything = local_runs(repo, policy, found.roots)
    runs = tuple(runs_of_branch(repo, branch, everything, policy))
    doc = filled = None
    if branch != default:
        doc = doc_state(repo, policy, branch, None)
        filled = doc.text is not None and doc_is_filled(doc.text)
    left = left_facts(repo, policy, branch)
    ctx = Context(
        stage="pre-push",
        policy=policy,
        root=repo.root,
        branch=branch,
        default_branch=default,
        runs=runs,
        doc=doc,
        left=left,
    )
    ctx = _with_lost_commits(repo, policy, ctx, everything)
    extra = _unignored_roots(repo, policy, found) + _without_commit(ctx, everything)
    findings = _findings(ctx, extra)
    target = _gate_target(repo, policy, branch, default)
    verdict = _verdict(repo, policy, everything, branch, target, filled)
    return Status(
        branch=branch,
        head=repo.head_oid,
        default_branch=default,
        target=target,
        doc=doc,
        doc_filled=filled,
        runs=_shown_runs(repo, policy, branch, default, runs, everything),
        left=left,
        verdict=verdict,
        validation=failed,
        findings=findings,
        next=_next(findings, verdict, failed, branch, target),
        search=found,
    )


def _shown_runs(
    repo: Repo,
    policy: Policy,
    branch: str,
    default: str,
    own: tuple[Run, ...],
    everything: Sequence[Run],
) -> tuple[Run, ...]:
    """The runs to show: on the default branch every run in its history (the
    baseline, as the gate and the report see it), elsewhere the branch's own."""
    if branch != default:
        return own
    from ragguard.compare import branch_side_runs

    return tuple(branch_side_runs(repo, branch, everything, policy))


def _findings(ctx: Context, extra: Sequence[Finding] = ()) -> tuple[Finding, ...]:
    """What a push (``pre-push``) or leaving (``switch``) would say now, and
    what only status looks for (``extra``)."""
    found = run_checks("pre-push", ctx) + run_checks(
        "switch", replace(ctx, stage="switch")
    )
    found += list(extra)
    unique: dict[tuple[str, str], Finding] = {}
    for finding in found:
        key = (finding.subject, finding.message)
        old = unique.get(key)
        if old is None or _RANK[finding.severity] < _RANK[old.severity]:
            unique[key] = finding
    return tuple(sorted(unique.values(), key=lambda f: _RANK[f.severity]))


def _with_lost_commits(
    repo: Repo, policy: Policy, ctx: Context, everything: Sequence[Run]
) -> Context:
    """run-commit's facts, worked out as pre-push works them out for a push
    of the branch to its remote: runs on commits amended away or missing."""
    if not any(check == "run-commit" for check, _ in policy.checks_for("pre-push")):
        return ctx
    tip = repo.branch_oid(ctx.branch or "")
    if tip is None:
        return ctx
    from ragguard.hooks import with_lost_commits

    remote = ctx.left.remote if ctx.left else None
    return with_lost_commits(repo, policy, everything, ctx, tip, remote)


def _without_commit(ctx: Context, everything: Sequence[Run]) -> list[Finding]:
    """Runs that record no commit (started outside the repository): no branch
    claims them, so no hook ever checks them; status names them until they
    are kept in W&B (synced) or deleted."""
    from ragguard.checks import quote
    from ragguard.checks._runs import subject, sync_command
    from ragguard.checks.run_commit import CHECK
    from ragguard.selection import in_projects

    found = []
    for run in in_projects(everything, ctx.policy):
        if run.commit or run.git_branch or run.sync == "synced":
            continue
        if run.state in ("empty", "unreadable", "running"):
            continue  # runs-finished's business, or no commit recorded yet
        path = quote(ctx.shown(run.path))
        message = (
            "records no commit (started outside the repository?), so no branch "
            "claims it and no check covers it"
        )
        fix = (
            f"keep it: {sync_command(ctx, run)} or delete it: rm -r -- {path}; "
            "start runs from inside the repository"
        )
        found.append(Finding(CHECK, "warn", subject(run), message, fix))
    return found


def _unignored_roots(repo: Repo, policy: Policy, found: Search) -> list[Finding]:
    """Run roots inside the repository that ``.gitignore`` does not cover:
    one ``git add .`` would commit every run folder in them."""
    roots = [repo.root / d for d in policy.wandb.dirs] + list(found.roots)
    inside = []
    for root in roots:
        try:
            rel = root.resolve().relative_to(repo.root.resolve()).as_posix()
        except (OSError, ValueError):
            continue
        if rel != "." and rel not in inside:
            inside.append(rel)
    if not inside:
        return []
    # Two files of a run folder stand for the root: `*.wandb` alone leaves
    # every run's files/ and logs/ to be committed.
    run = "offline-run-00000000_000000-x"
    probes = {
        rel: (f"{rel}/{run}/run-x.wandb", f"{rel}/{run}/files/output.log")
        for rel in inside
    }
    listed = [path for pair in probes.values() for path in pair]
    args = ("check-ignore", "--no-index", "-z", "--stdin")
    out = repo.git(*args, input="\0".join(listed) + "\0", check=False)
    ignored = set(out.stdout.split("\0"))
    return [_unignored(rel) for rel, pair in probes.items() if not ignored >= set(pair)]


def _unignored(rel: str) -> Finding:
    from ragguard.checks.staged_runs import ignore_fix

    return Finding(
        "staged-runs",
        "warn",
        f"{rel}/",
        "is not in .gitignore: `git add .` would commit its run folders",
        ignore_fix(f"/{rel}/"),
    )


def _gate_target(repo: Repo, policy: Policy, branch: str, default: str) -> str | None:
    """What the branch is judged against: for an experiment branch the default
    branch (its remote-tracking ref when there is one); for a protected branch
    its upstream, when it is ahead of it (a merge not pushed yet); else
    ``None``."""
    if branch == default or policy.branches.is_protected(branch):
        return _upstream_if_ahead(repo, branch)
    ref = repo.default_ref(policy)
    if ref is None or repo.head_oid is None:
        return None
    for prefix in (REMOTES, HEADS):
        if ref.startswith(prefix):
            return ref[len(prefix) :]
    return None


def _upstream_if_ahead(repo: Repo, branch: str) -> str | None:
    upstream = repo.upstream_of(branch)
    if upstream is None or repo.refs[upstream].oid == repo.branch_oid(branch):
        return None
    return upstream[len(REMOTES) :]


def _verdict(
    repo: Repo,
    policy: Policy,
    runs: Sequence[Run],
    branch: str,
    target: str | None,
    filled: bool | None,
) -> Verdict | None:
    if target is None:
        return None
    from ragguard.gate import decide, gate

    if policy.branches.is_protected(branch) or branch == repo.default_branch(policy):
        return _protected_verdict(repo, policy, runs, branch, target)
    if policy.merge.metric is None:
        # No criteria: the verdict needs no runs, so skip walking the target's
        # whole history (60 ms on 10,000 commits).
        return decide(
            (), (), policy.merge, head=branch, target=target, doc_filled=filled
        )
    return gate(
        repo, policy, runs, head_ref=HEADS + branch, target=target, doc_filled=filled
    )


def _protected_verdict(
    repo: Repo, policy: Policy, runs: Sequence[Run], branch: str, target: str
) -> Verdict | None:
    """What pre-push will say of the protected branch's unpushed commits:
    nothing when they carry no runs (the push passes with a note)."""
    from ragguard.gate import gate, target_policy
    from ragguard.selection import in_projects, runs_on_commits

    policy = target_policy(repo, target) or policy  # as pre-push will judge
    if policy.merge.metric is None:
        return None
    tip, base = repo.branch_oid(branch), repo.refs[REMOTES + target].oid
    ahead = set(repo.rev_list([tip] if tip else [], [base]))
    if not runs_on_commits(in_projects(runs, policy), ahead):
        return None
    return gate(repo, policy, runs, head_ref=HEADS + branch, target=target)


def _next(
    findings: Sequence[Finding],
    verdict: Verdict | None,
    failed: Validation | None,
    branch: str,
    target: str | None,
) -> str:
    """The first blocking thing's fix; else the gate's, the validation's; else
    what a finished branch does next."""
    import shlex

    fixes = [f.fix for f in findings if f.severity == "block" and f.fix]
    syncs = [fix for fix in fixes if fix.startswith("wandb sync ")]
    upstream = target is not None and target.endswith("/" + branch)
    if verdict is not None and not verdict.passed and upstream:
        # A protected branch ahead of its upstream with a merge the gate
        # refuses: pushing is pointless; undo the merge, keeping local edits.
        return f"git reset --keep {shlex.quote(target or '')}  (undo the merge)"
    if fixes:
        # One command uploads every unsynced run of the branch.
        return "ragguard sync" if fixes[0] in syncs and len(syncs) > 1 else fixes[0]
    if verdict is not None and not verdict.passed:
        return verdict.fix or f"ragguard compare {shlex.quote(target or '')} " + (
            shlex.quote(branch)
        )
    if failed is not None:
        return "ragguard validate"
    if target is not None:
        return "ragguard report --format markdown  (for the pull request)"
    return "nothing: all clear"


# --- rendering --------------------------------------------------------------------


def render(st: Status) -> list[str]:
    """``ragguard status``'s screen, plain text."""
    if st.branch is None:
        head = (st.head or "no commit")[:12]
        lines = [f"ragguard status: HEAD is detached at {head}; no branch to report"]
    else:
        lines = [_title(st), *_facts(st), *_finding_lines(st.findings)]
    if st.validation is not None:
        lines.append(_validation_line(st.validation))
    lines.append(f"next: {st.next}")
    return lines


def _title(st: Status) -> str:
    where = f" -> {st.target}" if st.target else ""
    if st.branch == st.default_branch:
        where = " (the default branch)"
    return f"ragguard status: {st.branch}{where}"


def _facts(st: Status) -> list[str]:
    rows = []
    if st.doc is not None:
        rows.append(("doc", _doc_words(st.doc, st.doc_filled)))
    rows.append(("runs", runs_words(st.runs)))
    if st.search is not None:
        if not st.runs:
            rows[-1] = ("runs", "none; searched " + ", ".join(st.search.places))
        rows.extend(("not checked", where) for where in st.search.unseen)
    if st.left is not None:
        rows.append(("commits", commits_words(st.left)))
        rows.append(("changes", _changes_words(st.left)))
    if st.verdict is not None:
        rows.append(("merge gate", _gate_words(st.verdict)))
    return [f"  {name:<11} {text}" for name, text in rows]


def _doc_words(doc: DocState, filled: bool | None) -> str:
    if doc.problem:
        return f"none possible: {doc.problem}"
    if doc.text is None:
        return f"missing ({doc.path})"
    return f"{doc.path}" + ("" if filled else " (unfilled template)")


def runs_words(runs: Sequence[Run]) -> str:
    """``3 runs: 2 finished, 1 running; 1 synced, 2 unsynced``."""
    if not runs:
        return "none"
    states = _tally([run.state for run in runs], STATES)
    syncs = _tally([run.sync for run in runs], SYNCS)
    noun = "run" if len(runs) == 1 else "runs"
    return f"{len(runs)} {noun}: {states}; {syncs}"


def _tally(values: Sequence[str], order: Sequence[str]) -> str:
    counts = {name: values.count(name) for name in order if name in values}
    return ", ".join(f"{n} {name}" for name, n in counts.items())


def commits_words(left: LeftFacts) -> str:
    n = left.unpushed
    commits = f"{n} commit" + ("" if n == 1 else "s")
    if left.remote is None:
        return f"{commits}; the repository has no remote"
    if left.upstream is None:
        return f"no upstream; {commits} on no remote" if n else "no upstream"
    if not n:
        return f"up to date with {left.upstream}"
    return f"{commits} not on {left.upstream}"


def _changes_words(left: LeftFacts) -> str:
    n = len(left.changes)
    return "none" if not n else f"{n} uncommitted"


def _gate_words(verdict: Verdict) -> str:
    word = "passes" if verdict.passed else "blocked"
    return f"{word}: {verdict.reason}"


def _finding_lines(findings: Sequence[Finding]) -> list[str]:
    if not findings:
        return []
    lines = []
    for finding in findings[:_SHOWN_FINDINGS]:
        label = LABELS[finding.severity].ljust(8)
        lines.append(f"  {finding_line(finding, label)}")
    more = len(findings) - _SHOWN_FINDINGS
    if more > 0:
        lines.append(f"  ... and {more} more: ragguard check --stage pre-push")
    return lines


def _validation_line(validation: Validation) -> str:
    where = f" at {validation.commit[:12]}" if validation.commit else ""
    how = (
        f"exited {validation.exit_code}"
        if validation.exit_code is not None
        else validation.detail or validation.outcome
    )
    return (
        f"  VALIDATION FAILED after the last merge{where}: {validation.command} {how}"
    )
