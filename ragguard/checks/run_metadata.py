"""``run-metadata``: each run carries the tags and config the team requires."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase

from ragguard.checks import Context, Finding
from ragguard.checks._runs import subject
from ragguard.config import Policy
from ragguard.runs.model import Run

CHECK = "run-metadata"


def check(ctx: Context) -> list[Finding]:
    policy = ctx.policy.runs
    if not (policy.require_tags or policy.require_config):
        return []
    findings = []
    for run in ctx.runs:
        if run.state in ("empty", "unreadable"):
            continue  # nothing to read; runs-finished reports it
        tags = [p for p in policy.require_tags if not _has_tag(run, p)]
        keys = [k for k in policy.require_config if not run.has_config(k)]
        if tags or keys:
            findings.append(_finding(run, tags, keys))
    return findings


def is_missing(run: Run, policy: Policy) -> bool:
    """Whether ``run`` lacks a required tag pattern or config key."""
    required = policy.runs
    return any(not _has_tag(run, p) for p in required.require_tags) or any(
        not run.has_config(k) for k in required.require_config
    )


def _has_tag(run: Run, pattern: str) -> bool:
    return any(fnmatchcase(tag, pattern) for tag in run.tags)


def _finding(run: Run, tags: list[str], keys: list[str]) -> Finding:
    missing = []
    if tags:
        missing.append("tags matching " + ", ".join(map(repr, tags)))
    if keys:
        missing.append("config keys " + ", ".join(keys))
    message = "is missing " + " and ".join(missing)
    return Finding(CHECK, "block", subject(run), message, _fix(run, tags, keys))


def _fix(run: Run, tags: list[str], keys: list[str]) -> str:
    """How to set them for the next run, and what to do about this one."""
    example_tags = [t.replace("*", "<value>").replace("?", "<c>") for t in tags]
    init = []
    if tags:
        init.append(f"tags={json.dumps(example_tags)}")
    if keys:
        init.append("config={" + ", ".join(f'"{k}": ...' for k in keys) + "}")
    # The local log of this run never changes: once a rerun carries the
    # metadata, this run can only be let through, on the record.
    return (
        f"pass wandb.init({', '.join(init)}) and rerun; then let this run go:"
        f" RAGGUARD_SKIP=run-metadata RAGGUARD_SKIP_REASON='rerun as <new id>'"
        " git push"
    )
