"""``ragguard report`` and the post-checkout summary table, on real offline
W&B runs in a real repository (``ragworld``), against golden files.

Goldens hold run ids and commit ids as they are: runs have fixed ids and
commits fixed dates. ``RAGGUARD_UPDATE_GOLDEN=1`` rewrites them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import ragworld
from conftest import git
from ragguard.cli import main
from ragguard.config import load_policy, parse_policy
from ragguard.errors import Exit
from ragguard.gitrepo import Repo
from ragguard.report import JSON_SCHEMA, doc_goal, report, summary_table
from ragguard.selection import local_runs, runs_of_branch

GOLDEN = Path(__file__).parent / "golden"


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("RAGGUARD_UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def branch_runs(work: Path, branch: str, policy_text: str | None = None) -> list:
    repo = Repo.discover(work)
    policy = load_policy(work) if policy_text is None else parse_policy(policy_text)
    return runs_of_branch(repo, branch, local_runs(repo, policy), policy)


# --- the post-checkout table -------------------------------------------------------


def test_summary_table_golden(work: Path) -> None:
    policy = parse_policy(ragworld.POLICY.replace("rows: 5", "rows: 2"))
    lines = summary_table(branch_runs(work, "exp/bm25"), policy)
    golden("summary_table.txt", "\n".join(lines) + "\n")
    assert lines[1].split()[0] == "bm25a002"  # best first: 0.84 before 0.81
    assert lines[-1] == "  ... and 1 more: ragguard report"


def test_summary_block_puts_the_goal_first(work: Path) -> None:
    from ragguard.report import summary_block

    runs = branch_runs(work, "exp/bm25")
    lines = summary_block(runs, load_policy(work), ragworld.DOC)
    assert lines[0] == (
        "  goal: Learn whether BM25 beats the dense retriever on recall@5."
    )
    assert lines[1:] == summary_table(runs, load_policy(work))
    assert summary_block([], load_policy(work), None) == []


def test_summary_table_without_a_metric_uses_the_first_numeric_keys(
    work: Path,
) -> None:
    policy = parse_policy("report:\n  rows: 10\n")
    lines = summary_table(branch_runs(work, "exp/bm25"), policy)
    assert lines[0].split() == [
        "run",
        "name",
        "state",
        "sync",
        "eval/mrr",
        "eval/recall@5",
    ]
    assert [line.split()[0] for line in lines[1:]] == [  # best eval/mrr first
        "bm25a001",
        "bm25a002",
        "bm25a003",
    ]
    assert lines[3].split()[-2:] == ["-", "-"]  # the failed run logged nothing


def test_summary_table_lower_is_better_for_a_min_merge_metric(work: Path) -> None:
    text = "report:\n  metric: latency_ms\nmerge:\n  metric: latency_ms\n  goal: min\n"
    lines = summary_table(branch_runs(work, "exp/bm25"), parse_policy(text))
    assert [line.split()[0] for line in lines[1:3]] == ["bm25a001", "bm25a002"]


def test_summary_table_of_no_runs_is_empty() -> None:
    assert summary_table([], parse_policy("")) == []


@pytest.mark.parametrize(
    ("text", "goal"),
    [
        (ragworld.DOC, "Learn whether BM25 beats the dense retriever on recall@5."),
        ("# x\n\n## Goal\n\n<!-- say it -->\nTODO\n\n## Hypothesis\n\nyes\n", None),
        ("# x\n\nNo goal heading here.\n", None),
        ("## goal\n\n  Two   spaces  \n\nsecond line\n", "Two spaces"),
    ],
)
def test_doc_goal(text: str, goal: str | None) -> None:
    assert doc_goal(text) == goal


def test_doc_goal_of_the_built_in_template_is_none() -> None:
    from ragguard.config import DEFAULT_POLICY
    from ragguard.docs import template_text

    assert doc_goal(template_text(Path("."), DEFAULT_POLICY)) is None


# --- ragguard report ---------------------------------------------------------------


def test_markdown_report_golden(work: Path) -> None:
    text = report("exp/bm25", fmt="markdown", cwd=work)
    golden("report_exp_bm25.md", text)
    assert "**Best run** by `eval/recall@5` (higher is better)" in text
    assert "https://wandb.ai/team/rag/runs/bm25a002" in text
    assert "| `eval/recall@5` | 0.78 | 0.84 | +0.06 (better) |" in text


def test_json_report_golden_and_schema(work: Path, world: ragworld.World) -> None:
    text = report("exp/bm25", fmt="json", cwd=work)
    golden("report_exp_bm25.json", text)
    data = json.loads(text)
    documented = {
        line.split()[0] for line in JSON_SCHEMA.splitlines()[2:] if line[:1].isalpha()
    }
    assert set(data) == documented
    assert data["schema"] == "ragguard.report/1"
    assert data["commit"] == world.bm25
    assert data["best"] == {"run": "bm25a002", "value": 0.84}
    assert data["baseline"] == {
        "branch": "main",
        "run": "base0001",
        "runs": 1,
        "value": 0.78,
    }
    assert [run["id"] for run in data["runs"]] == ["bm25a002", "bm25a001", "bm25a003"]
    diff = {
        row["key"]: (row["a"], row["b"]) for row in data["comparison"]["config_differs"]
    }
    assert diff == {
        "retriever.type": ("dense", "bm25"),
        "retriever.k": (5, 10),
        "retriever.k1": (None, 1.2),
        "chunk_size": (512, 256),
    }


def test_report_on_the_default_branch_has_no_comparison(work: Path) -> None:
    data = json.loads(report(None, fmt="json", cwd=work))
    assert data["branch"] == "main"
    assert data["comparison"] is None
    assert [run["id"] for run in data["runs"]] == ["base0001"]
    assert "Against" not in report(None, cwd=work)


def test_report_of_a_branch_without_runs(work: Path) -> None:
    text = report("exp/empty", cwd=work)
    assert "_No runs on this branch yet._" in text
    assert "Nothing to compare: exp/empty has no runs." in text
    data = json.loads(report("exp/empty", fmt="json", cwd=work))
    assert data["best"] is None and data["runs"] == []


def test_report_cli(
    work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(work)
    assert main(["report", "--branch", "exp/bm25", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["branch"] == "exp/bm25"
    assert main(["report", "--branch", "exp/nope"]) == Exit.BAD_INPUT
    err = capsys.readouterr().err
    assert err == "ragguard: branch 'exp/nope' does not exist in this repository.\n"


def test_the_baseline_comes_from_the_remote_when_main_is_not_local(
    work: Path,
) -> None:
    git(work, "switch", "-q", "exp/bm25")
    git(work, "branch", "-q", "-D", "main")
    data = json.loads(report(None, fmt="json", cwd=work))
    assert data["baseline"]["run"] == "base0001"
    assert data["comparison"]["a"]["label"] == "main"
