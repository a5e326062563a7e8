"""Shareable summaries of a branch's runs: the post-checkout table, and
``ragguard report`` as GitHub Markdown or stable JSON.

:func:`summary_table` and :func:`doc_goal` are on the post-checkout path:
they import nothing heavy and read only what they are given.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ragguard.compare import (
    Comparison,
    Side,
    choose_metric,
    columns,
    compare_sides,
    direction,
    goal_of,
    metric_keys,
    num,
    ranked,
    shown,
    signed,
)
from ragguard.config import Policy
from ragguard.errors import BadInputError
from ragguard.gate import best_run, metric_value
from ragguard.runs.model import Run

Format = Literal["markdown", "json"]
SCHEMA = "ragguard.report/1"
_TABLE_METRICS = 2  # metric columns in the post-checkout table
_NAME_WIDTH = 20

JSON_SCHEMA = """\
ragguard report --format json: one object, keys always present, sorted.

schema          "ragguard.report/1"; a new number means a breaking change
branch          the branch reported on
default_branch  the branch it is compared with (the policy's, else the remote's HEAD)
commit          the branch tip, full id; null before the first commit
metric          the metric that ranks runs (--metric, report.metric, else the
                first numeric summary key); null when no run logged a number
goal            "max" or "min": merge.goal when metric is merge.metric, else "max"
runs            the branch's runs, best first by metric (finished runs with the
                metric, best first, then the rest newest first); each:
  id, name, state, sync, mode, commit, tags (list), url (null when entity and
  project are unknown), value (the run's metric or null), summary (every
  numeric summary value, by key), config (flattened, dotted keys)
best            {"run": id, "value": number} of the best finished run; null
baseline        {"branch": default_branch, "run": id or null, "value": number
                or null, "runs": how many runs the default branch has}
comparison      null on the default branch itself; else A = the default
                branch's best, B = this branch's best:
  metric, goal, config_keys (keys in both configs together),
  a, b: {label, kind ("branch"|"run"), runs, note, run, name, state, sync,
         commit, tags, url}
  metrics: [{key, a, b, delta (b - a), goal, b_is ("better"|"worse"|"same"|null)}]
  config_differs: [{key, a, b, in_a, in_b}]   (only keys whose values differ)
"""


# --- the post-checkout table ----------------------------------------------------


def summary_table(runs: Sequence[Run], policy: Policy) -> list[str]:
    """A compact table of a branch's runs for the post-checkout summary:
    best first by ``report.metric`` (else the first numeric summary keys), at
    most ``report.rows`` rows, then how many more there are. Plain ASCII."""
    if not runs:
        return []
    keys = _table_metrics(runs, policy)
    order = ranked(runs, keys[0] if keys else None, goal_of(_first(keys), policy))
    shown_runs = order[: policy.report.rows]
    table = [("run", "name", "state", "sync", *keys)]
    for run in shown_runs:
        values = [num(metric_value(run, key)) for key in keys]
        table.append((run.id, _name(run), run.state, run.sync, *values))
    lines = columns(table, indent="  ")
    more = len(runs) - len(shown_runs)
    if more:
        lines.append(f"  ... and {more} more: ragguard report")
    return lines


def summary_block(
    runs: Sequence[Run], policy: Policy, doc_text: str | None
) -> list[str]:
    """What post-checkout prints under its one-line summary: the doc's Goal
    line, then :func:`summary_table`."""
    goal = doc_goal(doc_text) if doc_text else None
    lines = [f"  goal: {_cut(goal, 100)}"] if goal else []
    return lines + summary_table(runs, policy)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "~"


def _table_metrics(runs: Sequence[Run], policy: Policy) -> list[str]:
    first = choose_metric(runs, policy)
    if first is None:
        return []
    rest = [key for key in metric_keys(runs) if key != first]
    return [first, *rest][:_TABLE_METRICS]


def _first(keys: Sequence[str]) -> str | None:
    return keys[0] if keys else None


def _name(run: Run) -> str:
    return _cut(" ".join((run.name or "-").split()), _NAME_WIDTH)


def doc_goal(text: str) -> str | None:
    """The first line of prose under the doc's Goal heading, or ``None`` when
    the doc has no Goal or it is still the template's."""
    from ragguard.docs import _COMMENT, _is_prose, _sections, _strip_generated

    for title, body in _sections(_COMMENT.sub("", _strip_generated(text))):
        if title.lower() != "goal":
            continue
        for line in body:
            if _is_prose(line):
                return " ".join(line.split())
        return None
    return None


# --- ragguard report --------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    branch: str
    default_branch: str
    commit: str | None
    metric: str | None
    goal: str
    runs: tuple[Run, ...]  # best first
    best: Run | None
    baseline: Side
    comparison: Comparison | None  # None on the default branch


def build_report(
    branch: str,
    default: str,
    commit: str | None,
    runs: Sequence[Run],
    baseline_runs: Sequence[Run],
    policy: Policy,
) -> Report:
    """The report of ``branch`` (its ``runs``) against ``default``'s runs."""
    from ragguard.compare import pick

    metric = choose_metric(runs, policy) or choose_metric(baseline_runs, policy)
    goal = goal_of(metric, policy)
    best = best_run(runs, metric, goal)[0] if metric else None
    synced = policy.merge.require_synced  # the baseline the gate would use
    base = pick(default, "branch", baseline_runs, metric, goal, synced_only=synced)
    comparison = None
    if branch != default:
        mine = pick(branch, "branch", runs, metric, goal)
        comparison = compare_sides(base, mine, metric, policy)
    return Report(
        branch=branch,
        default_branch=default,
        commit=commit,
        metric=metric,
        goal=goal,
        runs=tuple(ranked(runs, metric, goal)),
        best=best,
        baseline=base,
        comparison=comparison,
    )


def report(
    branch: str | None = None, *, fmt: Format = "markdown", cwd: Path | None = None
) -> str:
    """``ragguard report [--branch B] [--format markdown|json]``."""
    from ragguard.compare import branch_side_runs
    from ragguard.config import load_policy
    from ragguard.gitrepo import Repo
    from ragguard.selection import local_runs

    repo = Repo.discover(cwd)
    policy = load_policy(repo.root)
    name = _branch(repo, branch)
    default = repo.default_branch(policy)
    everything = local_runs(repo, policy)
    runs = branch_side_runs(repo, name, everything, policy)
    base_runs = branch_side_runs(repo, default, everything, policy)
    made = build_report(name, default, repo.branch_oid(name), runs, base_runs, policy)
    if fmt == "json":
        return json.dumps(to_json(made, policy), indent=2, sort_keys=True) + "\n"
    return to_markdown(made, policy)


def _branch(repo: Any, branch: str | None) -> str:
    from ragguard.gitrepo import HEADS

    if branch is None:
        current = repo.current_branch()
        if current is None:
            raise BadInputError(
                "HEAD is detached, so there is no current branch; "
                "name one: ragguard report --branch BRANCH"
            )
        return str(current)
    if branch.startswith("-") or HEADS + branch not in repo.refs:
        raise BadInputError(f"branch {branch!r} does not exist in this repository.")
    return branch


# --- JSON -------------------------------------------------------------------------


def to_json(made: Report, policy: Policy) -> dict[str, Any]:
    """The report as JSON; the schema is :data:`JSON_SCHEMA`."""
    from ragguard.compare import flatten

    best = made.best
    base = made.baseline
    return {
        "schema": SCHEMA,
        "branch": made.branch,
        "default_branch": made.default_branch,
        "commit": made.commit,
        "metric": made.metric,
        "goal": made.goal,
        "runs": [
            {
                **_run_json(run, policy, made.metric),
                "config": flatten(run.config),
            }
            for run in made.runs
        ],
        "best": None
        if best is None
        else {"run": best.id, "value": _metric(best, made.metric)},
        "baseline": {
            "branch": made.default_branch,
            "run": base.run.id if base.run else None,
            "value": _metric(base.run, made.metric),
            "runs": base.runs,
        },
        "comparison": None
        if made.comparison is None
        else made.comparison.to_json(policy),
    }


def _run_json(run: Run, policy: Policy, metric: str | None) -> dict[str, Any]:
    from ragguard.docs import run_url

    return {
        "id": run.id,
        "name": run.name,
        "state": run.state,
        "sync": run.sync,
        "mode": run.mode,
        "commit": run.commit,
        "tags": list(run.tags),
        "url": run_url(run, policy),
        "value": _metric(run, metric),
        "summary": {key: metric_value(run, key) for key in metric_keys([run])},
    }


def _metric(run: Run | None, metric: str | None) -> float | None:
    if run is None or metric is None:
        return None
    return metric_value(run, metric)


# --- Markdown ---------------------------------------------------------------------


def to_markdown(made: Report, policy: Policy) -> str:
    """GitHub-flavoured Markdown for a pull request or a CI step summary."""
    out = [f"## ragguard report: `{_code(made.branch)}`", ""]
    out += _md_best(made, policy)
    out += _md_runs(made, policy)
    if made.comparison is not None:
        out += _md_comparison(made.comparison, policy)
    return "\n".join(out).rstrip("\n") + "\n"


def _md_best(made: Report, policy: Policy) -> list[str]:
    if made.metric is None:
        return ["No run on this branch logged a numeric metric.", ""]
    how = f"`{_code(made.metric)}` ({direction(made.goal)})"
    if made.best is None:
        return [f"**Best run** by {how}: none (no finished run logged it).", ""]
    value = num(metric_value(made.best, made.metric))
    link = _md_run(made.best, policy)
    return [f"**Best run** by {how}: {link}: **{value}**", ""]


def _md_runs(made: Report, policy: Policy) -> list[str]:
    count = len(made.runs)
    out = [f"### Runs ({count})", ""]
    if not made.runs:
        return [*out, "_No runs on this branch yet._", ""]
    metric = made.metric
    head = ["Run", "State", "Sync", "Tags"]
    head += [f"`{_cell(metric)}`"] if metric else []
    head += ["Other metrics"]
    out += ["| " + " | ".join(head) + " |", _md_rule(len(head), metric)]
    for run in made.runs:
        cells = [_md_run(run, policy), run.state, run.sync, _md_tags(run.tags)]
        if metric:
            cells.append(num(metric_value(run, metric)))
        cells.append(_cell(_others(run, metric)))
        out.append("| " + " | ".join(cells) + " |")
    return [*out, ""]


def _md_rule(count: int, metric: str | None) -> str:
    cells = ["---"] * count
    if metric:
        cells[4] = "---:"
    return "| " + " | ".join(cells) + " |"


def _others(run: Run, metric: str | None) -> str:
    keys = [key for key in metric_keys([run]) if key != metric][:3]
    return ", ".join(f"{key} {num(metric_value(run, key))}" for key in keys)


def _md_comparison(c: Comparison, policy: Policy) -> list[str]:
    a, b = c.a, c.b
    out = [f"### Against `{_code(a.label)}`'s best", ""]
    if a.run is None or b.run is None:
        missing = a if a.run is None else b
        return [*out, f"Nothing to compare: {_cell(missing.note)}.", ""]
    out += [
        f"| | `{_cell(a.label)}` (baseline) | `{_cell(b.label)}` | change |",
        "| --- | --- | --- | --- |",
        f"| run | {_md_run(a.run, policy)} | {_md_run(b.run, policy)} | |",
    ]
    for row in c.metrics:
        said = f"{signed(row.delta)} ({row.verdict})" if row.verdict else ""
        out.append(f"| `{_cell(row.key)}` | {num(row.a)} | {num(row.b)} | {said} |")
    out.append(f"| tags | {_md_tags(a.run.tags)} | {_md_tags(b.run.tags)} | |")
    return [*out, "", *_md_config(c)]


def _md_config(c: Comparison) -> list[str]:
    if not c.config:
        return [f"Config: the same ({c.config_keys} keys).", ""]
    out = [
        f"Config that differs ({len(c.config)} of {c.config_keys} keys):",
        "",
        f"| key | `{_cell(c.a.label)}` | `{_cell(c.b.label)}` |",
        "| --- | --- | --- |",
    ]
    for row in c.config:
        left = f"`{_code(shown(row.a))}`" if row.in_a else "_unset_"
        right = f"`{_code(shown(row.b))}`" if row.in_b else "_unset_"
        out.append(f"| `{_cell(row.key)}` | {_cell(left)} | {_cell(right)} |")
    return [*out, ""]


def _md_run(run: Run, policy: Policy) -> str:
    from ragguard.docs import run_url

    label = f"`{_code(run.id)}`" + (f" {_cell(run.name)}" if run.name else "")
    url = run_url(run, policy)
    return f"[{label}]({url})" if url else label


def _md_tags(tags: Sequence[str]) -> str:
    return ", ".join(f"`{_cell(_code(tag))}`" for tag in tags) or "—"


def _cell(text: str) -> str:
    """One line, with pipes that cannot split a table row."""
    return " ".join(text.split()).replace("|", "\\|")


def _code(text: str) -> str:
    # A backtick would end the code span early; a lookalike keeps it readable.
    return text.replace("`", "\u02cb")
