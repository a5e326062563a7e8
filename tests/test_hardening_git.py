"""Git situations real users meet (issue 8, situations 9-16 and 19), end to
end: real repositories with a bare remote, a real offline W&B run, and the
hooks installed both ways (``ragguard install`` and ``pre-commit install``)
where the way changes what git runs; the rest use the direct install only.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

import wandbgen
from e2e_support import (
    SETUP_FILES,
    Clone,
    Output,
    commit_setup,
    document,
    fresh_repo,
    git,
    mark_synced,
    run,
    set_up_ragguard,
)

GOAL = "# {branch}\n\n## Goal\n\nLearn whether BM25 retrieves better passages.\n"


def ok(done: Output) -> Output:
    assert done.code == 0, done.text
    return done


def with_env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


def said(text: str) -> list[str]:
    """What ragguard itself printed (not the framework's banner lines)."""
    return [
        line
        for line in text.splitlines()
        if line.startswith("ragguard") and not line.startswith("ragguard (")
    ]


def tip(cwd: Path, rev: str = "HEAD") -> str:
    return git(cwd, "rev-parse", rev).text.strip()


def ready(clone: Clone) -> None:
    """Set up committed, the branch documented and its run synced."""
    commit_setup(clone)
    document(clone, "exp/bm25")
    mark_synced(clone.run_folder)


def commit_file(cwd: Path, name: str, text: str, message: str) -> None:
    (cwd / name).write_text(text)
    ok(git(cwd, "add", name))
    ok(git(cwd, "commit", "-q", "-m", message))


def teammate_pushes_to_main(clone: Clone, tmp_path: Path, name: str) -> None:
    other = tmp_path / f"teammate-{name}"
    ok(git(tmp_path, "clone", "-q", str(clone.origin), str(other)))
    commit_file(other, f"{name}.md", "notes\n", f"Add the {name} notes on main")
    ok(git(other, "push", "-q", "origin", "main"))
    ok(git(clone.work, "fetch", "-q", "origin"))


def teammate_sets_up_main(clone: Clone, tmp_path: Path) -> None:
    """The team adopts ragguard on main: a teammate commits the same set-up
    files, so a checkout of origin/main runs the hooks (through the pre-commit
    framework too, which needs its config in the commit checked out)."""
    other = tmp_path / "teammate-setup"
    ok(git(tmp_path, "clone", "-q", str(clone.origin), str(other)))
    for name in SETUP_FILES:
        if (clone.work / name).exists():
            (other / name).write_bytes((clone.work / name).read_bytes())
    ok(git(other, "add", "-A"))
    ok(git(other, "commit", "-q", "-m", "Set up ragguard for the whole team"))
    ok(git(other, "push", "-q", "origin", "main"))
    ok(git(clone.work, "fetch", "-q", "origin"))


def fresh(
    request: pytest.FixtureRequest, base: Path, install_path: str, fmt: str
) -> Path:
    """An empty repository with ragguard set up, its setup committed and
    pushed to a bare remote of the same object format."""
    work, origin = fresh_repo(request, base, install_path, object_format=fmt)
    ok(git(work, "add", "-A"))
    ok(git(work, "commit", "-q", "-m", "Set up ragguard for the team"))
    ok(git(work, "remote", "add", "origin", str(origin)))
    ok(git(work, "push", "-q", "-u", "origin", "main"))
    return work


# --- 9: a new branch whose tip is already on the remote --------------------


def test_a_new_branch_already_on_the_remote_is_still_checked(clone: Clone) -> None:
    """No commit is new, yet the branch is: its doc and its runs are checked.
    Through pre-commit the framework runs no pre-push hook for such a push
    (it looks for new commits only); `ragguard check` says what it owes."""
    ready(clone)
    ok(clone.git("push", "-q", "-u", "origin", "exp/bm25"))
    next(clone.run_folder.glob("*.synced")).unlink()  # a run made since
    ok(clone.git("switch", "-q", "-c", "exp/bm25-again"))

    pushed = clone.git("push", "-u", "origin", "exp/bm25-again")

    if clone.install_path == "direct":
        assert pushed.code != 0
        assert "[branch-doc] branch exp/bm25-again: has no doc" in pushed.text
        assert "[runs-synced]" in pushed.text
        assert "exp/bm25-again" not in clone.remote_branches()
    else:
        assert pushed.code == 0, pushed.text
    checked = clone.ragguard("check")
    assert checked.code == 1
    assert "[branch-doc] branch exp/bm25-again" in checked.text
    assert "[runs-synced]" in checked.text


# --- 10: a push that deletes a branch --------------------------------------


@pytest.mark.parametrize(
    ("how", "fmt"),
    [
        ("direct", "sha1"),
        ("direct", "sha256"),
        ("pre-commit", "sha1"),
        pytest.param(
            "pre-commit",
            "sha256",
            marks=pytest.mark.xfail(
                strict=True,
                reason="pre-commit compares with 40 zeros only (pre-commit#3664)",
            ),
        ),
    ],
)
def test_a_deletion_is_skipped_silently(
    request: pytest.FixtureRequest, tmp_path: Path, how: str, fmt: str
) -> None:
    work = fresh(request, tmp_path, how, fmt)
    ok(git(tmp_path / "origin.git", "branch", "exp/gone", "main"))
    ok(git(work, "fetch", "-q", "origin"))

    deleted = git(work, "push", "origin", "--delete", "exp/gone")

    assert deleted.code == 0, deleted.text
    assert "ragguard" not in deleted.text
    assert "exp/gone" not in git(tmp_path / "origin.git", "branch").text


# --- 11: a detached HEAD ----------------------------------------------------


def test_a_detached_head_needs_no_branch_doc(clone: Clone) -> None:
    """A `git checkout <sha>`, as CI checks out a pull request."""
    ready(clone)
    ok(clone.git("switch", "-q", "-c", "exp/undocumented"))
    sha = tip(clone.work)

    detached = clone.git("checkout", sha)

    assert detached.code == 0, detached.text
    assert said(detached.text)[-1].startswith(f"ragguard: detached at {sha[:12]}")
    assert "no doc (" not in detached.text
    checked = clone.ragguard("check")
    assert checked.code == 0, checked.text
    assert "branch-doc" not in checked.text
    gated = clone.ragguard("gate", "--target", "origin/main")
    assert gated.code == 0, gated.text
    assert "branch doc" not in gated.text


# --- 12: the very first commit ----------------------------------------------


@pytest.mark.parametrize("born", [(), ("-b", "master")], ids=["main", "master"])
def test_the_first_commit_passes_quietly(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    install_path: str,
    born: tuple[str, ...],
) -> None:
    """Also on git's own default (master) while init.defaultBranch says main:
    the branch being born is the default branch, so no branch doc is asked for."""
    work = tmp_path / "work"
    ok(git(tmp_path, "init", "-q", *born, str(work)))
    set_up_ragguard(request, work, install_path)
    (work / "README.md").write_text("# RAG experiments\n")
    ok(git(work, "add", "-A"))

    first = git(work, "commit", "-m", "Start the RAG experiment repository")

    assert first.code == 0, first.text
    assert said(first.text) == ["ragguard pre-commit: ok", "ragguard commit-msg: ok"]


# --- 13: rebase, cherry-pick and merge go through ----------------------------


@pytest.mark.parametrize("backend", ["merge", "apply"])
def test_a_rebase_of_several_commits_is_silent(
    clone: Clone, tmp_path: Path, backend: str
) -> None:
    """main carries the set-up: else the rebase's checkout of origin/main has
    no .pre-commit-config.yaml and the framework never reaches ragguard."""
    ready(clone)
    for n in (1, 2, 3):
        commit_file(clone.work, f"step{n}.py", f"STEP = {n}\n", f"Add step {n} of BM25")
    teammate_sets_up_main(clone, tmp_path)
    teammate_pushes_to_main(clone, tmp_path, "eval")

    rebased = clone.git("rebase", f"--{backend}", "origin/main")

    assert rebased.code == 0, rebased.text
    assert "ragguard:" not in rebased.text  # neither "left main" nor "detached"
    assert "No .pre-commit-config.yaml" not in rebased.text  # the hook did run
    assert clone.git("symbolic-ref", "HEAD").text.strip() == "refs/heads/exp/bm25"


@pytest.mark.parametrize("clone", ["direct"], indirect=True)
def test_a_cherry_pick_of_a_message_made_with_no_verify_completes(
    clone: Clone,
) -> None:
    ready(clone)
    (clone.work / "train.py").write_text("retriever = 'bm25'\nchunk_size = 128\n")
    ok(clone.git("commit", "-q", "--no-verify", "-am", "wip"))
    ok(clone.git("switch", "-q", "-c", "exp/pick", "exp/bm25~1"))
    (clone.work / "train.py").write_text("retriever = 'bm25'\nchunk_size = 64\n")
    ok(clone.git("commit", "-q", "-am", "Try 64-token chunks with BM25"))
    assert clone.git("cherry-pick", "exp/bm25").code != 0  # a conflict
    (clone.work / "train.py").write_text("retriever = 'bm25'\nchunk_size = 96\n")
    ok(clone.git("add", "train.py"))

    picked = clone.git("-c", "core.editor=true", "cherry-pick", "--continue")

    assert picked.code == 0, picked.text
    assert "[commit-msg]" not in picked.text
    assert clone.git("log", "-1", "--format=%s").text.strip() == "wip"


def test_a_conflicted_merge_of_two_experiments_completes(clone: Clone) -> None:
    """The merge gate (on here) judges merges into protected branches only:
    combining two experiments goes through, also when a conflict stops it and
    `git commit` finishes it (pre-commit and commit-msg run then, not
    pre-merge-commit). Without its protection test the gate would refuse."""
    off, on = "merge:\n  metric: null", "merge:\n  metric: recall@5"
    policy = clone.work / ".ragguard.yaml"
    assert off in policy.read_text()
    policy.write_text(policy.read_text().replace(off, on))
    ready(clone)
    commit_file(clone.work, "notes.md", "bm25 notes\n", "Write down the BM25 notes")
    ok(clone.git("switch", "-q", "-c", "exp/bm25-k1", "exp/bm25~1"))
    commit_file(clone.work, "notes.md", "k1 notes\n", "Write down the BM25 k1 notes")
    mark_synced(wandbgen.write_run(clone.work, summary={"recall@5": 0.6}))
    ok(clone.git("switch", "-q", "exp/bm25"))
    assert clone.git("merge", "exp/bm25-k1").code != 0  # both changed notes.md
    (clone.work / "notes.md").write_text("bm25 notes\nk1 notes\n")
    ok(clone.git("add", "notes.md"))

    merged = clone.git("commit", "--no-edit")

    assert merged.code == 0, merged.text
    assert "blocked" not in merged.text
    assert clone.git("rev-parse", "-q", "--verify", "HEAD^2").code == 0


# --- 14: file checkout, switch -c, switch - ---------------------------------


def test_checkout_of_a_file_new_branch_and_back(clone: Clone) -> None:
    ready(clone)
    (clone.work / "README.md").write_text("edited\n")

    restored = clone.git("checkout", "--", "README.md")
    created = clone.git("switch", "-c", "exp/bm25-k1")
    back = clone.git("switch", "-")

    assert restored.code == 0 and said(restored.text) == []
    assert created.code == 0
    [line] = said(created.text)
    assert line.startswith("ragguard: on exp/bm25-k1: no doc (ragguard doc init);")
    assert created.text.rstrip().endswith(line), "no runs table after it"
    assert back.code == 0
    lines = back.text.splitlines()
    start = lines.index(
        next(line for line in lines if line.startswith("ragguard: on exp/bm25:"))
    )
    run_id = clone.run_folder.name.rsplit("-", 1)[1]
    assert any(run_id in line for line in lines[start + 1 :]), "the runs table"


def test_a_file_checkout_just_after_a_switch_is_silent(clone: Clone) -> None:
    """HEAD's newest reflog entry is then a switch: only the hook's flag
    (0 for files) tells a file checkout from a branch checkout."""
    ready(clone)
    ok(clone.git("switch", "-q", "-c", "exp/bm25-k1"))
    ok(clone.git("switch", "-q", "exp/bm25"))
    (clone.work / "README.md").write_text("edited\n")

    restored = clone.git("checkout", "--", "README.md")

    assert restored.code == 0, restored.text
    assert said(restored.text) == []


@pytest.mark.parametrize("clone", ["direct"], indirect=True)
def test_ragguard_switch_c_without_the_hook_says_one_line_too(clone: Clone) -> None:
    ready(clone)
    ok(clone.git("push", "-q", "-u", "origin", "exp/bm25"))  # nothing left behind
    ok(clone.ragguard("uninstall", "--hook-type", "post-checkout"))

    created = clone.ragguard("switch", "-c", "exp/bm25-k2")

    assert created.code == 0, created.text
    lines = created.text.strip().splitlines()
    assert "Switched to a new branch 'exp/bm25-k2'" in lines and len(lines) == 2
    [line] = said(created.text)
    assert line.startswith("ragguard: on exp/bm25-k2: no doc (ragguard doc init);")


# --- 15: no upstream yet ----------------------------------------------------


def test_a_first_push_with_u_and_no_upstream_is_fine(clone: Clone) -> None:
    """Both installs: the framework hands pre-push the ref in PRE_COMMIT_*
    variables, with the parent of the first new commit for a new branch."""
    ready(clone)
    ok(clone.git("branch", "exp/next", "exp/bm25~1"))
    left = clone.git("switch", "exp/next")
    assert left.code == 0
    assert "has no upstream; 3 commits are on no remote" in left.text  # a warning
    assert "fix: git push -u origin exp/bm25" in left.text
    ok(clone.git("switch", "-q", "exp/bm25"))

    pushed = clone.git("push", "-u", "origin", "exp/bm25")

    assert pushed.code == 0, pushed.text
    assert "blocked" not in pushed.text
    assert "[left-behind]" not in clone.git("switch", "exp/next").text


@pytest.mark.parametrize("clone", ["direct"], indirect=True)
def test_a_branch_pushed_without_u_can_be_left(clone: Clone) -> None:
    """No upstream, but its commits are on the remote: nothing is left
    behind, so even the blocking `ragguard switch` lets it go."""
    ready(clone)
    ok(clone.git("push", "-q", "origin", "exp/bm25"))
    ok(clone.git("branch", "exp/next", "exp/bm25~1"))

    left = clone.ragguard("switch", "exp/next")

    assert left.code == 0, left.text
    assert "[left-behind]" not in left.text
    assert clone.git("symbolic-ref", "--short", "HEAD").text.strip() == "exp/next"


@pytest.mark.parametrize("clone", ["direct"], indirect=True)
def test_without_origin_the_fix_names_the_remote_main_tracks(
    clone: Clone, tmp_path: Path
) -> None:
    """Two remotes, neither named origin: the branch still has a remote to go to."""
    ready(clone)
    ok(clone.git("branch", "exp/next", "exp/bm25~1"))
    ok(clone.git("remote", "rename", "origin", "team"))
    ok(git(tmp_path, "init", "-q", "--bare", str(tmp_path / "fork.git")))
    ok(clone.git("remote", "add", "aaa-fork", str(tmp_path / "fork.git")))

    left = clone.git("switch", "exp/next")

    assert "fix: git push -u team exp/bm25" in left.text
    assert "has no remote" not in left.text


# --- 16: nested, non-ASCII and case-folded doc paths -------------------------


@pytest.mark.parametrize("clone", ["direct"], indirect=True)
def test_a_nested_branch_doc_is_printed_made_and_found(clone: Clone) -> None:
    ready(clone)
    branch = "feature/retriever-bm25"
    ok(clone.git("switch", "-q", "-c", branch))
    commit_file(clone.work, "bm25.py", "K1 = 1.5\n", "Tune BM25 k1 to 1.5")

    blocked = clone.git("push", "-u", "origin", branch)

    assert blocked.code != 0
    assert f"has no doc at docs/branches/{branch}.md" in blocked.text
    assert f"fix: ragguard doc init {branch}" in blocked.text
    ok(clone.ragguard("doc", "init"))
    doc = clone.work / "docs" / "branches" / "feature" / "retriever-bm25.md"
    doc.write_text(GOAL.format(branch=branch))
    ok(clone.git("add", "docs"))
    ok(clone.git("commit", "-q", "-m", f"Document the {branch} experiment"))
    ok(clone.git("push", "-u", "origin", branch))


@pytest.mark.parametrize("clone", ["direct"], indirect=True)
def test_non_ascii_names_are_shown_as_they_are(clone: Clone) -> None:
    """git quotes non-ASCII paths (core.quotePath) unless asked for -z."""
    ready(clone)
    branch = "exp/réécriture"
    ok(clone.git("branch", "exp/next", "exp/bm25~1"))
    ok(clone.git("switch", "-q", "-c", branch))
    (clone.work / "résumé.txt").write_text("notes\n")

    left = clone.git("switch", "exp/next")
    pushed = clone.git("push", "origin", branch)

    assert "résumé.txt" in left.text and "\\303" not in left.text
    assert f"has no doc at docs/branches/{branch}.md" in pushed.text


@pytest.mark.parametrize("clone", ["direct"], indirect=True)
def test_a_doc_folder_git_recorded_in_another_case_is_found(clone: Clone) -> None:
    """A case-folding checkout (macOS, Windows: core.ignorecase) records a new
    doc under the folder's existing case: Feature/ for feature/b's doc."""
    ready(clone)
    ok(clone.git("config", "core.ignorecase", "true"))
    ok(clone.git("switch", "-q", "-c", "feature/b"))
    doc = clone.work / "docs" / "branches" / "Feature" / "b.md"
    doc.parent.mkdir(parents=True)
    doc.write_text(GOAL.format(branch="feature/b"))
    ok(clone.git("add", "docs"))
    ok(clone.git("commit", "-q", "-m", "Document the feature/b experiment"))

    pushed = clone.git("push", "-u", "origin", "feature/b")

    assert pushed.code == 0, pushed.text
    switched = clone.git("switch", "exp/bm25")
    assert switched.code == 0
    assert "ragguard: on feature/b" not in switched.text
    back = clone.git("switch", "feature/b")
    assert "doc docs/branches/Feature/b.md" in back.text


@pytest.mark.parametrize("clone", ["direct"], indirect=True)
@pytest.mark.parametrize(
    ("branch", "recorded"),
    [
        ("feature/b", "docs/branches/Feature/b.md"),
        ("feature/é", "docs/branches/Feature/É.md"),
        ("exp/c", "Docs/Branches/exp/c.md"),
    ],
)
def test_a_case_folded_doc_is_found_in_a_branch_pushed_from_elsewhere(
    clone: Clone, branch: str, recorded: str
) -> None:
    """`git push origin feature/b` from another branch: the doc is only in
    the pushed commit (as Feature/b.md), not in the work tree; a non-ASCII
    path must be read unquoted (ls-tree -z) to match, and the policy's own
    folders may be recorded in another case too."""
    ready(clone)
    ok(clone.git("config", "core.ignorecase", "true"))
    ok(clone.git("switch", "-q", "-c", branch))
    doc = clone.work / recorded
    doc.parent.mkdir(parents=True)
    doc.write_text(GOAL.format(branch=branch))
    ok(clone.git("add", recorded))
    ok(clone.git("commit", "-q", "-m", f"Document the {branch} experiment"))
    ok(clone.git("switch", "-q", "exp/bm25"))
    # core.ignorecase on a file system that does not fold case: git may leave
    # the folder it cannot match to docs/ behind; the doc must come from git.
    if not recorded.startswith("docs/"):
        shutil.rmtree(clone.work / recorded.split("/")[0])
    assert not doc.exists()

    pushed = clone.git("push", "origin", branch)

    assert pushed.code == 0, pushed.text
    assert branch in clone.remote_branches()


# --- 19: --no-verify ---------------------------------------------------------


def test_what_no_verify_let_through_is_caught_at_push_and_in_ci(clone: Clone) -> None:
    ready(clone)
    ok(clone.git("add", "-f", str(clone.run_folder.relative_to(clone.work))))
    ok(clone.git("commit", "-q", "--no-verify", "-m", "wip"))
    short = tip(clone.work)[:10]

    pushed = clone.git("push", "-u", "origin", "exp/bm25")
    refused = "exp/bm25" not in clone.remote_branches()
    gated = clone.ragguard("gate", "--target", "origin/main")
    env = with_env(
        RAGGUARD_SKIP="commit-msg,staged-runs", RAGGUARD_SKIP_REASON="demo data"
    )
    skipped = git(clone.work, "push", "-u", "origin", "exp/bm25", env=env)

    assert pushed.code != 0
    assert f"[commit-msg] commit {short} message 'wip'" in pushed.text
    assert f"W&B run data was committed in {short}" in pushed.text
    assert "fix: git commit --amend" in pushed.text
    assert refused
    assert gated.code == 1
    assert f"[commit-msg] commit {short}" in gated.text
    assert "[staged-runs]" in gated.text
    assert skipped.code == 0, skipped.text
    log = (clone.work / ".git" / "ragguard" / "skip.log").read_text().splitlines()
    assert log[-1].split("\t")[1:] == [
        "pre-push",
        "commit-msg,staged-runs",
        "exp/bm25",
        "demo data",
    ]


@pytest.mark.parametrize("below", [False, True], ids=["head", "below-head"])
@pytest.mark.parametrize("clone", ["direct"], indirect=True)
def test_the_printed_fix_for_a_commit_of_only_run_data_works(
    clone: Clone, below: bool
) -> None:
    """A commit that holds nothing but run data cannot simply be amended
    (git refuses to make it empty): the fix, run as printed, lets the push
    through and keeps the run folder on disk."""
    ready(clone)
    folder = str(clone.run_folder.relative_to(clone.work))
    ok(clone.git("add", "-f", folder))
    ok(
        clone.git(
            "commit", "-q", "--no-verify", "-m", "Keep the BM25 run with the code"
        )
    )
    data = tip(clone.work)
    if below:
        commit_file(clone.work, "train.py", "k = 8\n", "Retrieve eight passages")

    blocked = clone.git("push", "-u", "origin", "exp/bm25")
    assert blocked.code != 0, blocked.text
    (fix,) = [f for f in blocked.fixes() if "rm -r" in f or "reset" in f]
    if below:
        steps = fix.split(", then ", 1)[1].removesuffix(")")
        edit = f"sed -i 's/^pick {data[:7]}/edit {data[:7]}/'"
        rebase = ("-c", f"sequence.editor={edit}", "rebase", "-q", "-i", f"{data}~1")
        ok(clone.git(*rebase))
        ok(Output.of(run(clone.work, "sh", "-c", steps)))
    else:
        assert fix == "git reset -q HEAD~1"
        ok(Output.of(run(clone.work, "sh", "-c", fix)))

    pushed = clone.git("push", "-u", "origin", "exp/bm25")
    assert pushed.code == 0, pushed.text
    assert clone.run_folder.is_dir()
    tracked = clone.git("ls-files", "--", folder).text
    assert tracked == ""


@pytest.mark.parametrize("clone", ["direct"], indirect=True)
def test_the_gate_in_a_ci_clone_catches_what_no_verify_let_through(
    clone: Clone, tmp_path: Path
) -> None:
    """CI runs the gate in a clone of its own, where every commit of the
    branch is already on the remote (examples/ci): the message and the run
    data that `git commit --no-verify` and `git push --no-verify` let through
    are refused there, by --head as the workflow gives it and detached."""
    ready(clone)
    ok(clone.git("add", "-f", str(clone.run_folder.relative_to(clone.work))))
    ok(clone.git("commit", "-q", "--no-verify", "-m", "wip"))
    short = tip(clone.work)[:10]
    ok(clone.git("push", "-q", "--no-verify", "-u", "origin", "exp/bm25"))
    ci = tmp_path / "ci"
    ok(git(tmp_path, "clone", "-q", str(clone.origin), str(ci)))
    ok(git(ci, "checkout", "-q", "--detach", "origin/exp/bm25"))

    for head in (["--head", "origin/exp/bm25"], []):
        gate = ("gate", "--target", "origin/main", *head)
        gated = Output.of(run(ci, sys.executable, "-m", "ragguard", *gate))
        assert gated.code == 1, (head, gated.text)
        assert f"[commit-msg] commit {short} message 'wip'" in gated.text, head
        assert f"W&B run data was committed in {short}" in gated.text, head


@pytest.mark.parametrize("clone", ["direct"], indirect=True)
def test_an_empty_commit_and_two_run_roots_are_judged_once_each(
    clone: Clone,
) -> None:
    """`--allow-empty --no-verify -m wip` has no paths but still a message;
    run data under two roots in one commit gets one fix that rewrites the
    commit once. Pushed from another branch, the fixes switch to it first."""
    ready(clone)
    ok(clone.git("commit", "-q", "--allow-empty", "--no-verify", "-m", "wip"))
    empty = tip(clone.work)[:10]
    nested = clone.work / "exp" / "wandb" / clone.run_folder.name
    nested.parent.mkdir(parents=True)
    shutil.copytree(clone.run_folder, nested)
    for folder in (clone.run_folder, nested):
        ok(clone.git("add", "-f", str(folder.relative_to(clone.work))))
    ok(clone.git("commit", "-q", "--no-verify", "-m", "Keep both BM25 runs"))
    ok(clone.git("switch", "-q", "main"))

    pushed = clone.git("push", "-u", "origin", "exp/bm25")

    assert pushed.code != 0
    assert f"[commit-msg] commit {empty} message 'wip'" in pushed.text
    (data,) = [f for f in pushed.fixes() if "rm -r" in f or "reset" in f]
    assert data == "git switch exp/bm25 && git reset -q HEAD~1"
    assert pushed.text.count("W&B run data was committed in") == 1
    reword = [f for f in pushed.fixes() if "'reword'" in f]
    assert reword == [
        f"git switch exp/bm25 && git rebase -i {empty}~1  (mark {empty} 'reword')"
    ]


@pytest.mark.parametrize("clone", ["direct"], indirect=True)
def test_every_ragguard_skip_is_logged(clone: Clone) -> None:
    ready(clone)
    (clone.work / "train.py").write_text("retriever = 'bm25'\nchunk_size = 768\n")
    env = with_env(RAGGUARD_SKIP="commit-msg", RAGGUARD_SKIP_REASON="typo fix")

    done = git(clone.work, "commit", "-q", "-am", "wip", env=env)

    assert done.code == 0, done.text
    log = (clone.work / ".git" / "ragguard" / "skip.log").read_text().splitlines()
    assert [line.split("\t")[1:] for line in log] == [
        ["commit-msg", "commit-msg", "exp/bm25", "typo fix"]
    ]


def test_a_skip_of_every_check_is_logged_by_each_commit_hook(clone: Clone) -> None:
    """With RAGGUARD_SKIP=all a hook has nothing left to run, and must log
    all the same: the run data and the message let through here are skips
    someone has to answer for."""
    ready(clone)
    ok(clone.git("add", "-f", str(clone.run_folder.relative_to(clone.work))))
    env = with_env(RAGGUARD_SKIP="all", RAGGUARD_SKIP_REASON="demo data")

    done = git(clone.work, "commit", "-q", "-m", "wip", env=env)

    assert done.code == 0, done.text
    log = (clone.work / ".git" / "ragguard" / "skip.log").read_text().splitlines()
    fields = [line.split("\t")[1:] for line in log]
    assert [f[0] for f in fields] == ["pre-commit", "commit-msg"]
    assert "staged-runs" in fields[0][1].split(",")
    assert fields[1][1:] == ["commit-msg", "exp/bm25", "demo data"]
