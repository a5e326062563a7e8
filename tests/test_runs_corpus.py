"""``ragguard runs --json --dir`` agrees with the published corpus's TRUTH.json.

The corpus (real run folders from public repositories, wandb 0.8 to 0.27) sits
beside the clone: ``<repo>/../shared/corpus/wandb-runs``. Its truth was
computed with wandb's own reader; this maps each of its verdicts to ours:

=====================================  =============================================
TRUTH ``status``                       ragguard
=====================================  =============================================
``finished``                           ``finished``, exit code 0
``failed``                             ``failed``, the same exit code
``no_exit_record``, log readable or    ``crashed``: nothing has been written for
truncated / bad checksum at the end    months (the reason names the damage)
``no_exit_record``, 0-byte log         ``empty``, reason "the log is 0 bytes"
(``read_error`` "header: ...")
``legacy_finished``                    ``finished``
``legacy_failed``, ``legacy_killed``   ``failed`` (exit code from the metadata;
                                       wandb's "killed" ended with code 255)
``legacy_running``                     ``crashed``: its heartbeat is years old
``unknown_logs_only``                  ``empty``, reason names the debug logs
``unknown_no_transaction_log``         ``empty``, reason names the missing log
=====================================  =============================================

Also compared for every entry: run id, mode (``offline-run-`` offline, ``run-``
online, pre-0.10 folders ``legacy``), project, entity, tags, git commit and
remote (run record, else environment record, else ``wandb-metadata.json``),
wandb version, sync (offline: the marker; none here is synced), the number of
config keys and the summary keys of ``wandb-summary.json``.
A copied ``latest-run`` directory is merged into the run it copies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CORPUS = Path(__file__).resolve().parents[1].parent / "shared/corpus/wandb-runs"

pytestmark = pytest.mark.skipif(
    not (CORPUS / "TRUTH.json").is_file(),
    reason=f"the shared run corpus is not beside the clone ({CORPUS})",
)

STATE_OF = {
    "finished": "finished",
    "failed": "failed",
    "legacy_finished": "finished",
    "legacy_failed": "failed",
    "legacy_killed": "failed",
    "legacy_running": "crashed",
    "unknown_logs_only": "empty",
    "unknown_no_transaction_log": "empty",
}
MODE_OF = {"offline": "offline", "online": "online", "legacy": "legacy"}


def _truth() -> list[dict[str, Any]]:
    if not (CORPUS / "TRUTH.json").is_file():
        return []
    return json.loads((CORPUS / "TRUTH.json").read_text())["runs"]


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """What the command prints, cold; run again warm, it prints the same."""
    # Module-scoped: set up before the autouse isolation, so isolate the cache.
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path_factory.mktemp("xdg"))}
    argv = [sys.executable, "-m", "ragguard", "runs", "--json", "--dir", str(CORPUS)]
    cold, warm = (
        subprocess.run(argv, capture_output=True, text=True, check=True, env=env)
        for _ in range(2)
    )
    assert warm.stdout == cold.stdout
    return json.loads(cold.stdout)


def _ours(printed: list[dict[str, Any]], entry: dict[str, Any]) -> dict[str, Any]:
    folder = str(CORPUS / entry["dir"])
    for run in printed:
        if folder in run["segments"]:
            return run
    # latest-run copies are merged into the folder they copy
    (run,) = [r for r in printed if r["id"] == entry["truth"]["run_id"]]
    return run


def expected_state(truth: dict[str, Any]) -> str:
    status = truth["status"]
    if status == "no_exit_record":
        if (truth.get("read_error") or "").startswith("header:"):
            return "empty"
        return "crashed"
    return STATE_OF[status]


@pytest.mark.parametrize("entry", _truth(), ids=lambda e: e["dir"])
def test_state_and_exit_code(printed, entry):
    truth, run = entry["truth"], _ours(printed, entry)
    assert run["state"] == expected_state(truth), run["reason"]
    if truth["status"] in ("finished", "failed"):
        assert run["exit_code"] == truth["exit_code"]
    if truth.get("metadata_exitcode") is not None:
        assert run["exit_code"] == truth["metadata_exitcode"]
    if run["state"] in ("empty", "unreadable") or truth.get("read_error"):
        assert run["reason"], "a damaged or empty run says why"
    if truth["status"] == "unknown_logs_only":
        assert "debug logs" in run["reason"]


@pytest.mark.parametrize("entry", _truth(), ids=lambda e: e["dir"])
def test_identity(printed, entry):
    truth, run = entry["truth"], _ours(printed, entry)
    assert run["id"] == (truth.get("run_id") or truth["folder_run_id"])
    if truth["mode"]:  # None for the latest-run copy
        expected = "legacy" if truth["layout"] == "legacy_jsonl" else truth["mode"]
        assert run["mode"] == MODE_OF[expected]
    if truth.get("run_record_present"):
        assert run["project"] == truth["project"]
        assert run["entity"] == truth["entity"]
        assert run["tags"] == truth["tags"]
        assert run["name"] == truth["display_name"]
    assert run["wandb_version"] == truth["wandb_version"]
    offline = truth["mode"] in ("offline", "dryrun")
    if offline:
        assert run["sync"] == ("synced" if truth["synced_marker"] else "unsynced")
    else:
        assert run["sync"] in ("synced", "unconfirmed")


@pytest.mark.parametrize("entry", _truth(), ids=lambda e: e["dir"])
def test_git(printed, entry):
    truth, run = entry["truth"], _ours(printed, entry)
    git = (
        truth.get("git_run_record")
        or truth.get("git_environment_record")
        or truth.get("git_metadata")
        or {}
    )
    assert run["commit"] == git.get("commit")
    assert run["remote"] == git.get("remote")


@pytest.mark.parametrize("entry", _truth(), ids=lambda e: e["dir"])
def test_config_and_summary(printed, entry):
    truth, run = entry["truth"], _ours(printed, entry)
    if truth.get("config_keys_count_wandb") is not None:
        assert len(run["config"]) == truth["config_keys_count_wandb"]
    if truth.get("summary_keys"):
        assert set(truth["summary_keys"]) - {"_wandb"} <= set(run["summary"])


def test_every_folder_is_listed(printed):
    listed = {segment for run in printed for segment in run["segments"]}
    folders = {str(CORPUS / e["dir"]) for e in _truth() if "latest-run" not in e["dir"]}
    assert listed == folders
