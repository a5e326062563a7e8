"""The merge gate: only the best experiment, by the policy's criteria, merges.

:func:`decide` is pure: given the runs of the branch being merged (the head)
and of the branch it merges into (the target), and the policy's ``merge:``
section, it returns a :class:`Verdict` naming both runs, both numbers and the
delta. :func:`gate` gathers those runs from a repository. Every edge has a
stated outcome:

- ``merge.metric`` unset: the gate has no criteria and passes, saying so;
- the head has no finished run: fail;
- no finished head run logged the metric: fail, naming the keys they have;
- the best head run is not synced and ``require_synced``: fail, with the sync;
- below ``threshold``: fail;
- no baseline on the target: pass (the run becomes the baseline);
- a tie with the baseline: fail (equal is not better);
- better by less than ``min_delta``: fail.
"""

from __future__ import annotations

import json
import math
import os
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ragguard.checks import Finding
from ragguard.config import MergePolicy, Policy
from ragguard.errors import BadInputError
from ragguard.render import finding_line, plural
from ragguard.runs.model import Run


@dataclass(frozen=True)
class Side:
    """One side of the comparison: a ref, its best run and that run's value."""

    ref: str
    run: Run | None = None
    value: float | None = None


@dataclass(frozen=True)
class Verdict:
    passed: bool
    reason: str  # one sentence: why it passed or failed
    metric: str | None
    goal: str
    head: Side
    target: Side
    delta: float | None = None  # improvement over the baseline; > 0 is better
    fix: str = ""
    source: str = "local run folders"
    notes: tuple[str, ...] = ()
    # What the head's commits carry that the commit hooks block (messages,
    # run data): `git commit --no-verify` skips those hooks, CI does not.
    findings: tuple[Finding, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reason": self.reason,
            "metric": self.metric,
            "goal": self.goal,
            "delta": self.delta,
            "fix": self.fix or None,
            "source": self.source,
            "notes": list(self.notes),
            "findings": [_finding_json(f) for f in self.findings],
            "head": _side_json(self.head),
            "target": _side_json(self.target),
        }


def metric_value(run: Run, metric: str) -> float | None:
    """The run's final ``metric`` as a finite number, or ``None``."""
    value = run.summary.get(metric)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def best_run(
    runs: Iterable[Run], metric: str, goal: str
) -> tuple[Run, float] | tuple[None, None]:
    """The finished run with the best ``metric``; the earliest listed wins ties."""
    scored = [
        (run, value)
        for run in runs
        if run.state == "finished" and (value := metric_value(run, metric)) is not None
    ]
    if not scored:
        return None, None
    pick = max if goal == "max" else min
    return pick(scored, key=lambda pair: pair[1])


def improvement(candidate: float, baseline: float, goal: str) -> float:
    """How much better ``candidate`` is than ``baseline``; negative is worse."""
    return candidate - baseline if goal == "max" else baseline - candidate


def decide(
    head_runs: Sequence[Run],
    target_runs: Sequence[Run],
    merge: MergePolicy,
    *,
    head: str,
    target: str,
    doc_filled: bool | None = None,
    source: str = "local run folders",
) -> Verdict:
    """The gate's verdict for merging ``head`` into ``target``."""
    judge = _Judge(merge, head, target, source)
    if merge.require_doc and doc_filled is False:
        return judge.fail(
            f"{head} has no filled-in branch doc",
            fix=f"ragguard doc init {shlex.quote(head)}",
        )
    if merge.metric is None:
        return judge.passed_without_criteria()
    return judge.compare(head_runs, target_runs, merge.metric)


class _Judge:
    """The steps of :func:`decide`, sharing the criteria and the two refs."""

    def __init__(self, merge: MergePolicy, head: str, target: str, source: str):
        self.merge = merge
        self.head = head
        self.target = target
        self.source = source

    def verdict(self, passed: bool, reason: str, **extra: Any) -> Verdict:
        extra.setdefault("head", Side(self.head))
        extra.setdefault("target", Side(self.target))
        return Verdict(
            passed=passed,
            reason=reason,
            metric=self.merge.metric,
            goal=self.merge.goal,
            source=self.source,
            **extra,
        )

    def fail(self, reason: str, **extra: Any) -> Verdict:
        return self.verdict(False, reason, **extra)

    def passed_without_criteria(self) -> Verdict:
        return self.verdict(
            True,
            "no merge criteria: set merge.metric in .ragguard.yaml to compare runs",
        )

    def compare(
        self, head_runs: Sequence[Run], target_runs: Sequence[Run], metric: str
    ) -> Verdict:
        finished = [run for run in head_runs if run.state == "finished"]
        if not finished:
            return self.fail(
                f"{self.head} has no finished run to show it is the best",
                fix="run the experiment to the end, then retry",
            )
        run, value = best_run(finished, metric, self.merge.goal)
        if run is None or value is None:
            logged = any(metric in run.summary for run in finished)
            said = "as a finite number" if logged else f"(they log: {_keys(finished)})"
            return self.fail(
                f"no finished run of {self.head} logged {metric} {said}",
                fix=f"log {metric} in the run's summary, or set merge.metric",
            )
        side = Side(self.head, run, value)
        if self.merge.require_synced and run.sync != "synced":
            return self.fail(
                f"the best run {run.id} is {run.sync}: W&B does not have it",
                head=side,
                fix=f"wandb sync {shlex.quote(run.path)}",
            )
        return self.against_threshold(side) or self.against_baseline(
            side, target_runs, metric
        )

    def against_threshold(self, side: Side) -> Verdict | None:
        threshold = self.merge.threshold
        if threshold is None or side.value is None:
            return None
        if improvement(side.value, threshold, self.merge.goal) >= 0:
            return None
        word = "below" if self.merge.goal == "max" else "above"
        return self.fail(
            f"{side.run.id if side.run else '?'} scores {fmt_number(side.value)},"
            f" {word} the threshold {fmt_number(threshold)}",
            head=side,
        )

    def against_baseline(
        self, side: Side, target_runs: Sequence[Run], metric: str
    ) -> Verdict:
        assert side.value is not None
        # The baseline is held to the candidate's standard: a run that only
        # one laptop has is not production's baseline.
        if self.merge.require_synced:
            target_runs = [r for r in target_runs if r.sync == "synced"]
        run, value = best_run(target_runs, metric, self.merge.goal)
        if not self.merge.beat_baseline:
            return self.verdict(True, "meets the criteria", head=side)
        if run is None or value is None:
            return self.verdict(
                True,
                f"no baseline: no finished run on {self.target} logged {metric};"
                " this run becomes the baseline",
                head=side,
            )
        base = Side(self.target, run, value)
        delta = improvement(side.value, value, self.merge.goal)
        extra = {"head": side, "target": base, "delta": delta}
        if delta == 0:
            return self.fail("a tie with the baseline: equal is not better", **extra)
        if delta < 0 or delta < self.merge.min_delta:
            need = f" (needs {fmt_number(self.merge.min_delta)})" if delta > 0 else ""
            return self.fail(
                f"does not beat {self.target}'s best by enough:"
                f" {fmt_delta(delta)}{need}",
                **extra,
            )
        return self.verdict(True, f"beats {self.target}'s best", **extra)


def gate(
    repo: Any,
    policy: Policy,
    runs: Sequence[Run],
    *,
    head_ref: str,
    target: str,
    doc_filled: bool | None = None,
    source: str = "local run folders",
) -> Verdict:
    """Gather the runs of ``head_ref`` and ``target`` in ``repo`` and decide."""
    from ragguard.selection import contained_in, in_projects, runs_on_commits

    head_tip = resolve_commit(repo, head_ref)
    target_tip = resolve_commit(repo, target)
    mine = in_projects(runs, policy)
    excluded = [target_tip] if target_tip else []
    head_commits = set(repo.rev_list([head_tip], excluded)) if head_tip else set()
    head_name = branch_name(repo, head_ref)
    head_runs = runs_on_commits(mine, head_commits, {head_name})
    run_commits = {run.commit for run in mine if run.commit}
    target_commits = contained_in(repo, target_tip, run_commits)
    target_runs = [run for run in mine if run.commit in target_commits]
    return decide(
        head_runs,
        target_runs,
        policy.merge,
        head=head_name,
        target=target,
        doc_filled=doc_filled,
        source=source,
    )


def resolve_commit(repo: Any, ref: str) -> str:
    """The commit ``ref`` names; :class:`BadInputError` when it names none."""
    if not ref or ref.startswith("-"):
        raise BadInputError(f"{ref!r} is not a branch, tag or commit.")
    out = repo.git("rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False)
    oid = out.stdout.strip()
    if out.returncode != 0 or not oid:
        raise BadInputError(f"{ref!r} names no commit in {repo.root}.")
    return str(oid)


def names_a_branch(repo: Any, ref: str) -> bool:
    """Whether ``ref`` is a local or remote-tracking branch, not a commit id,
    a tag or a detached ``HEAD``."""
    from ragguard.gitrepo import HEADS, REMOTES

    return any(
        full in repo.refs
        for full in (ref, HEADS + ref, REMOTES + ref)
        if full.startswith((HEADS, REMOTES))
    )


def branch_name(repo: Any, ref: str) -> str:
    """The branch a ref stands for: ``origin/exp/a`` and ``refs/heads/exp/a``
    are ``exp/a`` (runs name their branch in ``git_branch`` without a remote)."""
    name = ref.removeprefix("refs/heads/").removeprefix("refs/remotes/")
    for remote in repo.remotes:
        if f"refs/remotes/{name}" in repo.refs and name.startswith(remote + "/"):
            return name[len(remote) + 1 :]
    return name


def target_policy(repo: Any, target: str) -> Policy | None:
    """The policy the target branch holds: a branch cannot bring the rules
    that judge it. ``None`` when the target has no policy file."""
    from ragguard.config import POLICY_FILE, parse_policy
    from ragguard.gitrepo import is_full_oid

    commit = target if is_full_oid(target) else resolve_commit(repo, target)
    text = repo.blob_text(commit, POLICY_FILE)
    return None if text is None else parse_policy(text, f"{target}:{POLICY_FILE}")


def head_doc_filled(repo: Any, policy: Policy, branch: str, commit: str) -> bool:
    """Whether the branch doc in ``commit`` is there and filled in."""
    from ragguard.docs import doc_is_filled
    from ragguard.hooks import doc_state

    doc = doc_state(repo, policy, branch, commit)
    return doc.text is not None and doc_is_filled(doc.text)


def gate_command(
    target: str,
    head: str | None,
    *,
    as_json: bool = False,
    markdown: Path | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    offline: bool = False,
) -> tuple[int, str]:
    """``ragguard gate``: the verdict as text or JSON, and the exit code.

    Without local runs and with ``wandb.remote`` on, the runs are read from
    the W&B API (time-limited; ``offline`` or ``RAGGUARD_OFFLINE`` skip it).

    The Markdown summary goes to ``markdown`` and is appended to
    ``$GITHUB_STEP_SUMMARY`` when that is set.
    """
    from ragguard.config import load_policy
    from ragguard.gitrepo import Repo
    from ragguard.selection import local_runs

    env = os.environ if env is None else env
    repo = Repo.discover(cwd)
    policy = target_policy(repo, target) or load_policy(repo.root)
    if head in ("HEAD", "@"):
        head = None  # the default, spelled out: the branch checked out, if any
    head_ref = head or repo.head_ref or "HEAD"
    head_tip = resolve_commit(repo, head_ref)
    runs = local_runs(repo, policy)
    name = branch_name(repo, head_ref)
    filled = None  # a protected branch (main after a merge) has no branch doc
    # A detached checkout (CI) or a commit id: no branch, so no branch doc.
    detached = not names_a_branch(repo, head_ref)
    documented = not detached and not policy.branches.is_protected(name)
    if documented and name != repo.default_branch(policy):
        filled = head_doc_filled(repo, policy, name, head_tip)
    source = "local run folders" if runs else "local run folders (none found)"
    if not runs and policy.wandb.remote:  # remote checks (ragguard/remote.py)
        from ragguard.remote import runs_for_gate

        remote_runs, note = runs_for_gate(repo, policy, env, offline=offline)
        if remote_runs:
            runs, source = remote_runs, note or "the W&B API"
        elif note:
            source = f"{source}; {note}"
    verdict = gate(
        repo,
        policy,
        runs,
        head_ref=head_ref,
        target=target,
        doc_filled=filled,
        source=source,
    )
    if not runs and not verdict.passed and not policy.wandb.remote:
        verdict = replace(verdict, fix=_NO_RUNS_HERE)
    verdict = _with_commit_findings(repo, policy, verdict, head_tip, target)
    _write_markdown(verdict, markdown, env.get("GITHUB_STEP_SUMMARY"))
    text = (
        json.dumps(verdict.to_json(), indent=2)
        if as_json
        else "\n".join(render_text(verdict))
    )
    return (0 if verdict.passed else 1), text


def _with_commit_findings(
    repo: Any, policy: Policy, verdict: Verdict, tip: str, target: str
) -> Verdict:
    """The verdict, blocked also by what the head's own commits (from ``tip``,
    not on ``target``) carry."""
    from ragguard.hooks import commit_findings

    commits = repo.rev_list([tip], [resolve_commit(repo, target)])
    found = tuple(commit_findings(repo, policy, commits, frozenset(), tip=tip))
    blocks = sum(f.severity == "block" for f in found)
    if not blocks:
        return replace(verdict, findings=found)
    said = plural(blocks, "commit problem")
    reason = f"{verdict.reason}; but {said} below" if verdict.passed else verdict.reason
    return replace(verdict, passed=False, reason=reason, findings=found)


_NO_RUNS_HERE = (
    "no run folders here (CI?): set wandb.remote: true with wandb.entity and"
    " wandb.project in .ragguard.yaml to read the runs from W&B"
)


def _write_markdown(verdict: Verdict, path: Path | None, summary: str | None) -> None:
    if path is None and not summary:
        return
    text = render_markdown(verdict)
    if path is not None:
        path.write_text(text, encoding="utf-8")
    if summary:
        with open(summary, "a", encoding="utf-8") as out:
            out.write(text)


# --- rendering --------------------------------------------------------------


def render_text(verdict: Verdict) -> list[str]:
    """The verdict as terminal lines, plain text (colour is the caller's)."""
    word = "passed" if verdict.passed else "blocked"
    lines = [
        f"merge gate {word}: {verdict.head.ref} -> {verdict.target.ref}:"
        f" {verdict.reason}"
    ]
    if verdict.metric:
        lines.append(f"  metric {verdict.metric} ({verdict.goal})")
    for label, side in (("candidate", verdict.head), ("baseline", verdict.target)):
        if side.run is not None:
            lines.append(f"  {label:9} {_run_line(side)}")
    if verdict.delta is not None:
        lines.append(f"  delta     {fmt_delta(verdict.delta)}")
    if verdict.fix:
        lines.append(f"  fix: {verdict.fix}")
    for finding in verdict.findings:
        lines.append(f"  {finding_line(finding)}")
        if finding.fix:
            lines.append(f"      fix: {finding.fix}")
    lines.append(f"  runs read from {verdict.source}")
    return lines


def render_markdown(verdict: Verdict) -> str:
    """A GitHub-flavoured Markdown summary for a PR or a CI step summary."""
    mark = "✅ passed" if verdict.passed else "❌ blocked"
    out = [
        f"### ragguard merge gate: {mark}",
        "",
        f"`{verdict.head.ref}` → `{verdict.target.ref}`: {verdict.reason}",
        "",
    ]
    if verdict.metric:
        out += [
            f"| | ref | run | {_md(verdict.metric)} ({verdict.goal}) |",
            "|---|---|---|---:|",
        ]
        for label, side in (("candidate", verdict.head), ("baseline", verdict.target)):
            out.append(
                f"| {label} | `{_md(side.ref)}` | {_md_run(side.run)} |"
                f" {fmt_number(side.value) if side.value is not None else '—'} |"
            )
        if verdict.delta is not None:
            out.append(f"| delta | | | {fmt_delta(verdict.delta)} |")
        out.append("")
    if verdict.fix:
        out += [f"Fix: `{verdict.fix}`", ""]
    if verdict.findings:
        out += [f"- {_md(finding_line(f))}" for f in verdict.findings] + [""]
    out.append(f"_Runs read from {verdict.source}._")
    return "\n".join(out) + "\n"


def _run_line(side: Side) -> str:
    assert side.run is not None
    url = side.run.url()
    value = fmt_number(side.value) if side.value is not None else "-"
    name = f" ({side.run.name})" if side.run.name else ""
    return f"{side.run.id}{name} on {side.ref}: {value}" + (f"  {url}" if url else "")


def _md_run(run: Run | None) -> str:
    if run is None:
        return "—"
    url = run.url()
    return f"[`{run.id}`]({url})" if url else f"`{run.id}`"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _finding_json(finding: Finding) -> dict[str, str]:
    from ragguard.hooks import finding_to_json

    return finding_to_json(finding)


def _side_json(side: Side) -> dict[str, Any]:
    run = side.run
    return {
        "ref": side.ref,
        "run": None if run is None else run.id,
        "name": None if run is None else run.name,
        "path": None if run is None else run.path,
        "url": None if run is None else run.url(),
        "value": side.value,
    }


def _keys(runs: Iterable[Run]) -> str:
    keys = sorted(
        {key for run in runs for key in run.summary if not key.startswith("_")}
    )
    return ", ".join(keys[:8]) + (", ..." if len(keys) > 8 else "") or "nothing"


def fmt_number(value: float) -> str:
    return f"{value:.4g}"


def fmt_delta(value: float) -> str:
    return f"{value:+.4g}"
