"""The hook entry point in real repositories holding real offline W&B runs.

Runs are written once per session into a template (``world``) and each test
works on a private copy, so commit ids and run folders are shared. A run is
marked synced the way ``wandb sync`` marks it: the ``run-<id>.wandb.synced``
file next to its log (``wandb sync`` needs a server, which these tests do not
have).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import wandbgen
from conftest import git, isolated_env, run_ragguard
from ragguard.checks import skip_log_path
from ragguard.cli import main as cli_main
from ragguard.hooks import parse_push_lines, run_hook
from ragguard.render import Painter, render_findings, use_colour

DOC = "# exp/bm25\n\n## Goal\n\nLearn whether BM25 beats the dense retriever here.\n"


@dataclass(frozen=True)
class World:
    base: Path  # holds origin.git and work/
    run_ok: str  # finished, tagged, on exp/bm25's commit
    run_failed: str  # raised, untagged, on the same commit
    commit: str


def _git(cwd: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    base = tmp_path_factory.mktemp("hooks-world")
    env = isolated_env(tmp_path_factory.mktemp("hooks-home"))
    origin, work = base / "origin.git", base / "work"
    _git(base, env, "init", "-q", "--bare", str(origin))
    _git(base, env, "init", "-q", str(work))
    (work / "README.md").write_text("# rag\n")
    (work / ".gitignore").write_text("wandb/\n")
    _git(work, env, "add", ".")
    _git(work, env, "commit", "-q", "-m", "Start the experiment repository")
    _git(work, env, "remote", "add", "origin", str(origin))
    _git(work, env, "push", "-q", "-u", "origin", "main")
    _git(work, env, "remote", "set-head", "origin", "main")
    _git(work, env, "switch", "-q", "-c", "exp/bm25")
    (work / "docs" / "branches" / "exp").mkdir(parents=True)
    (work / "docs" / "branches" / "exp" / "bm25.md").write_text(DOC)
    (work / "retriever.py").write_text("K1 = 1.2\n")
    _git(work, env, "add", ".")
    _git(work, env, "commit", "-q", "-m", "Try BM25 with k1 of 1.2")
    commit = _git(work, env, "rev-parse", "HEAD")
    ok = wandbgen.write_run(
        work,
        tags=["retriever:bm25"],
        config={"retriever": {"type": "bm25"}},
        summary={"eval/recall@5": 0.81},
        env=env,
    )
    failed = wandbgen.write_run(work, ending="exception", env=env)
    _git(work, env, "switch", "-q", "main")
    return World(base, _run_id(ok), _run_id(failed), commit)


def _run_id(folder: Path) -> str:
    return folder.name.rsplit("-", 1)[1]


@pytest.fixture
def work(world: World, tmp_path: Path) -> Path:
    """A private copy of the world: same commits, same runs."""
    shutil.copytree(world.base, tmp_path / "w", symlinks=True)
    work = tmp_path / "w" / "work"
    git(work, "remote", "set-url", "origin", str(tmp_path / "w" / "origin.git"))
    return work


def hook(
    work: Path,
    stage: str,
    *argv: str,
    stdin: str = "",
    env: dict[str, str] | None = None,
) -> tuple[int, str]:
    out = io.StringIO()
    code = run_hook(stage, argv, stdin, out=out, env=env or dict(os.environ), cwd=work)
    return code, out.getvalue()


def mark_synced(work: Path, run_id: str) -> None:
    for log in (work / "wandb").glob(f"*-{run_id}/run-{run_id}.wandb"):
        log.with_name(log.name + ".synced").touch()


def install(work: Path, stage: str) -> None:
    """A direct hook that calls the one entry point, as the shims do."""
    path = Path(git(work, "rev-parse", "--git-path", f"hooks/{stage}").stdout.strip())
    if not path.is_absolute():
        path = work / path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f'#!/bin/sh\nexec "{sys.executable}" -m ragguard hook {stage} "$@"\n'
    )
    path.chmod(0o755)


def state_of(work: Path) -> tuple[str, bytes, str]:
    """What a hook must never change: status, index bytes, config."""
    git_dir = Path(git(work, "rev-parse", "--absolute-git-dir").stdout.strip())
    common = Path(
        git(
            work, "rev-parse", "--path-format=absolute", "--git-common-dir"
        ).stdout.strip()
    )
    status = git(work, "status", "--porcelain=v1", "--untracked-files=all").stdout
    return status, (git_dir / "index").read_bytes(), (common / "config").read_text()


# --- pre-commit -------------------------------------------------------------------


def test_pre_commit_blocks_run_folders_and_changes_nothing(work: Path) -> None:
    git(work, "add", "-f", "wandb")
    before = state_of(work)
    code, out = hook(work, "pre-commit")
    assert code == 1
    assert "blocked [staged-runs] wandb: W&B run data is staged" in out
    # .gitignore has wandb/ already (git add -f): the fix only unstages.
    assert "fix: git rm -r -q --cached -- wandb\n" in out
    assert "RAGGUARD_SKIP=staged-runs" in out
    assert state_of(work) == before


def test_pre_commit_passes_in_one_line(work: Path) -> None:
    (work / "notes.md").write_text("n\n")
    git(work, "add", "notes.md")
    assert hook(work, "pre-commit") == (0, "ragguard pre-commit: ok\n")


def test_pre_commit_warns_about_an_undocumented_branch(work: Path) -> None:
    git(work, "switch", "-q", "-c", "exp/dense")
    code, out = hook(work, "pre-commit")
    assert code == 0
    assert (
        "warning [branch-doc] branch exp/dense: "
        "has no doc at docs/branches/exp/dense.md" in out
    )
    assert "fix: ragguard doc init" in out


def test_pre_commit_through_git_commit(work: Path) -> None:
    install(work, "pre-commit")
    git(work, "add", "-f", "wandb")
    done = git(work, "commit", "-m", "Commit the runs by mistake", check=False)
    assert done.returncode == 1
    assert "staged-runs" in done.stdout + done.stderr
    git(work, "rm", "-r", "-q", "--cached", "wandb")
    (work / "a.txt").write_text("a\n")
    git(work, "add", "a.txt")
    done = git(work, "commit", "-q", "-m", "Add the evaluation notes")
    assert "ragguard pre-commit: ok" in done.stdout + done.stderr


def test_pre_commit_on_an_unborn_branch(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "fresh")
    fresh = tmp_path / "fresh"
    (fresh / "wandb" / "offline-run-20260101_000000-abc").mkdir(parents=True)
    (fresh / "wandb" / "offline-run-20260101_000000-abc" / "run-abc.wandb").write_bytes(
        b"x"
    )
    git(fresh, "add", "wandb")
    code, out = hook(fresh, "pre-commit")
    assert code == 1 and "[staged-runs] wandb" in out
    assert "branch-doc" not in out  # the branch being born is the default


# --- commit-msg -------------------------------------------------------------------


def test_commit_msg(work: Path) -> None:
    msg = work / ".git" / "COMMIT_EDITMSG"
    msg.write_text("wip\n# Please enter the commit message\n")
    code, out = hook(work, "commit-msg", str(msg))
    assert code == 1
    assert "'wip' says nothing" in out
    assert f"fix: git commit --edit --file={msg}" in out
    msg.write_text("Raise BM25 k1 to 1.5 for long queries\n")
    assert hook(work, "commit-msg", str(msg)) == (0, "ragguard commit-msg: ok\n")


def test_commit_msg_through_git_commit(work: Path) -> None:
    install(work, "commit-msg")
    (work / "a.txt").write_text("a\n")
    git(work, "add", "a.txt")
    assert git(work, "commit", "-q", "-m", "fix", check=False).returncode == 1
    assert git(work, "commit", "-q", "-m", "Add notes on the k1 sweep").returncode == 0


# --- pre-push ---------------------------------------------------------------------


def test_parse_push_lines() -> None:
    text = (
        "refs/heads/a 1111 refs/heads/a 0000\n\nrefs/heads/b 2222 refs/heads/c 3333\n"
    )
    refs = parse_push_lines(text)
    assert [(r.local_ref, r.remote_ref) for r in refs] == [
        ("refs/heads/a", "refs/heads/a"),
        ("refs/heads/b", "refs/heads/c"),
    ]


def test_real_multi_ref_push_checks_every_ref(work: Path, world: World) -> None:
    install(work, "pre-push")
    git(work, "switch", "-q", "-c", "exp/nodoc")
    (work / "dense.py").write_text("DIM = 768\n")
    git(work, "add", "dense.py")
    git(work, "commit", "-q", "-m", "Try a dense retriever")
    git(work, "switch", "-q", "main")
    before = state_of(work)

    done = git(work, "push", "origin", "exp/bm25", "exp/nodoc", check=False)
    out = done.stdout + done.stderr
    assert done.returncode != 0
    assert f"exp/bm25: run {world.run_ok}: offline run is not synced" in out
    assert "wandb sync wandb/offline-run-" in out and world.run_ok in out
    assert (
        "exp/nodoc: branch exp/nodoc: has no doc at docs/branches/exp/nodoc.md" in out
    )
    assert git(work, "ls-remote", "origin", "exp/*").stdout == ""
    assert state_of(work) == before

    mark_synced(work, world.run_ok)
    mark_synced(work, world.run_failed)
    git(work, "switch", "-q", "exp/nodoc")
    (work / "docs" / "branches" / "exp").mkdir(parents=True)
    (work / "docs" / "branches" / "exp" / "nodoc.md").write_text(
        DOC.replace("bm25", "nodoc")
    )
    git(work, "add", "docs")
    git(work, "commit", "-q", "-m", "Document the dense retriever branch")
    git(work, "switch", "-q", "main")
    done = git(work, "push", "origin", "exp/bm25", "exp/nodoc", check=False)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "warning [runs-finished]" in out and "failed with exit code 1" in out
    assert len(git(work, "ls-remote", "origin", "exp/*").stdout.splitlines()) == 2


def test_a_doc_only_in_the_work_tree_does_not_count(work: Path) -> None:
    git(work, "switch", "-q", "-c", "exp/late")
    (work / "x.py").write_text("x\n")
    git(work, "add", "x.py")
    git(work, "commit", "-q", "-m", "Start the late experiment")
    (work / "docs" / "branches" / "exp").mkdir(parents=True, exist_ok=True)
    (work / "docs" / "branches" / "exp" / "late.md").write_text(DOC)
    tip = git(work, "rev-parse", "HEAD").stdout.strip()
    line = f"refs/heads/exp/late {tip} refs/heads/exp/late {'0' * 40}\n"
    code, out = hook(work, "pre-push", "origin", "url", stdin=line)
    assert code == 1
    assert "is not committed, so the pushed commit has no doc" in out


def test_deletions_and_tags_are_skipped(work: Path, world: World) -> None:
    zero = "0" * 40
    lines = (
        f"(delete) {zero} refs/heads/exp/old {world.commit}\n"
        f"refs/tags/v1 {world.commit} refs/tags/v1 {zero}\n"
    )
    assert hook(work, "pre-push", "origin", "u", stdin=lines) == (0, "")
    (work / ".ragguard.yaml").write_text("push:\n  check_tags: true\n")
    code, out = hook(work, "pre-push", "origin", "u", stdin=lines)
    assert code == 1 and f"run {world.run_ok}" in out


def test_push_to_a_url_and_with_git(work: Path, world: World) -> None:
    url = git(work, "remote", "get-url", "origin").stdout.strip()
    line = f"refs/heads/exp/bm25 {world.commit} refs/heads/exp/bm25 {'0' * 40}\n"
    code, out = hook(work, "pre-push", url, url, stdin=line)
    assert code == 1 and "not synced" in out
    install(work, "pre-push")
    done = git(work, "push", url, "exp/bm25", check=False)
    assert done.returncode != 0 and "not synced" in done.stdout + done.stderr


def test_pushing_the_default_branch_checks_the_commits_being_pushed(
    work: Path, world: World
) -> None:
    git(work, "merge", "-q", "--ff-only", "exp/bm25")
    base = git(work, "rev-parse", "origin/main").stdout.strip()
    line = f"refs/heads/main {world.commit} refs/heads/main {base}\n"
    code, out = hook(work, "pre-push", "origin", "u", stdin=line)
    assert code == 1 and f"run {world.run_ok}" in out
    assert "branch-doc" not in out


def test_pre_commit_framework_variables(work: Path, world: World) -> None:
    env = dict(
        os.environ,
        PRE_COMMIT_REMOTE_NAME="origin",
        PRE_COMMIT_REMOTE_URL="u",
        PRE_COMMIT_LOCAL_BRANCH="refs/heads/exp/bm25",
        PRE_COMMIT_REMOTE_BRANCH="refs/heads/exp/bm25",
    )
    code, out = hook(work, "pre-push", env=env)  # no TO_REF: a whole new history
    assert code == 1 and f"run {world.run_ok}" in out
    env["PRE_COMMIT_TO_REF"] = world.commit
    env["PRE_COMMIT_FROM_REF"] = git(work, "rev-parse", "main").stdout.strip()
    code, out = hook(work, "pre-push", env=env)
    assert code == 1 and f"run {world.run_ok}" in out


def test_run_metadata_and_run_commit(work: Path, world: World) -> None:
    (work / ".ragguard.yaml").write_text(
        "runs:\n  require_tags: ['retriever:*']\n  require_config: [retriever.type]\n"
        "checks:\n  runs-synced: off\n"
    )
    git(work, "switch", "-q", "exp/bm25")
    git(work, "commit", "-q", "--amend", "-m", "Try BM25 with k1 of 1.2 (amended)")
    tip = git(work, "rev-parse", "HEAD").stdout.strip()
    line = f"refs/heads/exp/bm25 {tip} refs/heads/exp/bm25 {'0' * 40}\n"
    code, out = hook(work, "pre-push", "origin", "u", stdin=line)
    # Runs of the amended-away commit are still the branch's runs.
    assert code == 1, out
    assert f"blocked [run-metadata] run {world.run_failed}" in out
    assert f"[run-commit] run {world.run_ok}" in out
    assert "which no branch contains (amended or rebased)" in out
    assert f"git tag ragguard/run-{world.run_ok} {world.commit}" in out


def test_run_metadata_blocks(work: Path, world: World) -> None:
    (work / ".ragguard.yaml").write_text(
        "runs:\n  require_tags: ['retriever:*']\nchecks:\n  runs-synced: off\n"
    )
    line = f"refs/heads/exp/bm25 {world.commit} refs/heads/exp/bm25 {'0' * 40}\n"
    code, out = hook(work, "pre-push", "origin", "u", stdin=line)
    assert code == 1
    assert f"blocked [run-metadata] run {world.run_failed}: is missing tags" in out
    assert f"run {world.run_ok}: is missing" not in out


def test_sha256_zero_ids(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "--object-format=sha256", "s")
    s = tmp_path / "s"
    (s / "a").write_text("a\n")
    git(s, "add", "a")
    git(s, "commit", "-q", "-m", "Start the sha256 repository")
    git(s, "switch", "-q", "-c", "exp/x")
    tip = git(s, "rev-parse", "HEAD").stdout.strip()
    zero = "0" * 64
    lines = (
        f"(delete) {zero} refs/heads/gone {tip}\n"
        f"refs/heads/exp/x {tip} refs/heads/exp/x {zero}\n"
    )
    code, out = hook(s, "pre-push", "/nowhere.git", "/nowhere.git", stdin=lines)
    assert code == 1
    assert "branch exp/x: has no doc" in out and "gone" not in out


# --- skipping ----------------------------------------------------------------------


def test_skip_is_said_and_logged(work: Path, world: World) -> None:
    env = dict(
        os.environ, RAGGUARD_SKIP="runs-synced", RAGGUARD_SKIP_REASON="W&B is down"
    )
    line = f"refs/heads/exp/bm25 {world.commit} refs/heads/exp/bm25 {'0' * 40}\n"
    code, out = hook(work, "pre-push", "origin", "u", stdin=line, env=env)
    assert code == 0, out
    assert "skipped runs-synced by RAGGUARD_SKIP (W&B is down)" in out
    log = skip_log_path(work / ".git").read_text().split("\t")
    assert log[1:] == ["pre-push", "runs-synced", "main", "W&B is down\n"]
    env["RAGGUARD_SKIP"] = "all,nonsense"
    code, out = hook(work, "pre-push", "origin", "u", stdin=line, env=env)
    assert code == 0 and "unknown checks: nonsense" in out


# --- post-checkout -----------------------------------------------------------------


def test_switch_reports_left_behind_then_the_arrival(work: Path, world: World) -> None:
    install(work, "post-checkout")
    (work / ".ragguard.yaml").write_text("report:\n  metric: eval/recall@5\n")
    git(work, "switch", "-q", "exp/bm25")
    (work / "README.md").write_text("# rag, edited\n")
    before_done = git(work, "switch", "main")
    out = before_done.stdout + before_done.stderr
    assert before_done.returncode == 0
    assert "ragguard: left exp/bm25:" in out
    assert (
        "2 uncommitted changes came along to this branch (README.md, .ragguard.yaml)"
        in out
    )
    assert out.index("[left-behind]") < out.index("[runs-synced]")
    assert "has no upstream; 1 commit is on no remote" in out
    assert "fix: git push -u origin exp/bm25" in out
    assert f"run {world.run_ok}: offline run is not synced" in out
    assert out.rstrip().endswith("ragguard: on main: no runs")
    git(work, "checkout", "-q", "--", "README.md")
    done = git(work, "switch", "exp/bm25")
    lines = (done.stdout + done.stderr).strip().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("ragguard: on"))
    assert lines[start] == (
        "ragguard: on exp/bm25: doc docs/branches/exp/bm25.md; "
        "2 runs (1 finished, 1 failed, 2 not synced); "
        f"best eval/recall@5 = 0.81 (run {world.run_ok})"
    )
    table = lines[start + 1 :]
    assert table[0].startswith("  goal: "), "the doc's Goal line comes first"
    rows = [line.split()[0] for line in table if line.startswith("  ")]
    assert rows.index(world.run_ok) < rows.index(world.run_failed), "best run first"


def test_post_checkout_is_silent_when_it_should_be(work: Path, world: World) -> None:
    zero = "0" * 40
    head = git(work, "rev-parse", "HEAD").stdout.strip()
    assert hook(work, "post-checkout", head, head, "0") == (0, "")  # file checkout
    assert hook(work, "post-checkout", zero, head, "1") == (
        0,
        "",
    )  # clone, worktree add
    install(work, "post-checkout")
    done = git(work, "worktree", "add", "-q", str(work.parent / "wt"), "exp/bm25")
    assert "ragguard" not in done.stdout + done.stderr
    done = git(work, "checkout", "--", "README.md")
    assert "ragguard" not in done.stdout + done.stderr


def test_post_checkout_is_silent_during_a_rebase(work: Path) -> None:
    git(work, "switch", "-q", "-c", "side")
    (work / "README.md").write_text("side\n")
    git(work, "commit", "-q", "-am", "Change the readme on the side")
    git(work, "switch", "-q", "main")
    (work / "README.md").write_text("main\n")
    git(work, "commit", "-q", "-am", "Change the readme on main")
    git(work, "switch", "-q", "side")
    assert git(work, "rebase", "main", check=False).returncode != 0
    head = git(work, "rev-parse", "HEAD").stdout.strip()
    assert hook(work, "post-checkout", head, head, "1") == (0, "")


def test_post_checkout_never_fails(work: Path) -> None:
    (work / ".ragguard.yaml").write_text("wandb: [broken\n")
    head = git(work, "rev-parse", "HEAD").stdout.strip()
    code, out = hook(work, "post-checkout", head, head, "1")
    assert code == 0
    assert out.startswith("ragguard post-checkout: ")
    assert ".ragguard.yaml:2: is not valid YAML" in out


def test_linked_worktree_hook_leaves_the_main_repository_alone(
    work: Path, world: World
) -> None:
    wt = work.parent / "wt"
    git(work, "worktree", "add", "-q", "-b", "exp/wt", str(wt), "exp/bm25")
    before = state_of(work)
    shutil.copytree(work / "wandb", wt / "wandb", symlinks=True)
    git(wt, "add", "-f", "wandb")
    code, out = hook(wt, "pre-commit")
    assert code == 1 and "[staged-runs] wandb" in out
    line = f"refs/heads/exp/wt {world.commit} refs/heads/exp/wt {'0' * 40}\n"
    code, out = hook(wt, "pre-push", "origin", "u", stdin=line)
    assert code == 1 and "not synced" in out
    assert state_of(work) == before


# --- the merge stages, the CLI, output ---------------------------------------------


def test_merge_stages_are_quiet_without_a_merge(work: Path) -> None:
    assert hook(work, "pre-merge-commit") == (0, "ragguard pre-merge-commit: ok\n")
    assert hook(work, "post-merge", "0") == (0, "")


def test_cli_contract(
    work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(work)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert cli_main(["hook", "pre-commit"]) == 0
    assert cli_main(["hook", "no-such-stage"]) == 2
    msg = work / ".git" / "COMMIT_EDITMSG"
    msg.write_text("tmp\n")
    assert cli_main(["hook", "commit-msg", str(msg)]) == 1
    git(work, "switch", "-q", "exp/bm25")
    capsys.readouterr()
    assert cli_main(["check", "--stage", "pre-push", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["stage"] == "pre-push" and data["branch"] == "exp/bm25"
    assert data["blocked"] is True
    assert {f["check"] for f in data["findings"]} >= {"runs-synced"}
    assert cli_main(["check", "--stage", "switch"]) == 1
    assert "[runs-synced]" in capsys.readouterr().out


def test_python_m_ragguard_hook_fast_path(work: Path) -> None:
    done = run_ragguard(work, "hook", "pre-commit")
    assert (done.returncode, done.stdout) == (0, "ragguard pre-commit: ok\n")
    done = run_ragguard(work, "hook", "bogus")
    assert done.returncode == 2 and "usage: ragguard hook" in done.stderr
    bad = work / ".ragguard.yaml"
    bad.write_text("wandb:\n  stale_after: never\n")
    done = run_ragguard(work, "hook", "pre-commit")
    assert done.returncode == 3
    assert done.stderr.startswith("ragguard: .ragguard.yaml:2: wandb.stale_after")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_without_no_color() -> None:
    assert use_colour(_Tty(), {}) is True
    assert use_colour(_Tty(), {"NO_COLOR": "1"}) is False
    assert use_colour(_Tty(), {"TERM": "dumb"}) is False
    assert use_colour(io.StringIO(), {}) is False
    from ragguard.checks import Finding

    lines = render_findings(
        "pre-push", [Finding("x", "block", "s", "m", "do")], paint=Painter(True)
    )
    assert "\033[31m" in lines[1]
    plain = render_findings(
        "pre-push", [Finding("x", "block", "s", "m", "do")], paint=Painter(False)
    )
    assert plain == [
        "ragguard pre-push: blocked by 1 problem",
        "  blocked [x] s: m",
        "          fix: do",
    ]


def test_post_checkout_through_pre_commit_variables(work: Path, world: World) -> None:
    git(work, "switch", "-q", "exp/bm25")
    git(work, "switch", "-q", "main")
    env = dict(
        os.environ,
        PRE_COMMIT_FROM_REF=world.commit,
        PRE_COMMIT_TO_REF=git(work, "rev-parse", "main").stdout.strip(),
        PRE_COMMIT_CHECKOUT_TYPE="1",
    )
    code, out = hook(work, "post-checkout", env=env)
    assert code == 0
    assert "ragguard: left exp/bm25" in out and "ragguard: on main" in out
    env["PRE_COMMIT_CHECKOUT_TYPE"] = "0"
    assert hook(work, "post-checkout", env=env) == (0, "")


def test_check_by_hand_for_each_stage(
    work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ragguard.hooks import check_now

    monkeypatch.chdir(work)
    assert check_now("commit-msg").findings == ()  # "Start the experiment ..."
    git(work, "switch", "-q", "exp/bm25")
    assert check_now("pre-commit").findings == ()
    git(work, "add", "-f", "wandb")
    assert check_now("pre-commit").blocked
    assert {f.check for f in check_now("post-checkout").findings} >= {
        "left-behind",
        "runs-synced",
    }
    assert cli_main(["check", "--stage", "nonsense"]) == 2


_MID_RUN_CONFIG = """
import wandb
run = wandb.init(project="rag", tags=["retriever:bm25"])
for step in range(1500):
    run.log({"loss": 1.0 / (step + 1), "note": "x" * 120})
run.config.update({"retriever": {"type": "bm25"}})
for step in range(1500):
    run.log({"loss": 1.0 / (step + 1), "note": "y" * 120})
run.finish()
"""


def test_config_set_mid_run_is_found_before_blocking(work: Path) -> None:
    git(work, "switch", "-q", "exp/bm25")
    shutil.rmtree(work / "wandb")
    subprocess.run(
        [sys.executable, "-c", _MID_RUN_CONFIG],
        cwd=work,
        env=wandbgen.run_env(),
        check=True,
        capture_output=True,
    )
    from ragguard.runs.index import default_roots, load_runs

    [fast] = load_runs(default_roots(work, ["wandb"]))
    assert fast.partial and not fast.has_config("retriever.type")
    (work / ".ragguard.yaml").write_text(
        "runs:\n  require_config: [retriever.type]\nchecks:\n  runs-synced: off\n"
    )
    tip = git(work, "rev-parse", "HEAD").stdout.strip()
    line = f"refs/heads/exp/bm25 {tip} refs/heads/exp/bm25 {'0' * 40}\n"
    code, out = hook(work, "pre-push", "origin", "u", stdin=line)
    assert code == 0, out
    assert "run-metadata" not in out


def test_a_non_ascii_branch_with_slashes(work: Path) -> None:
    git(work, "switch", "-q", "-c", "exp/ünï/cödé")
    (work / "x.py").write_text("x\n")
    git(work, "add", "x.py")
    git(work, "commit", "-q", "-m", "Start the unicode experiment")
    tip = git(work, "rev-parse", "HEAD").stdout.strip()
    line = f"refs/heads/exp/ünï/cödé {tip} refs/heads/exp/ünï/cödé {'0' * 40}\n"
    code, out = hook(work, "pre-push", "origin", "u", stdin=line)
    assert code == 1
    assert "branch exp/ünï/cödé: has no doc at docs/branches/exp/ünï/cödé.md" in out
    stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    assert run_hook("pre-push", ["origin", "u"], line, out=stream, cwd=work) == 1
    stream.seek(0)
    assert "exp/\\xfcn\\xef/c\\xf6d\\xe9" in stream.read()


def test_run_folders_in_an_unignored_root_are_not_left_behind_work(repo: Path) -> None:
    from ragguard.config import DEFAULT_POLICY
    from ragguard.gitrepo import Repo
    from ragguard.hooks import left_facts

    (repo / ".gitignore").write_text("")
    git(repo, "commit", "-q", "-am", "Stop ignoring anything at all")
    wandbgen.write_run(repo, ending="early-kill")
    (repo / "notes.md").write_text("real work\n")
    facts = left_facts(Repo.discover(repo), DEFAULT_POLICY, "main")
    assert [entry[3:] for entry in facts.changes] == ["notes.md"]


def test_a_run_of_an_amended_commit_must_still_be_synced(repo: Path) -> None:
    assert run_ragguard(repo, "install").returncode == 0
    git(repo, "switch", "-q", "-c", "exp/amend")
    doc = repo / "docs" / "branches" / "exp" / "amend.md"
    doc.parent.mkdir(parents=True)
    doc.write_text("# exp/amend\n\n## Goal\n\nSee whether amending loses runs.\n")
    git(repo, "add", "docs")
    git(repo, "commit", "-q", "-m", "Document the amend experiment branch")
    folder = wandbgen.write_run(repo)  # finished, offline, not synced
    git(repo, "commit", "-q", "--amend", "-m", "Document the amended experiment")
    result = git(repo, "push", "-u", "origin", "exp/amend", check=False)
    assert result.returncode != 0
    run_id = folder.name.rsplit("-", 1)[1]
    assert f"[runs-synced] run {run_id}" in result.stdout
    assert "[run-commit]" in result.stdout


def test_an_unknown_stage_is_a_usage_error_on_one_line(tmp_path: Path) -> None:
    from ragguard.errors import Exit, RagguardError

    stages = "pre-commit, commit-msg, pre-push, post-checkout, pre-merge-commit"
    with pytest.raises(RagguardError) as caught:
        run_hook("bogus", [], "", cwd=tmp_path)
    assert caught.value.exit_code == Exit.USAGE
    done = run_ragguard(tmp_path, "hook", "bogus")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("ragguard: unknown hook stage 'bogus'; expected")
    assert stages in done.stderr and "post-merge" in done.stderr
    assert cli_main(["hook", "bogus"]) == 2


def test_forced_run_data_gets_a_fix_that_does_not_ignore_it_twice(repo: Path) -> None:
    assert run_ragguard(repo, "install").returncode == 0
    wandbgen.write_run(repo, ending="early-kill")
    git(repo, "add", "-f", "wandb")
    result = git(repo, "commit", "-m", "Keep the run logs with the code", check=False)
    assert result.returncode != 0
    assert "fix: git rm -r -q --cached -- wandb\n" in result.stderr
    (work_tree_ignore,) = [
        line
        for line in (repo / ".gitignore").read_text().splitlines()
        if "wandb" in line
    ]
    assert work_tree_ignore == "wandb/"


def test_unignored_run_data_gets_the_gitignore_line(repo: Path) -> None:
    from ragguard.gitrepo import Repo
    from ragguard.hooks import run_hook

    (repo / ".gitignore").write_text("")
    wandbgen.write_run(repo, ending="early-kill")
    git(repo, "add", "wandb")
    out = io.StringIO()
    assert run_hook("pre-commit", [], "", out=out, cwd=repo) == 1
    fix = "git rm -r -q --cached -- wandb && printf '\\n%s\\n' /wandb/ >> .gitignore"
    assert f"fix: {fix}" in out.getvalue()
    assert Repo.discover(repo).staged_paths()  # the hook unstaged nothing


def test_fixes_say_where_to_run_them_from_a_subfolder(repo: Path) -> None:
    assert run_ragguard(repo, "install").returncode == 0
    (repo / "src").mkdir()
    wandbgen.write_run(repo, ending="early-kill")
    git(repo, "add", "-f", "wandb")
    result = git(repo / "src", "commit", "-m", "Keep the logs", check=False)
    assert result.returncode != 0
    assert f"(run the fixes from the repository root: cd {repo})" in result.stderr
