"""``ragguard.track.init`` with the real wandb in offline mode.

Each real run starts in a child Python process, as a training script would,
so that wandb's process-wide state never leaks between tests. What the run
recorded is then read back through ragguard's own run index.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest

from conftest import git
from ragguard.config import parse_policy
from ragguard.errors import RagguardError
from ragguard.runs.index import default_roots, load_runs
from ragguard.track import (
    GitFacts,
    PolicyWarning,
    RunMetadataError,
    enforce,
    missing_metadata,
    prepared_kwargs,
)

REQUIRE = "runs:\n  require_tags: ['retriever:*']\n  require_config: [retriever.type]\n"

_SCRIPT = textwrap.dedent(
    """
    import json, sys, warnings
    warnings.simplefilter("always")
    import wandb
    import ragguard.track
    from ragguard.errors import RagguardError

    kwargs = json.loads(sys.argv[1])
    with warnings.catch_warnings(record=True) as caught:
        try:
            run = ragguard.track.init(**kwargs)
        except RagguardError as error:
            print(json.dumps({"refused": error.message}))
            sys.exit(0)
    same = run is wandb.run and type(run).__name__ == "Run"
    result = {
        "id": run.id,
        "tags": list(run.tags),
        "config": dict(run.config),
        "same_object": same,
        "warnings": [str(w.message) for w in caught if "ragguard" in str(w.category)],
    }
    run.log({"recall@5": 0.5})
    run.finish()
    print(json.dumps(result))
    """
)


def _track(cwd: Path, **kwargs: Any) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(kwargs)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.fixture
def branch_repo(repo: Path) -> Path:
    git(repo, "switch", "-q", "-c", "exp/dense")
    git(repo, "commit", "-q", "--allow-empty", "-m", "Try a dense retriever")
    return repo


def _head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").stdout.strip()


def test_init_records_branch_and_commit(branch_repo: Path) -> None:
    (branch_repo / ".ragguard.yaml").write_text(REQUIRE)
    result = _track(
        branch_repo,
        project="rag",
        tags=["retriever:dense"],
        config={"retriever": {"type": "dense", "k": 5}},
    )
    assert "refused" not in result
    assert result["same_object"] and result["warnings"] == []
    assert result["tags"] == ["retriever:dense", "branch:exp/dense"]
    assert result["config"]["git_branch"] == "exp/dense"
    assert result["config"]["git_commit"] == _head(branch_repo)

    # What the run index reads back from the run's own files.
    (run,) = load_runs(default_roots(branch_repo, ["wandb"]))
    assert run.id == result["id"] and run.state == "finished"
    assert run.git_branch == "exp/dense"
    assert "branch:exp/dense" in run.tags
    assert run.config_value("retriever.type") == "dense"


def test_init_refuses_before_any_run_starts(branch_repo: Path) -> None:
    (branch_repo / ".ragguard.yaml").write_text(REQUIRE)
    result = _track(branch_repo, project="rag", config={"lr": 0.1})
    message = result["refused"]
    assert "'retriever:*'" in message and "retriever.type" in message
    assert "ragguard.track.init(" in message and "\n" not in message
    assert not (branch_repo / "wandb").exists(), "a run was started"


def test_init_warns_when_the_policy_only_warns(branch_repo: Path) -> None:
    checks = "checks:\n  run-metadata: {pre-push: warn}\n"
    (branch_repo / ".ragguard.yaml").write_text(REQUIRE + checks)
    result = _track(branch_repo, project="rag", tags=["retriever:bm25"])
    assert "refused" not in result
    (warning,) = result["warnings"]
    assert "retriever.type" in warning and "starting anyway" in warning
    assert len(load_runs(default_roots(branch_repo, ["wandb"]))) == 1


def test_init_outside_a_repository_is_plain_wandb_init(tmp_path: Path) -> None:
    result = _track(tmp_path, project="rag", tags=["x"], config={"a": 1})
    assert result["tags"] == ["x"] and result["config"] == {"a": 1}


# --- without a run -------------------------------------------------------------------

FACTS = GitFacts(branch="exp/dense", commit="c" * 40, root=None)


def test_prepared_kwargs_keep_everything_else() -> None:
    given = {"project": "rag", "tags": ("a",), "mode": "offline", "reinit": True}
    out = prepared_kwargs(given, FACTS)
    assert out["project"] == "rag" and out["mode"] == "offline" and out["reinit"]
    assert out["tags"] == ["a", "branch:exp/dense"]
    assert out["config"] == {"git_branch": "exp/dense", "git_commit": "c" * 40}
    assert given["tags"] == ("a",), "the caller's arguments were changed"


def test_prepared_kwargs_take_config_as_wandb_does(tmp_path: Path) -> None:
    namespace = argparse.Namespace(lr=0.1, retriever="bm25")
    out = prepared_kwargs({"config": namespace, "config_exclude_keys": ["lr"]}, FACTS)
    assert out["config"]["retriever"] == "bm25" and "lr" not in out["config"]
    assert "config_exclude_keys" not in out
    yaml_file = tmp_path / "conf.yaml"
    yaml_file.write_text("retriever:\n  value: dense\n")
    out = prepared_kwargs({"config": str(yaml_file)}, FACTS)
    assert out["config"]["retriever"] == "dense"


def test_the_callers_values_win_and_long_branches_get_no_tag() -> None:
    out = prepared_kwargs({"config": {"git_branch": "mine"}}, FACTS)
    assert out["config"]["git_branch"] == "mine"
    long = GitFacts(branch="exp/" + "x" * 80, commit=None, root=None)
    out = prepared_kwargs({"tags": ["a"]}, long)
    assert out["tags"] == ["a"] and out["config"]["git_branch"] == long.branch
    detached = GitFacts(branch=None, commit="c" * 40, root=None)
    assert prepared_kwargs({}, detached)["tags"] == []


def test_missing_metadata_matches_globs_and_dotted_keys(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = parse_policy(REQUIRE)
    config = {"retriever": {"type": "bm25"}}
    assert missing_metadata(policy, ["retriever:bm25"], config) == ([], [])
    assert missing_metadata(policy, ["retrieverbm25"], {"retriever.type": 1}) == (
        ["retriever:*"],
        [],
    )
    monkeypatch.setenv("WANDB_TAGS", "a, retriever:dense")
    assert missing_metadata(policy, [], {"retriever": {}}) == ([], ["retriever.type"])


def test_enforce_follows_the_pre_push_severity() -> None:
    blocking = parse_policy(REQUIRE)
    with pytest.raises(RunMetadataError) as caught:
        enforce(blocking, [], {})
    assert isinstance(caught.value, RagguardError)
    warning = parse_policy(REQUIRE + "checks:\n  run-metadata: {pre-push: warn}\n")
    with pytest.warns(PolicyWarning):
        enforce(warning, [], {})
    off = parse_policy(REQUIRE + "checks:\n  run-metadata: off\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enforce(off, [], {})  # neither raises nor warns
    enforce(blocking, ["retriever:x"], {"retriever": {"type": "x"}})


def test_config_defaults_yaml_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ragguard.track import _checked_config

    (tmp_path / "config-defaults.yaml").write_text(
        "retriever:\n  value:\n    type: bm25\n"
    )
    monkeypatch.chdir(tmp_path)
    config = _checked_config({"lr": 0.1})
    assert config["retriever"] == {"type": "bm25"} and config["lr"] == 0.1
