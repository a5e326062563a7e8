"""Helpers for the end-to-end tests: install paths, snapshots, a copy of ragguard.

The pre-commit framework installs hooks from a git repository, so the tests
copy this checkout's working tree (uncommitted work included) into a
temporary repository and commit it there. pre-commit then builds its own
virtualenv and pip-installs ragguard into it, non-editable; that takes a
while, so it happens once per session (see ``pre_commit_source`` in
conftest.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parent.parent
_NEVER_COPIED = shutil.ignore_patterns(
    "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "*.egg-info"
)
# Left out at the top of the checkout only: a package may have a folder so named.
_TOP_NOT_COPIED = {".git", ".venv", "build", "dist", ".hypothesis", "wandb"}


def _not_copied(folder: str, names: list[str]) -> set[str]:
    skipped = set(_NEVER_COPIED(folder, names))
    if Path(folder) == CHECKOUT:
        skipped |= _TOP_NOT_COPIED & set(names)
    if Path(folder) == CHECKOUT / "bench":
        skipped |= {"out"} & set(names)
    return skipped


def run(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command, never raising: the tests assert on its outcome."""
    return subprocess.run(
        list(args),
        cwd=cwd,
        env=None if env is None else dict(env),
        input=input,
        capture_output=True,
        text=True,
        timeout=600,
    )


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> Output:
    """Run real git in ``cwd``, never raising: its code and all it printed."""
    return Output.of(run(cwd, "git", *args, env=env))


def fresh_repo(
    request: pytest.FixtureRequest,
    base: Path,
    install_path: str,
    *,
    object_format: str = "sha1",
) -> tuple[Path, Path]:
    """An empty repository (unborn HEAD) with ragguard set up through
    ``install_path``, and a bare remote of the same object format."""
    work, origin = base / "work", base / "origin.git"
    fmt = f"--object-format={object_format}"
    for args in ((str(work),), ("--bare", str(origin))):
        made = git(base, "init", "-q", fmt, *args)
        assert made.code == 0, made.text
    set_up_ragguard(request, work, install_path)
    return work, origin


def copy_checkout(dest: Path) -> Path:
    """Copy this checkout's working tree, as it is now, to ``dest``."""
    shutil.copytree(CHECKOUT, dest, symlinks=True, ignore=_not_copied)
    return dest


def commit_copy(dest: Path, env: Mapping[str, str]) -> str:
    """Make ``dest`` a repository with one commit and return that commit."""
    for args in (("init", "-q"), ("add", "-A"), ("commit", "-q", "-m", "Snapshot")):
        out = run(dest, "git", *args, env=env)
        assert out.returncode == 0, out.stderr
    return run(dest, "git", "rev-parse", "HEAD", env=env).stdout.strip()


@dataclass(frozen=True)
class PreCommitSource:
    """A committed copy of ragguard and the PRE_COMMIT_HOME that has built it."""

    repo: Path
    rev: str
    home: Path
    seconds_to_build: float


def warm_pre_commit(base: Path, env: Mapping[str, str]) -> PreCommitSource:
    """Build the session's pre-commit environment for a copy of ragguard."""
    import time

    source = copy_checkout(base / "ragguard-src")
    rev = commit_copy(source, env)
    home = base / "pre-commit-home"
    scratch = base / "warm"
    scratch.mkdir()
    assert run(scratch, "git", "init", "-q", env=env).returncode == 0
    (scratch / ".pre-commit-config.yaml").write_text(pre_commit_config(source, rev))
    warm_env = {**env, "PRE_COMMIT_HOME": str(home)}
    started = time.monotonic()
    out = run(
        scratch, sys.executable, "-m", "pre_commit", "install-hooks", env=warm_env
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return PreCommitSource(source, rev, home, time.monotonic() - started)


def pre_commit_config(repo: Path, rev: str) -> str:
    """The entry ``ragguard init`` prints, pointed at ``repo`` at ``rev``."""
    from ragguard.init import pre_commit_entry

    return pre_commit_entry(str(repo), rev)


def pre_commit_python(source: PreCommitSource) -> Path:
    """The interpreter of the virtualenv pre-commit built for ragguard."""
    (python,) = source.home.glob("repo*/py_env-*/bin/python")
    return python


# --- snapshots --------------------------------------------------------------


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    out = run(cwd, "git", *args, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _digest(path: Path) -> str:
    if path.is_symlink():
        return "-> " + os.readlink(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_files(top: Path, *, skip_git: bool = True) -> dict[str, str]:
    """Every file under ``top`` (``.git`` left out) with its content digest."""
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(top):
        if skip_git and ".git" in dirs:
            dirs.remove(".git")
        for name in files + [d for d in dirs if (Path(folder) / d).is_symlink()]:
            path = Path(folder) / name
            found[str(path.relative_to(top))] = _digest(path)
    return found


def run_folder_stats(top: Path) -> dict[str, tuple[int, int]]:
    """Size and modification time of every file in the run folders."""
    stats: dict[str, tuple[int, int]] = {}
    for folder, _dirs, files in os.walk(top / "wandb"):
        for name in files:
            info = (Path(folder) / name).lstat()
            stats[str(Path(folder, name).relative_to(top))] = (
                info.st_size,
                info.st_mtime_ns,
            )
    return stats


def snapshot(work: Path) -> dict[str, object]:
    """What a read-only hook must leave as it found it, in one comparable value.

    The index is compared by content (``ls-files -s``): git itself may rewrite
    the file's stat cache around a hook.
    """
    common = Path(
        _git(work, "rev-parse", "--path-format=absolute", "--git-common-dir").strip()
    )
    git_dir = Path(
        _git(work, "rev-parse", "--path-format=absolute", "--git-dir").strip()
    )
    return {
        "head": _git(work, "rev-parse", "--symbolic-full-name", "HEAD"),
        "head_oid": _git(work, "rev-parse", "HEAD"),
        "local_refs": _git(work, "for-each-ref", "refs/heads", "refs/tags"),
        "index": _git(work, "ls-files", "-s"),
        "config": (common / "config").read_bytes(),
        "worktree_config": sorted(p.name for p in git_dir.glob("config*")),
        "hooks": tree_files(common / "hooks", skip_git=False),
        "files": tree_files(work),
        "runs": run_folder_stats(work),
    }


def changed(before: Mapping[str, object], after: Mapping[str, object]) -> list[str]:
    """The snapshot keys whose values differ."""
    return [key for key in before if before[key] != after.get(key)]


# --- a RAG repository a newcomer has just cloned ----------------------------

TRAIN_PY = "retriever = 'tfidf'\nchunk_size = 256\n"
BM25_PY = "retriever = 'bm25'\nchunk_size = 512\n"
BM25_MESSAGE = "Try BM25 as the retriever with 512-token chunks"


@dataclass(frozen=True)
class Template:
    """A clone ``work`` of ``origin.git`` with a finished, unsynced offline run.

    ``work`` is on ``exp/bm25``, one commit ahead of ``main`` and never pushed;
    the run was made at that commit by the installed wandb, offline.
    """

    base: Path
    run_folder: str  # relative to work


def make_template(base: Path, env: Mapping[str, str]) -> Template:
    import wandbgen

    base.mkdir(parents=True, exist_ok=True)
    origin, seed, work = base / "origin.git", base / "seed", base / "work"
    _ok(base, env, "init", "-q", "--bare", str(origin))
    _ok(base, env, "init", "-q", str(seed))
    (seed / "README.md").write_text("# RAG experiments\n")
    (seed / "train.py").write_text(TRAIN_PY)
    (seed / ".gitignore").write_text("__pycache__/\n")
    _ok(seed, env, "add", "-A")
    _ok(seed, env, "commit", "-q", "-m", "Start the RAG experiment repository")
    _ok(seed, env, "push", "-q", str(origin), "main")
    _ok(base, env, "clone", "-q", str(origin), str(work))
    _ok(work, env, "switch", "-q", "-c", "exp/bm25")
    (work / "train.py").write_text(BM25_PY)
    _ok(work, env, "commit", "-q", "-am", BM25_MESSAGE)
    folder = wandbgen.write_run(
        work,
        project="rag",
        tags=["retriever:bm25"],
        config={"retriever": {"type": "bm25"}, "chunk_size": 512},
        summary={"recall@5": 0.71},
        env=env,
    )
    return Template(base, str(folder.relative_to(work)))


def _ok(cwd: Path, env: Mapping[str, str], *args: str) -> str:
    out = run(cwd, "git", *args, env=env)
    assert out.returncode == 0, f"git {' '.join(args)}: {out.stderr}"
    return out.stdout


def copy_template(template: Template, dest: Path) -> Path:
    """A private copy of the template's repositories; returns its ``work``."""
    shutil.copytree(template.base, dest, symlinks=True)
    work = dest / "work"
    origin = dest / "origin.git"
    _ok(work, os.environ, "remote", "set-url", "origin", str(origin))
    return work


def mark_synced(run_folder: Path) -> Path:
    """Leave the marker ``wandb sync`` leaves once it has uploaded a run.

    ``wandb sync`` needs a W&B server, which the tests do not have, so this
    writes what it writes: an empty ``run-<id>.wandb.synced`` beside the run's
    ``run-<id>.wandb`` (wandb 0.31; wandb/cli/beta_sync.py checks the same
    name).
    """
    (log,) = run_folder.glob("run-*.wandb")
    marker = log.with_name(log.name + ".synced")
    marker.write_bytes(b"")
    return marker


# --- a clone with ragguard set up one way or the other ----------------------

INSTALL_PATHS = ("direct", "pre-commit")
SETUP_FILES = (".gitignore", ".ragguard.yaml", ".pre-commit-config.yaml")


@dataclass(frozen=True)
class Clone:
    """A newcomer's clone with ragguard set up through ``install_path``."""

    work: Path
    origin: Path
    run_folder: Path
    install_path: str

    def git(self, *args: str, cwd: Path | None = None) -> Output:
        return Output.of(run(cwd or self.work, "git", *args))

    def ragguard(self, *args: str) -> Output:
        return Output.of(run(self.work, sys.executable, "-m", "ragguard", *args))

    def remote_branches(self) -> list[str]:
        out = run(self.origin, "git", "for-each-ref", "--format=%(refname:short)")
        return out.stdout.split()


@dataclass(frozen=True)
class Output:
    code: int
    text: str  # stdout and stderr: git hands hooks' output to stderr

    @classmethod
    def of(cls, done: subprocess.CompletedProcess[str]) -> Output:
        return cls(done.returncode, done.stdout + done.stderr)

    def fixes(self) -> list[str]:
        return [
            line.split("fix: ", 1)[1]
            for line in self.text.splitlines()
            if "fix: " in line
        ]


def set_up(
    request: pytest.FixtureRequest,
    template: Template,
    dest: Path,
    install_path: str,
) -> Clone:
    """Clone, ``ragguard init``, then install the hooks the chosen way."""
    work = copy_template(template, dest)
    set_up_ragguard(request, work, install_path)
    return Clone(work, dest / "origin.git", work / template.run_folder, install_path)


def set_up_ragguard(
    request: pytest.FixtureRequest, work: Path, install_path: str
) -> None:
    """``ragguard init``, then ``ragguard install`` or ``pre-commit install``."""
    ragguard = (sys.executable, "-m", "ragguard")
    if install_path == "direct":
        for command in ("init", "install"):
            done = run(work, *ragguard, command)
            assert done.returncode == 0, done.stdout + done.stderr
        return
    source: PreCommitSource = request.getfixturevalue("pre_commit_source")
    request.getfixturevalue("monkeypatch").setenv("PRE_COMMIT_HOME", str(source.home))
    init = ("init", "--pre-commit", "--repo", str(source.repo), "--rev", source.rev)
    done = run(work, *ragguard, *init)
    assert done.returncode == 0, done.stdout + done.stderr
    done = run(work, sys.executable, "-m", "pre_commit", "install")
    assert done.returncode == 0, done.stdout + done.stderr


def commit_setup(clone: Clone) -> None:
    """Commit what ``ragguard init`` wrote; the hooks let it through."""
    clone.git("add", "-A")
    done = clone.git("commit", "-m", "Set up ragguard for the BM25 experiment")
    assert done.code == 0, done.text


def document(clone: Clone, branch: str) -> None:
    doc = clone.work / "docs" / "branches" / f"{branch}.md"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(
        f"# {branch}\n\n## Hypothesis\n\nBM25 with 512-token chunks retrieves "
        "better passages than TF-IDF for our FAQ questions.\n\n## Result\n\n"
        "recall@5 rose from 0.64 to 0.71 on the dev set.\n"
    )
    clone.git("add", str(doc.relative_to(clone.work)))
    done = clone.git("commit", "-m", f"Document the {branch} experiment")
    assert done.code == 0, done.text
