"""``ragguard compare A B``: the best runs of two branches, or two runs, side
by side.

A and B are run ids when they name a local run, else local branches. A
branch's best run is its best finished run by the metric (``--metric``, else
the policy's ``report.metric``, else the first numeric summary key its runs
logged). The comparison keeps only the config keys that differ, every metric
with ``B - A`` and whether B is better, and both runs' tags.

The metric helpers here (:func:`choose_metric`, :func:`goal_of`,
:func:`ranked`) are shared by ``ragguard report``, ``status`` and the
post-checkout summary table, so that all of them agree on "best".
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ragguard.config import Policy
from ragguard.errors import BadInputError
from ragguard.gate import best_run, fmt_delta, fmt_number, improvement, metric_value
from ragguard.runs.model import Run

if TYPE_CHECKING:
    from ragguard.gitrepo import Repo

Goal = Literal["max", "min"]
_MAX_METRICS = 8  # metric rows shown besides the chosen one, at most


# --- metrics: which one, which way, who is best ------------------------------


def metric_keys(runs: Iterable[Run]) -> list[str]:
    """Numeric summary keys the runs logged, sorted: the order of a run's
    summary is the order of its log, which differs from run to run (wandb's
    own ``_step``, ``_runtime`` and the like left out)."""
    keys: dict[str, None] = {}
    for run in runs:
        for key in run.summary:
            if not key.startswith("_") and metric_value(run, key) is not None:
                keys.setdefault(key, None)
    return sorted(keys)


def choose_metric(
    runs: Sequence[Run], policy: Policy, metric: str | None = None
) -> str | None:
    """``metric`` when given, else ``report.metric`` when some run logged it,
    else the first numeric summary key of the runs (newest first)."""
    if metric:
        return metric
    keys = metric_keys(runs)
    configured = policy.report.metric
    if configured and (configured in keys or not keys):
        return configured
    return keys[0] if keys else None


def goal_of(metric: str | None, policy: Policy) -> Goal:
    """``merge.goal`` for the merge metric; every other metric: higher is better."""
    if metric is not None and metric == policy.merge.metric:
        return policy.merge.goal
    return "max"


def direction(goal: str) -> str:
    return "lower is better" if goal == "min" else "higher is better"


def ranked(runs: Sequence[Run], metric: str | None, goal: str) -> list[Run]:
    """Finished runs that logged ``metric``, best first (ties keep their
    order); then every other run in the order given."""
    if metric is None:
        return list(runs)
    scored = [
        run
        for run in runs
        if run.state == "finished" and metric_value(run, metric) is not None
    ]
    sign = -1.0 if goal == "max" else 1.0
    scored.sort(key=lambda run: sign * (metric_value(run, metric) or 0.0))
    chosen = {id(run) for run in scored}
    return scored + [run for run in runs if id(run) not in chosen]


# --- config ---------------------------------------------------------------------


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` as ``{"a.b": 1}``; wandb's ``_wandb`` left out."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if not prefix and str(key).startswith("_wandb"):
            continue
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def shown(value: Any) -> str:
    """A config value as one short line: strings bare, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.6g}"
    return json.dumps(value, sort_keys=True, default=str)


# --- the comparison ---------------------------------------------------------------


@dataclass(frozen=True)
class Side:
    """One side: what the user named, the run it stands for, and why none."""

    label: str
    kind: Literal["run", "branch"]
    run: Run | None
    runs: int  # runs of the branch (1 for a run id)
    note: str = ""  # why ``run`` is None, or how it was chosen


@dataclass(frozen=True)
class MetricRow:
    key: str
    a: float | None
    b: float | None
    goal: Goal

    @property
    def delta(self) -> float | None:
        """``B - A``; ``None`` when either side lacks the metric."""
        if self.a is None or self.b is None:
            return None
        return self.b - self.a

    @property
    def verdict(self) -> str | None:
        """Whether B is ``better``, ``worse`` or the ``same`` as A."""
        if self.a is None or self.b is None:
            return None
        gain = improvement(self.b, self.a, self.goal)
        return "better" if gain > 0 else "worse" if gain < 0 else "same"


@dataclass(frozen=True)
class ConfigRow:
    key: str  # dotted
    a: Any
    b: Any
    in_a: bool
    in_b: bool


@dataclass(frozen=True)
class Comparison:
    metric: str | None
    goal: Goal
    a: Side
    b: Side
    metrics: tuple[MetricRow, ...]
    config: tuple[ConfigRow, ...]  # only the keys that differ
    config_keys: int  # how many keys the two configs have in all

    def to_json(self, policy: Policy) -> dict[str, Any]:
        """The comparison as JSON (see ``ragguard.report.JSON_SCHEMA``)."""
        return {
            "metric": self.metric,
            "goal": self.goal,
            "a": side_json(self.a, policy),
            "b": side_json(self.b, policy),
            "metrics": [
                {
                    "key": row.key,
                    "a": row.a,
                    "b": row.b,
                    "delta": row.delta,
                    "goal": row.goal,
                    "b_is": row.verdict,
                }
                for row in self.metrics
            ],
            "config_differs": [
                {
                    "key": row.key,
                    "a": row.a if row.in_a else None,
                    "b": row.b if row.in_b else None,
                    "in_a": row.in_a,
                    "in_b": row.in_b,
                }
                for row in self.config
            ],
            "config_keys": self.config_keys,
        }


def side_json(side: Side, policy: Policy) -> dict[str, Any]:
    from ragguard.docs import run_url

    run = side.run
    return {
        "label": side.label,
        "kind": side.kind,
        "runs": side.runs,
        "note": side.note or None,
        "run": None if run is None else run.id,
        "name": None if run is None else run.name,
        "state": None if run is None else run.state,
        "sync": None if run is None else run.sync,
        "commit": None if run is None else run.commit,
        "tags": [] if run is None else list(run.tags),
        "url": None if run is None else run_url(run, policy),
    }


def compare_sides(a: Side, b: Side, metric: str | None, policy: Policy) -> Comparison:
    """Compare two chosen runs: metrics, config that differs, tags."""
    goal = goal_of(metric, policy)
    return Comparison(
        metric=metric,
        goal=goal,
        a=a,
        b=b,
        metrics=tuple(_metric_rows(a.run, b.run, metric, policy)),
        config=tuple(_config_rows(a.run, b.run)),
        config_keys=len(_all_keys(a.run, b.run)),
    )


def _metric_rows(
    a: Run | None, b: Run | None, metric: str | None, policy: Policy
) -> list[MetricRow]:
    present = [run for run in (a, b) if run is not None]
    others = [key for key in metric_keys(present) if key != metric]
    keys = ([metric] if metric else []) + others[:_MAX_METRICS]
    return [
        MetricRow(key, _value(a, key), _value(b, key), goal_of(key, policy))
        for key in keys
    ]


def _value(run: Run | None, key: str) -> float | None:
    return None if run is None else metric_value(run, key)


def _all_keys(a: Run | None, b: Run | None) -> dict[str, None]:
    keys: dict[str, None] = {}
    for run in (a, b):
        if run is not None:
            keys.update(dict.fromkeys(flatten(run.config)))
    return keys


def _config_rows(a: Run | None, b: Run | None) -> list[ConfigRow]:
    if a is None or b is None:
        return []
    left, right = flatten(a.config), flatten(b.config)
    rows = []
    for key in _all_keys(a, b):
        in_a, in_b = key in left, key in right
        if in_a and in_b and _same(left[key], right[key]):
            continue
        rows.append(ConfigRow(key, left.get(key), right.get(key), in_a, in_b))
    return rows


def _same(x: Any, y: Any) -> bool:
    if isinstance(x, bool) or isinstance(y, bool):
        return x is y
    return bool(x == y)


# --- choosing the sides in a repository -------------------------------------------


def branch_side_runs(
    repo: Repo, branch: str, runs: Sequence[Run], policy: Policy
) -> list[Run]:
    """The runs that stand for ``branch``: its own runs, or for the default
    branch every run on a commit it contains, read from its remote-tracking
    ref when there is one (its baseline, as the gate sees it)."""
    from ragguard.selection import (
        contained_in,
        in_projects,
        runs_of_branch,
        runs_on_commits,
    )

    if branch != repo.default_branch(policy):
        return runs_of_branch(repo, branch, runs, policy)
    mine = in_projects(runs, policy)
    ref = repo.refs.get(repo.default_ref(policy) or "")  # the remote's copy
    tip = ref.oid if ref else repo.branch_oid(branch)
    commits = contained_in(repo, tip, {run.commit for run in mine if run.commit})
    return runs_on_commits(mine, commits, {branch})


def side_of(
    repo: Repo, label: str, runs: Sequence[Run], policy: Policy
) -> tuple[str, list[Run]]:
    """``("run", [run])`` when ``label`` is a run id, ``("branch", its runs)``
    when it is a local branch; a one-line error otherwise."""
    from ragguard.gitrepo import HEADS
    from ragguard.selection import in_projects

    if not label or label.startswith("-"):
        raise BadInputError(f"{label!r} is neither a run id nor a branch name.")
    matches = [run for run in in_projects(runs, policy) if run.id == label]
    if matches:
        return "run", matches[:1]
    if HEADS + label in repo.refs:
        return "branch", branch_side_runs(repo, label, runs, policy)
    raise BadInputError(
        f"{label!r} is neither a run id nor a local branch of this repository "
        "(see `git branch` and `ragguard runs`)."
    )


def pick(
    label: str,
    kind: str,
    runs: Sequence[Run],
    metric: str | None,
    goal: str,
    *,
    synced_only: bool = False,
) -> Side:
    """The side's run: the run itself, or the branch's best finished run
    (synced too with ``synced_only``: a baseline, held to the gate's rule)."""
    if kind == "run":
        return Side(label, "run", runs[0], 1)
    if not runs:
        return Side(label, "branch", None, 0, f"{label} has no runs")
    finished = [
        run
        for run in runs
        if run.state == "finished" and (run.sync == "synced" or not synced_only)
    ]
    if not finished:
        word = "synced finished" if synced_only else "finished"
        return Side(label, "branch", None, len(runs), f"{label} has no {word} run")
    if metric is None:
        return Side(label, "branch", finished[0], len(runs), "newest finished run")
    run, _ = best_run(finished, metric, goal)
    if run is None:
        note = f"no finished run of {label} logged {metric}"
        return Side(label, "branch", None, len(runs), note)
    return Side(label, "branch", run, len(runs), f"best by {metric}")


def compare(
    a: str, b: str, *, metric: str | None = None, cwd: Path | None = None
) -> tuple[Comparison, Policy]:
    """``ragguard compare A B [--metric M]`` in the repository around ``cwd``."""
    from ragguard.config import load_policy
    from ragguard.gitrepo import Repo
    from ragguard.selection import local_runs

    repo = Repo.discover(cwd)
    policy = load_policy(repo.root)
    everything = local_runs(repo, policy)
    kind_a, runs_a = side_of(repo, a, everything, policy)
    kind_b, runs_b = side_of(repo, b, everything, policy)
    both = [*runs_a, *runs_b]
    if metric and not any(metric_value(run, metric) is not None for run in both):
        raise BadInputError(
            f"no run of {a} or {b} logged the metric {metric!r} "
            f"(they log: {', '.join(metric_keys(both)[:8]) or 'no numbers'})."
        )
    chosen = choose_metric(both, policy, metric)
    goal = goal_of(chosen, policy)
    baseline = policy.merge.require_synced
    default = repo.default_branch(policy)
    side_a = pick(
        a, kind_a, runs_a, chosen, goal, synced_only=baseline and a == default
    )
    side_b = pick(
        b, kind_b, runs_b, chosen, goal, synced_only=baseline and b == default
    )
    return compare_sides(side_a, side_b, chosen, policy), policy


# --- rendering --------------------------------------------------------------------


def num(value: float | None) -> str:
    if value is None:
        return "-"
    return fmt_number(value) if math.isfinite(value) else str(value)


def signed(value: float | None) -> str:
    return "-" if value is None else fmt_delta(value)


def render_text(comparison: Comparison, policy: Policy) -> list[str]:
    """``ragguard compare``'s terminal output, plain text."""
    c = comparison
    lines = [_title(c)]
    for letter, side in (("A", c.a), ("B", c.b)):
        lines += _side_lines(letter, side, policy)
    lines += ["", *_metric_lines(c), "", *_config_lines(c), "", *_tag_lines(c)]
    return lines


def _title(c: Comparison) -> str:
    how = f"best by {c.metric} ({direction(c.goal)})" if c.metric else "no metric"
    return f"ragguard compare: A = {c.a.label}, B = {c.b.label}; {how}"


def _side_lines(letter: str, side: Side, policy: Policy) -> list[str]:
    from ragguard.docs import run_url

    what = "run" if side.kind == "run" else f"branch, {_runs(side.runs)}"
    if side.run is None:
        return [f"  {letter}  {side.label} ({what}): no run to compare: {side.note}"]
    run = side.run
    name = f" ({run.name})" if run.name else ""
    commit = (run.commit or "-")[:7]
    head = f"  {letter}  {side.label} ({what}): run {run.id}{name}"
    detail = f"     {run.state}, {run.sync}, commit {commit}"
    url = run_url(run, policy)
    return [head, detail + (f", {url}" if url else "")]


def _runs(count: int) -> str:
    return f"{count} run" + ("" if count == 1 else "s")


def _metric_lines(c: Comparison) -> list[str]:
    if not c.metrics:
        return ["metrics: none logged by either run"]
    table = [("metric", "A", "B", "B - A", "")]
    for row in c.metrics:
        said = f"B {row.verdict} ({direction(row.goal)})" if row.verdict else ""
        table.append((row.key, num(row.a), num(row.b), signed(row.delta), said))
    return columns(table)


def _config_lines(c: Comparison) -> list[str]:
    if c.a.run is None or c.b.run is None:
        return ["config: nothing to compare"]
    if not c.config:
        return [f"config: the same ({c.config_keys} keys)"]
    table = [(f"config that differs ({len(c.config)} of {c.config_keys})", "A", "B")]
    for row in c.config:
        table.append(
            (
                row.key,
                shown(row.a) if row.in_a else "(unset)",
                shown(row.b) if row.in_b else "(unset)",
            )
        )
    return columns(table)


def _tag_lines(c: Comparison) -> list[str]:
    lines = ["tags"]
    for letter, side in (("A", c.a), ("B", c.b)):
        tags = ", ".join(side.run.tags) if side.run and side.run.tags else "(none)"
        lines.append(f"  {letter}  {tags}")
    return lines


def columns(rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    """Rows as left-aligned columns two spaces apart; long cells cut at 40."""
    cut = [[_cut(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cut) for i in range(len(cut[0]))]
    return [
        indent
        + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in cut
    ]


def _cut(text: str, width: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "~"
