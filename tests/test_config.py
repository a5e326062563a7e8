"""The policy file: defaults, every section, and refusals with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragguard.config import (
    DEFAULT_POLICY,
    POLICY_FILE,
    Policy,
    load_policy,
    parse_duration,
    parse_policy,
)
from ragguard.errors import Exit, PolicyError


def refusal(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    return caught.value


def test_no_file_means_the_documented_defaults(tmp_path: Path) -> None:
    policy = load_policy(tmp_path)
    assert policy is DEFAULT_POLICY
    assert policy.path is None
    assert policy.wandb.dirs == ("wandb",)
    assert policy.wandb.projects == ()
    assert policy.wandb.stale_after == 900.0
    assert policy.wandb.remote is False
    assert policy.wandb.remote_timeout == 5.0
    assert policy.branches.default is None
    assert policy.branches.protected == ("main",)
    assert policy.branches.doc == "docs/branches/{branch}.md"
    assert policy.branches.doc_template is None
    assert policy.commit_msg.min_words == 3
    assert "wip" in policy.commit_msg.forbid
    assert policy.report.metric is None and policy.report.rows == 10
    assert policy.merge.goal == "max" and policy.merge.beat_baseline is True
    assert policy.post_merge.validate is None
    assert policy.push.check_tags is False


def test_default_check_table_matches_the_issue_and_adds_switch() -> None:
    sev = DEFAULT_POLICY.severity
    assert sev("staged-runs", "pre-commit") == "block"
    assert sev("branch-doc", "pre-commit") == "warn"
    assert sev("branch-doc", "pre-push") == "block"
    assert sev("commit-msg", "commit-msg") == "block"
    assert sev("runs-finished", "pre-push") == "block"
    assert sev("runs-synced", "post-checkout") == "warn"
    assert sev("run-metadata", "pre-push") == "block"
    assert sev("run-commit", "pre-push") == "warn"
    assert sev("left-behind", "post-checkout") == "warn"
    for check in ("left-behind", "runs-finished", "runs-synced"):
        assert sev(check, "switch") == "block"
    assert sev("staged-runs", "pre-push") == "off"


def test_empty_file_and_empty_sections_are_defaults() -> None:
    assert parse_policy("") == DEFAULT_POLICY.__class__(path=Path(POLICY_FILE))
    policy = parse_policy("wandb:\nchecks:\n")
    assert policy.wandb == DEFAULT_POLICY.wandb
    assert policy.checks == DEFAULT_POLICY.checks


def test_a_full_policy_is_read(tmp_path: Path) -> None:
    (tmp_path / POLICY_FILE).write_text(
        """\
wandb:
  dirs: [wandb, experiments/wandb]
  projects: [rag]
  stale_after: 1h30m
  entity: team
  project: rag
  remote: true
  remote_timeout: 2.5s
branches:
  default: trunk
  protected: [trunk, "release/*"]
  doc: notes/{branch}/README.md
  doc_template: notes/TEMPLATE.md
runs:
  require_tags: ["retriever:*"]
  require_config: [retriever.type, chunk_size]
commit_msg:
  min_words: 4
  forbid: [WIP, stuff]
checks:
  branch-doc: off
  runs-synced: {pre-commit: warn, post-checkout: off}
  run-commit: block
report: {metric: eval/recall@5, rows: 5}
merge:
  metric: eval/recall@5
  goal: min
  threshold: 0.8
  beat_baseline: false
  min_delta: 0.01
  require_synced: false
  require_doc: false
post_merge: {validate: [pytest, -q], timeout: 10m}
push: {check_tags: true}
""",
        encoding="utf-8",
    )
    policy = load_policy(tmp_path)
    assert policy.path == tmp_path / POLICY_FILE
    assert policy.wandb.dirs == ("wandb", "experiments/wandb")
    assert policy.wandb.stale_after == 5400.0
    assert policy.wandb.remote_timeout == 2.5
    assert policy.branches.is_protected("release/1.0")
    assert not policy.branches.is_protected("exp/x")
    assert policy.runs.require_config == ("retriever.type", "chunk_size")
    assert policy.commit_msg.forbid == ("wip", "stuff")
    assert policy.severity("branch-doc", "pre-push") == "off"
    assert policy.severity("branch-doc", "pre-commit") == "off"
    assert policy.severity("runs-synced", "pre-commit") == "warn"
    assert policy.severity("runs-synced", "post-checkout") == "off"
    assert policy.severity("runs-synced", "pre-push") == "block"  # kept
    assert policy.severity("run-commit", "pre-push") == "block"
    assert policy.report.metric == "eval/recall@5" and policy.report.rows == 5
    assert policy.merge.goal == "min" and policy.merge.threshold == 0.8
    assert policy.post_merge.validate == ("pytest", "-q")
    assert policy.post_merge.timeout == 600.0
    assert policy.push.check_tags is True
    assert [c for c, _ in policy.checks_for("pre-push")] == [
        "runs-finished",
        "runs-synced",
        "run-metadata",
        "run-commit",
        "merge-gate",
    ]


def test_policy_is_frozen() -> None:
    with pytest.raises(AttributeError):
        DEFAULT_POLICY.wandb.dirs = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        DEFAULT_POLICY.checks["staged-runs"]["pre-commit"] = "off"  # type: ignore[index]
    assert isinstance(DEFAULT_POLICY, Policy)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("wandb:\n  dirz: []\n", 2, "unknown key 'dirz' in wandb; expected one of"),
        ("wandb:\n  dirz: []\n", 2, "did you mean 'dirs'?"),
        ("colour: true\n", 1, "unknown key 'colour' in the policy"),
        ("wandb:\n  stale_after: soon\n", 2, "positive duration such as 90s"),
        ("wandb:\n  stale_after: 0s\n", 2, "positive duration"),
        ("wandb:\n  remote: yes please\n", 2, "wandb.remote must be true or false"),
        ("wandb:\n  dirs: ../elsewhere\n", 2, "must be a path inside the repository"),
        ("wandb:\n  dirs:\n    - wandb\n    - /abs\n", 4, "inside the repository"),
        ("wandb:\n  projects: {a: 1}\n", 2, "must be a list of strings"),
        ("branches:\n  doc: docs/readme.md\n", 2, "must contain {branch}"),
        ("branches:\n  doc: docs/{user}/{branch}.md\n", 2, "only the placeholder"),
        ("runs:\n  require_config:\n    - a.b\n    - a..b\n", 4, "config keys"),
        ("commit_msg:\n  min_words: true\n", 2, "whole number of at least 0"),
        ("commit_msg:\n  min_words: -1\n", 2, "whole number of at least 0"),
        ("report:\n  rows: 0\n", 2, "report.rows must be a whole number"),
        ("merge:\n  goal: highest\n", 2, "merge.goal must be max or min"),
        ("merge:\n  threshold: high\n", 2, "must be a number or null"),
        ("checks:\n  commit-msg: {pre-push: block}\n", 2, "cannot run at stage"),
        ("checks:\n  made-up: {pre-push: block}\n", 2, "unknown key 'made-up'"),
        ("checks:\n  runs-synced:\n    pre-push: fatal\n", 3, "block, warn or off"),
        ("checks:\n  runs-synced: [pre-push]\n", 2, "must map stages"),
        ("post_merge:\n  validate: 3\n", 2, "a command line, a list of arguments"),
        ("x: 1\nwandb: {}\nwandb: {}\n", 3, "wandb is given twice"),
        ("- wandb\n", 1, "must be a mapping"),
        ("wandb: [\n", 2, "is not valid YAML"),
    ],
)
def test_refusals_name_file_line_and_what_is_expected(
    text: str, line: int, words: str
) -> None:
    error = refusal(text)
    assert error.exit_code == Exit.POLICY
    assert error.line == line, error.message
    assert error.message.startswith(f"{POLICY_FILE}:{line}: "), error.message
    assert words in error.message
    assert error.message.endswith((".", "?)."))


def test_refusal_from_load_policy_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / POLICY_FILE).write_text("wandb:\n  stale_after: never\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PolicyError) as caught:
        load_policy(tmp_path)
    assert caught.value.message.startswith(".ragguard.yaml:2: wandb.stale_after")


def test_yaml_tags_are_refused_by_safe_load() -> None:
    error = refusal("wandb: !!python/object:os.system {}\n")
    assert "not valid YAML" in error.message


@pytest.mark.parametrize(
    ("given", "seconds"),
    [
        ("15m", 900.0),
        ("90s", 90.0),
        ("2h", 7200.0),
        ("1h30m", 5400.0),
        ("1d", 86400.0),
        ("500ms", 0.5),
        (" 10M ", 600.0),
        ("120", 120.0),
        (45, 45.0),
        (2.5, 2.5),
    ],
)
def test_durations(given: object, seconds: float) -> None:
    assert parse_duration(given) == seconds


@pytest.mark.parametrize(
    "given", ["", "m", "15 m", "1x", "-5s", 0, -1, True, None, "1h-"]
)
def test_bad_durations(given: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(given)
