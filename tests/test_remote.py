"""Remote checks: the real ``wandb.Api()`` against a loopback W&B server.

The server is ``fake_wandb_api.py`` (its docstring says what it answers and
why openwandb cannot be used here). Hooks run in-process through
``run_hook``; one test drives a real ``git push`` through an installed hook.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fake_wandb_api import FakeRun, FakeWandb, serve

from conftest import git
from ragguard import remote
from ragguard.checks import skip_from_env
from ragguard.config import load_policy
from ragguard.gate import gate_command
from ragguard.gitrepo import Repo
from ragguard.hooks import Hook, run_hook
from ragguard.runs.model import Run

ENTITY, PROJECT = "rag-team", "rag-eval"
SLACK = 1.5  # seconds a hook may take beyond its remote time limit


def _now(offset: float = 0.0) -> str:
    moment = datetime.fromtimestamp(time.time() + offset, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def write_policy(work: Path, timeout: str = "4s", remote_on: bool = True) -> None:
    (work / ".ragguard.yaml").write_text(
        "wandb:\n"
        f"  remote: {'true' if remote_on else 'false'}\n"
        f"  remote_timeout: {timeout}\n"
        f"  entity: {ENTITY}\n"
        f"  project: {PROJECT}\n"
        "checks:\n"
        "  branch-doc: off\n"
        "  run-metadata: off\n"
        "  merge-gate: off\n"
        "  run-commit: off\n"
    )


def commit_on_branch(work: Path, branch: str, name: str = "bm25.py") -> str:
    git(work, "switch", "-q", "-c", branch)
    (work / name).write_text("K = 10\n")
    git(work, "add", name)
    git(work, "commit", "-q", "-m", f"Try the {name} retriever settings")
    return git(work, "rev-parse", "HEAD").stdout.strip()


def push_line(branch: str, tip: str) -> str:
    return f"refs/heads/{branch} {tip} refs/heads/{branch} {'0' * 40}\n"


def api_env(server: FakeWandb, **extra: str) -> dict[str, str]:
    env = dict(os.environ, WANDB_BASE_URL=server.url, WANDB_API_KEY=server.key)
    env.update(extra)
    return env


def hook(work: Path, stdin: str, env: dict[str, str]) -> tuple[int, str, float]:
    out = io.StringIO()
    started = time.monotonic()
    code = run_hook("pre-push", ["origin", "u"], stdin, out=out, env=env, cwd=work)
    return code, out.getvalue(), time.monotonic() - started


@pytest.fixture
def server() -> Iterator[FakeWandb]:
    with serve(FakeWandb(entity=ENTITY)) as running:
        yield running


@pytest.fixture
def work(repo: Path) -> Path:
    write_policy(repo)
    return repo


# --- pure parts --------------------------------------------------------------


@pytest.mark.parametrize(
    ("wandb_state", "state"),
    [
        ("running", "running"),
        ("pending", "running"),
        ("finished", "finished"),
        ("failed", "failed"),
        ("crashed", "crashed"),
        ("killed", "crashed"),
        ("preempted", "crashed"),
        ("no-such-state", "unreadable"),
    ],
)
def test_wandb_states_become_ragguard_states(wandb_state: str, state: str) -> None:
    run = remote.to_run(
        {"id": "r1", "state": wandb_state, "entity": "e", "project": "p"}
    )
    assert run.state == state
    assert (run.mode, run.sync, run.path) == ("online", "synced", "wandb:e/p/r1")


def test_an_api_run_keeps_its_facts() -> None:
    raw = {
        "id": "r1",
        "state": "finished",
        "entity": ENTITY,
        "project": PROJECT,
        "commit": "c" * 40,
        "tags": ["retriever:bm25"],
        "config": {"retriever": {"type": "bm25"}},
        "summary": {"recall@5": 0.61},
        "name": "bright-fox-1",
        "url": "https://wandb.ai/rag-team/rag-eval/runs/r1",
        "created_at": "2026-01-02T03:04:05",
    }
    run = remote.to_run(raw)
    assert run.path == f"wandb:{ENTITY}/{PROJECT}/r1" and run.commit == "c" * 40
    assert run.url() == raw["url"] and run.name == "bright-fox-1"
    assert run.config_value("retriever.type") == "bm25"
    assert run.summary["recall@5"] == 0.61 and run.tags == ("retriever:bm25",)
    assert run.started_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp()


def test_queries_use_documented_filters_only() -> None:
    query = remote.Query("e", "p", ids=("a",), since="2026-01-01T00:00:00Z")
    assert query.filters() == {
        "$or": [{"name": {"$in": ["a"]}}, {"createdAt": {"$gte": query.since}}]
    }
    finished = remote.Query("e", "p", states=("finished",))
    assert finished.filters() == {"state": {"$in": ["finished"]}}


def test_scrub_removes_the_key_in_every_form() -> None:
    key = "0123456789abcdef" * 2 + "01234567"
    env = {"WANDB_API_KEY": key, "HOME": "/nonexistent"}
    header = "Basic " + base64.b64encode(f"api:{key}".encode()).decode()
    text = f"denied {header} for key {key}; also Bearer abcdefghijkl"
    clean = remote.scrub(text, remote.secrets_of(env))
    assert key not in clean and header[6:] not in clean and "abcdefghijkl" not in clean
    assert clean.startswith("denied Basic [key removed] for key [key removed]")


def test_the_netrc_key_is_scrubbed_too(tmp_path: Path) -> None:
    (tmp_path / ".netrc").write_text(
        "machine api.wandb.ai\n  login user\n  password netrc-secret-key-123\n"
    )
    secrets = remote.secrets_of({"HOME": str(tmp_path)})
    assert "netrc-secret-key-123" in secrets


def test_the_cache_keeps_answers_with_their_age(tmp_path: Path) -> None:
    path = tmp_path / "ragguard" / "remote.json"
    query = remote.Query(ENTITY, PROJECT, ids=("r1",))
    fresh = remote.Answer(query, ({"id": "r1", "state": "finished"},))
    remote.store_cache(path, [fresh], now=1000.0)
    assert list(path.parent.iterdir()) == [path]  # no temporary file left
    data = json.loads(path.read_text())
    assert data["runs"][f"{ENTITY}/{PROJECT}/r1"]["checked_at"] == 1000.0
    cached = remote.from_cache(remote.load_cache(path), query, now=1600.0)
    assert [r["id"] for r in cached.runs] == ["r1"] and cached.ages == {"r1": 600.0}
    path.write_text("{not json")
    assert remote.load_cache(path) == {}


def test_offline_values() -> None:
    assert remote.is_offline({"RAGGUARD_OFFLINE": "1"})
    assert remote.is_offline({"RAGGUARD_OFFLINE": "yes"})
    assert not remote.is_offline({"RAGGUARD_OFFLINE": "0"})
    assert not remote.is_offline({})


# --- pre-push against the server ------------------------------------------------


def test_a_run_still_running_on_the_cluster_blocks_the_push(
    work: Path, server: FakeWandb
) -> None:
    tip = commit_on_branch(work, "exp/bm25")
    server.add(
        PROJECT,
        FakeRun("clu1", state="running", commit=tip, created_at=_now()),
        FakeRun("clu2", state="killed", commit=tip, created_at=_now(-60)),
        FakeRun("other", state="running", commit="f" * 40, created_at=_now()),
    )
    code, out, _ = hook(work, push_line("exp/bm25", tip), api_env(server))

    # A push carries code, not results: a run still running warns (issue 8, #3).
    assert code == 0
    assert "warning [runs-finished] run clu1: is still running" in out
    assert "run clu2: crashed" in out  # killed on the cluster: a warning
    assert "other" not in out  # a run of a commit this push does not carry
    assert server.operations() == ["Viewer", "Runs"]
    filters = json.loads(server.requests[1]["variables"]["filters"])
    assert set(filters) == {"createdAt"}  # no local runs to confirm
    cache = json.loads((work / ".git" / "ragguard" / "remote.json").read_text())
    assert {k.rsplit("/", 1)[1] for k in cache["runs"]} == {"clu1", "clu2", "other"}


def _hook_object(work: Path, env: dict[str, str], runs: list[Run]) -> Hook:
    repo = Repo.discover(work)
    out = io.StringIO()
    policy = load_policy(repo.root)
    return Hook("pre-push", repo, policy, skip_from_env(env), out, env, _runs=runs)


def _online(run_id: str, state: str, commit: str) -> Run:
    """A local online run as the run index reports it (upload unconfirmed)."""
    return Run(
        id=run_id,
        path=f"/work/wandb/run-20260101_000000-{run_id}",
        mode="online",
        state=state,  # type: ignore[arg-type]
        sync="unconfirmed",
        project=PROJECT,
        commit=commit,
    )


def augment(
    hook_: Hook, runs: list[Run], tip: str, branch: str
) -> tuple[list[Run], list[str]]:
    """What pre-push does for a new branch pushed to origin."""
    return remote.augment_push(
        hook_, runs, local_oid=tip, remote_oid=None, remote="origin", branch=branch
    )


def test_w_and_b_confirms_online_uploads_that_agree(
    work: Path, server: FakeWandb
) -> None:
    tip = commit_on_branch(work, "exp/dense")
    local = [
        _online("done1", "finished", tip),
        _online("half1", "finished", tip),
        _online("gone1", "finished", tip),
    ]
    server.add(
        PROJECT,
        FakeRun("done1", state="finished", commit=tip, created_at=_now()),
        FakeRun("half1", state="running", commit=tip, created_at=_now()),
    )
    hook_ = _hook_object(work, api_env(server), local)
    runs, notes = augment(hook_, local, tip, "exp/dense")

    assert {r.id: r.sync for r in runs} == {
        "done1": "synced",
        "half1": "unconfirmed",
        "gone1": "unconfirmed",
    }
    assert any("W&B shows run half1 as running" in n for n in notes)
    assert any(f"W&B has no run gone1 in {ENTITY}/{PROJECT}" in n for n in notes)
    filters = json.loads(server.requests[-1]["variables"]["filters"])
    assert filters["$or"][0] == {"name": {"$in": ["done1", "gone1", "half1"]}}


def test_a_server_that_never_answers_costs_the_limit_and_a_warning(
    repo: Path,
) -> None:
    write_policy(repo, timeout="2s")
    tip = commit_on_branch(repo, "exp/hang")
    with serve(FakeWandb(entity=ENTITY, mode="hang")) as server:
        code, out, took = hook(repo, push_line("exp/hang", tip), api_env(server))
    assert code == 0
    assert "not checked in W&B: W&B did not answer within 2.0 s" in out
    assert 2.0 <= took < 2.0 + SLACK, took
    assert server.operations()[:1] == ["Viewer"]
    assert _orphaned_wandb_core() == [], "wandb-core outlived the killed child"


def _orphaned_wandb_core(wait: float = 5.0) -> list[int]:
    """wandb-core processes started for ragguard's API child that are still
    alive ``wait`` seconds after it was killed (they watch their parent)."""
    deadline = time.monotonic() + wait
    while True:
        found = []
        for proc in Path("/proc").iterdir():
            try:
                cmd = (proc / "cmdline").read_bytes()
                environ = (proc / "environ").read_bytes()
            except OSError:
                continue
            if b"wandb-core" in cmd and b"ragguard-remote-" in environ:
                found.append(int(proc.name))
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_two_pushed_refs_share_one_time_limit(repo: Path) -> None:
    write_policy(repo, timeout="2s")
    one = commit_on_branch(repo, "exp/one", "one.py")
    two = commit_on_branch(repo, "exp/two", "two.py")
    lines = push_line("exp/one", one) + push_line("exp/two", two)
    with serve(FakeWandb(entity=ENTITY, mode="hang")) as server:
        code, out, took = hook(repo, lines, api_env(server))
    assert code == 0 and took < 2.0 + SLACK, took
    assert out.count("did not answer within") == 1
    assert "the 2 s limit for W&B checks was used up" in out


def test_errors_quote_the_server_without_the_key(
    work: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tip = commit_on_branch(work, "exp/err")
    caplog.set_level(logging.DEBUG)
    with serve(FakeWandb(entity=ENTITY, mode="error")) as server:
        code, out, _ = hook(work, push_line("exp/err", tip), api_env(server))
    encoded = base64.b64encode(f"api:{server.key}".encode()).decode()
    assert code == 0
    assert "upstream rejected Basic [key removed] (api key [key removed])" in out
    for text in (out, caplog.text):
        assert server.key not in text and encoded not in text


def test_ragguard_offline_asks_nothing(work: Path, server: FakeWandb) -> None:
    tip = commit_on_branch(work, "exp/off")
    server.add(PROJECT, FakeRun("clu1", state="running", commit=tip, created_at=_now()))
    env = api_env(server, RAGGUARD_OFFLINE="1")
    code, out, took = hook(work, push_line("exp/off", tip), env)
    assert code == 0 and server.requests == []
    assert "W&B remote checks off (RAGGUARD_OFFLINE is set)" in out
    assert took < 1.0


def test_the_cache_confirms_uploads_while_w_and_b_is_down(
    work: Path, server: FakeWandb
) -> None:
    tip = commit_on_branch(work, "exp/cache")
    local = [_online("done1", "finished", tip)]
    server.add(
        PROJECT,
        FakeRun("done1", state="finished", commit=tip, created_at=_now()),
        FakeRun("clu1", state="running", commit=tip, created_at=_now()),
    )
    env = api_env(server)
    first, _ = augment(_hook_object(work, env, local), local, tip, "exp/cache")
    assert first[0].sync == "synced"

    write_policy(work, timeout="1s")
    server.mode = "hang"
    again = _hook_object(work, env, local)
    runs, notes = augment(again, local, tip, "exp/cache")
    assert runs[0].sync == "synced"
    assert any("did not answer within 1.0 s" in n for n in notes)
    assert any("done1 confirmed by a W&B answer from" in n for n in notes)
    assert any("run clu1 was running in W&B" in n for n in notes)
    assert [run.id for run in runs] == ["done1"]  # a stale answer never blocks


def test_remote_off_imports_neither_wandb_nor_remote(work: Path) -> None:
    write_policy(work, remote_on=False)
    tip = commit_on_branch(work, "exp/fast")
    script = (
        "import io, sys\n"
        "from ragguard.hooks import run_hook\n"
        f"code = run_hook('pre-push', ['origin', 'u'], {push_line('exp/fast', tip)!r},"
        " out=io.StringIO())\n"
        "print(code, 'wandb' in sys.modules, 'ragguard.remote' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=work, capture_output=True, text=True
    )
    assert done.stdout.split() == ["0", "False", "False"], done.stderr


def test_a_real_push_is_not_held_by_a_silent_server(repo: Path) -> None:
    write_policy(repo, timeout="2s")
    hook_path = repo / ".git" / "hooks" / "pre-push"
    hook_path.write_text(
        f'#!/bin/sh\nexec "{sys.executable}" -m ragguard hook pre-push "$@"\n'
    )
    hook_path.chmod(0o755)
    commit_on_branch(repo, "exp/real")
    with serve(FakeWandb(entity=ENTITY, mode="hang")) as server:
        env = api_env(server)
        started = time.monotonic()
        done = subprocess.run(
            ["git", "push", "-q", "origin", "exp/real"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
        )
        took = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    assert "did not answer within 2.0 s" in done.stdout + done.stderr
    assert took < 2.0 + SLACK + 1.0, took  # + start-up of python and git


# --- ragguard gate ----------------------------------------------------------------


def test_gate_reads_runs_from_w_and_b_when_there_are_none_here(
    work: Path, server: FakeWandb
) -> None:
    with (work / ".ragguard.yaml").open("a") as policy:
        policy.write("merge:\n  metric: recall\n  require_doc: false\n")
    base = git(work, "rev-parse", "main").stdout.strip()
    tip = commit_on_branch(work, "exp/gate")
    server.add(
        PROJECT,
        FakeRun("head1", commit=tip, summary={"recall": 0.7}, created_at=_now()),
        FakeRun("base1", commit=base, summary={"recall": 0.5}, created_at=_now(-9)),
        FakeRun("wip1", state="running", commit=tip, created_at=_now()),
    )
    env = api_env(server)
    code, text = gate_command("main", None, as_json=True, cwd=work, env=env)
    verdict = json.loads(text)
    assert code == 0, verdict
    assert verdict["source"] == f"the W&B API ({ENTITY}/{PROJECT})"
    assert verdict["head"]["run"] == "head1" and verdict["target"]["run"] == "base1"
    asked = json.loads(server.requests[-1]["variables"]["filters"])
    assert asked == {"state": {"$in": ["finished"]}}

    before = len(server.requests)
    code, text = gate_command(
        "main", None, as_json=True, cwd=work, env=env, offline=True
    )
    assert json.loads(text)["source"] == "local run folders (none found)"
    assert len(server.requests) == before


def test_gate_says_when_w_and_b_could_not_be_read(repo: Path) -> None:
    write_policy(repo, timeout="1s")
    commit_on_branch(repo, "exp/gate2")
    with serve(FakeWandb(entity=ENTITY, mode="hang")) as server:
        _, text = gate_command(
            "main", None, as_json=True, cwd=repo, env=api_env(server)
        )
    assert json.loads(text)["source"] == (
        "local run folders (none found); W&B not reachable:"
        " W&B did not answer within 1.0 s"
    )


# --- no network -------------------------------------------------------------------


def test_no_network_is_told_at_once(work: Path) -> None:
    tip = commit_on_branch(work, "exp/nonet")
    with serve(FakeWandb(entity=ENTITY)) as server:
        closed = server.url  # nothing listens there once the block ends
    env = dict(os.environ, WANDB_BASE_URL=closed, WANDB_API_KEY="k" * 40)
    code, out, took = hook(work, push_line("exp/nonet", tip), env)
    port = closed.rsplit(":", 1)[1]
    assert code == 0
    assert f"not checked in W&B: cannot reach 127.0.0.1:{port}: Connection refused" in (
        out
    )
    assert took < 1.0, took


def test_the_probe_leaves_proxies_to_wandb() -> None:
    env = {"WANDB_BASE_URL": "http://127.0.0.1:9", "HTTPS_PROXY": "http://p:3128"}
    assert remote.probe(env, 1.0) is None
    assert remote.probe({"WANDB_BASE_URL": "http://127.0.0.1:9"}, 1.0)


def test_the_server_comes_from_wandb_settings(tmp_path: Path) -> None:
    folder = tmp_path / ".config" / "wandb"
    folder.mkdir(parents=True)
    (folder / "settings").write_text("[default]\nbase_url = https://wandb.corp\n")
    assert remote.api_url({"HOME": str(tmp_path)}) == "https://wandb.corp"
    env = {"HOME": str(tmp_path), "WANDB_BASE_URL": "http://x"}
    assert remote.api_url(env) == "http://x"
    assert remote.api_url({"HOME": str(tmp_path / "none")}) == "https://api.wandb.ai"
