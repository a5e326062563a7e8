"""``--debug`` and ``RAGGUARD_DEBUG=1``: verbose logging, how long each check
took, and the versions that matter for a bug report.

The variable is how a hook asks for it: git runs hooks with fixed arguments,
and the pre-commit framework's ``args`` are fixed in the manifest.
"""

from __future__ import annotations

import logging
import os
import platform
import subprocess
from collections.abc import Mapping
from importlib import metadata

from ragguard import __version__

log = logging.getLogger("ragguard")
_ENABLED: list[bool] = []  # set once diagnostics are on


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


def debug_requested(env: Mapping[str, str] | None = None) -> bool:
    """Whether ``RAGGUARD_DEBUG`` asks for diagnostics (``0``, ``false``,
    ``no`` and empty do not)."""
    value = (os.environ if env is None else env).get("RAGGUARD_DEBUG", "")
    return value.strip().lower() not in ("", "0", "false", "no", "off")


def enable_debug() -> None:
    """Log diagnostics to stderr, once, starting with the versions."""
    if _ENABLED:
        return
    _ENABLED.append(True)
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


def debug_from_env() -> None:
    """Turn diagnostics on when ``RAGGUARD_DEBUG`` asks for them."""
    if debug_requested():
        enable_debug()
