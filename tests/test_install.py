"""``ragguard install`` / ``uninstall`` and the sh shims, driven by real git.

Most tests pin a stand-in interpreter (a sh script that logs its arguments
and standard input) so that they test the shims and the installer alone; the
end-to-end tests (test_e2e_*.py) run the real ``ragguard hook``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import git
from e2e_support import copy_checkout
from ragguard.cli import main
from ragguard.errors import EnvironmentProblem, RagguardError
from ragguard.install import (
    CHAINED_SUFFIX,
    HOOK_TYPES,
    hooks_dir,
    install,
    is_ours,
    templates_dir,
    uninstall,
)

CHECKOUT = Path(__file__).resolve().parent.parent

FAKE_PYTHON = """#!/bin/sh
# Stands in for the pinned interpreter: logs what the shim passed it.
echo "ragguard $*" >>"$HOOK_LOG"
cat >>"$HOOK_LOG"
exit "${FAKE_EXIT:-0}"
"""
FOREIGN_HOOK = """#!/bin/sh
echo "foreign $*" >>"$HOOK_LOG"
cat >>"$HOOK_LOG"
exit "${FOREIGN_EXIT:-0}"
"""


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "hook.log"
    monkeypatch.setenv("HOOK_LOG", str(path))
    return path


def _script(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def fake_python(tmp_path: Path) -> Path:
    # A space and a quote in the path prove the shim quotes what it pins.
    return _script(tmp_path / "odd dir's" / "python", FAKE_PYTHON)


def _hooks(repo: Path) -> Path:
    return repo / ".git" / "hooks"


def _lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_installs_every_hook_pinning_the_interpreter(repo: Path) -> None:
    changes = install(repo)

    assert [c.hook for c in changes] == list(HOOK_TYPES)
    assert {c.action for c in changes} == {"installed"}
    for hook in HOOK_TYPES:
        shim = _hooks(repo) / hook
        assert os.access(shim, os.X_OK)
        assert is_ours(shim)
        assert f"python='{Path(sys.executable).absolute()}'" in shim.read_text()
        assert f"ragguard hook {hook} " in shim.read_text()


def test_reinstall_is_idempotent(repo: Path) -> None:
    install(repo)
    before = {p.name: p.read_bytes() for p in _hooks(repo).iterdir()}

    changes = install(repo)

    assert {c.action for c in changes} == {"unchanged"}
    assert {p.name: p.read_bytes() for p in _hooks(repo).iterdir()} == before


def test_reinstall_updates_a_moved_interpreter(repo: Path, fake_python: Path) -> None:
    install(repo, ["pre-commit"])

    changes = install(repo, ["pre-commit"], python=str(fake_python))

    assert [c.action for c in changes] == ["updated"]
    assert "odd dir" in (_hooks(repo) / "pre-commit").read_text()
    assert not (_hooks(repo) / ("pre-commit" + CHAINED_SUFFIX)).exists()


def test_commit_runs_ragguard_then_the_chained_hook(
    repo: Path, fake_python: Path, log: Path
) -> None:
    foreign = _script(_hooks(repo) / "pre-commit", FOREIGN_HOOK)
    original = foreign.read_bytes()
    install(repo, ["pre-commit", "commit-msg"], python=str(fake_python))

    git(repo, "commit", "-q", "--allow-empty", "-m", "Record the first baseline run")

    assert (_hooks(repo) / ("pre-commit" + CHAINED_SUFFIX)).read_bytes() == original
    lines = _lines(log)
    assert lines[0] == "ragguard -P -m ragguard hook pre-commit"
    assert lines[1] == "foreign "
    assert lines[2].startswith("ragguard -P -m ragguard hook commit-msg ")
    assert lines[2].endswith("COMMIT_EDITMSG")


def test_a_block_stops_the_commit_before_the_chained_hook(
    repo: Path, fake_python: Path, log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _script(_hooks(repo) / "pre-commit", FOREIGN_HOOK)
    install(repo, ["pre-commit"], python=str(fake_python))
    head = git(repo, "rev-parse", "HEAD").stdout
    monkeypatch.setenv("FAKE_EXIT", "1")

    out = git(
        repo, "commit", "--allow-empty", "-m", "Try a blocked commit", check=False
    )

    assert out.returncode == 1
    assert git(repo, "rev-parse", "HEAD").stdout == head
    assert not any(line.startswith("foreign") for line in _lines(log))


def test_a_failing_chained_hook_still_blocks(
    repo: Path, fake_python: Path, log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _script(_hooks(repo) / "pre-commit", FOREIGN_HOOK)
    install(repo, ["pre-commit"], python=str(fake_python))
    monkeypatch.setenv("FOREIGN_EXIT", "3")

    out = git(
        repo, "commit", "--allow-empty", "-m", "Try a blocked commit", check=False
    )

    assert out.returncode == 1
    assert [line.split()[0] for line in _lines(log)] == ["ragguard", "foreign"]


def test_pre_push_stdin_reaches_ragguard_and_the_chained_hook(
    repo: Path, fake_python: Path, log: Path
) -> None:
    _script(_hooks(repo) / "pre-push", FOREIGN_HOOK)
    install(repo, ["pre-push"], python=str(fake_python))
    git(repo, "switch", "-q", "-c", "exp/bm25")
    git(repo, "commit", "-q", "--allow-empty", "-m", "Try BM25 as the retriever")
    tip = git(repo, "rev-parse", "HEAD").stdout.strip()

    git(repo, "push", "-q", "origin", "exp/bm25")

    origin = git(repo, "remote", "get-url", "origin").stdout.strip()
    ref_line = f"refs/heads/exp/bm25 {tip} refs/heads/exp/bm25 {'0' * 40}"
    assert _lines(log) == [
        f"ragguard -P -m ragguard hook pre-push origin {origin}",
        ref_line,
        f"foreign origin {origin}",
        ref_line,
    ]


def test_pre_push_without_a_chained_hook_gets_stdin(
    repo: Path, fake_python: Path, log: Path
) -> None:
    install(repo, ["pre-push"], python=str(fake_python))
    git(repo, "commit", "-q", "--allow-empty", "-m", "Tune the chunk size to 512")

    git(repo, "push", "-q", "origin", "main")

    assert len(_lines(log)) == 2
    assert _lines(log)[1].startswith("refs/heads/main ")


def test_post_checkout_runs_the_chained_hook_whatever_ragguard_says(
    repo: Path, fake_python: Path, log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _script(_hooks(repo) / "post-checkout", FOREIGN_HOOK)
    install(repo, ["post-checkout"], python=str(fake_python))
    monkeypatch.setenv("FAKE_EXIT", "1")

    out = git(repo, "switch", "-c", "exp/dense", check=False)

    # ragguard could not run: said, without failing a switch git cannot undo.
    assert out.returncode == 0
    assert "ragguard: cannot run the post-checkout hook" in out.stderr
    assert git(repo, "branch", "--show-current").stdout.strip() == "exp/dense"
    assert [line.split()[0] for line in _lines(log)] == ["ragguard", "foreign"]


def test_a_vanished_interpreter_fails_with_a_clear_message(
    repo: Path, tmp_path: Path
) -> None:
    gone = tmp_path / "old-venv" / "bin" / "python"
    install(repo, ["pre-commit"], python=str(gone))

    out = git(
        repo, "commit", "--allow-empty", "-m", "Record the first run", check=False
    )

    assert out.returncode == 1
    assert f"ragguard: cannot run the pre-commit hook: {gone} no longer exists." in (
        out.stderr
    )
    assert "ragguard install" in out.stderr


def test_a_vanished_interpreter_never_fails_a_switch(
    repo: Path, tmp_path: Path
) -> None:
    gone = tmp_path / "old-venv" / "bin" / "python"
    install(repo, ["post-checkout"], python=str(gone))

    out = git(repo, "switch", "-c", "exp/dense", check=False)

    assert out.returncode == 0  # git cannot undo a switch: only say so
    assert f"cannot run the post-checkout hook: {gone} no longer exists" in out.stderr
    assert git(repo, "branch", "--show-current").stdout.strip() == "exp/dense"


def test_uninstall_restores_the_foreign_hook(repo: Path) -> None:
    foreign = _script(_hooks(repo) / "pre-push", FOREIGN_HOOK)
    original = foreign.read_bytes()
    install(repo)

    changes = uninstall(repo)

    actions = {c.hook: c.action for c in changes}
    assert actions["pre-push"] == "restored"
    assert actions["pre-commit"] == "removed"
    assert foreign.read_bytes() == original
    assert os.access(foreign, os.X_OK)
    assert sorted(
        p.name for p in _hooks(repo).iterdir() if ".sample" not in p.name
    ) == ["pre-push"]
    assert {c.action for c in uninstall(repo) if c.hook != "pre-push"} == {"absent"}


def test_uninstall_leaves_a_hook_it_did_not_write(repo: Path) -> None:
    foreign = _script(_hooks(repo) / "commit-msg", FOREIGN_HOOK)

    changes = uninstall(repo, ["commit-msg"])

    assert [c.action for c in changes] == ["kept"]
    assert foreign.read_text() == FOREIGN_HOOK


def test_refuses_to_chain_twice_and_writes_nothing(repo: Path) -> None:
    _script(_hooks(repo) / "pre-push", FOREIGN_HOOK)
    _script(_hooks(repo) / ("pre-push" + CHAINED_SUFFIX), FOREIGN_HOOK)
    before = sorted(p.name for p in _hooks(repo).iterdir())

    with pytest.raises(RagguardError, match="will not overwrite"):
        install(repo)

    assert sorted(p.name for p in _hooks(repo).iterdir()) == before


def test_honours_a_relative_core_hooks_path(repo: Path) -> None:
    git(repo, "config", "core.hooksPath", "tools/githooks")
    (repo / "sub").mkdir()

    install(repo / "sub", ["pre-commit"])

    assert is_ours(repo / "tools" / "githooks" / "pre-commit")
    assert not (_hooks(repo) / "pre-commit").exists()


def test_refuses_a_hooks_path_that_is_not_a_directory(repo: Path) -> None:
    git(repo, "config", "core.hooksPath", "/dev/null")

    with pytest.raises(EnvironmentProblem, match="not a directory"):
        install(repo)


def test_a_linked_worktree_installs_into_the_shared_hooks(repo: Path) -> None:
    tree = repo.parent / "tree"
    git(repo, "worktree", "add", "-q", "-b", "exp/tree", str(tree))

    assert hooks_dir(tree) == _hooks(repo)
    install(tree, ["post-checkout"])
    assert is_ours(_hooks(repo) / "post-checkout")


def test_cli_install_and_uninstall(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo)

    assert main(["install", "--hook-type", "pre-push", "-t", "commit-msg"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("installed pre-push")
    assert "commit-msg" in out
    assert main(["uninstall", "-t", "pre-push"]) == 0
    assert not (_hooks(repo) / "pre-push").exists()
    assert is_ours(_hooks(repo) / "commit-msg")


def test_cli_outside_a_repository_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    assert main(["install"]) == 4
    assert "is not inside a git repository" in capsys.readouterr().err


# --- the shipped files ------------------------------------------------------


def test_every_hook_type_has_a_posix_shim_template() -> None:
    for hook in HOOK_TYPES:
        template = templates_dir() / hook
        assert template.read_text().startswith("#!/bin/sh\n")
        subprocess.run(["sh", "-n", str(template)], check=True)


def test_the_pre_commit_manifest_declares_every_hook_on_purpose() -> None:
    manifest = yaml.safe_load((CHECKOUT / ".pre-commit-hooks.yaml").read_text())

    assert [hook["id"] for hook in manifest] == [f"ragguard-{h}" for h in HOOK_TYPES]
    for hook, stage in zip(manifest, HOOK_TYPES, strict=True):
        assert hook["stages"] == [stage]
        assert hook["args"] == [stage]
        assert hook["entry"] == "ragguard hook"
        assert hook["language"] == "python"
        assert hook["always_run"] is True
        assert hook["pass_filenames"] is (stage == "commit-msg")
        assert hook["minimum_pre_commit_version"] == "3.2.0"


def test_the_manifest_passes_pre_commits_own_validation() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pre_commit",
            "validate-manifest",
            str(CHECKOUT / ".pre-commit-hooks.yaml"),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_a_built_wheel_ships_the_shims_and_installs_them(
    repo: Path, tmp_path: Path
) -> None:
    """A non-editable install finds the templates inside the package."""
    source = copy_checkout(tmp_path / "source")  # pip writes build files beside it
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(wheels),
            str(source),
        ],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("ragguard-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for hook in HOOK_TYPES:
        assert f"ragguard/hookshims/{hook}" in names
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)

    env = {**os.environ, "PYTHONPATH": str(target)}
    script = (
        "import ragguard.install as i; print(i.templates_dir()); "
        "i.install(__import__('pathlib').Path('.'))"
    )
    out = subprocess.run(
        [sys.executable, "-P", "-c", script],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )

    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(target / "ragguard" / "hookshims")
    assert is_ours(_hooks(repo) / "pre-push")


def test_the_cli_offers_every_hook_type() -> None:
    from click.testing import CliRunner

    from ragguard.cli import cli

    for command in ("install", "uninstall"):
        shown = CliRunner().invoke(cli, [command, "--help"]).output
        assert all(hook in shown for hook in HOOK_TYPES), command


def test_says_when_the_chained_hook_is_the_pre_commit_frameworks(repo: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pre_commit", "install"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr

    (change,) = install(repo, ["pre-commit"])

    assert "pre-commit's" in change.note
    assert (_hooks(repo) / ("pre-commit" + CHAINED_SUFFIX)).exists()
