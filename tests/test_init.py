"""``ragguard init``: the policy file, .gitignore and the pre-commit entry."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from ragguard.cli import main
from ragguard.config import (
    DEFAULT_POLICY,
    BranchesPolicy,
    CommitMsgPolicy,
    PostMergePolicy,
    RunsPolicy,
    WandbPolicy,
    load_policy,
    parse_policy,
)
from ragguard.errors import PolicyError
from ragguard.init import format_duration, init, render_policy
from ragguard.install import HOOK_TYPES


def test_writes_every_default_and_loads_back_as_the_defaults(repo: Path) -> None:
    init(repo)

    policy = load_policy(repo)
    assert replace(policy, path=None) == DEFAULT_POLICY


def test_the_policy_file_is_commented_section_by_section(repo: Path) -> None:
    init(repo)

    text = (repo / ".ragguard.yaml").read_text()
    for section in yaml.safe_load(text):
        line = next(i for i, s in enumerate(text.splitlines()) if s.startswith(section))
        above = text.splitlines()[line - 1]
        assert above.startswith("# ") or "#" in text.splitlines()[line], section
    assert "stale_after: 15m" in text
    assert 'doc: "docs/branches/{branch}.md"' in text


def test_a_changed_policy_renders_and_reads_back_the_same() -> None:
    policy = replace(
        DEFAULT_POLICY,
        wandb=WandbPolicy(dirs=("wandb", "exp/wandb"), stale_after=90.0),
        branches=BranchesPolicy(protected=("main", "release/*"), default="trunk"),
        runs=RunsPolicy(require_tags=("retriever:*",), require_config=("chunk.size",)),
        commit_msg=CommitMsgPolicy(min_words=4, forbid=("wip", "yes")),
        post_merge=PostMergePolicy(validate="pytest -q 'tests/eval'", timeout=5400.0),
    )

    assert replace(parse_policy(render_policy(policy)), path=None) == policy


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(900.0, "15m"), (90.0, "90s"), (5400.0, "90m"), (7200.0, "2h"), (0.5, "0.5")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_keeps_an_existing_policy_unless_forced(repo: Path) -> None:
    (repo / ".ragguard.yaml").write_text("commit_msg:\n  min_words: 5\n")

    steps = init(repo).steps

    assert steps[0].startswith("kept")
    assert load_policy(repo).commit_msg.min_words == 5
    init(repo, force=True)
    assert load_policy(repo).commit_msg.min_words == 3


def test_adds_the_run_roots_to_gitignore_once(repo: Path) -> None:
    (repo / ".gitignore").write_text("*.pyc")  # no final newline
    (repo / ".ragguard.yaml").write_text("wandb:\n  dirs: [wandb, exp/wandb]\n")

    first = init(repo).steps
    once = (repo / ".gitignore").read_text()
    init(repo)

    assert first[1] == "updated   .gitignore (ignores wandb, exp/wandb)"
    assert (repo / ".gitignore").read_text() == once
    assert once.splitlines()[0] == "*.pyc"
    assert once.splitlines()[-2:] == ["/wandb/", "/exp/wandb/"]
    for path in ("wandb/run-x/files/a", "exp/wandb/offline-run-y/run-y.wandb"):
        subprocess.run(["git", "check-ignore", "-q", path], cwd=repo, check=True)


def test_recognises_run_roots_already_ignored(repo: Path) -> None:
    (repo / ".gitignore").write_text("/wandb\n")

    steps = init(repo).steps

    assert steps[1].startswith("kept")
    assert (repo / ".gitignore").read_text() == "/wandb\n"


def test_run_roots_are_anchored_so_code_folders_stay_tracked(repo: Path) -> None:
    (repo / ".gitignore").unlink()  # the fixture's own ignores wandb/

    steps = init(repo).steps

    assert steps[1] == "wrote     .gitignore (ignores wandb)"
    assert (repo / ".gitignore").read_text().splitlines()[-1] == "/wandb/"
    subprocess.run(["git", "check-ignore", "-q", "wandb/run-x"], cwd=repo, check=True)
    code = "src/integrations/wandb/client.py"
    ignored = subprocess.run(["git", "check-ignore", "-q", code], cwd=repo)
    assert ignored.returncode == 1, "a code folder named wandb must not be ignored"


@pytest.mark.parametrize("line", ["wandb/", "/wandb/", "wandb"])
def test_an_existing_run_root_line_counts_as_present(repo: Path, line: str) -> None:
    (repo / ".gitignore").write_text(f"{line}\n")

    assert init(repo).steps[1].startswith("kept")
    assert (repo / ".gitignore").read_text() == f"{line}\n"


def test_a_dangling_policy_link_is_kept_and_refused(repo: Path) -> None:
    (repo / ".ragguard.yaml").symlink_to("team/policy.yaml")

    with pytest.raises(PolicyError) as caught:
        init(repo)
    assert "symbolic link to team/policy.yaml" in caught.value.message
    assert (repo / ".ragguard.yaml").is_symlink()


def test_prints_the_pre_commit_entry_without_writing_it(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo)

    assert main(["init", "--repo", "https://example.org/ragguard", "--rev", "v9"]) == 0

    out = capsys.readouterr().out
    assert not (repo / ".pre-commit-config.yaml").exists()
    entry = yaml.safe_load(out.split("then run pre-commit install:\n", 1)[1])
    assert entry["default_install_hook_types"] == list(HOOK_TYPES)
    (source,) = entry["repos"]
    assert source["repo"] == "https://example.org/ragguard"
    assert source["rev"] == "v9"
    assert [hook["id"] for hook in source["hooks"]] == [
        f"ragguard-{hook}" for hook in HOOK_TYPES
    ]


def test_writes_a_valid_pre_commit_config(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo)

    assert main(["init", "--pre-commit"]) == 0

    assert "now run: pre-commit install" in capsys.readouterr().out
    config = repo / ".pre-commit-config.yaml"
    out = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-config", str(config)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert main(["init", "--pre-commit"]) == 0
    assert "already runs ragguard" in capsys.readouterr().out


def test_never_edits_an_existing_pre_commit_config(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = repo / ".pre-commit-config.yaml"
    config.write_text("repos: []  # the team's own\n")
    monkeypatch.chdir(repo)

    assert main(["init", "--pre-commit"]) == 0

    assert config.read_text() == "repos: []  # the team's own\n"
    out = capsys.readouterr().out
    assert "add the entry below to it by hand" in out
    assert "- id: ragguard-pre-push" in out


def test_outside_a_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    assert main(["init"]) == 4
    assert "not inside a git work tree" in capsys.readouterr().err
    assert not (tmp_path / ".ragguard.yaml").exists()
