"""End to end: linked worktrees, rebases, multi-ref pushes, a non-editable install.

Both install paths, as in test_e2e_protocol.py, whose fixtures this reuses.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e_support import (
    SETUP_FILES,
    Clone,
    Output,
    PreCommitSource,
    changed,
    commit_setup,
    document,
    mark_synced,
    pre_commit_python,
    run,
    snapshot,
)


def _raw(clone: Clone) -> dict[str, bytes]:
    """The main repository's own files that nothing in a worktree may touch."""
    git_dir = clone.work / ".git"
    return {name: (git_dir / name).read_bytes() for name in ("config", "index", "HEAD")}


def test_hooks_in_a_linked_worktree_leave_the_main_repository_alone(
    clone: Clone,
) -> None:
    commit_setup(clone)
    tree = clone.work.parent / "tree"
    added = clone.git("worktree", "add", "-b", "exp/tree", str(tree), "exp/bm25")
    assert added.code == 0, added.text
    assert "ragguard:" not in added.text  # post-checkout is silent on worktree add
    main_raw, main_view = _raw(clone), snapshot(clone.work)

    (tree / "train.py").write_text("retriever = 'bm25'\nchunk_size = 1024\n")
    clone.git("add", "train.py", cwd=tree)
    wip = clone.git("commit", "-m", "wip", cwd=tree)
    done = clone.git("commit", "-m", "Try 1024-token chunks with BM25", cwd=tree)
    push = clone.git("push", "origin", "exp/tree", cwd=tree)
    switch = clone.git("switch", "-c", "exp/tree-2", cwd=tree)

    assert wip.code != 0 and "[commit-msg]" in wip.text
    assert done.code == 0, done.text
    assert push.code != 0 and "[branch-doc]" in push.text
    # `switch -c` carries the work along: one line about the new branch.
    assert switch.code == 0 and "ragguard: on exp/tree-2" in switch.text
    assert _raw(clone) == main_raw
    # Branch refs are shared with the worktree, whose commit moved exp/tree.
    assert changed(main_view, snapshot(clone.work)) == ["local_refs"]
    bare = run(clone.work, "git", "config", "--get", "core.bare").stdout.strip()
    assert bare == "false"


def test_a_rebase_is_quiet_and_leaves_runs_and_config_alone(
    clone: Clone, tmp_path: Path
) -> None:
    commit_setup(clone)
    document(clone, "exp/bm25")
    mark_synced(clone.run_folder)
    _teammate_pushes_to_main(clone, tmp_path)
    before = snapshot(clone.work)

    rebased = clone.git("rebase", "origin/main")

    assert rebased.code == 0, rebased.text
    assert "ragguard:" not in rebased.text  # a rebase's checkouts are not switches
    after = snapshot(clone.work)
    assert after["runs"] == before["runs"]
    assert after["config"] == before["config"]
    assert after["hooks"] == before["hooks"]
    # The run's commit is now on no branch: the push says its results are lost.
    pushed = clone.git("push", "origin", "exp/bm25")
    assert pushed.code == 0, pushed.text
    assert "[run-commit]" in pushed.text


def _branch_ready_to_push(clone: Clone, branch: str) -> None:
    clone.git("switch", "-q", "-c", branch, "exp/bm25")
    document(clone, branch)
    clone.git("switch", "-q", "exp/bm25")


def test_a_push_of_several_branches(clone: Clone) -> None:
    """A direct install reads every ref from git; the framework only the first.

    pre-commit hands a pre-push hook only the first ref that has something to
    push (documented in bench/README.md and the README): here that branch is
    clean, so the unsynced run on the second one goes through. ``ragguard
    gate`` in CI is the backstop.
    """
    commit_setup(clone)
    document(clone, "exp/bm25")  # its run stays unsynced
    clone.git("switch", "-q", "-c", "aaa/clean", "main")
    clone.git("checkout", "-q", "exp/bm25", "--", *SETUP_FILES)
    clone.git("commit", "-q", "-m", "Set up ragguard on a clean branch")
    document(clone, "aaa/clean")
    clone.git("switch", "-q", "exp/bm25")

    pushed = clone.git("push", "origin", "aaa/clean", "exp/bm25")

    if clone.install_path == "direct":
        assert pushed.code != 0
        assert "[runs-synced]" in pushed.text
        assert clone.remote_branches() == ["main"]
    else:
        assert pushed.code == 0, pushed.text
        assert "aaa/clean" in clone.remote_branches()


@pytest.mark.parametrize("clone", ["direct"], indirect=True)
def test_a_non_editable_install_pins_its_own_interpreter(
    clone: Clone, request: pytest.FixtureRequest
) -> None:
    """The package pre-commit built (a plain pip install) finds its shims."""
    source: PreCommitSource = request.getfixturevalue("pre_commit_source")
    python = pre_commit_python(source)
    installed = Output.of(run(clone.work, str(python), "-m", "ragguard", "install"))
    assert installed.code == 0, installed.text
    shim = (clone.work / ".git" / "hooks" / "pre-commit").read_text()
    assert f"python='{python}'" in shim

    clone.git("add", "-f", "wandb")
    blocked = clone.git("commit", "-m", "Add the results of the BM25 run")

    assert blocked.code != 0
    assert "[staged-runs]" in blocked.text


def _teammate_pushes_to_main(clone: Clone, tmp_path: Path) -> None:
    teammate = tmp_path / "teammate"
    run(tmp_path, "git", "clone", "-q", str(clone.origin), str(teammate))
    (teammate / "README.md").write_text("# RAG experiments\n\nSee docs/.\n")
    run(teammate, "git", "commit", "-q", "-am", "Point readers at the docs folder")
    assert run(teammate, "git", "push", "-q", "origin", "main").returncode == 0
    clone.git("fetch", "-q", "origin")


def test_a_merge_runs_both_merge_hooks_and_changes_nothing_else(
    clone: Clone, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit_setup(clone)
    _teammate_pushes_to_main(clone, tmp_path)
    before = snapshot(clone.work)
    monkeypatch.setenv("GIT_TRACE", "1")  # names every hook git runs

    merged = clone.git(
        "merge", "--no-ff", "-m", "Merge main's docs pointer", "origin/main"
    )

    assert merged.code == 0, merged.text
    for hook in ("pre-merge-commit", "post-merge"):
        assert f"hooks/{hook}" in merged.text
    after = snapshot(clone.work)
    assert after["runs"] == before["runs"]
    assert after["config"] == before["config"]
    assert after["hooks"] == before["hooks"]
