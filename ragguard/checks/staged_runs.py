"""``staged-runs``: run folders and ``.wandb`` logs must never be committed."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ragguard.checks import Context, Finding, quote

CHECK = "staged-runs"
# wandb's folder names: run-YYYYMMDD_HHMMSS-<id> and offline-run-...
_RUN_FOLDER = re.compile(r"^(?:offline-)?run-\d{8}_\d{6}-[A-Za-z0-9]+$")
# What wandb writes directly inside a wandb/ folder.
_WANDB_CONTENT = re.compile(
    r"^(?:(?:offline-)?run-\d{8}_\d{6}-[A-Za-z0-9]+|latest-run|debug(?:-\w+)?\.log"
    r"|debug-cli\..*\.log)$"
)


def check(ctx: Context) -> list[Finding]:
    grouped = run_data_by_root(ctx.staged, _roots_inside(ctx))
    return [
        _finding(root, len(paths), not set(paths) <= ctx.ignored)
        for root, paths in grouped.items()
    ]


def run_data_by_root(paths: Iterable[str], roots: list[str]) -> dict[str, list[str]]:
    """The run-data ``paths``, by the folder (or file) that holds them (see
    :func:`run_data_root`), in the order they come."""
    grouped: dict[str, list[str]] = {}
    for path in paths:
        root = run_data_root(path, roots)
        if root is not None:
            grouped.setdefault(root, []).append(path)
    return grouped


def run_data_paths(ctx: Context) -> list[str]:
    """The staged paths that are W&B run data (the hook asks git which of
    them ``.gitignore`` already covers, so the fix does not add it twice)."""
    roots = _roots_inside(ctx)
    return [path for path in ctx.staged if run_data_root(path, roots) is not None]


def _roots_inside(ctx: Context) -> list[str]:
    roots = []
    for root in ctx.run_roots:
        shown = ctx.shown(root)
        if shown != "." and not shown.startswith("/"):
            roots.append(shown.rstrip("/"))
    return roots


def run_data_root(path: str, roots: list[str]) -> str | None:
    """The folder (or file) to take out of the index for a staged ``path``;
    ``None`` when ``path`` is not W&B run data. ``roots`` are the run roots
    relative to the repository root."""
    for root in roots:
        if path == root or path.startswith(root + "/"):
            return root
    parts = path.split("/")
    for index, part in enumerate(parts[:-1]):
        if part == "wandb" and _WANDB_CONTENT.match(parts[index + 1]):
            return "/".join(parts[: index + 1])  # a nested wandb/ run root
        if _RUN_FOLDER.match(part):
            return "/".join(parts[: index + 1])
    if path.endswith(".wandb") or ".wandb." in parts[-1]:
        return path
    return None


def ignore_fix(entry: str) -> str:
    """The command that appends ``entry`` to ``.gitignore`` (printf's leading
    newline keeps a file without a final one whole)."""
    return f"printf '\\n%s\\n' {quote(entry)} >> .gitignore"


def _finding(path: str, count: int, ignore_it: bool = True) -> Finding:
    files = "1 file" if count == 1 else f"{count} files"
    is_file = path.endswith(".wandb") or ".wandb." in path.rsplit("/", 1)[-1]
    ignore = path if is_file else path + "/"
    fix = f"git rm -r -q --cached -- {quote(path)}"
    if ignore_it:  # not when .gitignore covers it already (git add -f)
        fix += " && " + ignore_fix("/" + ignore)
    message = f"W&B run data is staged ({files}); runs belong in W&B, not in git"
    return Finding(CHECK, "block", path, message, fix)
