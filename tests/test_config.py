"""The policy file: defaults, every section, and refusals with file:line."""

from __future__ import annotations

import os
from dataclasses import replace
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
    # Issue 8: a run still being written does not stop a push of the code.
    assert sev("runs-finished", "pre-push") == "warn"
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
        # Every kind of mistake names its line (issue 8): syntax, tabs, globs.
        ("wandb:\n\tdirs: [x]\n", 2, "indent with spaces, YAML does not allow tabs"),
        ("wandb:\n  dirs: [x\n  projects: [y]\n", 3, "that starts on line 2"),
        ("branches:\n  protected:\n    - main\n    - release/[0-9\n", 4, "never"),
        ("branches:\n  protected: [refs/heads/main]\n", 2, "without refs/heads/"),
        ("branches:\n  protected: ['exp bm25']\n", 2, "git does not allow ' '"),
        ("branches:\n  protected: ['release/']\n", 2, "end with /, . or .lock"),
        ("branches:\n  default: release/*\n", 2, "one branch name, not a pattern"),
        ("branches:\n  default: main..dev\n", 2, "git does not allow '..'"),
        ("runs:\n  require_tags: ['retriever:[bm25']\n", 2, "write [[] for a"),
        ("wandb:\n  stale_after: 15 minutes\n", 2, "positive duration such as"),
        ("wandb:\n  entity: x\nreport:\n  rows: !!int zz\n", 4, "cannot be read"),
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


# --- hostile policy files (QA) ---------------------------------------------------


def _billion_laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        prev, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: &a [*a]\n", 1),  # was RecursionError, exit 70
        ("wandb: &w {}\nbranches: *w\n", 1),
        ("wandb:\n  dirs: [wandb]\nruns:\n  require_tags: &t [x]\n", 4),
        ("merge:\n  <<: *m\n", 2),  # an alias without its anchor
        (_billion_laughs(), 1),  # was a hang
    ],
)
def test_anchors_and_aliases_are_refused_before_construction(
    text: str, line: int
) -> None:
    error = refusal(text)
    assert error.exit_code == Exit.POLICY
    assert error.message.startswith(f"{POLICY_FILE}:{line}: uses a YAML anchor")
    assert "a policy has no use for them" in error.message


def test_an_alias_bomb_is_refused_quickly() -> None:
    import time

    started = time.perf_counter()
    refusal(_billion_laughs(12))
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("merge:\n  threshold: .nan\n", "merge.threshold must be a finite number"),
        ("merge:\n  threshold: .inf\n", "merge.threshold must be a finite number"),
        ("merge:\n  min_delta: -.inf\n", "merge.min_delta must be a finite number"),
        ("merge:\n  min_delta: .NaN\n", "merge.min_delta must be a finite number"),
        ("wandb:\n  stale_after: .inf\n", "positive duration"),
        ("wandb:\n  remote_timeout: .nan\n", "positive duration"),
        ("post_merge:\n  timeout: .inf\n", "positive duration"),
        ("post_merge:\n  validate: []\n", "validate must not be an empty list"),
    ],
)
def test_non_finite_numbers_and_an_empty_command_are_refused(
    text: str, words: str
) -> None:
    error = refusal(text)
    assert error.line == 2, error.message
    assert words in error.message
    assert error.message.endswith(".")


def test_huge_values_are_refused_with_a_sentence() -> None:
    def projects(n: int) -> str:
        return "wandb:\n  projects: [" + ", ".join(["p"] * n) + "]\n"

    assert "lists 1001 items; at most 1000" in refusal(projects(1001)).message
    assert len(parse_policy(projects(1000)).wandb.projects) == 1000
    long = "report:\n  metric: " + "m" * 4097 + "\n"
    error = refusal(long)
    assert (error.line, error.exit_code) == (2, Exit.POLICY)
    assert "longer than 4096 characters" in error.message
    # 5000 digits would trip Python's int-digit limit (ValueError, exit 70).
    assert "longer than 4096" in refusal("report:\n  rows: " + "9" * 5000).message
    deep = "wandb:\n  dirs: " + "[" * 30 + "]" * 30 + "\n"
    assert "nests more than 20 levels" in refusal(deep).message
    big = "# " + "x" * (1024 * 1024) + "\n"
    assert "larger than 1 MiB" in refusal(big).message


@pytest.mark.parametrize(
    "value", ["2001-02-30", "!!int zz", "!!float zz", "!!timestamp 2001-99-99"]
)
def test_values_a_constructor_rejects_are_policy_errors(value: str) -> None:
    error = refusal(f"report:\n  rows: {value}\n")
    assert error.exit_code == Exit.POLICY
    assert "is not valid YAML: a value cannot be read" in error.message


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def load_refusal(root: Path) -> str:
    with pytest.raises(PolicyError) as caught:
        load_policy(root)
    assert caught.value.exit_code == Exit.POLICY
    return caught.value.message


def test_a_link_to_itself_is_refused(in_tmp: Path) -> None:
    (in_tmp / POLICY_FILE).symlink_to(POLICY_FILE)
    assert load_refusal(in_tmp) == (
        ".ragguard.yaml: is a symbolic link that loops; "
        "point it at a file or replace it."
    )


def test_a_dangling_link_is_refused_not_taken_for_no_policy(in_tmp: Path) -> None:
    (in_tmp / POLICY_FILE).symlink_to("shared/policy.yaml")
    assert load_refusal(in_tmp) == (
        ".ragguard.yaml: is a symbolic link to shared/policy.yaml, "
        "which does not exist."
    )


def test_a_link_to_a_device_is_refused_without_reading_it(in_tmp: Path) -> None:
    (in_tmp / POLICY_FILE).symlink_to("/dev/zero")
    assert "is not a regular file" in load_refusal(in_tmp)


def test_a_fifo_is_refused_without_blocking(in_tmp: Path) -> None:
    os.mkfifo(in_tmp / POLICY_FILE)
    assert "is not a regular file" in load_refusal(in_tmp)


def test_a_folder_is_refused(in_tmp: Path) -> None:
    (in_tmp / POLICY_FILE).mkdir()
    assert load_refusal(in_tmp) == (
        ".ragguard.yaml: is a folder; the policy must be a regular YAML file."
    )


def test_a_file_over_1_mib_is_refused(in_tmp: Path) -> None:
    (in_tmp / POLICY_FILE).write_bytes(b"#" * (1024 * 1024 + 1))
    assert "larger than 1 MiB" in load_refusal(in_tmp)
    (in_tmp / POLICY_FILE).write_bytes(b"#" * (1024 * 1024))
    policy = load_policy(in_tmp)  # exactly 1 MiB: read, an empty document
    assert replace(policy, path=None) == DEFAULT_POLICY


def test_non_utf8_is_refused(in_tmp: Path) -> None:
    (in_tmp / POLICY_FILE).write_bytes(b"report:\n  metric: \xff\n")
    assert load_refusal(in_tmp) == (
        ".ragguard.yaml:2: is not UTF-8 text: byte 0xff cannot be read; "
        "save the file as UTF-8."
    )


@pytest.mark.parametrize(
    ("field", "patterns"),
    [
        ("branches:\n  protected", ["main", "release/*", "exp/[a-z]*", "v[!0]"]),
        ("runs:\n  require_tags", ["retriever:*", "k=[0-9]*", "[[]draft]"]),
    ],
)
def test_well_formed_globs_are_kept(field: str, patterns: list[str]) -> None:
    text = f"{field}: [" + ", ".join(f"'{p}'" for p in patterns) + "]\n"
    policy = parse_policy(text)
    kept = (
        policy.branches.protected if "branches" in field else policy.runs.require_tags
    )
    assert kept == tuple(patterns)


def test_a_link_to_a_regular_file_is_followed(in_tmp: Path) -> None:
    (in_tmp / "team.yaml").write_text("report:\n  rows: 4\n")
    (in_tmp / POLICY_FILE).symlink_to("team.yaml")
    assert load_policy(in_tmp).report.rows == 4
