"""Replace a file in one step: a reader sees the old content or the new one.

Caches, records under the git dir, branch docs and hook shims are all written
this way, so that two hooks running at once, or a crash halfway, never leave
half a file behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``data`` beside ``path``, then rename it over ``path``.

    ``mode`` sets the permission bits; by default they are mkstemp's (0600).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
