"""Shared fixtures: an isolated HOME and git config, and real repositories."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import wandb_server

import ragworld
import wandbgen

# Variables git exports into hooks, and user settings that would leak in.
_SCRUB = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_PREFIX",
    "GIT_COMMON_DIR",
    "WANDB_DIR",
    "WANDB_API_KEY",
    "WANDB_ENTITY",
    "WANDB_PROJECT",
    "RAGGUARD_SKIP",
    "RAGGUARD_SKIP_REASON",
    "PRE_COMMIT_HOME",
    "SKIP",
)


def _made(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def isolated_env(home: Path) -> dict[str, str]:
    """The environment every test runs in: no user or system git config."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    gitconfig = home / ".gitconfig"
    if not gitconfig.exists():
        home.mkdir(parents=True, exist_ok=True)
        gitconfig.write_text(
            "[user]\n\tname = Test User\n\temail = test@example.com\n"
            "[init]\n\tdefaultBranch = main\n"
            "[advice]\n\tdetachedHead = false\n"
            '[protocol "file"]\n\tallow = always\n'
        )
    env.update(
        HOME=str(home),
        # wandb leaves media, artifact and socket files in the temp folder.
        TMPDIR=str(_made(home / "tmp")),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=str(gitconfig),
        GIT_AUTHOR_NAME="Test User",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Test User",
        GIT_COMMITTER_EMAIL="test@example.com",
        GIT_TERMINAL_PROMPT="0",
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        WANDB_CONSOLE="off",
        WANDB_DISABLE_GIT="false",
        PRE_COMMIT_HOME=str(home / ".cache" / "pre-commit"),
        NO_COLOR="1",
        LC_ALL="C.UTF-8",
    )
    return env


@contextlib.contextmanager
def isolated(home: Path) -> Iterator[None]:
    """The isolated environment for session-scoped fixtures, which cannot use
    the per-test ``monkeypatch``."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in isolated_env(home).items():
            patch.setenv(key, value)
        yield


@pytest.fixture(autouse=True)
def _isolate(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    home = tmp_path_factory.mktemp("home")
    env = isolated_env(home)
    for key in list(os.environ):
        if key not in env:
            monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield
    wandbgen.kill_running()


def git(
    cwd: Path, *args: str, check: bool = True, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run real git in ``cwd`` and return the completed process."""
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=check,
        capture_output=True,
        text=True,
        input=input,
    )


def make_repo(base: Path) -> Path:
    """``base/work``: one commit on ``main``, tracking a bare ``base/origin.git``."""
    origin = base / "origin.git"
    work = base / "work"
    git(base, "init", "--bare", "-q", str(origin))
    git(base, "init", "-q", str(work))
    (work / "README.md").write_text("# experiments\n")
    (work / ".gitignore").write_text("wandb/\n")
    git(work, "add", "README.md", ".gitignore")
    git(work, "commit", "-q", "-m", "Start the experiment repository")
    git(work, "remote", "add", "origin", str(origin))
    git(work, "push", "-q", "-u", "origin", "main")
    git(work, "remote", "set-head", "origin", "main")
    return work


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one commit on ``main`` and a bare ``origin`` it tracks."""
    return make_repo(tmp_path)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[wandb_server.Server]:
    """A real W&B-compatible server on loopback (openwandb), once per session."""
    if wandb_server.openwandb_executable() is None:
        pytest.skip("openwandb is not installed: pip install -e '.[test]'")
    base = tmp_path_factory.mktemp("openwandb")
    running = wandb_server.start(base, isolated_env(base / "home"))
    yield running
    wandb_server.stop(running.process)


# --- end-to-end: the pre-commit framework, built once per session -----------


@pytest.fixture(scope="session")
def pre_commit_source(tmp_path_factory: pytest.TempPathFactory) -> object:
    """A committed copy of this checkout that pre-commit has installed once.

    Returns an ``e2e_support.PreCommitSource``; tests point PRE_COMMIT_HOME at
    its ``home`` so that only the first test pays for pip.
    """
    from e2e_support import warm_pre_commit

    base = tmp_path_factory.mktemp("pre-commit-source")
    return warm_pre_commit(base, isolated_env(base / "home"))


@pytest.fixture(scope="session")
def rag_template(tmp_path_factory: pytest.TempPathFactory) -> object:
    """A cloned RAG repository with one real offline run (``e2e_support.Template``).

    Made once; tests take a private copy with ``e2e_support.copy_template``.
    """
    from e2e_support import make_template

    base = tmp_path_factory.mktemp("rag-template")
    env = isolated_env(tmp_path_factory.mktemp("template-home"))
    return make_template(base / "repos", env)


@pytest.fixture(params=["direct", "pre-commit"])
def install_path(request: pytest.FixtureRequest) -> str:
    """How ragguard is set up: ``ragguard install`` or ``pre-commit install``."""
    return str(request.param)


@pytest.fixture(params=["direct", "pre-commit"])
def clone(
    request: pytest.FixtureRequest, rag_template: object, tmp_path: Path
) -> object:
    """A newcomer's clone after ``ragguard init``, hooks installed directly or
    through the pre-commit framework (an ``e2e_support.Clone``)."""
    from e2e_support import Template, set_up

    assert isinstance(rag_template, Template)
    return set_up(request, rag_template, tmp_path / "repos", request.param)


# --- real W&B runs, written once per session (ragguard.runs' tests and others) --


@pytest.fixture(scope="session")
def sample_runs(tmp_path_factory: pytest.TempPathFactory) -> wandbgen.SampleRuns:
    """Real offline runs in a real repository: finished, failed, SIGKILLed
    mid-run, killed early (header only), resumed (two folders), a second
    project under ``experiments/wandb``, tags and nested config, a dirty tree
    with ``WANDB_SAVE_CODE=true``, and one marked synced. Treat as read-only:
    copy a folder before changing it."""
    base = tmp_path_factory.mktemp("sample-runs")
    return wandbgen.make_sample_runs(base, isolated_env(base / "home"))


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> ragworld.World:
    """A RAG repository with fixed run ids and commit dates, built once."""
    env = isolated_env(tmp_path_factory.mktemp("ragworld-home"))
    return ragworld.world(lambda: tmp_path_factory.mktemp("ragworld"), env)


@pytest.fixture
def work(world: ragworld.World, tmp_path: Path) -> Path:
    """A private copy of the ``world`` repository for one test."""
    return ragworld.copy(world, tmp_path / "w")


def run_ragguard(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m ragguard ARGS`` as a user would run it, in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "ragguard", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
