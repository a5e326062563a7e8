"""The protocol end to end: a newcomer's clone, real git, real wandb runs.

Every test runs twice, once per install path: ``ragguard install`` (shims in
the hooks directory) and the pre-commit framework (``pre-commit install`` with
a ``.pre-commit-config.yaml`` whose ``repo:`` is a committed copy of this
checkout). Each blocked operation must leave the repository exactly as it was.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e_support import (
    BM25_MESSAGE,
    SETUP_FILES,
    Clone,
    changed,
    commit_setup,
    document,
    mark_synced,
    snapshot,
)


def test_newcomer_sees_the_protocol_enforced(clone: Clone) -> None:
    """The issue's "Done when": commit, push, sync, push, switch."""
    # 1. A commit of wandb/ is blocked, and nothing changes.
    clone.git("add", "-f", "wandb")
    before = snapshot(clone.work)
    blocked = clone.git("commit", "-m", "Add the results of the BM25 run")
    assert blocked.code != 0
    assert "[staged-runs]" in blocked.text
    assert any(
        fix.startswith("git rm -r -q --cached -- wandb") for fix in blocked.fixes()
    )
    assert changed(before, snapshot(clone.work)) == []
    clone.git("rm", "-r", "-q", "--cached", "wandb")
    commit_setup(clone)

    # 2. A push with an unsynced offline run is blocked with the exact command;
    #    the branch has no doc yet, which blocks too.
    before = snapshot(clone.work)
    blocked = clone.git("push", "-u", "origin", "exp/bm25")
    assert blocked.code != 0
    assert "[runs-synced]" in blocked.text
    folder = clone.run_folder.relative_to(clone.work)
    assert f"wandb sync {folder}" in blocked.fixes()
    assert "[branch-doc]" in blocked.text
    assert changed(before, snapshot(clone.work)) == []
    assert "exp/bm25" not in clone.remote_branches()

    # 3. Documented but still unsynced: blocked by the run alone.
    document(clone, "exp/bm25")
    blocked = clone.git("push", "-u", "origin", "exp/bm25")
    assert blocked.code != 0
    assert "[runs-synced]" in blocked.text
    assert "[branch-doc]" not in blocked.text

    # 4. Once the run is synced, the push is accepted.
    mark_synced(clone.run_folder)
    before = snapshot(clone.work)
    pushed = clone.git("push", "origin", "exp/bm25")  # -u would write config
    assert pushed.code == 0, pushed.text
    assert "exp/bm25" in clone.remote_branches()
    assert changed(before, snapshot(clone.work)) == []
    clone.git("branch", "-q", "--set-upstream-to", "origin/exp/bm25")

    # 5. A push of an undocumented branch is blocked.
    clone.git("switch", "-q", "-c", "exp/dense", "main")
    clone.git("checkout", "exp/bm25", "--", *SETUP_FILES)  # main lacks the set-up
    (clone.work / "train.py").write_text("retriever = 'dense'\nchunk_size = 256\n")
    clone.git("add", *SETUP_FILES)
    assert (
        clone.git("commit", "-q", "-am", "Try a dense retriever (e5-small)").code == 0
    )
    blocked = clone.git("push", "-u", "origin", "exp/dense")
    assert blocked.code != 0
    assert "[branch-doc]" in blocked.text
    assert "exp/dense" not in clone.remote_branches()

    # 6. Switching reports what exp/dense still owes and summarises exp/bm25.
    before = snapshot(clone.work)
    switched = clone.git("switch", "exp/bm25")
    assert switched.code == 0, switched.text
    assert "ragguard: left exp/dense: 1 warning" in switched.text
    assert "[left-behind]" in switched.text
    assert "git push -u origin exp/dense" in switched.fixes()
    arrived = "ragguard: on exp/bm25: doc docs/branches/exp/bm25.md; 1 run"
    assert arrived in switched.text
    assert "(1 finished, all synced)" in switched.text
    after = snapshot(clone.work)
    assert changed(before, after) == ["head", "head_oid", "index", "files"]
    assert after["runs"] == before["runs"]


def test_a_message_that_says_nothing_is_blocked(clone: Clone) -> None:
    commit_setup(clone)
    (clone.work / "train.py").write_text("retriever = 'bm25'\nchunk_size = 384\n")
    clone.git("add", "train.py")
    before = snapshot(clone.work)

    blocked = clone.git("commit", "-m", "wip")

    assert blocked.code != 0
    assert "[commit-msg]" in blocked.text
    assert changed(before, snapshot(clone.work)) == []
    done = clone.git("commit", "-m", "Shrink BM25 chunks to 384 tokens")
    assert done.code == 0, done.text


def test_skipping_a_check_is_said_and_logged(
    clone: Clone, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit_setup(clone)
    document(clone, "exp/bm25")
    monkeypatch.setenv("RAGGUARD_SKIP", "runs-synced")
    monkeypatch.setenv("RAGGUARD_SKIP_REASON", "W&B is down; syncing tonight")

    pushed = clone.git("push", "-u", "origin", "exp/bm25")

    assert pushed.code == 0, pushed.text
    assert "runs-synced" in pushed.text
    assert "exp/bm25" in clone.remote_branches()
    common = Path(clone.git("rev-parse", "--git-common-dir").text.strip())
    logs = list((clone.work / common).rglob("*skip*"))
    assert any("W&B is down" in p.read_text() for p in logs if p.is_file())


def test_a_file_checkout_is_silent(clone: Clone) -> None:
    (clone.work / "train.py").write_text("retriever = 'oops'\n")

    restored = clone.git("checkout", "--", "train.py")

    assert restored.code == 0
    # Nothing from ragguard (the framework still prints its own "Passed" line).
    assert "ragguard:" not in restored.text
    assert (clone.work / "train.py").read_text().startswith("retriever = 'bm25'")


def test_the_run_message_names_the_branch_commit(clone: Clone) -> None:
    """Sanity of the template: the run recorded the experiment's commit."""
    head = clone.git("rev-parse", "exp/bm25").text.strip()
    log = clone.git("log", "-1", "--format=%s", head).text.strip()
    assert log == BM25_MESSAGE
    assert (clone.run_folder / "files").is_dir()
