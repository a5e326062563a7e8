"""What hooks print: one line when all is well, else one line per finding with
its fix under it and how to skip. Colour only helps: the words say it all."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TextIO

from ragguard.checks import Finding, worst

_RESET = "\033[0m"
_COLOURS = {"block": "\033[31m", "warn": "\033[33m", "ok": "\033[32m", "dim": "\033[2m"}
LABELS = {"block": "blocked", "warn": "warning", "info": "note"}

# The command a user reruns after setting RAGGUARD_SKIP, per stage.
RERUN = {
    "pre-commit": "git commit ...",
    "commit-msg": "git commit ...",
    "pre-push": "git push ...",
    "pre-merge-commit": "git merge ...",
    "switch": "ragguard switch ...",
}


def use_colour(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    """Colour on a terminal only, and never with ``NO_COLOR`` or ``TERM=dumb``."""
    env = os.environ if env is None else env
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Painter:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, text: str, kind: str) -> str:
        if not self.colour or kind not in _COLOURS:
            return text
        return f"{_COLOURS[kind]}{text}{_RESET}"


def render_findings(
    stage: str,
    findings: Sequence[Finding],
    *,
    paint: Painter,
    heading: str | None = None,
) -> list[str]:
    """Lines for ``findings``: a title, then each finding and its fix."""
    title = heading or f"ragguard {stage}"
    if not findings:
        return [f"{title}: {paint('ok', 'ok')}"]
    lines = [f"{title}: {_tally(findings)}"]
    width = max(len(LABELS[f.severity]) for f in findings)
    for finding in findings:
        label = paint(LABELS[finding.severity].ljust(width), finding.severity)
        lines.append(f"  {finding_line(finding, label)}")
        if finding.fix:
            lines.append(" " * (width + 3) + paint("fix: ", "dim") + finding.fix)
    return lines + _fix_all(findings, paint)


def finding_line(finding: Finding, label: str | None = None) -> str:
    """``blocked [check] subject: message``: one finding on one line, under
    ``label`` (padded or painted) when given."""
    word = LABELS[finding.severity] if label is None else label
    return f"{word} [{finding.check}] {finding.subject}: {finding.message}"


def _fix_all(findings: Sequence[Finding], paint: Painter) -> list[str]:
    """One command for many runs to sync: ``ragguard sync`` does them all,
    one at a time (``wandb sync`` of several folders stops at an empty one)."""
    ids = [
        f.subject.split()[1]
        for f in findings
        if f.fix.startswith("wandb sync ") and f.subject.startswith("run ")
    ]
    if len(ids) < 2:
        return []
    command = "ragguard sync " + " ".join(dict.fromkeys(ids))
    return [f"  {paint('sync them all:', 'dim')} {command}"]


def _tally(findings: Sequence[Finding]) -> str:
    blocks = sum(f.severity == "block" for f in findings)
    warns = sum(f.severity == "warn" for f in findings)
    parts = []
    if blocks:
        parts.append(f"blocked by {plural(blocks, 'problem')}")
    if warns:
        parts.append(plural(warns, "warning"))
    notes = len(findings) - blocks - warns
    if notes:
        parts.append(plural(notes, "note"))
    return ", ".join(parts)


def plural(count: int, noun: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def skip_hint(stage: str, findings: Sequence[Finding]) -> list[str]:
    """How to get past a block once, when the user really must."""
    if worst(findings) != "block":
        return []
    ids = sorted({f.check for f in findings if f.severity == "block"})
    rerun = RERUN.get(stage, "the same command")
    return [
        "To skip once (written to the skip log): "
        f"RAGGUARD_SKIP={','.join(ids)} RAGGUARD_SKIP_REASON='why' {rerun}"
    ]


def skipped_line(stage: str, checks: Sequence[str], reason: str | None) -> str:
    said = f" ({reason})" if reason else " (no RAGGUARD_SKIP_REASON given)"
    return f"ragguard {stage}: skipped {', '.join(checks)} by RAGGUARD_SKIP{said}"
