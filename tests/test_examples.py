"""The examples people copy must stay in step with the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from click.testing import CliRunner

from ragguard.cli import cli

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_the_github_actions_gate_uses_options_the_gate_has() -> None:
    workflow = yaml.safe_load((EXAMPLES / "ci" / "github-actions.yml").read_text())
    steps = workflow["jobs"]["gate"]["steps"]
    (command,) = [s["run"] for s in steps if "ragguard gate" in s.get("run", "")]
    used = set(re.findall(r"(--[a-z-]+)", command))
    help_text = CliRunner().invoke(cli, ["gate", "--help"]).output
    assert used and all(option in help_text for option in used), used
    assert any(s.get("with", {}).get("fetch-depth") == 0 for s in steps)


def test_the_example_policy_is_valid() -> None:
    from ragguard.config import parse_policy

    policy = parse_policy((EXAMPLES / "ragguard.yaml").read_text(), "ragguard.yaml")
    assert policy.runs.require_tags  # a RAG policy asks for retriever tags
