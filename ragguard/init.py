"""``ragguard init``: set a repository up for ragguard.

It writes a commented ``.ragguard.yaml`` holding every default (rendered from
:data:`ragguard.config.DEFAULT_POLICY`, so the file and the code cannot
disagree), adds the run roots to ``.gitignore``, and prints the
``.pre-commit-config.yaml`` entry, or writes it when there is no such file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any

from ragguard import __version__
from ragguard.config import DEFAULT_POLICY, POLICY_FILE, Policy, load_policy
from ragguard.errors import EnvironmentProblem, NotARepoError
from ragguard.install import HOOK_TYPES

PRE_COMMIT_CONFIG = ".pre-commit-config.yaml"
# Where teams fetch ragguard's hooks from; `ragguard init --repo` overrides it.
DEFAULT_HOOK_REPO = "https://github.com/ragguard/ragguard"
_GITIGNORE_HEADER = "# W&B run folders: never commit them (added by ragguard init)"

_INTRO = """\
# ragguard policy: which checks run at which git moment, and what they require.
# Every value below is ragguard's default; delete what you do not change.
# Reference: `ragguard --help`; durations read like 90s, 15m, 2h.
"""

# One comment per section and per field; fields without one are still written.
_COMMENTS: Mapping[str, str] = {
    "wandb": "Where W&B runs are found and which of them count.",
    "wandb.dirs": "run roots relative to the repo root; $WANDB_DIR is added",
    "wandb.projects": "only runs of these projects count; empty = all",
    "wandb.stale_after": "no exit record and unchanged this long = crashed",
    "wandb.entity": "W&B entity: remote checks need it and wandb.project",
    "wandb.project": "W&B project: remote checks need it and wandb.entity",
    "wandb.remote": "ask the W&B API on push and in CI (never on commit)",
    "wandb.remote_timeout": "hard time limit for all remote work of one command",
    "branches": "Branches: the default, the protected ones, and their docs.",
    "branches.default": "null = origin/HEAD, init.defaultBranch, main, master",
    "branches.protected": "glob patterns; pushes and merges here pass the gate",
    "branches.doc": "each branch's doc; slashes in branch names become folders",
    "branches.doc_template": "template for `ragguard doc init`; null = built in",
    "runs": "What every run of a branch must carry.",
    "runs.require_tags": 'glob patterns, e.g. "retriever:*"',
    "runs.require_config": "config keys, dotted for nesting, e.g. retriever.type",
    "commit_msg": "What a commit message must say.",
    "commit_msg.min_words": "fewer words than this is blocked",
    "commit_msg.forbid": "a message made of one of these words alone is blocked",
    "checks": "check id -> {stage: block | warn | off}",
    "report": "Summaries (post-checkout, `ragguard report`).",
    "report.metric": "summary key that ranks runs; null = first numeric keys",
    "report.rows": "runs shown per table",
    "merge": "The merge gate for protected branches.",
    "merge.metric": "summary key that decides which experiment wins",
    "merge.goal": "max or min",
    "merge.threshold": "the metric must reach this; null = no threshold",
    "merge.beat_baseline": "the candidate must beat the protected branch's best",
    "merge.min_delta": "by at least this much",
    "merge.require_synced": "every run of the candidate is synced",
    "merge.require_doc": "the candidate's branch doc is filled in",
    "post_merge": "After a merge into a protected branch.",
    "post_merge.validate": "sh -c command line, or an argument list; null = none",
    "post_merge.timeout": "time limit for the validation command",
    "push": "Pushes.",
    "push.check_tags": "check pushed tags like branches",
}
# Fields held in seconds that the file writes as durations.
_DURATIONS = {"wandb.stale_after", "wandb.remote_timeout", "post_merge.timeout"}
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_./-]*")
_YAML_WORDS = {"null", "true", "false", "yes", "no", "on", "off", "y", "n", "~"}


@dataclass(frozen=True)
class InitResult:
    """What ``ragguard init`` did, one sentence per step, and the config entry."""

    steps: tuple[str, ...]
    pre_commit_entry: str
    printed_entry: bool


def init(
    cwd: Path,
    *,
    pre_commit: bool = False,
    force: bool = False,
    hook_repo: str = DEFAULT_HOOK_REPO,
    rev: str | None = None,
) -> InitResult:
    """Set up the repository at ``cwd``; never overwrites without ``force``."""
    root = repo_root(cwd)
    steps = [write_policy(root, force=force)]
    policy = load_policy(root)
    steps.append(add_to_gitignore(root, policy.wandb.dirs))
    entry = pre_commit_entry(hook_repo, rev or f"v{__version__}")
    printed = True
    if pre_commit:
        step, written = write_pre_commit_config(root, entry)
        steps.append(step)
        printed = not written
    return InitResult(tuple(steps), entry, printed)


def repo_root(cwd: Path) -> Path:
    args = ["git", "rev-parse", "--show-toplevel"]
    try:
        out = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    except OSError as error:
        raise EnvironmentProblem(f"cannot run git: {error}.") from error
    if out.returncode != 0 or not out.stdout.strip():
        raise NotARepoError(f"{cwd} is not inside a git work tree.")
    return Path(out.stdout.strip())


# --- .ragguard.yaml ---------------------------------------------------------


def write_policy(root: Path, *, force: bool) -> str:
    path = root / POLICY_FILE
    # lexists: a dangling or looping link is kept too, then refused by load_policy.
    if os.path.lexists(path) and not force:
        return f"kept      {POLICY_FILE} (exists; --force rewrites it with defaults)"
    path.write_text(render_policy(DEFAULT_POLICY), encoding="utf-8")
    return f"wrote     {POLICY_FILE} (every default, commented)"


def render_policy(policy: Policy) -> str:
    """The YAML text of ``policy``, with a comment on every section and field."""
    blocks = [_INTRO]
    for section in fields(policy):
        value = getattr(policy, section.name)
        if section.name == "path":
            continue
        blocks.append(_render_section(section.name, value))
    return "\n".join(blocks)


def _render_section(name: str, value: Any) -> str:
    lines = [f"# {_COMMENTS[name]}"] if name in _COMMENTS and name != "checks" else []
    if name == "checks":
        lines.append(f"checks:                   # {_COMMENTS['checks']}")
        width = max(len(check) for check in value) + 2
        for check, stages in value.items():
            row = ", ".join(f"{stage}: {sev}" for stage, sev in stages.items())
            lines.append(f"  {check + ':':<{width}}{{{row}}}")
        return "\n".join(lines) + "\n"
    assert is_dataclass(value)
    lines.append(f"{name}:")
    for item in fields(value):
        key = f"{name}.{item.name}"
        scalar = _yaml_value(key, getattr(value, item.name))
        text = f"  {item.name}: {scalar}"
        comment = _COMMENTS.get(key)
        lines.append(f"{text:<26} # {comment}" if comment else text)
    return "\n".join(lines) + "\n"


def _yaml_value(key: str, value: Any) -> str:
    if key in _DURATIONS and isinstance(value, int | float):
        return format_duration(float(value))
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_yaml_value("", item) for item in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted string


def format_duration(seconds: float) -> str:
    """``900.0`` -> ``15m``: the largest unit that divides it, else seconds."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return repr(seconds)


# --- .gitignore -------------------------------------------------------------


def add_to_gitignore(root: Path, dirs: tuple[str, ...]) -> str:
    """Append the run roots that ``.gitignore`` does not list yet."""
    path = root / ".gitignore"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    listed = {_ignore_key(line) for line in text.splitlines()}
    missing = [d for d in dirs if _ignore_key(d) not in listed]
    if not missing:
        return "kept      .gitignore (run roots already ignored)"
    # Anchored: a bare "wandb/" would also ignore code folders such as
    # src/integrations/wandb/; the run roots are relative to the repo root.
    lines = [_GITIGNORE_HEADER, *("/" + d.strip("/") + "/" for d in missing)]
    if _GITIGNORE_HEADER in text:
        lines = lines[1:]
    prefix = "" if not text or text.endswith("\n") else "\n"
    verb = "updated" if path.exists() else "wrote"
    path.write_text(text + prefix + "\n".join(lines) + "\n", encoding="utf-8")
    return f"{verb:<9} .gitignore (ignores {', '.join(missing)})"


def _ignore_key(line: str) -> str:
    # "wandb", "wandb/", "/wandb/" all ignore the root folder the same way.
    return line.strip().strip("/")


# --- .pre-commit-config.yaml ------------------------------------------------


def pre_commit_entry(hook_repo: str, rev: str) -> str:
    """The ``.pre-commit-config.yaml`` text that installs every ragguard hook."""
    hook_ids = "\n".join(f"      - id: ragguard-{hook}" for hook in HOOK_TYPES)
    types = ", ".join(HOOK_TYPES)
    return (
        "# `pre-commit install` installs every hook type listed here at once.\n"
        f"default_install_hook_types: [{types}]\n"
        "repos:\n"
        f"  - repo: {hook_repo}\n"
        f"    rev: {rev}\n"
        "    hooks:\n"
        f"{hook_ids}\n"
    )


def write_pre_commit_config(root: Path, entry: str) -> tuple[str, bool]:
    """Write the config when there is none; an existing one is never edited."""
    path = root / PRE_COMMIT_CONFIG
    if not path.exists():
        path.write_text(entry, encoding="utf-8")
        return f"wrote     {PRE_COMMIT_CONFIG}; now run: pre-commit install", True
    if "ragguard-pre-commit" in path.read_text(encoding="utf-8", errors="replace"):
        return f"kept      {PRE_COMMIT_CONFIG} (already runs ragguard)", True
    return (
        f"kept      {PRE_COMMIT_CONFIG} (exists; add the entry below to it by hand)",
        False,
    )
