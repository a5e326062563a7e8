"""``ragguard install`` / ``ragguard uninstall``: git hook shims, written directly.

A shim is a small POSIX sh script from ``hooks/`` (shipped in the package as
``ragguard/hookshims``) with the absolute path of the interpreter ragguard runs
under written into it, because git runs hooks from IDEs and GUI clients with a
minimal PATH. Shims go into the hooks directory git really uses, which honours
``core.hooksPath`` and is shared by linked worktrees.

A hook that ragguard did not write is never overwritten: it is renamed to
``<hook>.ragguard-chained`` and the shim runs it after ragguard (see the shims
for the order). ``uninstall`` puts it back.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ragguard.errors import EnvironmentProblem, NotARepoError, RagguardError
from ragguard.hooktypes import HOOK_TYPES

SHIM_MARK = "# ragguard-shim"
CHAINED_SUFFIX = ".ragguard-chained"
_PYTHON_SLOT = "@PYTHON@"


@dataclass(frozen=True)
class HookChange:
    """What install or uninstall did to one hook; ``note`` is for the user."""

    hook: str
    path: Path
    action: str  # installed, updated, unchanged, removed, restored, kept, absent
    note: str = ""

    def line(self) -> str:
        text = f"{self.action:<9} {self.hook:<16} {self.path}"
        return f"{text}  ({self.note})" if self.note else text


def hooks_dir(cwd: Path) -> Path:
    """The directory git runs hooks from, for the repository at ``cwd``."""
    args = ["git", "rev-parse", "--path-format=absolute", "--git-path", "hooks"]
    try:
        out = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    except OSError as error:
        raise EnvironmentProblem(f"cannot run git: {error}.") from error
    if out.returncode != 0:
        raise NotARepoError(f"{cwd} is not inside a git repository.")
    path = Path(out.stdout.strip())
    if path.exists() and not path.is_dir():
        raise EnvironmentProblem(
            f"git's hooks path {path} is not a directory (core.hooksPath?); "
            "point core.hooksPath at a directory or unset it, then install again."
        )
    return path


def templates_dir() -> Path:
    """Where the shim templates are: in the package, or in a source checkout."""
    packaged = Path(__file__).resolve().parent / "hookshims"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "hooks").is_dir():
        return checkout / "hooks"
    raise EnvironmentProblem(
        f"ragguard's hook templates are missing from {packaged}; reinstall ragguard."
    )


def shim_text(hook: str, python: str) -> str:
    """The shim for ``hook`` that runs ragguard with the interpreter ``python``."""
    template = (templates_dir() / hook).read_text(encoding="utf-8")
    quoted = python.replace("'", "'\\''")  # the slot sits inside single quotes
    return template.replace(_PYTHON_SLOT, quoted)


def is_ours(path: Path) -> bool:
    """Whether the hook at ``path`` is a shim that ragguard wrote."""
    try:
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError:
        return False
    return SHIM_MARK.encode() in head


def current_python() -> str:
    """The interpreter to pin: this one, unresolved so a venv stays a venv."""
    if not sys.executable:
        raise EnvironmentProblem("cannot tell which Python runs ragguard.")
    return str(Path(sys.executable).absolute())


def _chosen(hook_types: Sequence[str]) -> tuple[str, ...]:
    unknown = [hook for hook in hook_types if hook not in HOOK_TYPES]
    if unknown:
        raise RagguardError(
            f"ragguard has no {unknown[0]} hook; it provides: {', '.join(HOOK_TYPES)}."
        )
    return tuple(dict.fromkeys(hook_types)) or HOOK_TYPES


def install(
    cwd: Path, hook_types: Sequence[str] = (), python: str | None = None
) -> list[HookChange]:
    """Write the shims for ``hook_types`` (all by default) and return what changed.

    Nothing is written when any hook cannot be installed safely.
    """
    hooks = _chosen(hook_types)
    directory = hooks_dir(cwd)
    for hook in hooks:
        _refuse_double_chain(directory, hook)
    directory.mkdir(parents=True, exist_ok=True)
    interpreter = python or current_python()
    return [_install_one(directory, hook, interpreter) for hook in hooks]


def _refuse_double_chain(directory: Path, hook: str) -> None:
    path = directory / hook
    chained = directory / (hook + CHAINED_SUFFIX)
    if _exists(path) and not is_ours(path) and _exists(chained):
        raise RagguardError(
            f"{path} was not written by ragguard and {chained.name} already exists; "
            "ragguard will not overwrite either. Merge them into one hook by hand, "
            "then run `ragguard install` again."
        )


def _install_one(directory: Path, hook: str, python: str) -> HookChange:
    path = directory / hook
    text = shim_text(hook, python)
    note = ""
    if _exists(path) and not is_ours(path):
        chained = path.with_name(hook + CHAINED_SUFFIX)
        os.replace(path, chained)
        note = f"the hook that was there runs after it, kept as {chained.name}"
        if _is_pre_commit_framework(chained):
            note += "; it is pre-commit's: if it runs ragguard too, drop one"
        if _has_crlf_first_line(chained):
            note += f"; {_CRLF_PROBLEM}: {crlf_fix(chained)}"
    elif _exists(path):
        # Bytes, not text: reading text would take a shim saved with Windows
        # line endings, which sh cannot run, for an unchanged one.
        if path.read_bytes() == text.encode("utf-8"):
            return HookChange(hook, path, "unchanged", _chain_note(path))
        _write_executable(path, text)
        return HookChange(hook, path, "updated", _chain_note(path))
    _write_executable(path, text)
    return HookChange(hook, path, "installed", note or _chain_note(path))


_CRLF_PROBLEM = "it has Windows line endings (CRLF), so it cannot run; convert it"


def crlf_fix(path: Path) -> str:
    """The command that converts the hook at ``path`` to LF line endings
    (perl, because BSD and GNU sed differ on ``-i`` and on ``\\r``)."""
    import shlex

    return f"perl -pi -e 's/\\r$//' {shlex.quote(str(path))}"


def _has_crlf_first_line(path: Path) -> bool:
    """Whether the hook's first line ends in CR: its ``#!`` line then names
    an interpreter that does not exist (``/bin/sh\\r``)."""
    try:
        with path.open("rb") as handle:
            return handle.readline(4096).endswith(b"\r\n")
    except OSError:
        return False


def _is_pre_commit_framework(path: Path) -> bool:
    try:
        return "generated by pre-commit" in path.read_text(errors="replace")[:2048]
    except OSError:
        return False


def _chain_note(path: Path) -> str:
    chained = path.with_name(path.name + CHAINED_SUFFIX)
    return f"chains {chained.name}" if _exists(chained) else ""


def _write_executable(path: Path, text: str) -> None:
    from ragguard.atomic import write_atomic

    write_atomic(path, text.encode("utf-8"), mode=0o755)  # never half a hook


def _exists(path: Path) -> bool:
    return os.path.lexists(path)


def uninstall(cwd: Path, hook_types: Sequence[str] = ()) -> list[HookChange]:
    """Remove ragguard's shims and restore the hooks they chained."""
    directory = hooks_dir(cwd)
    return [_uninstall_one(directory, hook) for hook in _chosen(hook_types)]


def _uninstall_one(directory: Path, hook: str) -> HookChange:
    path = directory / hook
    chained = directory / (hook + CHAINED_SUFFIX)
    if _exists(path) and not is_ours(path):
        note = "not written by ragguard, left alone"
        return HookChange(hook, path, "kept", note)
    removed = _exists(path)
    if removed:
        path.unlink()
    if _exists(chained):
        os.replace(chained, path)
        return HookChange(hook, path, "restored", f"from {chained.name}")
    return HookChange(hook, path, "removed" if removed else "absent")


def render(changes: Iterable[HookChange]) -> str:
    return "\n".join(change.line() for change in changes)
