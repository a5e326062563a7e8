"""The run index's cache: one JSON file per set of roots, replaced atomically.

Entries are keyed by run-folder path and are valid while the log's size and
modification time are unchanged. Two hooks running at once each write a
complete file with ``os.replace``; the last one wins and neither corrupts it.
A cache that cannot be read or written is ignored: it only saves time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

VERSION = 5  # bump when Segment's fields or meaning change


def cache_file(cache_dir: Path, roots: Sequence[Path]) -> Path:
    """The file caching ``roots``; different root sets never prune each other."""
    digest = hashlib.sha1("\0".join(sorted(map(str, roots))).encode()).hexdigest()
    return cache_dir / f"runs-{digest[:16]}.json"


def load(path: Path) -> dict[str, dict[str, Any]]:
    try:
        with open(path, "rb") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return {}
    entries = data.get("entries")
    return entries if isinstance(entries, dict) else {}


def store(path: Path, entries: dict[str, dict[str, Any]]) -> None:
    """Write ``entries`` to ``path`` atomically; log and carry on when it fails."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".runs-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"version": VERSION, "entries": entries}, handle)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except (OSError, TypeError, ValueError) as error:
        log.debug("run cache not written to %s: %s", path, error)


def default_cache_dir(start: Path) -> Path:
    """``<git common dir>/ragguard`` for ``start``'s repository, else the XDG cache.

    The common dir is found by reading ``.git`` files directly (no git child
    process) so that worktrees of one repository share one cache.
    """
    common = git_common_dir(start)
    if common is not None:
        return common / "ragguard"
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(xdg) / "ragguard"


def git_common_dir(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        dot_git = folder / ".git"
        if dot_git.is_dir():
            return _common_of(dot_git)
        if dot_git.is_file():
            try:
                line = dot_git.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeError):
                return None
            if line.startswith("gitdir:"):
                git_dir = (folder / line[len("gitdir:") :].strip()).resolve()
                return _common_of(git_dir)
            return None
    return None


def _common_of(git_dir: Path) -> Path:
    try:
        pointer = (git_dir / "commondir").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeError):
        return git_dir
    return (git_dir / pointer).resolve()
