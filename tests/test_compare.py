"""``ragguard compare A B`` on real offline W&B runs in a real repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import ragworld
from ragguard.cli import main
from ragguard.compare import choose_metric, compare, flatten, ranked, render_text
from ragguard.config import parse_policy
from ragguard.errors import BadInputError, Exit


def test_flatten_keeps_leaves_dotted_and_drops_wandb_internals() -> None:
    config = {"retriever": {"type": "bm25", "k": 5}, "empty": {}, "_wandb": {"x": 1}}
    assert flatten(config) == {"retriever.type": "bm25", "retriever.k": 5, "empty": {}}


def test_two_branches_side_by_side(work: Path) -> None:
    comparison, policy = compare("main", "exp/bm25", cwd=work)
    assert comparison.metric == "eval/recall@5"
    assert (comparison.a.run and comparison.a.run.id) == "base0001"
    assert (comparison.b.run and comparison.b.run.id) == "bm25a002"
    rows = {row.key: row for row in comparison.metrics}
    assert rows["eval/recall@5"].delta == pytest.approx(0.06)
    assert rows["eval/recall@5"].verdict == "better"
    assert rows["latency_ms"].verdict == "worse"  # not the merge metric: higher
    assert {row.key for row in comparison.config} == {
        "retriever.type",
        "retriever.k",
        "retriever.k1",
        "chunk_size",
    }
    lines = render_text(comparison, policy)
    assert lines[0] == (
        "ragguard compare: A = main, B = exp/bm25; best by eval/recall@5 "
        "(higher is better)"
    )
    assert any(
        line.split()
        == [
            "eval/recall@5",
            "0.78",
            "0.84",
            "+0.06",
            "B",
            "better",
            "(higher",
            "is",
            "better)",
        ]
        for line in lines
    )
    assert (
        "     finished, synced, commit 65b7fa1, https://wandb.ai/team/rag/runs/base0001"
        in lines
    )
    assert "  A  retriever:dense" in lines


def test_two_run_ids_show_only_the_config_that_differs(work: Path) -> None:
    comparison, policy = compare("bm25a001", "bm25a002", cwd=work)
    assert comparison.a.kind == comparison.b.kind == "run"
    assert [(r.key, r.a, r.b) for r in comparison.config] == [("retriever.k", 5, 10)]
    lines = render_text(comparison, policy)
    assert "  A  retriever:bm25, k=5" in lines and "  B  retriever:bm25, k=10" in lines


def test_a_run_id_against_a_branch(work: Path) -> None:
    comparison, _ = compare("bm25a001", "main", cwd=work)
    assert comparison.a.kind == "run" and comparison.b.kind == "branch"


def test_metric_option_and_min_goal_direction(work: Path) -> None:
    (work / ".ragguard.yaml").write_text(
        ragworld.POLICY.replace(
            "metric: eval/recall@5\n  goal: max", "metric: latency_ms\n  goal: min"
        )
    )
    comparison, policy = compare("main", "exp/bm25", metric="latency_ms", cwd=work)
    assert (comparison.b.run and comparison.b.run.id) == "bm25a001"  # 40 ms
    first = comparison.metrics[0]
    assert (first.key, first.goal, first.verdict) == ("latency_ms", "min", "better")
    assert first.delta == pytest.approx(-80)
    assert "lower is better" in render_text(comparison, policy)[0]


def test_a_metric_no_run_has_is_one_line(work: Path) -> None:
    with pytest.raises(
        BadInputError, match="no run of main or exp/bm25 logged the metric 'ndcg'"
    ):
        compare("main", "exp/bm25", metric="ndcg", cwd=work)


def test_a_side_without_runs_is_said(work: Path) -> None:
    comparison, policy = compare("exp/empty", "exp/bm25", cwd=work)
    assert comparison.a.run is None
    assert comparison.a.note == "exp/empty has no runs"
    assert comparison.config == ()
    lines = render_text(comparison, policy)
    assert (
        "  A  exp/empty (branch, 0 runs): no run to compare: exp/empty has no runs"
        in lines
    )


def test_cli_errors_are_one_line(
    work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(work)
    assert main(["compare", "main", "exp/nope"]) == Exit.BAD_INPUT
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1
        and "'exp/nope' is neither a run id nor a local branch" in err
    )
    assert main(["compare", "main", "exp/bm25", "--metric", "ndcg"]) == Exit.BAD_INPUT
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["compare", "main", "exp/bm25", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["b"]["run"] == "bm25a002" and data["metrics"][0]["b_is"] == "better"


def test_choose_metric_and_ranked_on_plain_policies(work: Path) -> None:
    comparison, _ = compare("bm25a001", "bm25a002", cwd=work)
    runs = [r for r in (comparison.a.run, comparison.b.run) if r is not None]
    configured = parse_policy("report:\n  metric: latency_ms\n")
    assert choose_metric(runs, configured) == "latency_ms"
    missing = parse_policy("report:\n  metric: nowhere\n")
    assert choose_metric(runs, missing) == "eval/mrr"  # the first key by name
    assert [r.id for r in ranked(runs, "eval/mrr", "max")] == ["bm25a001", "bm25a002"]
