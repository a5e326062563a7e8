"""``ragguard switch`` with real git, real offline W&B runs and, where a test
says so, ragguard's real post-checkout shim installed by ``ragguard install``."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ragworld
from conftest import git
from e2e_support import Clone, commit_setup
from ragguard.checks import skip_log_path
from ragguard.errors import BadInputError, Exit
from ragguard.gitrepo import Repo
from ragguard.install import install
from ragguard.switch import post_checkout_installed, switch


def run(work: Path, branch: str, **options: bool) -> tuple[int, str]:
    out = io.StringIO()
    code = switch(branch, cwd=work, out=out, env=dict(os.environ), **options)
    return code, out.getvalue()


def current(work: Path) -> str:
    return git(work, "branch", "--show-current").stdout.strip()


def skip_log(work: Path) -> list[str]:
    git_dir = Path(git(work, "rev-parse", "--absolute-git-dir").stdout.strip())
    path = skip_log_path(git_dir)
    return path.read_text().splitlines() if path.exists() else []


def test_refuses_to_leave_a_branch_that_owes_and_says_how_to_fix(work: Path) -> None:
    git(work, "switch", "-q", "exp/bm25")
    code, out = run(work, "main")
    assert code == Exit.BLOCKED
    assert current(work) == "exp/bm25"
    assert out.startswith(
        "ragguard switch: leaving exp/bm25: blocked by 4 problems, 1 warning"
    )
    assert (
        "  blocked [left-behind] branch exp/bm25: "
        "has no upstream; 1 commit is on no remote" in out
    )
    assert "          fix: git push -u origin exp/bm25" in out
    # The policy names entity "team"; offline runs record none (issue 8, #7).
    assert "fix: wandb sync -e team wandb/offline-run-" in out
    assert out.rstrip().endswith(
        "Or switch anyway (logged): ragguard switch --force main"
    )
    assert "RAGGUARD_SKIP=left-behind,runs-synced" in out
    assert skip_log(work) == []


def test_force_switches_and_writes_the_skip_log(work: Path) -> None:
    git(work, "switch", "-q", "exp/bm25")
    code, out = run(work, "main", force=True)
    assert code == Exit.OK
    assert current(work) == "main"
    assert (
        "ragguard switch: --force: switching anyway past left-behind, runs-synced"
        in out
    )
    assert "Switched to branch 'main'" in out
    assert out.count("ragguard: on main:") == 1
    (line,) = skip_log(work)
    assert line.split("\t")[1:] == [
        "switch",
        "left-behind,runs-synced",
        "exp/bm25",
        "--force",
    ]


def test_force_logs_nothing_when_git_refuses_the_switch(work: Path) -> None:
    git(work, "switch", "-q", "exp/bm25")
    (work / "retriever.py").write_text("K1 = 0.9\n")  # main has no such file
    code, out = run(work, "main", force=True)
    assert code == Exit.BLOCKED
    assert "would be overwritten by checkout" in out
    assert current(work) == "exp/bm25"
    assert skip_log(work) == []


def test_a_clean_switch_prints_the_summary_itself_once(work: Path) -> None:
    assert not post_checkout_installed(Repo.discover(work))
    code, out = run(work, "exp/bm25")
    assert code == Exit.OK
    assert current(work) == "exp/bm25"
    lines = out.splitlines()
    assert lines[0] == "Switched to branch 'exp/bm25'"
    assert lines[1].startswith(
        "ragguard: on exp/bm25: doc docs/branches/exp/bm25.md; 3 runs"
    )
    assert out.count("ragguard: on exp/bm25") == 1


def test_with_the_hook_installed_the_summary_comes_once_from_the_hook(
    work: Path,
) -> None:
    install(work, ["post-checkout"])
    assert post_checkout_installed(Repo.discover(work))
    code, out = run(work, "exp/bm25")
    assert code == Exit.OK
    assert out.count("ragguard: on exp/bm25") == 1
    git(work, "checkout", "-q", "--", ".")  # nothing changed; keeps the tree honest
    code, out = run(work, "main", force=True)
    assert code == Exit.OK
    assert out.count("ragguard: on main:") == 1
    # What was forced past is printed once, by ragguard switch, not again by
    # the hook as warnings.
    assert out.count("ragguard switch: leaving exp/bm25") == 1
    assert "ragguard: left exp/bm25" not in out
    assert out.count("[runs-synced]") == 3  # its three unsynced runs, once each


def test_uncommitted_changes_block(work: Path) -> None:
    (work / "README.md").write_text("# rag, edited\n")
    code, out = run(work, "exp/empty")
    assert code == Exit.BLOCKED
    assert "1 uncommitted change would come along (README.md)" in out
    assert "fix: git add -A && git commit" in out


def test_create_a_branch_without_a_shell(work: Path) -> None:
    name = "exp/$(touch pwned)x"
    with pytest.raises(BadInputError, match="not a valid branch name"):
        run(work, name, create=True)  # a space: git refuses it, we say so first
    name = "exp/$(id)"
    code, out = run(work, name, create=True)
    assert code == Exit.OK, out
    assert current(work) == name
    assert not (work / "pwned").exists()
    assert f"Switched to a new branch '{name}'" in out


@pytest.mark.parametrize(
    ("branch", "create", "message"),
    [
        ("-f", False, "names cannot be empty or start with '-'"),
        ("--orphan=x", True, "names cannot be empty or start with '-'"),
        ("", False, "names cannot be empty"),
        (
            "exp/nope",
            False,
            "does not exist; create it with: ragguard switch -c exp/nope",
        ),
        ("exp/bm25", True, "already exists; switch to it: ragguard switch exp/bm25"),
    ],
)
def test_bad_names_are_one_line_errors(
    work: Path, branch: str, create: bool, message: str
) -> None:
    with pytest.raises(
        BadInputError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        run(work, branch, create=create)
    assert current(work) == "main"


def test_a_branch_only_on_the_remote_is_tracked(work: Path) -> None:
    git(work, "push", "-q", "origin", "main:exp/remote")
    git(work, "fetch", "-q", "origin")
    code, out = run(work, "exp/remote")
    assert code == Exit.OK, out
    assert current(work) == "exp/remote"
    upstream = git(work, "rev-parse", "--abbrev-ref", "exp/remote@{upstream}").stdout
    assert upstream.strip() == "origin/exp/remote"


def test_raggard_skip_is_said_and_logged(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(work, "switch", "-q", "exp/bm25")
    monkeypatch.setenv("RAGGUARD_SKIP", "left-behind,runs-synced")
    monkeypatch.setenv("RAGGUARD_SKIP_REASON", "demo in five minutes")
    code, out = run(work, "main")
    assert code == Exit.OK
    assert (
        "skipped runs-synced, left-behind by RAGGUARD_SKIP (demo in five minutes)"
        in out
    )
    assert skip_log(work)[0].endswith("\texp/bm25\tdemo in five minutes")


def test_policy_can_turn_the_switch_block_into_a_warning(work: Path) -> None:
    git(work, "switch", "-q", "exp/bm25")
    policy = ragworld.POLICY + (
        "checks:\n  left-behind: {switch: warn}\n  runs-synced: {switch: warn}\n"
    )
    (work / ".ragguard.yaml").write_text(policy)
    git(work, "commit", "-q", "-am", "Warn only when leaving a branch")
    code, out = run(work, "main")
    assert code == Exit.OK, out
    assert "ragguard switch: leaving exp/bm25: 5 warnings" in out


def test_detects_the_pre_commit_framework_hook(work: Path) -> None:
    repo = Repo.discover(work)
    hook = repo.git_path("hooks") / "post-checkout"
    hook.write_text(
        "#!/usr/bin/env bash\n# File generated by pre-commit: https://pre-commit.com\n"
    )
    hook.chmod(0o755)
    assert not post_checkout_installed(repo)  # pre-commit, but no ragguard in it
    (work / ".pre-commit-config.yaml").write_text(
        "repos:\n- repo: x\n  rev: v1\n  hooks:\n  - id: ragguard-post-checkout\n"
    )
    assert post_checkout_installed(repo)
    hook.write_text("#!/bin/sh\necho someone else's hook\n")
    assert not post_checkout_installed(repo)


def test_cli_exit_codes(work: Path) -> None:
    git(work, "switch", "-q", "exp/bm25")
    cmd = [sys.executable, "-m", "ragguard", "switch", "main"]
    done = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    assert done.returncode == Exit.BLOCKED
    assert "ragguard switch --force main" in done.stdout
    done = subprocess.run([*cmd, "--force"], cwd=work, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (done.stdout + done.stderr).count("ragguard: on main:") == 1
    bad = subprocess.run(
        [*cmd[:-1], "exp/nope"], cwd=work, capture_output=True, text=True
    )
    assert bad.returncode == Exit.BAD_INPUT
    assert bad.stderr.count("\n") == 1


def test_switch_in_a_newcomers_clone_with_either_install_path(clone: Clone) -> None:
    """The summary comes once whether the hook is ragguard's shim or the
    pre-commit framework's."""
    commit_setup(clone)
    blocked = clone.ragguard("switch", "main")
    assert blocked.code == Exit.BLOCKED, blocked.text
    assert "[runs-synced]" in blocked.text
    assert "ragguard switch --force main" in blocked.text
    assert clone.git("branch", "--show-current").text.strip() == "exp/bm25"
    forced = clone.ragguard("switch", "--force", "main")
    assert forced.code == 0, forced.text
    assert forced.text.count("ragguard: on main") == 1
    assert clone.git("branch", "--show-current").text.strip() == "main"
    # main's .gitignore predates `ragguard init`; keep wandb/ out of the way.
    (clone.work / ".git" / "info" / "exclude").write_text("wandb/\n")
    back = clone.ragguard("switch", "exp/bm25")  # the setup is there: the hook runs
    assert back.code == 0, back.text
    assert back.text.count("ragguard: on exp/bm25") == 1
    assert "git exited" not in back.text
