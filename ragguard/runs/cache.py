"""The run index's cache: one file per set of roots, replaced atomically.

Entries are keyed by run-folder path and are valid while the log's size and
modification time are unchanged. Two hooks running at once each write a
complete file with ``os.replace``; the last one wins and neither corrupts it.
A cache that cannot be read or written is ignored: it only saves time.

The format is :mod:`marshal` (plain dicts, lists, tuples, strings and numbers
only) after a CRC-32 of it: it loads five times faster than JSON, which
matters on the warm path of every hook, and the checksum keeps a damaged file
from being read as facts (marshal loads most flipped bits without complaint).
Its format depends on the Python version, which is therefore part of the file
name; the file is ragguard's own, under the repository's ``.git``.
"""

from __future__ import annotations

import logging
import marshal
import os
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

VERSION = 13  # bump when Segment's fields or meaning change
_PYTHON = f"py{sys.version_info[0]}{sys.version_info[1]}"


def cache_file(cache_dir: Path, roots: Sequence[Path]) -> Path:
    """The file caching ``roots``; different root sets never prune each other."""
    key = "\0".join(sorted(map(str, roots))).encode("utf-8", "surrogateescape")
    digest = f"{zlib.crc32(key):08x}{zlib.adler32(key):08x}"
    return cache_dir / f"runs-{digest}-{_PYTHON}.marshal"


def load(path: Path, schema: Any) -> dict[str, Any]:
    """The entries stored at ``path`` for ``schema``, or none when unusable."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
        if len(raw) < 4 or int.from_bytes(raw[:4], "little") != zlib.crc32(raw[4:]):
            return {}  # damaged: marshal would load a flipped bit as a fact
        data = marshal.loads(raw[4:])
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    if not isinstance(data, dict) or data.get("version") != (VERSION, schema):
        return {}
    entries = data.get("entries")
    if not isinstance(entries, dict):
        return {}
    # Keep only entries of the shape the index stores: (signature, deep, row).
    return {
        folder: entry
        for folder, entry in entries.items()
        if isinstance(folder, str)
        and isinstance(entry, tuple)
        and len(entry) == 3
        and isinstance(entry[0], tuple)
        and isinstance(entry[1], bool)
        and isinstance(entry[2], tuple)
    }


def store(path: Path, schema: Any, entries: dict[str, Any]) -> None:
    """Write ``entries`` to ``path`` atomically; log and carry on when it fails."""
    from ragguard.atomic import write_atomic

    try:
        data = marshal.dumps({"version": (VERSION, schema), "entries": entries})
        write_atomic(path, zlib.crc32(data).to_bytes(4, "little") + data)
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
