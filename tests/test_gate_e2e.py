"""``ragguard gate`` in real repositories with real offline wandb runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import wandbgen
from conftest import git, run_ragguard

METRIC = "eval/recall@5"
POLICY = """\
merge:
  metric: eval/recall@5
  goal: max
  threshold: 0.5
"""
DOC = "# {b}\n\n## Goal\n\nFind out whether {b} retrieves better passages.\n"


def mark_synced(folder: Path) -> None:
    """What `wandb sync` leaves behind; there is no W&B server here."""
    for log in folder.glob("run-*.wandb"):
        log.with_name(log.name + ".synced").touch()


def experiment(work: Path, branch: str, recall: float, *, doc: bool = True) -> Path:
    git(work, "switch", "-q", "-c", branch)
    (work / "retriever.txt").write_text(f"{branch}\n")
    git(work, "add", "retriever.txt")
    if doc:
        path = work / "docs" / "branches" / f"{branch}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(DOC.format(b=branch))
        git(work, "add", "docs")
    git(work, "commit", "-q", "-m", f"Try the {branch} retriever settings")
    folder = wandbgen.write_run(work, summary={METRIC: recall})
    mark_synced(folder)
    return folder


@pytest.fixture
def gated(repo: Path) -> Path:
    """``repo`` with a merge policy and a baseline run of 0.7 on main."""
    (repo / ".ragguard.yaml").write_text(POLICY)
    git(repo, "add", ".ragguard.yaml")
    git(repo, "commit", "-q", "-m", "Set the merge criteria for retrievers")
    git(repo, "push", "-q", "origin", "main")
    mark_synced(wandbgen.write_run(repo, summary={METRIC: 0.7}))
    return repo


def test_a_better_branch_passes_and_names_both_runs(gated: Path) -> None:
    folder = experiment(gated, "exp/better", 0.85)
    result = run_ragguard(gated, "gate", "--target", "main", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["passed"] is True
    assert verdict["head"]["run"] == folder.name.rsplit("-", 1)[1]
    assert verdict["head"]["value"] == 0.85
    assert verdict["target"]["value"] == 0.7
    assert verdict["delta"] == pytest.approx(0.15)


def test_a_worse_branch_fails_with_a_markdown_summary(
    gated: Path, tmp_path: Path
) -> None:
    experiment(gated, "exp/worse", 0.6)
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier steps\n")
    out = tmp_path / "gate.md"
    result = subprocess.run(
        [sys.executable, "-m", "ragguard", "gate", "--markdown", str(out)],
        cwd=gated,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert result.returncode == 1
    assert "merge gate blocked: exp/worse -> main" in result.stdout
    assert "-0.1" in result.stdout
    text = out.read_text()
    assert "❌ blocked" in text and "| baseline | `main` |" in text
    assert summary.read_text() == "earlier steps\n" + text


def test_an_undocumented_branch_fails(gated: Path) -> None:
    experiment(gated, "exp/nodoc", 0.95, doc=False)
    result = run_ragguard(gated, "gate")
    assert result.returncode == 1
    assert "has no filled-in branch doc" in result.stdout
    assert "ragguard doc init exp/nodoc" in result.stdout


def test_head_spelled_out_or_a_commit_id_names_no_other_branch(gated: Path) -> None:
    """`--head HEAD` is the default spelled out: the checked-out branch's doc,
    not a doc for a branch named HEAD. On a detached checkout `--head HEAD`
    or `--head <sha>` names no branch, so no doc is asked for (issue 8, 11)."""
    experiment(gated, "exp/nodoc", 0.95, doc=False)
    sha = git(gated, "rev-parse", "HEAD").stdout.strip()
    attached = run_ragguard(gated, "gate", "--head", "HEAD")
    git(gated, "checkout", "-q", sha)
    detached = [run_ragguard(gated, "gate", "--head", h) for h in ("HEAD", sha)]

    assert attached.returncode == 1
    assert "ragguard doc init exp/nodoc" in attached.stdout
    for result in detached:
        assert result.returncode == 0, result.stdout + result.stderr
        assert "branch doc" not in result.stdout


def test_an_unknown_head_is_a_one_line_error(gated: Path) -> None:
    result = run_ragguard(gated, "gate", "--head", "no-such-branch")
    assert result.returncode == 6
    assert result.stderr.strip().count("\n") == 0
    assert "'no-such-branch' names no commit" in result.stderr


def test_a_clone_without_run_folders_points_at_remote_runs(
    gated: Path, tmp_path: Path
) -> None:
    experiment(gated, "exp/better", 0.85)
    git(gated, "push", "-q", "--no-verify", "origin", "exp/better", "main")
    origin = git(gated, "remote", "get-url", "origin").stdout.strip()
    ci = tmp_path / "ci"
    git(tmp_path, "clone", "-q", origin, str(ci))
    result = run_ragguard(ci, "gate", "--head", "origin/exp/better")
    assert result.returncode == 1
    assert "runs read from local run folders (none found)" in result.stdout
    assert "set wandb.remote: true" in result.stdout


def test_report_and_gate_agree_on_the_baseline(gated: Path) -> None:
    wandbgen.write_run(gated, summary={METRIC: 0.95})  # on main, never synced
    experiment(gated, "exp/better", 0.8)
    gate = json.loads(run_ragguard(gated, "gate", "--json").stdout)
    report = json.loads(run_ragguard(gated, "report", "--format", "json").stdout)
    assert gate["target"]["value"] == 0.7
    assert report["baseline"]["value"] == 0.7
