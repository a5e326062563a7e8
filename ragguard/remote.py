"""Optional W&B API checks for pre-push and ``ragguard gate``, never a hang.

With ``wandb.remote: true`` and ``wandb.entity``/``wandb.project`` in the
policy, ragguard asks ``wandb.Api()`` for (a) the local online runs whose
upload is unconfirmed, to confirm it, and (b) the runs of the pushed commits
made on other machines (a cluster), which then face runs-finished like local
runs.

All API calls of one command share one deadline (``wandb.remote_timeout``,
5 s by default). They run in a child Python process (``python -m
ragguard.remote``) that is killed, with its process group, at the deadline:
wandb 0.31 sends API requests through its own ``wandb-core`` service process,
and neither a thread nor a socket timeout can be trusted to come back. The
child writes its answer to a file after every query (never to a pipe, which a
surviving ``wandb-core`` would keep open), so work finished before the
deadline is kept. A TCP connection to the server is tried first, so that a
machine without network is told at once instead of at the deadline. Timeouts
and errors become warnings naming what was not checked; they never block.

Answers are cached per run with the time they were read, in
``<git common dir>/ragguard/remote.json`` (replaced atomically). When W&B
cannot be asked, cached answers in a final state still confirm uploads;
anything that could have changed since is only mentioned with its age.

``RAGGUARD_OFFLINE=1`` (and ``ragguard gate --offline``) turns all of it off.
The parent process never imports wandb. The API key is never printed or
logged: every message from the server or the child is scrubbed first.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragguard.runs.model import Run, State

if TYPE_CHECKING:
    from ragguard.config import Policy
    from ragguard.gitrepo import Repo

log = logging.getLogger(__name__)

OFFLINE_ENV = "RAGGUARD_OFFLINE"
CACHE_FILE = "remote.json"
CACHE_VERSION = 1
MAX_RUNS = 300  # per query: the newest runs; more are reported as not checked
PER_PAGE = 100
WINDOW_SLACK = 3600.0  # seconds: clocks of a laptop and a cluster differ
CACHE_KEEP = 30 * 86400.0  # seconds an unused cache entry is kept
_MIN_START = 0.3  # seconds: below this a child process cannot do anything
_REAP = 1.0  # seconds to wait for a killed child to be reaped
_PROBE = 1.5  # seconds for the TCP connection that tells "no network" at once

# W&B's run states and what ragguard calls them.
STATES: Mapping[str, State] = {
    "running": "running",
    "pending": "running",
    "preempting": "running",
    "finished": "finished",
    "failed": "failed",
    "crashed": "crashed",
    "killed": "crashed",
    "preempted": "crashed",
}
_FINAL = {"finished", "failed", "crashed"}


def is_offline(env: Mapping[str, str]) -> bool:
    """Whether ``RAGGUARD_OFFLINE`` turns remote checks off."""
    return env.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


# --- queries and answers ----------------------------------------------------


@dataclass(frozen=True)
class Query:
    """Runs of ``entity/project``: those with the given ids, or created since
    ``since`` (ISO 8601, UTC), optionally only in ``states``."""

    entity: str
    project: str
    ids: tuple[str, ...] = ()
    since: str | None = None
    states: tuple[str, ...] = ()
    what: str = "runs"  # for messages: what this query was looking for

    def filters(self) -> dict[str, Any]:
        parts: list[dict[str, Any]] = []
        if self.ids:
            parts.append({"name": {"$in": list(self.ids)}})
        if self.since:
            parts.append({"createdAt": {"$gte": self.since}})
        found: dict[str, Any] = (
            {"$or": parts} if len(parts) > 1 else next(iter(parts), {})
        )
        if self.states:
            state = {"state": {"$in": list(self.states)}}
            found = {"$and": [found, state]} if found else state
        return found

    def accepts(self, raw: Mapping[str, Any]) -> bool:
        """The same filter applied to a cached answer."""
        if self.states and raw.get("state") not in self.states:
            return False
        if not (self.ids or self.since):
            return True
        created = str(raw.get("created_at") or "")
        return raw.get("id") in self.ids or bool(
            self.since and created >= self.since.rstrip("Z")
        )


@dataclass(frozen=True)
class Answer:
    """What one query gave: raw runs, or why not; ``age`` is set for answers
    taken from the cache (seconds since they were read)."""

    query: Query
    runs: tuple[Mapping[str, Any], ...] = ()
    error: str | None = None
    truncated: bool = False
    ages: Mapping[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


def to_run(raw: Mapping[str, Any]) -> Run:
    """A run read from the W&B API as ragguard's :class:`Run`."""
    wandb_state = str(raw.get("state") or "")
    state = STATES.get(wandb_state, "unreadable")
    reason = f"W&B reports it {wandb_state}" if wandb_state not in STATES else None
    if wandb_state in ("killed", "preempted", "pending", "preempting"):
        reason = f"W&B reports it {wandb_state}"
    entity, project, run_id = raw.get("entity"), raw.get("project"), str(raw["id"])
    return Run(
        id=run_id,
        # Not the URL: checks show paths through pathlib, which folds "//".
        path=f"wandb:{entity}/{project}/{run_id}",
        mode="online",
        state=state,
        sync="synced",
        project=project,
        entity=entity,
        name=raw.get("name") if raw.get("name") != run_id else None,
        tags=tuple(raw.get("tags") or ()),
        config=dict(raw.get("config") or {}),
        summary=dict(raw.get("summary") or {}),
        commit=raw.get("commit") or None,
        started_at=_epoch(raw.get("created_at")),
        reason=reason,
    )


def _epoch(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.rstrip("Z"))
    except ValueError:
        return None
    return moment.replace(tzinfo=moment.tzinfo or UTC).timestamp()


def iso(epoch: float) -> str:
    """``epoch`` as the ISO 8601 UTC text W&B filters on."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- secrets ------------------------------------------------------------------


def secrets_of(env: Mapping[str, str]) -> list[str]:
    """The API keys that could be in use: ``WANDB_API_KEY`` and the netrc
    entry of the API host, with the forms they take in an HTTP header."""
    keys = [env.get("WANDB_API_KEY", "")]
    keys.append(_netrc_key(env) or "")
    found = []
    for key in (k.strip() for k in keys):
        if len(key) >= 8:
            found += [key, base64.b64encode(f"api:{key}".encode()).decode()]
    return sorted(set(found), key=len, reverse=True)


def _netrc_key(env: Mapping[str, str]) -> str | None:
    import netrc
    from urllib.parse import urlparse

    host = urlparse(env.get("WANDB_BASE_URL") or "https://api.wandb.ai").hostname
    path = env.get("NETRC") or os.path.join(env.get("HOME") or "~", ".netrc")
    try:
        entry = netrc.netrc(os.path.expanduser(path)).authenticators(host or "")
    except (OSError, netrc.NetrcParseError):
        return None
    return entry[2] if entry else None


_AUTH = re.compile(r"\b(Basic|Bearer|Token)\s+[A-Za-z0-9+/=._~-]{8,}", re.IGNORECASE)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` without any of ``secrets`` or anything that looks like an
    Authorization header value."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[key removed]")
    return _AUTH.sub(lambda m: f"{m.group(1)} [key removed]", text)


# --- the cache ----------------------------------------------------------------


def _key(entity: str, project: str, run_id: str) -> str:
    return f"{entity}/{project}/{run_id}"


def load_cache(path: Path) -> dict[str, Any]:
    """Cached answers by ``entity/project/id``: ``{"checked_at", "run"}``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    runs = data.get("runs")
    return runs if isinstance(runs, dict) else {}


def store_cache(path: Path, answers: Sequence[Answer], now: float) -> None:
    """Merge fresh answers into the cache file, atomically; never raises."""
    fresh = [a for a in answers if a.ok and not a.ages]
    if not fresh:
        return
    entries = {
        k: v
        for k, v in load_cache(path).items()
        if now - float(v.get("checked_at", 0)) < CACHE_KEEP
    }
    for answer in fresh:
        q = answer.query
        for raw in answer.runs:
            entries[_key(q.entity, q.project, raw["id"])] = {
                "checked_at": now,
                "run": dict(raw),
            }
    _write_atomically(path, {"version": CACHE_VERSION, "runs": entries})


def _write_atomically(path: Path, data: Mapping[str, Any]) -> None:
    from ragguard.atomic import write_atomic

    try:
        write_atomic(path, json.dumps(data).encode("utf-8"))
    except (OSError, TypeError, ValueError) as error:
        log.debug("remote cache not written to %s: %s", path, error)


def from_cache(cache: Mapping[str, Any], query: Query, now: float) -> Answer:
    """The cached runs ``query`` would have found, with their ages."""
    prefix = _key(query.entity, query.project, "")
    runs, ages = [], {}
    for key, entry in cache.items():
        raw = entry.get("run") if isinstance(entry, dict) else None
        if key.startswith(prefix) and isinstance(raw, dict) and query.accepts(raw):
            runs.append(raw)
            ages[str(raw.get("id"))] = max(0.0, now - float(entry["checked_at"]))
    return Answer(query, tuple(runs), ages=ages)


# --- one command's remote work ------------------------------------------------


class Remote:
    """All remote work of one command: one deadline, the cache and the notes.

    The clock starts when the object is made; every :meth:`ask` spends from
    the same budget.
    """

    def __init__(self, policy: Policy, cache_dir: Path, env: Mapping[str, str]) -> None:
        self.limit = policy.wandb.remote_timeout
        self.deadline = time.monotonic() + self.limit
        self.cache_path = cache_dir / CACHE_FILE
        self.env = env
        self.secrets = secrets_of(env)
        self._said: set[str] = set()

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def ask(self, queries: Sequence[Query]) -> list[Answer]:
        """Answers to ``queries`` from W&B, or errors; fresh ones are cached."""
        if not queries:
            return []
        if self.remaining() < _MIN_START:
            error = f"the {self.limit:g} s limit for W&B checks was used up"
            return [Answer(q, error=error) for q in queries]
        unreachable = probe(self.env, min(_PROBE, self.remaining()))
        if unreachable:
            return [Answer(q, error=unreachable) for q in queries]
        answers = run_child(queries, self.remaining(), self.env, self.secrets)
        store_cache(self.cache_path, answers, time.time())
        return answers

    def cached(self, query: Query) -> Answer:
        return from_cache(load_cache(self.cache_path), query, time.time())

    def once(self, notes: list[str], line: str) -> None:
        """Add ``line`` to ``notes`` unless this command said it already."""
        if line not in self._said:
            self._said.add(line)
            notes.append(line)


# --- a quick look before the child -----------------------------------------------

_PROXIES = ("https_proxy", "http_proxy", "all_proxy")


def api_url(env: Mapping[str, str]) -> str:
    """The W&B server wandb will talk to: ``WANDB_BASE_URL``, else wandb's
    settings file, else the public cloud."""
    if env.get("WANDB_BASE_URL"):
        return env["WANDB_BASE_URL"]
    import configparser

    folder = env.get("WANDB_CONFIG_DIR") or os.path.join(
        env.get("HOME") or "~", ".config", "wandb"
    )
    settings = configparser.ConfigParser()
    try:
        settings.read(os.path.expanduser(os.path.join(folder, "settings")))
        return settings.get("default", "base_url")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return "https://api.wandb.ai"


def probe(env: Mapping[str, str], timeout: float) -> str | None:
    """Why the W&B server cannot be reached, or ``None`` when a TCP connection
    opens (or a proxy is configured, which only wandb knows how to use).

    wandb retries an unreachable server until its timeout, so without this a
    laptop without network would spend the whole limit on every push.
    """
    if any(env.get(name) or env.get(name.upper()) for name in _PROXIES):
        return None
    from urllib.parse import urlparse

    url = urlparse(api_url(env))
    host = url.hostname or ""
    port = url.port or (80 if url.scheme == "http" else 443)
    outcome: list[str | None] = []
    worker = threading.Thread(
        target=lambda: outcome.append(_connect(host, port, timeout)), daemon=True
    )
    worker.start()
    worker.join(timeout)  # name lookups have no timeout of their own
    if not outcome:
        return f"cannot reach {host}:{port} within {timeout:.1f} s"
    return outcome[0]


def _connect(host: str, port: int, timeout: float) -> str | None:
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        return f"cannot reach {host}:{port}: {reason}"


# --- the child process ----------------------------------------------------------


def run_child(
    queries: Sequence[Query],
    budget: float,
    env: Mapping[str, str],
    secrets: Sequence[str],
) -> list[Answer]:
    """Ask W&B in a child process; kill it when ``budget`` seconds are up."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(
        prefix="ragguard-remote-", ignore_cleanup_errors=True
    ) as tmp:
        work = Path(tmp)
        request = {
            # Longer than the budget: the kill at the deadline decides, so
            # a silent server always reads as one (wandb's own timeout error
            # speaks of "verifying credentials").
            "timeout": int(budget) + 2,
            "max_runs": MAX_RUNS,
            "per_page": PER_PAGE,
            "queries": [_query_json(q) for q in queries],
        }
        (work / "request.json").write_text(json.dumps(request), encoding="utf-8")
        timed_out = _spawn_and_wait(work, budget, _child_env(env, work))
        result = _read_result(work / "result.json")
        _log_stderr(work / "stderr.log", secrets)
    log.debug("remote checks took %.2f s", time.monotonic() - started)
    return _answers(queries, result, timed_out, budget, secrets)


def _query_json(query: Query) -> dict[str, Any]:
    return {
        "entity": query.entity,
        "project": query.project,
        "filters": query.filters(),
    }


def _child_env(env: Mapping[str, str], work: Path) -> dict[str, str]:
    """The child's environment: the caller's (with its W&B key and URL), quiet,
    online, and writing anything wandb writes into ``work``."""
    child = dict(env)
    child.pop("WANDB_MODE", None)  # offline runs must not turn the API off
    child.update(
        WANDB_SILENT="true",
        WANDB_DIR=str(work),
        PYTHONDONTWRITEBYTECODE="1",
    )
    # wandb-core otherwise posts its own metrics to the server on every call.
    child.setdefault("WANDB_ERROR_REPORTING", "false")
    return child


def _spawn_and_wait(work: Path, budget: float, env: Mapping[str, str]) -> bool:
    """Run the child until it ends or ``budget`` is up; True when killed."""
    argv = [sys.executable, "-m", "ragguard.remote", str(work)]
    with (work / "stderr.log").open("wb") as err:
        try:
            child = subprocess.Popen(
                argv,
                cwd=work,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                start_new_session=True,
            )
        except OSError as error:
            (work / "result.json").write_text(
                json.dumps({"error": f"cannot start Python: {error}"}), "utf-8"
            )
            return False
        try:
            child.wait(timeout=max(0.0, budget))
            return False
        except subprocess.TimeoutExpired:
            _kill(child)
            return True


def _kill(child: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (AttributeError, OSError):
        child.kill()
    try:
        child.wait(timeout=_REAP)
    except subprocess.TimeoutExpired:
        log.debug("remote child %d not reaped yet", child.pid)


def _read_result(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _log_stderr(path: Path, secrets: Sequence[str]) -> None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return
    if text:
        log.debug("remote child said: %s", scrub(text[-4000:], secrets))


def _answers(
    queries: Sequence[Query],
    result: Mapping[str, Any],
    timed_out: bool,
    budget: float,
    secrets: Sequence[str],
) -> list[Answer]:
    results = result.get("results")
    done: list[Any] = results if isinstance(results, list) else []
    shared = result.get("error")
    if timed_out:
        shared = f"W&B did not answer within {budget:.1f} s"
    elif not done and not shared:
        shared = "the W&B check ended without an answer (run with --debug)"
    answers = []
    for index, query in enumerate(queries):
        item = done[index] if index < len(done) else {"error": shared}
        if not isinstance(item, dict) or item.get("error") or "runs" not in item:
            item = item if isinstance(item, dict) else {"error": shared}
            error = scrub(_first_line(str(item.get("error") or shared)), secrets)
            answers.append(Answer(query, error=error))
            continue
        runs = tuple(_with_place(raw, query) for raw in item["runs"])
        answers.append(Answer(query, runs, truncated=bool(item.get("truncated"))))
    return answers


def _first_line(text: str, limit: int = 300) -> str:
    line = next((part for part in text.strip().splitlines() if part.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _with_place(raw: Mapping[str, Any], query: Query) -> dict[str, Any]:
    return {"entity": query.entity, "project": query.project, **raw}


# --- inside the child -------------------------------------------------------------


def child_main(work: Path) -> int:
    """Answer ``work/request.json`` into ``work/result.json``, one query at a
    time (the parent may kill this process at any moment)."""
    request = json.loads((work / "request.json").read_text(encoding="utf-8"))
    queries = request["queries"]
    out: dict[str, Any] = {"results": []}
    try:
        import wandb

        first = queries[0] if queries else {}
        api = wandb.Api(
            timeout=int(request["timeout"]),
            overrides={"entity": first.get("entity"), "project": first.get("project")},
        )
    except Exception as error:  # any failure is reported, never raised
        out["error"] = _describe(error)
        _write_result(work, out)
        return 0
    for query in queries:
        out["results"].append(_child_query(api, query, request))
        _write_result(work, out)
    return 0


def _child_query(
    api: Any, query: Mapping[str, Any], request: Mapping[str, Any]
) -> dict[str, Any]:
    limit = int(request["max_runs"])
    runs: list[dict[str, Any]] = []
    try:
        found = api.runs(
            f"{query['entity']}/{query['project']}",
            filters=query["filters"],
            order="-created_at",
            per_page=int(request["per_page"]),
            lazy=False,
        )
        for run in found:
            if len(runs) == limit:
                return {"runs": runs, "truncated": True}
            runs.append(_raw(run))
    except Exception as error:
        return {"error": _describe(error)}
    return {"runs": runs, "truncated": False}


def _raw(run: Any) -> dict[str, Any]:
    return {
        "id": run.id,
        "state": run.state,
        "commit": getattr(run, "commit", None),
        "tags": list(run.tags or ()),
        "config": _plain(dict(run.config)),
        "summary": _plain(dict(run.summary_metrics or {})),
        "name": run.name,
        "url": run.url,
        "created_at": getattr(run, "created_at", None),
        "heartbeat_at": getattr(run, "heartbeat_at", None),
    }


def _plain(value: Any) -> Any:
    """``value`` as JSON can hold it (W&B summaries can hold odd objects)."""
    return json.loads(json.dumps(value, default=str))


def _describe(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return f"{text} ({type(error).__name__})" if len(text) < 40 else text


def _write_result(work: Path, out: Mapping[str, Any]) -> None:
    _write_atomically(work / "result.json", out)


# --- pre-push ---------------------------------------------------------------------

_SESSIONS: dict[int, tuple[weakref.ref[Any], Remote]] = {}


def session(
    owner: object, policy: Policy, cache_dir: Path, env: Mapping[str, str]
) -> Remote:
    """The :class:`Remote` of the command ``owner`` stands for (a hook): every
    pushed ref spends from the same deadline."""
    key = id(owner)
    known = _SESSIONS.get(key)
    if known is None or known[0]() is not owner:
        known = (weakref.ref(owner), Remote(policy, cache_dir, env))
        _SESSIONS[key] = known
        weakref.finalize(owner, _SESSIONS.pop, key, None)
    return known[1]


def augment_push(
    hook: Any,
    runs: Sequence[Run],
    *,
    local_oid: str,
    remote_oid: str | None,
    remote: str | None,
    branch: str,
) -> tuple[list[Run], list[str]]:
    """The runs a pushed ref answers for, seen through W&B, and notes to print.

    Local online runs whose upload W&B confirms (in a final state that agrees
    with the local one) become ``synced``; runs of the push's commits that W&B
    has and this machine does not are added (see :func:`to_run`). On timeout
    or error the runs come back unchanged but for uploads the cache confirms,
    with a warning.
    """
    policy, env = hook.policy, hook.env
    wb = policy.wandb
    notes: list[str] = []
    if not wb.remote:
        return list(runs), notes
    remote_work = session(hook, policy, hook.repo.common_dir / "ragguard", env)
    if is_offline(env) or not (wb.entity and wb.project):
        remote_work.once(notes, _OFF if is_offline(env) else _NO_PROJECT)
        return list(runs), notes
    commits = _push_commits(hook.repo, policy, local_oid, remote_oid, remote, branch)
    query = Query(
        wb.entity,
        wb.project,
        ids=tuple(sorted(_unconfirmed_ids(runs, wb.entity, wb.project))),
        since=_window_start(hook.repo, commits),
        what="runs of the pushed commits",
    )
    if not (query.ids or query.since):
        return list(runs), notes
    answer = remote_work.ask([query])[0]
    local_ids = {run.id for run in hook.runs()}
    if answer.ok:
        return _apply(runs, answer, commits, branch, policy, local_ids, notes)
    return _fallback(remote_work, runs, answer, commits, notes)


_OFF = f"ragguard: W&B remote checks off ({OFFLINE_ENV} is set)"
_NO_PROJECT = (
    "ragguard: wandb.remote is on but wandb.entity and wandb.project are not"
    " both set in .ragguard.yaml: W&B was not asked"
)


def _push_commits(
    repo: Repo,
    policy: Policy,
    local_oid: str,
    remote_oid: str | None,
    remote: str | None,
    branch: str,
) -> set[str]:
    """The commits whose runs the pushed ref answers for (as runs_of_push)."""
    from ragguard.selection import branch_commits, pushed_commits

    new = pushed_commits(repo, local_oid, remote_oid, remote)
    if not branch or branch == repo.default_branch(policy):
        return new
    return new | branch_commits(repo, branch, policy)


def _unconfirmed_ids(runs: Iterable[Run], entity: str, project: str) -> set[str]:
    return {
        run.id
        for run in runs
        if run.mode == "online"
        and run.sync == "unconfirmed"
        and (run.entity in (None, entity))
        and (run.project in (None, project))
    }


def _window_start(repo: Repo, commits: set[str]) -> str | None:
    """The earliest time a run of ``commits`` can have been made (the oldest
    commit's committer date, less some slack for clocks)."""
    if not commits:
        return None
    out = repo.git(
        "log",
        "--no-walk",
        "--stdin",
        "--format=%ct",
        input="\n".join(commits) + "\n",
        check=False,
    )
    times = [int(t) for t in out.stdout.split() if t.isdigit()]
    return iso(min(times) - WINDOW_SLACK) if times else None


def _apply(
    runs: Sequence[Run],
    answer: Answer,
    commits: set[str],
    branch: str,
    policy: Policy,
    local_ids: set[str],
    notes: list[str],
) -> tuple[list[Run], list[str]]:
    from ragguard.selection import in_projects, runs_on_commits

    found = {str(raw["id"]): raw for raw in answer.runs}
    checked = [_confirm(run, found, answer.query, notes) for run in runs]
    others = [to_run(raw) for key, raw in found.items() if key not in local_ids]
    names = {branch} if branch else set()
    extra = runs_on_commits(in_projects(others, policy), commits, names)
    if answer.truncated:
        notes.append(
            f"ragguard: warning: only the newest {MAX_RUNS} W&B runs since"
            f" {answer.query.since} were checked"
        )
    return checked + extra, notes


def _confirm(
    run: Run, found: Mapping[str, Mapping[str, Any]], query: Query, notes: list[str]
) -> Run:
    """``run`` marked synced when W&B holds it in a final state that agrees."""
    if run.id not in query.ids:
        return run
    raw = found.get(run.id)
    where = f"{query.entity}/{query.project}"
    if raw is None:
        notes.append(f"ragguard: warning: W&B has no run {run.id} in {where}")
        return run
    theirs = STATES.get(str(raw.get("state")), "unreadable")
    if theirs in _FINAL and _agree(run.state, theirs):
        return replace(run, sync="synced")
    notes.append(
        f"ragguard: warning: W&B shows run {run.id} as {raw.get('state')} while"
        f" its local log says {run.state}: its upload may be incomplete"
    )
    return run


def _agree(local: str, remote: str) -> bool:
    bad_end = {"failed", "crashed"}
    return local == remote or (local in bad_end and remote in bad_end)


def _fallback(
    remote_work: Remote,
    runs: Sequence[Run],
    answer: Answer,
    commits: set[str],
    notes: list[str],
) -> tuple[list[Run], list[str]]:
    """W&B could not be asked: confirm what the cache holds in a final state
    and mention the rest; never add a run that could block the push."""
    query = answer.query
    remote_work.once(
        notes, f"ragguard: warning: {query.what} not checked in W&B: {answer.error}"
    )
    cached = remote_work.cached(query)
    found = {str(raw["id"]): raw for raw in cached.runs}
    checked = [_confirm_cached(run, found, cached, notes) for run in runs]
    local = {run.id for run in runs}
    for run_id, raw in found.items():
        if run_id not in local and raw.get("commit") in commits:
            notes.append(
                f"ragguard: warning: run {run_id} was {raw.get('state')} in W&B"
                f" {_age(cached.ages[run_id])} ago (cached; not checked now)"
            )
    return checked, notes


def _confirm_cached(
    run: Run, found: Mapping[str, Mapping[str, Any]], cached: Answer, notes: list[str]
) -> Run:
    raw = found.get(run.id)
    state = STATES.get(str(raw.get("state")), "") if raw else ""
    if run.id in cached.query.ids and state in _FINAL and _agree(run.state, state):
        age = _age(cached.ages[run.id])
        notes.append(f"ragguard: {run.id} confirmed by a W&B answer from {age} ago")
        return replace(run, sync="synced")
    return run


def _age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


# --- ragguard gate ----------------------------------------------------------------


def runs_for_gate(
    repo: Repo, policy: Policy, env: Mapping[str, str], *, offline: bool = False
) -> tuple[list[Run], str | None]:
    """The finished runs W&B holds for the gate, when there are no local runs,
    and a note on where they came from (``None``: remote checks are off)."""
    wb = policy.wandb
    if not wb.remote or offline or is_offline(env):
        return [], None
    if not (wb.entity and wb.project):
        return [], "W&B not asked: set wandb.entity and wandb.project"
    remote_work = Remote(policy, repo.common_dir / "ragguard", env)
    query = Query(wb.entity, wb.project, states=("finished",), what="finished runs")
    answer = remote_work.ask([query])[0]
    place = f"the W&B API ({wb.entity}/{wb.project})"
    if not answer.ok:
        return [], f"W&B not reachable: {answer.error}"
    runs = [to_run(raw) for raw in answer.runs]
    if not runs:
        return [], f"{place} has no finished runs"
    more = f", the newest {MAX_RUNS} finished runs only" if answer.truncated else ""
    return runs, f"{place}{more}"


if __name__ == "__main__":
    sys.exit(child_main(Path(sys.argv[1])))
