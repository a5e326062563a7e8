"""Git facts from the git CLI, in every repository shape a hook meets."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import git
from ragguard.config import BranchesPolicy, Policy
from ragguard.errors import NotARepoError
from ragguard.gitrepo import HOOK_ENV_VARS, Repo, clean_env

# Branch names that a shell, a glob or an option parser would misread.
ODD_NAMES = [
    "exp/bm25",
    "exp/ünïcödé",
    "feat/$(touch${IFS}pwned)",
    "a/`touch`;b",
    "origin/main",
]


def commit(work: Path, name: str, text: str = "x\n") -> str:
    (work / name).parent.mkdir(parents=True, exist_ok=True)
    (work / name).write_text(text)
    git(work, "add", "--", name)
    git(work, "commit", "-q", "-m", f"Add {name} for the test")
    return git(work, "rev-parse", "HEAD").stdout.strip()


def test_discover_a_plain_clone(repo: Path) -> None:
    found = Repo.discover(repo)
    assert found.root == repo.resolve()
    assert found.git_dir == (repo / ".git").resolve()
    assert found.common_dir == found.git_dir
    assert found.object_format == "sha1" and found.zero_oid == "0" * 40
    assert not found.shallow
    assert found.current_branch() == "main"
    assert found.head_oid == git(repo, "rev-parse", "HEAD").stdout.strip()
    assert found.remotes == ("origin",)
    assert found.default_branch() == "main"
    assert found.default_ref() == "refs/remotes/origin/main"
    assert found.upstream_of("main") == "refs/remotes/origin/main"


def test_discover_from_a_subfolder_and_outside(repo: Path, tmp_path: Path) -> None:
    (repo / "src" / "deep").mkdir(parents=True)
    assert Repo.discover(repo / "src" / "deep").root == repo.resolve()
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    with pytest.raises(NotARepoError):
        Repo.discover(outside)


def test_linked_worktree_has_its_own_git_dir(repo: Path, tmp_path: Path) -> None:
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "-b", "exp/wt", str(wt))
    found = Repo.discover(wt)
    assert found.root == wt.resolve()
    assert found.git_dir != found.common_dir
    assert found.common_dir == (repo / ".git").resolve()
    assert found.current_branch() == "exp/wt"
    assert found.git_path("MERGE_HEAD").parent == found.git_dir


def test_submodule(repo: Path, tmp_path: Path) -> None:
    inner = tmp_path / "inner"
    git(tmp_path, "init", "-q", str(inner))
    commit(inner, "lib.py")
    git(
        repo,
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        str(inner),
        "inner",
    )
    found = Repo.discover(repo / "inner")
    assert found.root == (repo / "inner").resolve()
    assert (repo / "inner" / ".git").is_file()
    assert found.git_dir == (repo / ".git" / "modules" / "inner").resolve()
    assert found.current_branch() in ("main", None)


def test_detached_head(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    found = Repo.discover(repo)
    assert found.current_branch() is None
    assert found.head_ref is None
    assert found.head_oid is not None


def test_unborn_head(tmp_path: Path) -> None:
    work = tmp_path / "new"
    git(tmp_path, "init", "-q", "-b", "trunk", str(work))
    (work / "a.txt").write_text("a\n")
    git(work, "add", "a.txt")
    found = Repo.discover(work)
    assert found.head_oid is None
    assert found.current_branch() == "trunk"
    assert found.default_branch() == "trunk"  # nothing else exists yet
    assert found.staged_paths() == ["a.txt"]
    assert found.refs == {}
    assert found.remotes == ()
    assert found.primary_remote() is None


def test_shallow_clone(repo: Path, tmp_path: Path) -> None:
    for n in range(3):
        commit(repo, f"f{n}.txt")
    git(repo, "push", "-q", "origin", "main")
    shallow = tmp_path / "shallow"
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{origin}", str(shallow))
    found = Repo.discover(shallow)
    assert found.shallow
    assert found.default_branch() == "main"
    assert len(found.rev_list([found.head_oid or ""])) == 1


def test_sha256_repository(tmp_path: Path) -> None:
    work = tmp_path / "s256"
    git(tmp_path, "init", "-q", "--object-format=sha256", str(work))
    oid = commit(work, "a.txt")
    found = Repo.discover(work)
    assert found.object_format == "sha256"
    assert found.oid_length == 64 and found.zero_oid == "0" * 64
    assert len(oid) == 64 and found.head_oid == oid
    assert found.existing_commits([oid, "f" * 64]) == {oid}
    assert found.rev_list([oid]) == [oid]


def test_no_remote_and_no_upstream(tmp_path: Path) -> None:
    work = tmp_path / "solo"
    git(tmp_path, "init", "-q", str(work))
    commit(work, "a.txt")
    git(work, "switch", "-q", "-c", "exp/solo")
    found = Repo.discover(work)
    assert found.remotes == ()
    assert found.upstream_of("exp/solo") is None
    assert found.default_branch() == "main"
    assert found.default_ref() == "refs/heads/main"
    assert found.remote_tips(None) == []


@pytest.mark.parametrize("name", ODD_NAMES)
def test_branch_names_are_never_interpreted(repo: Path, name: str) -> None:
    git(repo, "branch", "--", name)
    found = Repo.discover(repo)
    assert found.branch_oid(name) == found.head_oid
    git(repo, "symbolic-ref", "HEAD", f"refs/heads/{name}")
    assert Repo.discover(repo).current_branch() == name
    assert not (repo / "pwned").exists()


def test_default_branch_sources(repo: Path) -> None:
    found = Repo.discover(repo)
    policy = Policy(branches=BranchesPolicy(default="develop"))
    assert found.default_branch(policy) == "develop"
    git(repo, "branch", "trunk")
    git(repo, "push", "-q", "origin", "trunk")
    git(repo, "remote", "set-head", "origin", "trunk")
    assert Repo.discover(repo).default_branch() == "trunk"
    git(repo, "remote", "set-head", "origin", "--delete")
    git(repo, "config", "init.defaultBranch", "trunk")
    assert Repo.discover(repo).default_branch() == "trunk"


def test_master_is_found_without_main(tmp_path: Path) -> None:
    work = tmp_path / "old"
    git(tmp_path, "init", "-q", "-b", "master", str(work))
    commit(work, "a.txt")
    git(work, "switch", "-q", "-c", "feature")
    assert Repo.discover(work).default_branch() == "master"


def test_staged_paths_ignore_deletions_and_honour_the_hook_index(repo: Path) -> None:
    commit(repo, "keep.txt")
    git(repo, "rm", "-q", "keep.txt")
    (repo / "new dir").mkdir()
    (repo / "new dir" / "ñ.txt").write_text("n\n")
    git(repo, "add", "new dir")
    found = Repo.discover(repo)
    assert found.staged_paths() == ["new dir/ñ.txt"]


def test_git_commit_a_temporary_index_is_seen(repo: Path) -> None:
    # `git commit -a` hands its hooks GIT_INDEX_FILE; facts must come from it.
    (repo / "README.md").write_text("changed\n")
    temp_index = repo / ".git" / "index.hooktest"
    env = dict(os.environ, GIT_INDEX_FILE=str(temp_index))
    subprocess.run(["git", "read-tree", "HEAD"], cwd=repo, env=env, check=True)
    subprocess.run(["git", "add", "README.md"], cwd=repo, env=env, check=True)
    os.environ["GIT_INDEX_FILE"] = str(temp_index)
    try:
        assert Repo.discover(repo).staged_paths() == ["README.md"]
    finally:
        del os.environ["GIT_INDEX_FILE"]
    assert Repo.discover(repo).staged_paths() == []


def test_uncommitted_is_read_only(repo: Path) -> None:
    (repo / "README.md").write_text("changed\n")
    (repo / "untracked.txt").write_text("u\n")
    (repo / "wandb").mkdir()
    (repo / "wandb" / "ignored.txt").write_text("i\n")
    index = repo / ".git" / "index"
    before = index.stat().st_mtime_ns, index.read_bytes()
    changes = Repo.discover(repo).uncommitted()
    assert sorted(changes) == [" M README.md", "?? untracked.txt"]
    assert (index.stat().st_mtime_ns, index.read_bytes()) == before


def test_operation_in_progress(repo: Path) -> None:
    found = Repo.discover(repo)
    assert found.operation_in_progress() is None
    git(repo, "switch", "-q", "-c", "side")
    commit(repo, "README.md", "side\n")
    git(repo, "switch", "-q", "main")
    commit(repo, "README.md", "main\n")
    assert git(repo, "merge", "side", check=False).returncode != 0
    assert Repo.discover(repo).operation_in_progress() == "MERGE_HEAD"
    git(repo, "merge", "--abort")
    git(repo, "switch", "-q", "side")
    assert git(repo, "rebase", "main", check=False).returncode != 0
    assert Repo.discover(repo).operation_in_progress() in (
        "rebase-merge",
        "rebase-apply",
    )


def test_rev_list_existing_parents_and_previous_branch(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD").stdout.strip()
    git(repo, "switch", "-q", "-c", "exp/a")
    first = commit(repo, "a.txt")
    second = commit(repo, "b.txt")
    git(repo, "switch", "-q", "main")
    found = Repo.discover(repo)
    assert found.previous_branch() == "exp/a"
    assert found.rev_list([second], [base]) == [second, first]
    assert found.rev_list([], [base]) == []
    assert found.existing_commits([first, "0" * 40, "not-hex"]) == {first}
    assert found.parents([second, first]) == {second: (first,), first: (base,)}
    git(repo, "push", "-q", "origin", "exp/a")
    found = Repo.discover(repo)
    assert second in found.remote_tips("origin")
    assert found.rev_list([second], found.remote_tips("origin")) == []
    assert set(found.all_tips) >= {second, base}


def test_clean_env_drops_hook_variables() -> None:
    base = {name: "x" for name in HOOK_ENV_VARS}
    base.update(PATH="/bin", GIT_CONFIG_KEY_0="a", GIT_CONFIG_VALUE_0="b", HOME="/h")
    assert clean_env(base) == {"PATH": "/bin", "HOME": "/h"}


def test_remote_for_url(repo: Path, tmp_path: Path) -> None:
    found = Repo.discover(repo)
    assert found.remote_for_url(str(tmp_path / "origin.git")) == "origin"
    assert found.remote_for_url("https://example.com/x.git") is None


def test_commit_log_keeps_every_commit_and_what_it_adds(repo: Path) -> None:
    """Empty commits, commits that only delete, root commits and merges are
    all there; a merge's paths are what its resolution added; a message may
    hold any byte but NUL."""
    root = git(repo, "rev-list", "--max-parents=0", "HEAD").stdout.strip()
    git(repo, "commit", "-q", "--allow-empty", "-m", "wip \x01\x02\x03 done")
    empty = git(repo, "rev-parse", "HEAD").stdout.strip()
    added = commit(repo, "notes/a.md")
    git(repo, "rm", "-q", "notes/a.md")
    git(repo, "commit", "-q", "-m", "Drop the notes again")
    deleting = git(repo, "rev-parse", "HEAD").stdout.strip()
    git(repo, "switch", "-q", "-c", "side", added)
    commit(repo, "side.md")
    git(repo, "switch", "-q", "-")
    git(repo, "merge", "-q", "--no-ff", "--no-commit", "side")
    (repo / "wandb").mkdir(exist_ok=True)
    (repo / "wandb" / "run-x.wandb").write_bytes(b":W&B")
    git(repo, "add", "-f", "wandb/run-x.wandb")
    git(repo, "commit", "-q", "-m", "Merge the side notes")
    merge = git(repo, "rev-parse", "HEAD").stdout.strip()

    found = {
        c.oid: c for c in Repo.discover(repo).commit_log([root, empty, deleting, merge])
    }

    assert set(found) == {root, empty, deleting, merge}
    assert (
        found[empty].message == "wip \x01\x02\x03 done\n" and found[empty].paths == ()
    )
    assert found[deleting].paths == ()
    assert found[root].paths and found[root].parents == ()
    assert found[merge].paths == ("wandb/run-x.wandb",)
    assert len(found[merge].parents) == 2
