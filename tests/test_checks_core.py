"""The checks package: severity from the policy, skipping, the skip log."""

from __future__ import annotations

from pathlib import Path

from ragguard.checks import (
    CHECK_MODULES,
    Context,
    Finding,
    cap,
    log_skip,
    run_checks,
    skip_from_env,
    skip_log_path,
    unknown_skips,
    worst,
)
from ragguard.config import CHECK_STAGES, DEFAULT_POLICY, parse_policy
from ragguard.runs.model import Run


def failed_unsynced() -> Run:
    return Run(
        id="r1",
        path="/r/wandb/offline-run-20260101_000000-r1",
        mode="offline",
        state="failed",
        sync="unsynced",
        commit="a" * 40,
    )


def test_every_configurable_check_has_a_module() -> None:
    assert set(CHECK_MODULES) == set(CHECK_STAGES)


def test_policy_caps_severity() -> None:
    assert cap("block", "warn") == "warn"
    assert cap("block", "block") == "block"
    assert cap("warn", "block") == "warn"
    assert cap("info", "warn") == "info"
    assert worst([]) is None
    found = [Finding("x", "warn", "s", "m"), Finding("y", "block", "s", "m")]
    assert worst(found) == "block"


def test_run_checks_uses_the_stage_severity() -> None:
    ctx = Context(
        stage="pre-push",
        policy=DEFAULT_POLICY,
        root=Path("/r"),
        branch="exp/a",
        runs=(failed_unsynced(),),
    )
    found = run_checks("pre-push", ctx)
    assert {(f.check, f.severity) for f in found} == {
        ("runs-finished", "warn"),
        ("runs-synced", "block"),
    }
    # post-checkout: runs-synced is a warning there
    found = run_checks("post-checkout", ctx)
    assert {f.severity for f in found} == {"warn"}


def test_run_checks_skips_and_off() -> None:
    ctx = Context(
        stage="pre-push",
        policy=DEFAULT_POLICY,
        root=Path("/r"),
        branch="exp/a",
        runs=(failed_unsynced(),),
    )
    assert [
        f.check for f in run_checks("pre-push", ctx, frozenset({"runs-synced"}))
    ] == ["runs-finished"]
    assert run_checks("pre-push", ctx, frozenset({"all"})) == []
    policy = parse_policy("checks:\n  runs-synced: off\n  runs-finished: off\n")
    off = Context(stage="pre-push", policy=policy, root=Path("/r"), runs=ctx.runs)
    assert run_checks("pre-push", off) == []


def test_left_behind_and_run_checks_do_not_repeat_each_other() -> None:
    from ragguard.checks import LeftFacts

    ctx = Context(
        stage="switch",
        policy=DEFAULT_POLICY,
        root=Path("/r"),
        branch="exp/a",
        runs=(failed_unsynced(),),
        left=LeftFacts(branch="exp/a", remote="origin"),
    )
    found = run_checks("switch", ctx)
    assert len(found) == 2
    assert [(f.check, f.severity) for f in found] == [
        ("runs-finished", "warn"),
        ("runs-synced", "block"),
    ]  # failed, unsynced


def test_skip_from_env() -> None:
    skip = skip_from_env(
        {"RAGGUARD_SKIP": " runs-synced, bogus ,", "RAGGUARD_SKIP_REASON": " demo "}
    )
    assert skip.checks == {"runs-synced", "bogus"}
    assert skip.reason == "demo"
    assert unknown_skips(skip) == ["bogus"]
    assert skip_from_env({}).checks == frozenset()
    assert skip_from_env({"RAGGUARD_SKIP": "all"}).checks == {"all"}


def test_skip_log_lines(tmp_path: Path) -> None:
    path = log_skip(tmp_path, "pre-push", ["runs-synced"], "exp/a", "server\tdown\n")
    log_skip(tmp_path, "pre-commit", ["all"], None, None)
    assert path == skip_log_path(tmp_path)
    lines = path.read_text().splitlines()
    fields = lines[0].split("\t")
    assert fields[1:] == ["pre-push", "runs-synced", "exp/a", "server down"]
    assert lines[1].split("\t")[1:] == ["pre-commit", "all", "(detached)", "-"]


def test_many_unsynced_runs_get_one_command_for_all() -> None:
    from ragguard.render import Painter, render_findings

    findings = [
        Finding(
            "runs-synced",
            "block",
            f"run {rid} (bm25)",
            "not synced",
            f"wandb sync wandb/x-{rid}",
        )
        for rid in ("aaaa1111", "bbbb2222")
    ]
    lines = render_findings("pre-push", findings, paint=Painter(False))
    assert lines[-1] == "  sync them all: ragguard sync aaaa1111 bbbb2222"
    one = render_findings("pre-push", findings[:1], paint=Painter(False))
    assert not any("sync them all" in line for line in one)
