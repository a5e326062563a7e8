"""``ragguard sync``: upload offline runs with ``wandb sync``, one run at a time.

One ``wandb sync`` call per run folder, never a batch: a single header-only
log in a batch makes ``wandb sync`` stop with an EOF error, upload nothing and
still exit 0. Running and empty runs are skipped with the reason. ``wandb
sync``'s exit status alone proves little (wandb 0.31 also exits 0 after
printing "Not authenticated."), so a folder counts as synced only when the
command exited 0, said it finished, reported no error and left wandb's
``.wandb.synced`` marker. Nothing is ever deleted.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ragguard.errors import BadInputError, EnvironmentProblem, Exit
from ragguard.runs.model import Run

if TYPE_CHECKING:
    from ragguard.config import Policy
    from ragguard.gitrepo import Repo

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 600.0  # seconds for one run; wandb retries an absent server
_HEADER_BYTES = 7  # a .wandb file this small holds no record
_SKIPPED_STATES = {
    "running": "still running: sync it after it ends",
    "empty": "empty: its log holds no records, there is nothing to upload",
    "unreadable": "unreadable",
}

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# wandb's own error lines, click's usage errors and Python tracebacks.
_ERROR_LINE = re.compile(r"(wandb: ERROR\b|Error: |Traceback \(most recent call)")

Outcome = Literal["synced", "failed", "skipped", "would sync"]


@dataclass(frozen=True)
class Planned:
    """A run chosen for syncing: the folders to upload, or why it is skipped."""

    run: Run
    folders: tuple[Path, ...]
    skip: str | None = None

    @property
    def size(self) -> int:
        if not self.folders:
            return self.run.size_bytes
        return sum(_log_size(folder) for folder in self.folders)


@dataclass(frozen=True)
class SyncResult:
    run_id: str
    outcome: Outcome
    detail: str = ""

    def line(self) -> str:
        return f"{self.run_id} {self.outcome}" + (
            f": {self.detail}" if self.detail else ""
        )


# --- choosing runs -----------------------------------------------------------


def plan(
    runs: Sequence[Run], named: Sequence[str] = (), *, explicit: bool = False
) -> list[Planned]:
    """What to do with each run. Unless runs were ``explicit``ly named, only
    offline runs without wandb's synced marker are candidates."""
    chosen = runs if explicit else [r for r in runs if _needs_sync(r)]
    return [_plan_one(run, explicit=explicit) for run in chosen]


def _needs_sync(run: Run) -> bool:
    return run.mode == "offline" and run.sync == "unsynced"


def _plan_one(run: Run, *, explicit: bool) -> Planned:
    if run.state in _SKIPPED_STATES:
        reason = _SKIPPED_STATES[run.state]
        return Planned(run, (), f"{reason} ({run.reason})" if run.reason else reason)
    folders = tuple(
        folder
        for folder in (Path(p) for p in (run.segments or (run.path,)))
        if (explicit or not _has_marker(folder)) and _log_size(folder) > _HEADER_BYTES
    )
    if not folders:
        return Planned(run, (), "nothing left to upload in its folders")
    return Planned(run, folders)


def select_named(runs: Sequence[Run], names: Sequence[str]) -> list[Run]:
    """The runs named by id (or by run folder path), in the order named."""
    by_id = {run.id: run for run in runs}
    by_folder = {
        str(Path(folder).resolve()): run
        for run in runs
        for folder in (run.segments or (run.path,))
    }
    chosen: list[Run] = []
    for name in names:
        run = by_id.get(name) or by_folder.get(str(Path(name).resolve()))
        if run is None:
            raise BadInputError(f"no local W&B run has the id or folder {name!r}")
        if run not in chosen:
            chosen.append(run)
    return chosen


def _log_files(folder: Path) -> list[Path]:
    try:
        return sorted(folder.glob("*.wandb"))
    except OSError:
        return []


def _log_size(folder: Path) -> int:
    total = 0
    for log_file in _log_files(folder):
        try:
            total += log_file.stat().st_size
        except OSError:
            continue
    return total


def _has_marker(folder: Path) -> bool:
    logs = _log_files(folder)
    return bool(logs) and all(
        log_file.with_name(log_file.name + ".synced").exists() for log_file in logs
    )


# --- running wandb sync --------------------------------------------------------


def wandb_command() -> list[str]:
    """How to call the wandb CLI: the ``wandb`` script next to this Python,
    else ``python -m wandb`` (the same installation either way)."""
    script = Path(sys.executable).with_name("wandb")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [sys.executable, "-m", "wandb"]


def sync_args(folder: Path, policy: Policy) -> list[str]:
    """``wandb sync`` for one folder. ragguard has already chosen the folder,
    so wandb's own skipping (synced, online) is turned off: it would make a
    chosen run silently "succeed" with nothing uploaded."""
    args = ["sync", "--include-synced", "--include-online"]
    if policy.wandb.project:
        args += ["--project", policy.wandb.project]
    if policy.wandb.entity:
        args += ["--entity", policy.wandb.entity]
    return [*args, str(folder)]


def sync_folder(folder: Path, policy: Policy, timeout: float) -> str | None:
    """Run ``wandb sync`` on one folder; ``None`` on success, else why not."""
    argv = [*wandb_command(), *sync_args(folder, policy)]
    log.debug("running %s", argv)
    try:
        code, output = _run(argv, timeout)
    except subprocess.TimeoutExpired:
        return f"no result within {timeout:g}s (is the W&B server reachable?)"
    except OSError as error:
        raise EnvironmentProblem(f"cannot run wandb sync: {error}") from error
    log.debug("wandb sync exited %s:\n%s", code, output)
    return _judge(folder, code, _redact(output))


def _run(argv: Sequence[str], timeout: float) -> tuple[int, str]:
    from ragguard.gitrepo import clean_env

    env = clean_env()
    env["WANDB_SILENT"] = "false"  # its messages are how failures are told apart
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
        errors="replace",
        start_new_session=True,  # so a timeout can end wandb's service process too
    )
    try:
        output, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise
    return proc.returncode, output


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    proc.communicate()


def _judge(folder: Path, code: int, output: str) -> str | None:
    plain = _ANSI.sub("", output)
    lines = [line.strip() for line in plain.splitlines() if line.strip()]
    errors = [line for line in lines if _ERROR_LINE.match(line)]
    if code != 0:
        return f"wandb sync exited {code}: {_last(errors or lines)}"
    if any("Not authenticated" in line for line in lines):
        return "not logged in to W&B: run `wandb login` or set WANDB_API_KEY"
    if errors:
        return f"wandb sync reported: {_last(errors)}"
    if not any("Finished syncing" in line for line in lines):
        return f"wandb sync did not report finishing: {_last(lines)}"
    if not _has_marker(folder):
        return "wandb sync did not mark the run synced"
    return None


def _last(lines: Sequence[str]) -> str:
    text = lines[-1] if lines else "no output"
    return text.removeprefix("wandb: ")[:300]


def _redact(text: str) -> str:
    key = os.environ.get("WANDB_API_KEY")
    return text.replace(key, "***") if key else text


# --- the command ---------------------------------------------------------------


def sync_runs(
    planned: Sequence[Planned],
    policy: Policy,
    *,
    dry_run: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Callable[[str], None] = lambda line: None,
    result: Callable[[SyncResult], None] = lambda res: None,
) -> list[SyncResult]:
    """Sync each planned run in turn and report as it goes."""
    results = []
    for index, item in enumerate(planned, 1):
        progress(
            f"run {index} of {len(planned)}: {item.run.id} ({human_size(item.size)})"
        )
        outcome = _sync_one(item, policy, dry_run=dry_run, timeout=timeout)
        result(outcome)
        results.append(outcome)
    return results


def _sync_one(
    item: Planned, policy: Policy, *, dry_run: bool, timeout: float
) -> SyncResult:
    if item.skip:
        return SyncResult(item.run.id, "skipped", item.skip)
    if dry_run:
        commands = "; ".join(
            " ".join(["wandb", *sync_args(folder, policy)]) for folder in item.folders
        )
        return SyncResult(item.run.id, "would sync", commands)
    for folder in item.folders:
        problem = sync_folder(folder, policy, timeout)
        if problem:
            return SyncResult(item.run.id, "failed", f"{folder.name}: {problem}")
    return SyncResult(item.run.id, "synced")


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def summary_line(results: Sequence[SyncResult]) -> str:
    counts: dict[str, int] = {}
    for res in results:
        counts[res.outcome] = counts.get(res.outcome, 0) + 1
    order = ("synced", "would sync", "failed", "skipped")
    return ", ".join(f"{counts[o]} {o}" for o in order if o in counts)


def sync_command(
    names: Sequence[str] = (),
    *,
    all_runs: bool = False,
    dry_run: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    echo: Callable[[str], None] = print,
    progress: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
    cwd: Path | None = None,
) -> int:
    """``ragguard sync``: the exit code, after printing a line per run."""
    from ragguard.config import load_policy
    from ragguard.gitrepo import Repo

    repo = Repo.discover(cwd)
    policy = load_policy(repo.root)
    planned, scope = _choose(repo, policy, names, all_runs)
    if not planned:
        echo(f"nothing to sync: {scope} has no unsynced offline runs")
        return int(Exit.OK)
    for line in resync_warnings(planned):
        echo(line)
    results = sync_runs(
        planned,
        policy,
        dry_run=dry_run,
        timeout=timeout,
        progress=progress,
        result=lambda res: echo(res.line()),
    )
    echo(summary_line(results))
    failed = any(res.outcome == "failed" for res in results)
    return int(Exit.BLOCKED if failed else Exit.OK)


def resync_warnings(planned: Sequence[Planned]) -> list[str]:
    """A line for each chosen run that wandb already marked synced: W&B keeps
    what was uploaded, and a second upload can add its history again."""
    lines = []
    for item in planned:
        if item.skip or not any(_has_marker(folder) for folder in item.folders):
            continue
        where = item.run.url() or "W&B"
        lines.append(
            f"warning: {item.run.id} is already synced; syncing it again can "
            f"duplicate its data on the server: check {where} first"
        )
    return lines


def _choose(
    repo: Repo, policy: Policy, names: Sequence[str], all_runs: bool
) -> tuple[list[Planned], str]:
    from ragguard.selection import local_runs, runs_of_branch

    runs = local_runs(repo, policy)
    if names:
        return plan(select_named(runs, names), explicit=True), "the named runs"
    if all_runs:
        return plan(runs), "this repository"
    branch = repo.current_branch()
    if branch is None:
        raise BadInputError(
            "HEAD is detached, so there is no current branch: name the runs "
            "or use `ragguard sync --all`"
        )
    return plan(runs_of_branch(repo, branch, runs, policy)), f"branch {branch}"
