"""The README documents everything a user can name, and CI runs its commands."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import yaml

from ragguard.cli import cli
from ragguard.config import CHECK_STAGES, DEFAULT_POLICY, parse_policy
from ragguard.errors import Exit

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI_RUN = (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str) -> Iterator[str]:
    """Every command path of the click group, e.g. ``ragguard doc init``."""
    for name, command in sorted(group.commands.items()):
        if command.hidden:
            continue
        path = f"{prefix} {name}"
        yield path
        if isinstance(command, click.Group):
            yield from _commands(command, path)


def _hook_ids() -> list[str]:
    manifest = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    return [hook["id"] for hook in manifest]


@pytest.mark.parametrize("hook_id", _hook_ids())
def test_every_hook_id_is_documented(hook_id: str) -> None:
    assert f"`{hook_id}`" in README


@pytest.mark.parametrize("check_id", sorted(CHECK_STAGES))
def test_every_check_id_is_documented_in_the_checks_table(check_id: str) -> None:
    assert re.search(rf"^\| `{re.escape(check_id)}` \|", README, re.MULTILINE)


def _command_rows() -> list[str]:
    section = README.split("### Commands", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"^\| `(ragguard [^`]+)` \|", section, re.MULTILINE)


@pytest.mark.parametrize("command", list(_commands(cli, "ragguard")))
def test_every_command_has_a_row_in_the_commands_table(command: str) -> None:
    documented = any(
        row == command or row.startswith(f"{command} ") for row in _command_rows()
    )
    assert documented, f"README.md's Commands table has no row for `{command}`"


def _policy_keys() -> Iterator[str]:
    for section in dataclasses.fields(DEFAULT_POLICY):
        value = getattr(DEFAULT_POLICY, section.name)
        if dataclasses.is_dataclass(value):
            for key in dataclasses.fields(value):
                yield f"{section.name}.{key.name}"


@pytest.mark.parametrize("key", list(_policy_keys()))
def test_every_policy_key_is_documented(key: str) -> None:
    assert f"| `{key}` |" in README


@pytest.mark.parametrize("code", list(Exit), ids=lambda code: code.name)
def test_every_exit_code_is_documented(code: Exit) -> None:
    assert f"| {int(code)} | `{code.name}` |" in README


def _quick_start() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_quick_start_has_the_two_set_up_commands() -> None:
    demo, tests = _quick_start()[:2]
    assert demo.startswith("python3 -m venv .venv && ")
    assert demo.endswith("ragguard demo --keep-going")
    assert tests.startswith("python3 -m venv .venv && ")
    assert tests.endswith("/bin/pytest")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    _, tests = _quick_start()[:2]
    steps = [step.strip() for step in tests.split("&&")]
    create, install, pytest_step = steps
    assert create == "python3 -m venv .venv"
    assert '"$python" -m venv "$venv"' in CI_RUN
    pip_args = install.split("/bin/pip", 1)[1]
    assert f'"$venv/bin/pip"{pip_args}\n' in CI_RUN
    pytest_args = pytest_step.split("/bin/pytest", 1)[1]
    assert f'"$venv/bin/pytest"{pytest_args} ||' in CI_RUN


def test_ci_fails_on_a_failing_test_and_on_no_tests() -> None:
    assert "set -euo pipefail" in CI_RUN
    assert '"$status" -eq 5' in CI_RUN
    assert CI_RUN.rstrip().endswith('exit "$status"')


def test_example_policy_is_valid() -> None:
    path = ROOT / "examples" / "ragguard.yaml"
    policy = parse_policy(path.read_text(encoding="utf-8"), path)
    assert policy.runs.require_tags == ("retriever:*",)


def test_own_pre_commit_config_runs_ruff_mypy_and_ragguards_commit_msg() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff-check", "ruff-format", "mypy", "ragguard-commit-msg"} <= set(hooks)
    own = hooks["ragguard-commit-msg"]
    assert own["stages"] == ["commit-msg"]
    assert own["entry"] == "python -m ragguard hook commit-msg"


def test_pre_commit_entry_is_the_one_ragguard_init_writes() -> None:
    from ragguard import __version__
    from ragguard.init import DEFAULT_HOOK_REPO, pre_commit_entry

    entry = pre_commit_entry(DEFAULT_HOOK_REPO, f"v{__version__}")
    body = "".join(line + "\n" for line in entry.splitlines() if line[:1] != "#")
    assert f"```yaml\n{body}```" in README
    assert sorted(re.findall(r"id: (\S+)", body)) == sorted(_hook_ids())


def test_pre_commit_install_line_names_every_hook_type() -> None:
    from ragguard.install import HOOK_TYPES

    (line,) = [ln for ln in README.splitlines() if ln.startswith("pre-commit install")]
    assert re.findall(r"--hook-type (\S+)", line) == list(HOOK_TYPES)


@pytest.mark.parametrize(
    "target", sorted(set(re.findall(r"\]\((?!https?:|#)([^)#]+)", README)))
)
def test_every_relative_link_points_at_a_file_in_the_repository(target: str) -> None:
    assert (ROOT / target).exists()


@pytest.mark.parametrize("key", list(_policy_keys()))
def test_every_documented_policy_default_is_the_real_default(key: str) -> None:
    from ragguard.config import parse_duration

    row = re.search(rf"^\| `{re.escape(key)}` \| `([^`]*)` \|", README, re.MULTILINE)
    assert row, f"the default of {key} is not written as `value`"
    shown = yaml.safe_load(row[1])
    section, name = key.split(".")
    actual = getattr(getattr(DEFAULT_POLICY, section), name)
    if isinstance(shown, str) and isinstance(actual, float) and shown[-1:].isalpha():
        shown = parse_duration(shown)
    if isinstance(actual, tuple):
        actual = list(actual)
    assert shown == actual
