"""Directly installed hooks as users meet them (issue 8): a GUI client's bare
PATH, a vanished interpreter, files and paths from Windows, start-up cost,
``RAGGUARD_DEBUG``, and a policy file that does not load.

Every test drives real git through the real shims (one through the
pre-commit framework's hooks instead); most pin this test run's interpreter,
so the real ``ragguard hook`` runs.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git
from ragguard.cli import main
from ragguard.install import CHAINED_SUFFIX, HOOK_TYPES, install, shim_text

REINSTALL = "reinstall ragguard and run 'ragguard install'"
BLOCKING = ("pre-commit", "commit-msg", "pre-push", "pre-merge-commit")
AFTER_THE_FACT = ("post-checkout", "post-merge")
# Heavy modules no commit or checkout may pay for (about half a second each).
HEAVY = ("wandb", "git", "numpy", "pandas", "google.protobuf", "pydantic")


def _hooks(repo: Path) -> Path:
    return repo / ".git" / "hooks"


def _gui_env(**extra: str) -> dict[str, str]:
    """The environment of a GUI client: PATH holds git and the system only."""
    git_dir = os.path.dirname(shutil.which("git") or "/usr/bin/git")
    path = os.pathsep.join(dict.fromkeys([git_dir, "/usr/bin", "/bin"]))
    return {**os.environ, "PATH": path, **extra}


def _run_git(
    repo: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True
    )


def _stage_run_file(repo: Path) -> None:
    """Force a W&B log into the index: staged-runs must block it."""
    log = repo / "wandb" / "offline-run-20260101_120000-abc123" / "run-abc123.wandb"
    log.parent.mkdir(parents=True)
    log.write_bytes(b":W&B\xe1\xbe\x00")
    git(repo, "add", "-f", str(log.relative_to(repo)))


# --- 17: a GUI client's PATH, an interpreter that is gone ---------------------


def test_a_bare_gui_path_still_runs_the_pinned_interpreter(repo: Path) -> None:
    install(repo)
    env = _gui_env()
    assert shutil.which("ragguard", path=env["PATH"]) is None
    assert os.path.dirname(sys.executable) not in env["PATH"].split(os.pathsep)

    (repo / "notes.md").write_text("BM25 beats dense on product codes\n")
    git(repo, "add", "notes.md")
    passed = _run_git(repo, "commit", "-m", "Note why BM25 wins on codes", env=env)
    _stage_run_file(repo)
    blocked = _run_git(repo, "commit", "-m", "Commit the run log too", env=env)

    assert passed.returncode == 0, passed.stderr
    assert "ragguard pre-commit: ok" in passed.stderr
    assert "ragguard commit-msg: ok" in passed.stderr
    assert blocked.returncode == 1
    assert "[staged-runs]" in blocked.stderr


def _side_branch(repo: Path) -> None:
    """A branch ``side`` and a diverging commit on ``main``, to merge."""
    git(repo, "switch", "-q", "-c", "side")
    git(repo, "commit", "-q", "--allow-empty", "-m", "Try a larger chunk size")
    git(repo, "switch", "-q", "main")
    git(repo, "commit", "-q", "--allow-empty", "-m", "Record the dense baseline")


def _prepare(repo: Path, hook: str) -> None:
    """Make what the command that runs ``hook`` needs: a commit or a branch."""
    if hook == "pre-push":
        git(repo, "commit", "-q", "--allow-empty", "-m", "Tune chunk overlap")
    elif hook in ("pre-merge-commit", "post-merge"):
        _side_branch(repo)


def _trigger(repo: Path, hook: str) -> subprocess.CompletedProcess[str]:
    """Make git run ``hook`` once, the way a user would."""
    if hook in ("pre-commit", "commit-msg"):
        return _run_git(repo, "commit", "--allow-empty", "-m", "Tune chunk overlap")
    if hook == "pre-push":
        return _run_git(repo, "push", "origin", "main")
    if hook == "post-checkout":
        return _run_git(repo, "switch", "-c", "exp/dense")
    return _run_git(
        repo, "merge", "--no-ff", "-m", "Merge the chunk size trial", "side"
    )


def _snapshot(repo: Path) -> tuple[str, str]:
    origin = repo.parent / "origin.git"
    return (
        git(repo, "rev-parse", "HEAD").stdout,
        git(origin, "rev-parse", "main").stdout,
    )


@pytest.mark.parametrize("hook", HOOK_TYPES)
def test_a_vanished_interpreter_is_never_skipped_silently(
    repo: Path, tmp_path: Path, hook: str
) -> None:
    gone = tmp_path / "old venv" / "bin" / "python"
    install(repo, [hook], python=str(gone))
    _prepare(repo, hook)
    before = _snapshot(repo)

    out = _trigger(repo, hook)

    said = f"ragguard: cannot run the {hook} hook: {gone} no longer exists."
    assert said in out.stderr
    assert REINSTALL in out.stderr
    if hook in BLOCKING:
        assert out.returncode != 0
        assert _snapshot(repo) == before  # no commit, no merge, nothing pushed
    else:
        assert out.returncode == 0  # git cannot undo it: say so, never fail it


@pytest.fixture
def bare_venv(tmp_path: Path) -> Path:
    """An interpreter that exists but has no ragguard (a venv rebuilt without it)."""
    venv = tmp_path / "rebuilt venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True
    )
    return venv / "bin" / "python"


@pytest.mark.parametrize("hook", HOOK_TYPES)
def test_ragguard_gone_from_the_interpreter_says_how_to_reinstall(
    repo: Path, bare_venv: Path, hook: str
) -> None:
    """Every shim has its own copy of the check: each is run."""
    install(repo, [hook], python=str(bare_venv))
    _prepare(repo, hook)
    before = _snapshot(repo)

    out = _trigger(repo, hook)

    assert f"ragguard: cannot run the {hook} hook: " in out.stderr
    assert REINSTALL in out.stderr
    if hook in BLOCKING:
        assert f"ragguard is no longer installed for {bare_venv}." in out.stderr
        assert out.returncode == 1
        assert _snapshot(repo) == before  # no commit, no merge, nothing pushed
    else:
        assert f"{bare_venv} exited with 1." in out.stderr
        assert out.returncode == 0  # git cannot undo it: say so, never fail it


# --- 18: Windows line endings and Windows interpreter paths -------------------

WINDOWS_DIR = 'C:\\Users\\Ana María\\My "Envs"\\rag\'s $HOME `id` venv\\Scripts'
LOGGING_PYTHON = """#!/bin/sh
echo "ran $*" >>"$HOOK_LOG"
"""


def test_shims_are_lf_and_quote_a_windows_interpreter_path(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Backslashes, a quote, ``$`` and backticks are all legal in a Linux
    file name: the pinned path must reach sh as it is, from every shim."""
    python = tmp_path / WINDOWS_DIR / "python.exe"
    python.parent.mkdir(parents=True)
    python.write_text(LOGGING_PYTHON)
    python.chmod(0o755)
    log = tmp_path / "hook.log"
    monkeypatch.setenv("HOOK_LOG", str(log))

    install(repo, python=str(python))
    git(repo, "commit", "-q", "--allow-empty", "-m", "Tune the retriever's k to 8")
    _side_branch(repo)  # post-checkout
    git(repo, "merge", "--no-ff", "-q", "-m", "Merge the chunk size trial", "side")
    git(repo, "push", "-q", "origin", "main")

    for hook in HOOK_TYPES:
        assert b"\r" not in (_hooks(repo) / hook).read_bytes()
    ran = log.read_text().splitlines()
    assert ran[0] == "ran -P -m ragguard hook pre-commit"
    assert {line.split()[5] for line in ran} == set(HOOK_TYPES)


def test_a_shim_saved_with_windows_line_endings_is_rewritten(repo: Path) -> None:
    install(repo, ["pre-commit"])
    shim = _hooks(repo) / "pre-commit"
    shim.write_bytes(shim.read_bytes().replace(b"\n", b"\r\n"))

    (change,) = install(repo, ["pre-commit"])

    assert change.action == "updated"
    assert b"\r" not in shim.read_bytes()
    out = _run_git(repo, "commit", "--allow-empty", "-m", "Tune the retriever's k")
    assert out.returncode == 0, out.stderr


def test_templates_checked_out_with_crlf_still_give_lf_shims(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Windows checkout with core.autocrlf writes the templates with CRLF."""
    import ragguard.install

    crlf = tmp_path / "templates"
    crlf.mkdir()
    for hook in HOOK_TYPES:
        lf = (ragguard.install.templates_dir() / hook).read_bytes()
        (crlf / hook).write_bytes(lf.replace(b"\n", b"\r\n"))
    monkeypatch.setattr(ragguard.install, "templates_dir", lambda: crlf)

    for hook in HOOK_TYPES:
        assert "\r" not in shim_text(hook, "C:\\Python311\\python.exe")


CRLF_HOOK = b'#!/bin/sh\r\necho "kept hook ran" >&2\r\nexit 0\r\n'


def test_a_kept_hook_with_windows_line_endings_is_reported(repo: Path) -> None:
    kept = _hooks(repo) / "pre-commit"
    kept.write_bytes(CRLF_HOOK)
    kept.chmod(0o755)

    (change,) = install(repo, ["pre-commit"])
    blocked = _run_git(repo, "commit", "--allow-empty", "-m", "Tune chunk overlap")

    chained = _hooks(repo) / ("pre-commit" + CHAINED_SUFFIX)
    assert chained.read_bytes() == CRLF_HOOK  # never rewritten behind the user
    fix = f"perl -pi -e 's/\\r$//' {chained}"
    assert "it has Windows line endings (CRLF), so it cannot run" in change.note
    assert change.note.endswith(fix)
    assert blocked.returncode != 0
    assert "has Windows line endings (CRLF), so it cannot run; convert it" in (
        blocked.stderr
    )
    subprocess.run(fix, shell=True, check=True)
    passed = _run_git(repo, "commit", "--allow-empty", "-m", "Tune chunk overlap")
    assert passed.returncode == 0, passed.stderr
    assert "kept hook ran" in passed.stderr


# --- 20: nothing heavy on commit or checkout; RAGGUARD_DEBUG timings -----------


def _imported(stderr: str) -> set[str]:
    """Modules named by ``-X importtime`` (PYTHONPROFILEIMPORTTIME) output."""
    found = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", stderr, re.M)
    return set(found)


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY)


# Cold cache, then warm: every hook on the commit, checkout and merge paths.
LIGHT_STEPS = (
    ("switch", "exp/bm25"),  # post-checkout: reads every run (cold cache)
    ("switch", "main"),  # warm cache
    ("switch", "-c", "exp/chunks"),
    ("commit", "--allow-empty", "-m", "Try chunks of 384 tokens"),
    ("switch", "main"),
    ("commit", "--allow-empty", "-m", "Record the dense baseline again"),
    ("merge", "--no-ff", "-m", "Merge the chunk size trial", "exp/chunks"),
)


def _modules_on_every_step(work: Path) -> set[str]:
    """What the hooks of each step imported; none of it heavy."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    seen: set[str] = set()
    for step in LIGHT_STEPS:
        out = _run_git(work, *step, env=env)
        assert out.returncode == 0, (step, out.stdout, out.stderr[-2000:])
        modules = _imported(out.stdout + "\n" + out.stderr)
        assert "ragguard.hooks" in modules, step  # the hook really ran
        assert _heavy(modules) == [], step
        seen |= modules
    assert {"ragguard.runs.index", "ragguard.runs.logfile"} <= seen  # runs read
    return seen


def test_commit_checkout_and_merge_hooks_import_nothing_heavy(work: Path) -> None:
    """A repository with real runs and a policy: cold cache, then warm."""
    install(work)
    assert "ragguard.cli" not in _modules_on_every_step(work)  # the fast path


def test_the_pre_commit_frameworks_hooks_import_nothing_heavy(
    request: pytest.FixtureRequest, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The framework runs ``ragguard hook STAGE`` (the click CLI) in a
    virtualenv of its own, not the shims' ``python -m ragguard``: its
    hooks must not pay for wandb either."""
    from e2e_support import pre_commit_config

    source = request.getfixturevalue("pre_commit_source")
    monkeypatch.setenv("PRE_COMMIT_HOME", str(source.home))
    config = work / ".pre-commit-config.yaml"
    config.write_text(pre_commit_config(str(source.repo), source.rev))
    with (work / ".git" / "info" / "exclude").open("a") as exclude:
        exclude.write(f"/{config.name}\n")  # there on every branch, untracked
    done = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"],
        cwd=work,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ragguard.cli" in _modules_on_every_step(work)


def test_debug_says_how_long_each_check_took_on_the_shims_fast_path(
    repo: Path,
) -> None:
    install(repo, ["pre-commit", "commit-msg"])
    env = {**os.environ, "RAGGUARD_DEBUG": "1"}

    out = _run_git(repo, "commit", "--allow-empty", "-m", "Tune chunk overlap", env=env)

    assert out.returncode == 0, out.stderr
    assert re.search(r"pre-commit: check staged-runs took \d+\.\d ms", out.stderr)
    assert re.search(r"commit-msg: check commit-msg took \d+\.\d ms", out.stderr)
    assert re.search(r"hook pre-commit took \d+\.\d ms", out.stderr)
    assert "ragguard DEBUG ragguard: ragguard " in out.stderr  # the versions
    quiet = _run_git(repo, "commit", "--allow-empty", "-m", "Tune chunk overlap")
    assert " took " not in quiet.stderr


def test_debug_timings_through_the_console_script(repo: Path) -> None:
    """The pre-commit framework runs ``ragguard hook STAGE`` (the click CLI)."""
    script = Path(sys.executable).with_name("ragguard")
    for env in ({"RAGGUARD_DEBUG": "1"}, {}):
        args = [str(script), "hook", "pre-commit"]
        if not env:
            args.insert(1, "--debug")
        out = subprocess.run(
            args, cwd=repo, env={**os.environ, **env}, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        assert re.search(r"pre-commit: check staged-runs took \d+\.\d ms", out.stderr)
        assert re.search(r"hook pre-commit took \d+\.\d ms", out.stderr)


# --- a policy that does not load blocks, it never disables the guard ---------

BAD_POLICIES = {
    "syntax": ("wandb:\n  dirs: [wandb\n", 3, "that starts on line 2"),
    "tab": ("wandb:\n\tdirs: [wandb]\n", 2, "YAML does not allow tabs"),
    "unknown key": ("wandb:\n  dirz: [wandb]\n", 2, "did you mean 'dirs'?"),
    "wrong type": ("commit_msg:\n  min_words: many\n", 2, "whole number"),
    "bad glob": (
        "branches:\n  protected: ['release/[0-9']\n",
        2,
        "opens a character class that is never closed",
    ),
    "bad duration": ("wandb:\n  stale_after: 15 minutes\n", 2, "positive duration"),
}


@pytest.mark.parametrize("kind", BAD_POLICIES)
def test_a_policy_that_fails_to_load_blocks_commit_and_push(
    repo: Path, kind: str
) -> None:
    text, line, words = BAD_POLICIES[kind]
    (repo / ".ragguard.yaml").write_text(text)
    install(repo)
    said = re.compile(rf"ragguard: \.ragguard\.yaml:{line}: [^\n]*{re.escape(words)}")
    before = _snapshot(repo)

    commit = _run_git(repo, "commit", "--allow-empty", "-m", "Tune chunk overlap")
    git(repo, "commit", "-q", "--no-verify", "--allow-empty", "-m", "Skip the hooks")
    push = _run_git(repo, "push", "origin", "main")
    switch = _run_git(repo, "switch", "-c", "exp/dense")

    assert commit.returncode != 0, commit.stderr
    assert said.search(commit.stderr), commit.stderr
    assert push.returncode != 0
    assert said.search(push.stderr), push.stderr
    assert _snapshot(repo)[1] == before[1]  # nothing reached the remote
    assert switch.returncode == 0  # a checkout cannot be undone: it only says so
    assert re.search(rf"\.ragguard\.yaml:{line}: ", switch.stderr)


def test_a_policy_that_fails_to_load_blocks_through_the_console_script(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / ".ragguard.yaml").write_text("wandb:\n  stale_after: soon\n")
    monkeypatch.chdir(repo)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    assert main(["hook", "pre-commit"]) == 3
    assert main(["hook", "pre-push", "origin", "url"]) == 3
    err = capsys.readouterr().err
    assert err.count("ragguard: .ragguard.yaml:2: wandb.stale_after must be") == 2
