"""The merge moments through directly installed hooks: the gate refuses a
merge commit into main, pre-push gates main, and post-merge validates."""

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
  threshold: 0.5
post_merge:
  validate: "{python} -c 'import sys; print(\\"validating\\"); sys.exit({code})'"
  timeout: 60
"""


def synced_run(work: Path, recall: float) -> Path:
    folder = wandbgen.write_run(work, summary={METRIC: recall})
    for log in folder.glob("run-*.wandb"):  # what `wandb sync` leaves behind
        log.with_name(log.name + ".synced").touch()
    return folder


def branch_with_run(work: Path, name: str, recall: float) -> None:
    git(work, "switch", "-q", "-c", name)
    doc = work / "docs" / "branches" / f"{name}.md"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(f"# {name}\n\n## Goal\n\nSee whether {name} finds more.\n")
    (work / "retriever.txt").write_text(name)
    git(work, "add", "-A", "docs", "retriever.txt")
    git(work, "commit", "-q", "-m", f"Try the {name} retriever settings")
    synced_run(work, recall)
    git(work, "switch", "-q", "main")


def make_gated(repo: Path, validate_code: int) -> Path:
    policy = POLICY.format(python=sys.executable, code=validate_code)
    (repo / ".ragguard.yaml").write_text(policy)
    git(repo, "add", ".ragguard.yaml")
    git(repo, "commit", "-q", "-m", "Set the merge criteria for retrievers")
    git(repo, "push", "-q", "origin", "main")
    synced_run(repo, 0.7)
    assert run_ragguard(repo, "install").returncode == 0
    return repo


@pytest.fixture
def gated(repo: Path) -> Path:
    return make_gated(repo, 0)


def test_a_merge_commit_of_a_worse_branch_is_refused(gated: Path) -> None:
    branch_with_run(gated, "exp/worse", 0.6)
    before = git(gated, "rev-parse", "HEAD").stdout
    result = git(
        gated, "merge", "--no-ff", "-m", "Merge exp/worse", "exp/worse", check=False
    )
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "merge-gate" in out and "merge of exp/worse into main" in out
    assert "candidate" in out and "baseline" in out and "delta -0.1" in out
    assert git(gated, "rev-parse", "HEAD").stdout == before
    git(gated, "merge", "--abort")


def test_a_merge_commit_of_a_better_branch_is_made_and_validated(gated: Path) -> None:
    branch_with_run(gated, "exp/better", 0.9)
    result = git(gated, "merge", "--no-ff", "-m", "Merge exp/better", "exp/better")
    out = result.stdout + result.stderr
    assert "merged into main: best eval/recall@5 0.9" in out
    assert "baseline 0.7" in out and "delta +0.2" in out
    assert "validation passed" in out
    record = json.loads((gated / ".git" / "ragguard" / "validation.json").read_text())
    assert record["outcome"] == "passed" and record["exit_code"] == 0


def test_a_failed_validation_is_loud_and_recorded(repo: Path) -> None:
    work = make_gated(repo, 3)
    branch_with_run(work, "exp/better", 0.9)
    result = git(work, "merge", "--no-ff", "-m", "Merge exp/better", "exp/better")
    assert result.returncode == 0  # git ignores post-merge's status
    assert "VALIDATION FAILED" in result.stderr
    assert "exited 3" in result.stderr and "git revert -m 1 HEAD" in result.stderr
    again = run_ragguard(work, "validate")
    assert again.returncode == 1
    assert "VALIDATION FAILED" in again.stderr


def test_pushing_main_after_a_fast_forward_of_a_worse_branch_is_refused(
    gated: Path,
) -> None:
    branch_with_run(gated, "exp/worse", 0.6)
    git(gated, "merge", "--ff-only", "exp/worse")  # no merge commit: no gate
    result = git(gated, "push", "origin", "main", check=False)
    assert result.returncode != 0
    assert "merge-gate" in result.stderr + result.stdout
    assert "does not beat main's best" in result.stderr + result.stdout


def test_skipping_the_gate_is_logged(gated: Path) -> None:
    branch_with_run(gated, "exp/worse", 0.6)
    git(gated, "merge", "--ff-only", "exp/worse")
    result = subprocess.run(
        ["git", "push", "origin", "main"],
        cwd=gated,
        capture_output=True,
        text=True,
        env={**os.environ, "RAGGUARD_SKIP": "merge-gate"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    log = (gated / ".git" / "ragguard" / "skip.log").read_text()
    assert "merge-gate" in log


def test_an_experiment_pushed_before_its_merge_is_still_gated(gated: Path) -> None:
    branch_with_run(gated, "exp/worse", 0.6)
    git(gated, "push", "-q", "--no-verify", "origin", "exp/worse")
    git(gated, "merge", "--ff-only", "exp/worse")
    result = git(gated, "push", "origin", "main", check=False)
    assert result.returncode != 0
    assert "does not beat main's best" in result.stderr + result.stdout


def test_pulling_the_branch_itself_is_not_an_experiment_merge(
    gated: Path, tmp_path: Path
) -> None:
    origin = git(gated, "remote", "get-url", "origin").stdout.strip()
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", origin, str(other))
    (other / "notes.md").write_text("chunking notes\n")
    git(other, "add", "notes.md")
    git(other, "commit", "-q", "-m", "Write down the chunking notes")
    git(other, "push", "-q", "--no-verify", "origin", "main")
    (gated / "plan.md").write_text("next: rerank\n")
    git(gated, "add", "plan.md")
    git(gated, "commit", "-q", "-m", "Plan the reranking experiment")
    result = git(gated, "pull", "--no-rebase", "-q", "origin", "main", check=False)
    assert result.returncode == 0, result.stderr
    assert "merge-gate" not in result.stderr + result.stdout


def test_finishing_a_refused_merge_with_commit_is_refused_too(gated: Path) -> None:
    branch_with_run(gated, "exp/worse", 0.6)
    refused = git(
        gated, "merge", "--no-ff", "-m", "Merge exp/worse", "exp/worse", check=False
    )
    assert refused.returncode != 0
    assert "git merge --abort" in refused.stdout + refused.stderr
    before = git(gated, "rev-parse", "HEAD").stdout
    again = git(gated, "commit", "--no-edit", check=False)
    assert again.returncode != 0, "git commit must not finish a merge the gate refused"
    assert "merge-gate" in again.stdout + again.stderr
    assert git(gated, "rev-parse", "HEAD").stdout == before
    git(gated, "merge", "--abort")


def test_a_push_of_main_without_runs_passes_with_a_note(gated: Path) -> None:
    (gated / "README.md").write_text("# experiments\n\nHow we compare retrievers.\n")
    git(gated, "commit", "-q", "-am", "Explain how retrievers are compared")
    result = git(gated, "push", "origin", "main", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "note [merge-gate]" in result.stdout
    assert "carry no runs: nothing for the merge gate to judge" in result.stdout


def test_the_gate_fix_printed_at_push_judges_what_is_pushed(gated: Path) -> None:
    branch_with_run(gated, "exp/worse", 0.6)
    git(gated, "merge", "--ff-only", "exp/worse")
    pushed = git(gated, "push", "origin", "main", check=False)
    assert "fix: ragguard gate --target origin/main --head main" in pushed.stdout
    verdict = run_ragguard(gated, "gate", "--target", "origin/main", "--head", "main")
    assert verdict.returncode == 1
    assert "does not beat origin/main's best" in verdict.stdout
    assert "branch doc" not in verdict.stdout


def test_a_branch_cannot_bring_a_weaker_policy_to_its_merge(gated: Path) -> None:
    git(gated, "switch", "-q", "-c", "exp/weak")
    (gated / ".ragguard.yaml").write_text(
        "merge: {metric: eval/recall@5, threshold: 0.1, beat_baseline: false}\n"
        "checks: {merge-gate: {pre-push: off, pre-merge-commit: off}}\n"
    )
    doc = gated / "docs" / "branches" / "exp" / "weak.md"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text("# exp/weak\n\n## Goal\n\nSee whether a lower bar helps.\n")
    git(gated, "add", "-A", ".ragguard.yaml", "docs")
    git(gated, "commit", "-q", "-m", "Lower the bar for the weak retriever")
    synced_run(gated, 0.3)
    git(gated, "switch", "-q", "main")
    merge = git(gated, "merge", "--no-ff", "--no-edit", "exp/weak", check=False)
    assert merge.returncode != 0, merge.stdout + merge.stderr
    assert "below the threshold 0.5" in merge.stdout + merge.stderr
    git(gated, "merge", "--abort")
    git(gated, "merge", "-q", "--ff-only", "exp/weak")
    push = git(gated, "push", "origin", "main", check=False)
    assert push.returncode != 0
    assert "below the threshold 0.5" in push.stdout + push.stderr


def test_a_validation_string_is_a_shell_command_line(repo: Path) -> None:
    policy = f"post_merge:\n  validate: \"{sys.executable} -c 'pass' && exit 4\"\n"
    (repo / ".ragguard.yaml").write_text(policy)
    result = run_ragguard(repo, "validate")
    assert result.returncode == 1
    assert "exited 4" in result.stderr


def test_merging_a_branch_without_runs_passes_with_a_note(gated: Path) -> None:
    git(gated, "switch", "-q", "-c", "docs/typo")
    doc = gated / "docs" / "branches" / "docs" / "typo.md"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text("# docs/typo\n\n## Goal\n\nFix a typo in the README.\n")
    (gated / "README.md").write_text("# experiments\n\nRetrieval experiments.\n")
    git(gated, "add", "-A", "docs", "README.md")
    git(gated, "commit", "-q", "-m", "Fix the spelling in the README")
    git(gated, "switch", "-q", "main")
    merge = git(gated, "merge", "--no-ff", "--no-edit", "docs/typo", check=False)
    assert merge.returncode == 0, merge.stdout + merge.stderr
    assert "docs/typo brings no runs" in merge.stdout + merge.stderr


def test_status_on_main_shows_the_verdict_its_push_will_get(gated: Path) -> None:
    branch_with_run(gated, "exp/worse", 0.6)
    git(gated, "merge", "-q", "--ff-only", "exp/worse")
    screen = run_ragguard(gated, "status").stdout
    assert "does not beat origin/main's best" in screen
    assert "next: git reset --keep origin/main  (undo the merge)" in screen
