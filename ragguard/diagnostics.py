"""``--debug``: verbose logging and the versions that matter for a bug report."""

from __future__ import annotations

import logging
import platform
import subprocess
from importlib import metadata

from ragguard import __version__

log = logging.getLogger("ragguard")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git_version() -> str:
    try:
        out = subprocess.run(
            ["git", "--version"], capture_output=True, text=True, check=False
        )
    except OSError:
        return "not found"
    return out.stdout.strip() or "unknown"


def enable_debug() -> None:
    logging.basicConfig(
        level=logging.DEBUG, format="ragguard %(levelname)s %(name)s: %(message)s"
    )
    log.debug(
        "ragguard %s, %s, wandb %s, Python %s",
        __version__,
        _git_version(),
        _version("wandb"),
        platform.python_version(),
    )
