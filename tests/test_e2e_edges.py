"""End to end on awkward repositories: the first commit, SHA-256 object ids,
branch names with slashes and accents, a detached HEAD, no remote at all.

Each test makes a fresh repository and sets ragguard up in it both ways
(``ragguard install`` and ``pre-commit install``), then drives real git.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from e2e_support import (
    Template,
    changed,
    fresh_repo,
    git,
    run,
    snapshot,
)

DOC = "# {branch}\n\n## Hypothesis\n\nSmaller chunks help short FAQ answers.\n"


def _copy_run(template: Template, work: Path) -> Path:
    """A real offline run folder (from the session's template) in ``work``."""
    source = template.base / "work" / template.run_folder
    target = work / template.run_folder
    shutil.copytree(source, target, symlinks=True)
    return target


def _document(work: Path, branch: str) -> None:
    doc = work / "docs" / "branches" / f"{branch}.md"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(DOC.format(branch=branch))
    git(work, "add", "docs")
    assert git(work, "commit", "-q", "-m", f"Document the {branch} branch").code == 0


def test_the_first_commit_is_checked_too(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    install_path: str,
    rag_template: Template,
) -> None:
    work, _ = fresh_repo(request, tmp_path, install_path)
    _copy_run(rag_template, work)
    git(work, "add", "-A")
    git(work, "add", "-f", "wandb")
    before = snapshot_unborn(work)

    blocked = git(work, "commit", "-m", "Start the experiments with a BM25 run")

    assert blocked.code != 0
    assert "[staged-runs]" in blocked.text
    assert snapshot_unborn(work) == before
    git(work, "rm", "-r", "-q", "--cached", "wandb")
    done = git(work, "commit", "-m", "Start the experiments with ragguard set up")
    assert done.code == 0, done.text


def snapshot_unborn(work: Path) -> tuple[str, str]:
    """What can be compared before the first commit: the index and the files."""
    index = run(work, "git", "ls-files", "-s").stdout
    files = run(work, "git", "status", "--porcelain", "--ignored").stdout
    return index, files


def test_sha256_repository_push_checks_new_branches(
    request: pytest.FixtureRequest, tmp_path: Path, install_path: str
) -> None:
    work, origin = fresh_repo(request, tmp_path, install_path, object_format="sha256")
    git(work, "add", "-A")  # what ragguard init wrote
    assert git(work, "commit", "-q", "-m", "Set up ragguard for the team").code == 0
    git(work, "remote", "add", "origin", str(origin))
    branch = "exp/réécriture-requêtes"  # a slash and accents
    git(work, "switch", "-q", "-c", branch)
    (work / "rewrite.py").write_text("REWRITE = 'hyde'\n")
    git(work, "add", "rewrite.py")
    assert git(work, "commit", "-q", "-m", "Rewrite queries with HyDE").code == 0
    before = snapshot(work)

    blocked = git(work, "push", "origin", branch)

    assert blocked.code != 0
    assert "[branch-doc]" in blocked.text
    assert f"docs/branches/{branch}.md" in blocked.text
    assert changed(before, snapshot(work)) == []
    _document(work, branch)
    pushed = git(work, "push", "origin", branch)
    assert pushed.code == 0, pushed.text
    assert len(git(work, "rev-parse", "HEAD").text.strip()) == 64


def test_a_repository_without_a_remote_and_a_detached_head(
    request: pytest.FixtureRequest, tmp_path: Path, install_path: str
) -> None:
    work, _ = fresh_repo(request, tmp_path, install_path)
    git(work, "add", "-A")  # what ragguard init wrote
    assert git(work, "commit", "-q", "-m", "Set up ragguard for the team").code == 0
    git(work, "switch", "-q", "-c", "exp/chunks")
    _document(work, "exp/chunks")

    detached = git(work, "switch", "--detach", "HEAD~1")
    assert detached.code == 0, detached.text
    (work / "notes.md").write_text("chunk sizes tried: 256, 512\n")
    git(work, "add", "notes.md")
    commit = git(work, "commit", "-m", "Note the chunk sizes tried so far")
    back = git(work, "switch", "exp/chunks")

    assert commit.code == 0, commit.text
    assert back.code == 0, back.text
    assert "ragguard: on exp/chunks" in back.text
