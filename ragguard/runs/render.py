"""``ragguard runs``: choose the roots, load the index, print a table or JSON."""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ragguard.errors import BadInputError, NotARepoError
from ragguard.runs import cache
from ragguard.runs.index import (
    Search,
    filter_runs,
    load_runs,
    run_to_json,
    search,
)
from ragguard.runs.model import Run

# A full SHA-1 is 40 hex digits, SHA-256 64; git wants at least 4.
_COMMIT = re.compile(r"[0-9a-fA-F]{4,64}")

PARTIAL_NOTE = (
    "* read from the head and tail of the log only: config updates made "
    "mid-run may be missing (--deep reads everything)"
)


@dataclass(frozen=True)
class RunsQuery:
    """What ``ragguard runs`` was asked for, as plain values."""

    dirs: Sequence[str] = ()
    states: Sequence[str] = ()
    syncs: Sequence[str] = ()
    commit: str | None = None
    deep: bool = False
    stale_after: float | None = None
    use_cache: bool = True


def runs_command(query: RunsQuery, *, as_json: bool, cwd: Path, out: TextIO) -> int:
    runs, found = find_runs(query, cwd)
    if as_json:
        out.write(runs_json(runs))
        if found and found.unseen:  # JSON stays parseable: the note goes aside
            sys.stderr.write("".join(f"not checked: {u}\n" for u in found.unseen))
    else:
        out.write(render_table(runs, now=time.time(), found=found))
    return 0


def runs_json(runs: Sequence[Run]) -> str:
    """A JSON array, one run per line: greppable, and json's C encoder is used
    (``indent`` would switch to its pure-Python one, ten times slower)."""
    if not runs:
        return "[]\n"
    encode = json.JSONEncoder(default=str).encode
    lines = ",\n".join(encode(run_to_json(run)) for run in runs)
    return f"[\n{lines}\n]\n"


def query_runs(query: RunsQuery, cwd: Path) -> list[Run]:
    """Load the runs ``query`` names: ``--dir`` folders, or the repository's roots."""
    return find_runs(query, cwd)[0]


def find_runs(query: RunsQuery, cwd: Path) -> tuple[list[Run], Search | None]:
    """The runs ``query`` names, and where they were looked for (``None`` for
    ``--dir``, where the user named the folders)."""
    check_query(query)
    repo_root = find_worktree(cwd)
    stale_after = query.stale_after
    found = None
    if query.dirs:
        roots = [_existing_dir(d, cwd) for d in query.dirs]
        cache_dir = cache.default_cache_dir(roots[0].resolve())
    elif repo_root is None:
        raise NotARepoError(
            "not inside a git repository; run this in one or give --dir PATH."
        )
    else:
        from ragguard.config import load_policy

        policy = load_policy(repo_root)
        found = search(repo_root, policy.wandb.dirs)
        roots = list(found.roots)
        cache_dir = cache.default_cache_dir(repo_root)
        if stale_after is None:
            stale_after = policy.wandb.stale_after
    runs = load_runs(
        roots,
        cache_dir=cache_dir if query.use_cache else None,
        stale_after=900.0 if stale_after is None else stale_after,
        deep=query.deep,
    )
    chosen = filter_runs(
        runs, states=query.states, syncs=query.syncs, commit=query.commit
    )
    return chosen, found


def check_query(query: RunsQuery) -> None:
    """Refuse option values that would silently match nothing or mean nothing."""
    stale = query.stale_after
    # 0 is allowed: "every run without an exit record is crashed, unless its
    # process is alive" (the tests and scripts rely on it).
    if stale is not None and not (math.isfinite(stale) and stale >= 0):
        raise BadInputError(
            f"--stale-after {stale:g}: give a number of seconds, 0 or more."
        )
    if query.commit is not None and not _COMMIT.fullmatch(query.commit):
        raise BadInputError(
            f"--commit {query.commit!r}: give a commit id or a prefix of it, "
            "4 to 64 hexadecimal digits."
        )


def find_worktree(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding ``.git`` (no git process)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if os.path.exists(folder / ".git"):
            return folder
    return None


def _existing_dir(value: str, cwd: Path) -> Path:
    path = Path(value) if os.path.isabs(value) else cwd / value
    if path.is_dir():
        return path
    if path.exists():  # a file, or a link to one
        raise BadInputError(f"--dir {value}: is not a folder; give the folder of runs.")
    raise BadInputError(f"--dir {value}: no such folder.")


# --- the table ------------------------------------------------------------------

_COLUMNS = ("ID", "NAME", "STATE", "SYNC", "COMMIT", "TAGS", "METRICS", "AGE")
_WIDTH = {"ID": 20, "NAME": 24, "TAGS": 24, "METRICS": 40}


def render_table(
    runs: Sequence[Run], *, now: float, found: Search | None = None
) -> str:
    """Runs as aligned text columns, newest first; plain ASCII, no colour.
    With ``found``, where runs were looked for and where they were not."""
    where = [] if found is None else [f"searched: {', '.join(found.places)}"]
    where += [f"not checked: {u}" for u in (found.unseen if found else ())]
    if not runs:
        return "\n".join(["no runs found", *where]) + "\n"
    rows = [_row(run, now) for run in runs]
    widths = [
        min(max(len(row[i]) for row in [_COLUMNS, *rows]), _WIDTH.get(col, 99))
        for i, col in enumerate(_COLUMNS)
    ]
    lines = [
        "  ".join(_cell(v, w) for v, w in zip(row, widths, strict=True)).rstrip()
        for row in [_COLUMNS, *rows]
    ]
    if any(run.partial for run in runs):
        lines.append(PARTIAL_NOTE)
    return "\n".join(lines + where) + "\n"


def _row(run: Run, now: float) -> tuple[str, ...]:
    return (
        run.id,
        run.name or "-",
        run.state + ("*" if run.partial else ""),
        run.sync,
        (run.commit or "-")[:7],
        ",".join(run.tags) or "-",
        summary_metrics(run.summary) or "-",
        age(run.started_at, now),
    )


def _cell(value: str, width: int) -> str:
    value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if len(value) > width:
        value = value[: width - 1] + "~"
    return value.ljust(width)


def summary_metrics(summary: Mapping[str, Any], limit: int = 3) -> str:
    """The first few numeric, user-logged summary values as ``key=value``, by
    key name so that every row lists them in the same order."""
    shown = []
    for key, value in sorted(summary.items()):
        if key.startswith("_") or isinstance(value, bool):
            continue
        if isinstance(value, int | float) and math.isfinite(value):
            shown.append(f"{key}={value:.4g}")
        if len(shown) == limit:
            break
    return " ".join(shown)


def age(started_at: float | None, now: float) -> str:
    if started_at is None:
        return "-"
    seconds = max(0.0, now - started_at)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
