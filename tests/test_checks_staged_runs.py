"""staged-runs: run data never goes into a commit."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ragguard.checks import Context
from ragguard.checks.staged_runs import check
from ragguard.config import DEFAULT_POLICY

ROOT = Path("/repo")


def findings(*staged: str, roots: tuple[Path, ...] = (ROOT / "wandb",)) -> list:
    ctx = Context(
        stage="pre-commit",
        policy=DEFAULT_POLICY,
        root=ROOT,
        staged=staged,
        run_roots=roots,
    )
    return check(ctx)


def test_clean_commits_pass() -> None:
    assert (
        findings(
            "src/app.py",
            "docs/run-book.md",
            "run-tests/x.py",
            "wandb_utils.py",
            "src/wandb/__init__.py",
        )
        == []
    )


def test_a_run_root_is_one_finding_with_the_fix() -> None:
    found = findings(
        "wandb/offline-run-20260101_000000-abc/run-abc.wandb",
        "wandb/offline-run-20260101_000000-abc/files/output.log",
        "wandb/debug.log",
        "src/app.py",
    )
    assert len(found) == 1
    f = found[0]
    assert (f.check, f.severity, f.subject) == ("staged-runs", "block", "wandb")
    assert "3 files" in f.message
    assert f.fix == (
        "git rm -r -q --cached -- wandb && printf '\\n%s\\n' /wandb/ >> .gitignore"
    )


def test_run_folders_and_logs_outside_the_roots() -> None:
    found = findings(
        "exp/out/run-20260101_000000-zz9/files/config.yaml",
        "notebooks/wandb/latest-run/x",
        "backup/run-x.wandb",
        "old/run-y.wandb.synced",
        roots=(),
    )
    assert [f.subject for f in found] == [
        "exp/out/run-20260101_000000-zz9",
        "notebooks/wandb",
        "backup/run-x.wandb",
        "old/run-y.wandb.synced",
    ]
    assert found[2].fix.endswith("/backup/run-x.wandb >> .gitignore")


def test_odd_paths_are_quoted_in_the_fix(tmp_path: Path) -> None:
    found = findings("my runs/wandb/run-20260101_000000-a1/x", roots=())
    fix = found[0].fix
    assert fix.startswith("git rm -r -q --cached -- 'my runs/wandb'")
    # The fix really works in a shell, on a real index.
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    target = tmp_path / "my runs" / "wandb" / "run-20260101_000000-a1"
    target.mkdir(parents=True)
    (target / "x").write_text("x")
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run(fix, shell=True, cwd=tmp_path, check=True)
    staged = subprocess.run(
        ["git", "diff", "--cached", "--name-only"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert staged == ""
    assert (tmp_path / ".gitignore").read_text().split("\n") == [
        "",
        "/my runs/wandb/",
        "",
    ]


def test_the_fix_keeps_a_gitignore_without_a_final_newline(tmp_path: Path) -> None:
    fix = findings("wandb/run-20260101_000000-a1/x", roots=())[0].fix
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("node_modules/")  # no final newline
    target = tmp_path / "wandb" / "run-20260101_000000-a1"
    target.mkdir(parents=True)
    (target / "x").write_text("x")
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run(fix, shell=True, cwd=tmp_path, check=True)
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert "node_modules/" in lines and "/wandb/" in lines
