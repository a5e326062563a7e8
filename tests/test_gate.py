"""The merge gate's decision: every stated outcome, on Run records."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ragguard.config import MergePolicy
from ragguard.gate import best_run, decide, render_markdown, render_text
from ragguard.runs.model import Run

METRIC = "eval/recall@5"


def run(rid: str, value: float | None, **kw: object) -> Run:
    summary = {} if value is None else {METRIC: value}
    fields: dict[str, object] = {
        "id": rid,
        "path": f"wandb/offline-run-20260101_000000-{rid}",
        "mode": "offline",
        "state": "finished",
        "sync": "synced",
        "summary": summary,
    }
    fields.update(kw)
    return Run(**fields)  # type: ignore[arg-type]


POLICY = MergePolicy(metric=METRIC, threshold=0.5)


def judge(
    head: list[Run], target: list[Run], merge: MergePolicy = POLICY, **kw: object
):
    return decide(head, target, merge, head="exp/bm25", target="main", **kw)  # type: ignore[arg-type]


def test_passes_when_best_run_beats_baseline_and_threshold() -> None:
    verdict = judge([run("a", 0.7), run("b", 0.9)], [run("base", 0.8)])
    assert verdict.passed
    assert verdict.head.run is not None and verdict.head.run.id == "b"
    assert verdict.target.run is not None and verdict.target.run.id == "base"
    assert verdict.delta == pytest.approx(0.1)


def test_fails_below_threshold() -> None:
    verdict = judge([run("a", 0.4)], [])
    assert not verdict.passed
    assert "below the threshold 0.5" in verdict.reason


def test_fails_when_worse_than_baseline() -> None:
    verdict = judge([run("a", 0.6)], [run("base", 0.8)])
    assert not verdict.passed
    assert verdict.delta == pytest.approx(-0.2)
    assert "does not beat main's best" in verdict.reason


def test_a_tie_fails() -> None:
    verdict = judge([run("a", 0.8)], [run("base", 0.8)])
    assert not verdict.passed
    assert "tie" in verdict.reason


def test_min_delta_is_required() -> None:
    merge = replace(POLICY, min_delta=0.05)
    verdict = judge([run("a", 0.82)], [run("base", 0.8)], merge)
    assert not verdict.passed
    assert "needs 0.05" in verdict.reason
    assert judge([run("a", 0.9)], [run("base", 0.8)], merge).passed


def test_goal_min_prefers_lower_values() -> None:
    merge = MergePolicy(metric=METRIC, goal="min")
    verdict = judge([run("a", 0.3), run("b", 0.2)], [run("base", 0.25)], merge)
    assert verdict.passed
    assert verdict.head.run is not None and verdict.head.run.id == "b"
    assert verdict.delta == pytest.approx(0.05)


def test_missing_baseline_passes_and_says_so() -> None:
    verdict = judge([run("a", 0.7)], [run("other", None)])
    assert verdict.passed
    assert "no baseline" in verdict.reason


def test_no_runs_fails() -> None:
    verdict = judge([], [run("base", 0.8)])
    assert not verdict.passed
    assert "no finished run" in verdict.reason


def test_unfinished_runs_do_not_count() -> None:
    verdict = judge([run("a", 0.99, state="crashed")], [])
    assert not verdict.passed
    assert "no finished run" in verdict.reason


def test_missing_metric_names_the_keys_runs_have() -> None:
    other = run("a", None, summary={"eval/mrr": 0.5, "_step": 3})
    verdict = judge([other], [])
    assert not verdict.passed
    assert METRIC in verdict.reason and "eval/mrr" in verdict.reason
    assert "_step" not in verdict.reason


def test_unsynced_best_run_fails_with_the_sync_command() -> None:
    best = run("b", 0.95, sync="unsynced")
    verdict = judge([run("a", 0.9), best], [run("base", 0.8)])
    assert not verdict.passed
    assert verdict.fix == f"wandb sync {best.path}"


def test_unsynced_is_fine_when_not_required() -> None:
    merge = replace(POLICY, require_synced=False)
    assert judge([run("b", 0.95, sync="unsynced")], [], merge).passed


def test_undocumented_branch_fails_before_metrics() -> None:
    verdict = judge([run("a", 0.9)], [], doc_filled=False)
    assert not verdict.passed
    assert verdict.fix == "ragguard doc init exp/bm25"


def test_no_metric_in_policy_passes_and_says_so() -> None:
    verdict = judge([], [], MergePolicy())
    assert verdict.passed
    assert "merge.metric" in verdict.reason


def test_non_numeric_and_nan_values_are_ignored() -> None:
    runs = [
        run("a", float("nan")),
        run("b", None, summary={METRIC: "high"}),
        run("c", 0.6),
    ]
    best, value = best_run(runs, METRIC, "max")
    assert best is not None and best.id == "c" and value == 0.6


def test_renderings_name_both_runs_numbers_and_delta() -> None:
    head = run("cand", 0.9, entity="team", project="rag")
    verdict = judge([head], [run("base", 0.8)])
    text = "\n".join(render_text(verdict))
    assert "cand" in text and "base" in text and "+0.1" in text
    assert "https://wandb.ai/team/rag/runs/cand" in text
    markdown = render_markdown(verdict)
    assert (
        "| candidate | `exp/bm25` | [`cand`](https://wandb.ai/team/rag/runs/cand)"
        " | 0.9 |" in markdown
    )
    assert "| delta | | | +0.1 |" in markdown
    assert verdict.to_json()["head"]["run"] == "cand"


def test_a_metric_logged_only_as_nan_says_so() -> None:
    verdict = judge([run("a", float("nan"))], [])
    assert not verdict.passed
    assert verdict.reason.endswith(f"logged {METRIC} as a finite number")
