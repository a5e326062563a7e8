"""The pre-receive example, installed in a real bare repository, receiving
real pushes: what the server refuses even when client hooks are skipped."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from conftest import git

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "server" / "pre-receive"


@pytest.fixture
def served(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``repo`` whose origin runs ragguard's pre-receive example."""
    origin = Path(git(repo, "remote", "get-url", "origin").stdout.strip())
    hook = origin / "hooks" / "pre-receive"
    shutil.copy(EXAMPLE, hook)
    hook.chmod(0o755)
    monkeypatch.setenv("RAGGUARD_PYTHON", sys.executable)
    return repo


def commit(work: Path, path: str, text: str, message: str) -> None:
    target = work / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    git(work, "add", "-f", path)
    git(work, "commit", "-q", "--no-verify", "-m", message)


def push(work: Path, *refs: str) -> tuple[int, str]:
    result = git(work, "push", "--no-verify", "origin", *refs, check=False)
    return result.returncode, result.stderr


def test_a_good_push_to_the_default_branch_is_accepted(served: Path) -> None:
    commit(served, "retriever.py", "K1 = 1.2\n", "Tune BM25 k1 for long passages")
    code, err = push(served, "main")
    assert code == 0, err
    assert "ragguard: main: ok" in err


def test_a_message_that_says_nothing_is_refused(served: Path) -> None:
    commit(served, "retriever.py", "K1 = 1.5\n", "wip")
    code, err = push(served, "main")
    assert code != 0
    assert "[commit-msg]" in err and "'wip' says nothing" in err
    assert "pre-receive hook declined" in err


def test_run_data_in_a_commit_is_refused(served: Path) -> None:
    commit(
        served,
        "wandb/offline-run-20260101_000000-abc123/run-abc123.wandb",
        "x",
        "Add the BM25 run logs",
    )
    code, err = push(served, "main")
    assert code != 0
    assert "[staged-runs]" in err and "git rm -r -q --cached -- wandb" in err


def test_an_undocumented_branch_is_refused_then_accepted_with_its_doc(
    served: Path,
) -> None:
    git(served, "switch", "-q", "-c", "exp/bm25")
    commit(served, "retriever.py", "K1 = 0.9\n", "Try a lower BM25 k1 value")
    code, err = push(served, "exp/bm25")
    assert code != 0
    assert "exp/bm25: blocked [branch-doc]" in err
    assert "docs/branches/exp/bm25.md" in err
    doc = "# exp/bm25\n\n## Goal\n\nSee whether a lower k1 helps short questions.\n"
    commit(served, "docs/branches/exp/bm25.md", doc, "Document the BM25 k1 branch")
    code, err = push(served, "exp/bm25")
    assert code == 0, err


def test_the_server_policy_judges_not_the_pushed_one(served: Path) -> None:
    policy = "checks:\n  commit-msg: {commit-msg: off}\n"
    commit(served, ".ragguard.yaml", policy, "Turn the commit message check off")
    commit(served, "retriever.py", "K1 = 2\n", "wip")
    code, err = push(served, "main")
    assert code != 0, "a push must not be judged by the policy it brings"
    assert "[commit-msg]" in err


def test_deleting_a_branch_is_not_judged(served: Path) -> None:
    git(served, "switch", "-q", "-c", "old")
    doc = "# old\n\n## Goal\n\nKeep an old retriever around for comparison.\n"
    commit(served, "docs/branches/old.md", doc, "Document the old retriever branch")
    assert push(served, "old")[0] == 0
    commit(served, "note.txt", "x", "wip")  # would be refused if it were judged
    code, err = push(served, "--delete", "old")
    assert code == 0, err
    assert "ragguard" not in err
