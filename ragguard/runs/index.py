"""The run index: find run folders, read them (through the cache), judge them.

Reading a folder (:mod:`ragguard.runs.folder`) yields facts that depend only
on its files and are cached. Judging (state and sync) depends on the clock and
on live processes, so it happens on every load.
"""

from __future__ import annotations

import logging
import math
import os
import stat
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, overload

from ragguard.runs import cache
from ragguard.runs.folder import (
    FOLDER_RE,
    ROW_SCHEMA,
    Segment,
    find_log,
    read_segment,
)
from ragguard.runs.model import Run, State, Sync

log = logging.getLogger(__name__)

NESTED_DEPTH = 3  # how far below the repository root */wandb/ folders are looked for
DIR_DEPTH = 4  # how far below --dir run folders are looked for
_SKIP_DIRS = frozenset(
    {"node_modules", "__pycache__", "site-packages", "venv", "env", "build", "dist"}
)
# A quiet but live run may write nothing for a while; a copied folder has a
# fresh mtime but old records. This much slack separates the two.
_ACTIVITY_SLACK = 3600.0


def default_roots(repo_root: Path, dirs: Sequence[str]) -> list[Path]:
    """Folders that hold run folders: the configured dirs, ``$WANDB_DIR/wandb``
    and ``*/wandb`` a few levels below the repository root (``wandb.init(dir=)``
    called from a subfolder). Only existing folders, each once."""
    candidates = [repo_root / d for d in dirs]
    wandb_dir = os.environ.get("WANDB_DIR")
    if wandb_dir:
        candidates.append(Path(wandb_dir) / "wandb")
    candidates.extend(_nested_wandb_dirs(repo_root, NESTED_DEPTH))
    roots: list[Path] = []
    seen: set[str] = set()
    for candidate in candidates:
        real = os.path.realpath(candidate)
        if real not in seen and os.path.isdir(candidate):
            seen.add(real)
            roots.append(candidate)
    return roots


@dataclass(frozen=True)
class Search:
    """Where runs were looked for, and where they may be but were not read."""

    roots: tuple[Path, ...]  # existing folders that were read
    places: tuple[str, ...]  # what was searched, as the user would name it
    unseen: tuple[str, ...]  # "<where>: <why>", one line each


def search(repo_root: Path, dirs: Sequence[str]) -> Search:
    """The roots :func:`default_roots` reads, described for the user, plus the
    places wandb may have put runs that ragguard does not read: a root it
    cannot list, and wandb's fallback to the system temp folder when
    ``$WANDB_DIR`` (or the repository, without it) cannot be written."""
    roots = default_roots(repo_root, dirs)
    places = [_shown(repo_root / d, repo_root) for d in dirs]
    wandb_dir = os.environ.get("WANDB_DIR")
    if wandb_dir:
        places.append(f"$WANDB_DIR/wandb ({Path(wandb_dir) / 'wandb'})")
    places.append(f"*/wandb up to {NESTED_DEPTH} levels down")
    unseen = [f"{_shown(root, repo_root)}: {why}" for root, why in _unlistable(roots)]
    writer = Path(wandb_dir) if wandb_dir else repo_root
    if not _writable(writer):
        import tempfile

        fallback = Path(tempfile.gettempdir()) / "wandb"
        what = "$WANDB_DIR" if wandb_dir else "the repository"
        unseen.append(
            f"{fallback}: wandb writes runs there when {what} ({writer}) cannot "
            "be written; set WANDB_DIR to a writable folder inside the repository"
        )
    return Search(tuple(roots), tuple(dict.fromkeys(places)), tuple(unseen))


def _shown(path: Path, repo_root: Path) -> str:
    try:
        return path.relative_to(repo_root).as_posix()
    except ValueError:
        return str(path)


def _unlistable(roots: Sequence[Path]) -> list[tuple[Path, str]]:
    problems = []
    for root in roots:
        try:
            with os.scandir(root):
                pass
        except OSError as error:
            problems.append((root, f"cannot be read ({error.strerror or error})"))
    return problems


def _writable(folder: Path) -> bool:
    """Whether ``wandb.init`` could make and write ``folder``: it exists as a
    writable folder, or its nearest existing parent is one."""
    path = Path(os.path.abspath(folder))
    while not os.path.lexists(path) and path != path.parent:
        path = path.parent
    return path.is_dir() and os.access(path, os.W_OK | os.X_OK)


def _nested_wandb_dirs(top: Path, depth: int) -> Iterable[Path]:
    if depth <= 0:
        return
    for entry in _scandir(str(top)):
        if entry.name.startswith(".") or entry.name in _SKIP_DIRS:
            continue
        if not _is_real_dir(entry):
            continue
        if entry.name == "wandb":
            yield Path(entry.path)
        elif not FOLDER_RE.match(entry.name):
            yield from _nested_wandb_dirs(Path(entry.path), depth - 1)


def find_run_folders(root: Path, depth: int = DIR_DEPTH) -> list[str]:
    """Run folders in ``root`` (or ``root`` itself), a few levels down at most.

    ``latest-run`` is skipped when it is a link; a real directory of that name
    (a copy, as some repositories commit it) is read and later merged with the
    folder it copies. Symlinked directories are not descended into, so link
    loops cannot trap the walk.
    """
    return list(_find(root, depth))


def _find(root: Path, depth: int = DIR_DEPTH) -> dict[str, os.stat_result | None]:
    """Run folders, each with the ``lstat`` the walk already made of it."""
    top = str(root)
    if _looks_like_run(top):
        return {top: None}
    found: dict[str, os.stat_result | None] = {}
    _walk(top, depth, found)
    return found


def _walk(top: str, depth: int, found: dict[str, os.stat_result | None]) -> None:
    for entry in sorted(_scandir(top), key=lambda e: e.name):
        info = _lstat(entry)
        is_dir = info is not None and stat.S_ISDIR(info.st_mode)
        if entry.name == "latest-run":
            if is_dir and _looks_like_run(entry.path):
                found[entry.path] = info
        elif FOLDER_RE.match(entry.name):
            if is_dir:
                found[entry.path] = info
        elif depth > 1 and is_dir and not entry.name.startswith("."):
            _walk(entry.path, depth - 1, found)


def _looks_like_run(path: str) -> bool:
    name = os.path.basename(path.rstrip(os.sep))
    if FOLDER_RE.match(name):
        return True
    return find_log(path, name) is not None


def _scandir(path: str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as entries:
            return list(entries)
    except OSError as error:
        log.debug("cannot list %s: %s", path, error)
        return []


def _is_real_dir(entry: os.DirEntry[str]) -> bool:
    info = _lstat(entry)
    return info is not None and stat.S_ISDIR(info.st_mode)


def _lstat(entry: os.DirEntry[str]) -> os.stat_result | None:
    try:
        return entry.stat(follow_symlinks=False)
    except OSError:
        return None


def load_runs(
    roots: Sequence[Path],
    *,
    cache_dir: Path | None = None,
    stale_after: float = 900.0,
    deep: bool = False,
) -> list[Run]:
    """Every run under ``roots``, grouped by run id, newest first.

    ``deep`` reads whole logs (config updates made mid-run included) instead
    of head and tail. Never raises on bad run folders: each becomes a run
    with state ``empty`` or ``unreadable`` and a reason.
    """
    folders: dict[str, os.stat_result | None] = {}
    for root in roots:
        for folder, info in _find(Path(root)).items():
            folders.setdefault(folder, info)
    segments = _read_all(folders, roots, cache_dir, deep)
    now = time.time()
    return group(segments, now=now, stale_after=stale_after)


def _read_all(
    folders: Mapping[str, os.stat_result | None],
    roots: Sequence[Path],
    cache_dir: Path | None,
    deep: bool,
) -> list[Segment]:
    path = cache.cache_file(cache_dir, roots) if cache_dir else None
    old = cache.load(path, ROW_SCHEMA) if path else {}
    new: dict[str, Any] = {}
    segments: list[Segment] = []
    changed = False
    for folder, info in folders.items():
        sig = _signature(folder, info)
        entry = old.get(folder)
        segment = None
        # A deep reading also serves a fast request; not the other way round.
        if entry and entry[0] == sig and (entry[1] or not deep):
            segment = _from_cache(entry[2])
        if segment is None:
            segment = read_segment(folder, deep=deep)
            entry = (sig, deep, tuple(segment))
            changed = True
        new[folder] = entry
        segments.append(segment)
    if path and (changed or len(new) != len(old)):
        cache.store(path, ROW_SCHEMA, new)
    return segments


def _from_cache(row: Any) -> Segment | None:
    try:
        return Segment.from_row(row)
    except (TypeError, ValueError):
        return None


def _signature(folder: str, info: os.stat_result | None) -> tuple[Any, ...]:
    """What must be unchanged for a cached reading to stand.

    The folder's own mtime covers files appearing or going (the synced
    marker, a log replaced); the log's size and mtime cover appends.
    """
    name = os.path.basename(folder)
    match = FOLDER_RE.match(name)
    log_name = f"run-{match[3]}.wandb" if match else find_log(folder, name)
    log_info = None
    try:
        info = info or os.stat(folder)
        if log_name:
            log_info = os.stat(os.path.join(folder, log_name))
    except OSError:
        pass
    return (
        *((info.st_size, info.st_mtime_ns) if info else (None, None)),
        *((log_info.st_size, log_info.st_mtime_ns) if log_info else (None, None)),
    )


# --- judging ------------------------------------------------------------------


# After the writer is known dead, how long the log must have stayed unchanged
# before the run counts as crashed. wandb 0.31's service process (wandb-core,
# the one that writes the .wandb file) watches its parent, the user process,
# and exits within a second of its death without flushing what it buffered;
# a service shared by several processes (wandb.setup) outlives one of them and
# keeps writing stats records every 15 s. Thirty seconds without a change
# covers both, and a clock or filesystem with coarse mtimes.
WRITER_GRACE = 30.0


def judge_state(
    segment: Segment,
    now: float,
    stale_after: float,
    grace: float = WRITER_GRACE,
) -> tuple[State, str | None]:
    """The state of one folder and the reason shown with it.

    A run without an exit record is ``running`` while its user process lives,
    or while its log is younger than ``stale_after``; but when this machine
    can tell that its writers are gone (see :func:`writers_dead`) and the log
    has not changed for ``grace`` seconds, it is ``crashed`` at once.
    """
    reason = segment.reason
    if segment.unreadable:
        return "unreadable", reason or "the log cannot be read"
    if segment.layout == "legacy":
        return _legacy_state(segment, now, stale_after), reason
    live = _writer_alive(segment)
    if segment.header_only:
        return _header_only_state(segment, now, stale_after, live), reason
    if segment.exit_seen:
        return ("finished" if segment.exit_code == 0 else "failed"), reason
    if live or (_fresh(segment, now, stale_after) and not _gone(segment, now, grace)):
        return "running", reason
    written = segment.log_mtime
    note = "no exit record"
    if written:
        when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(written))
        note += f"; last written {when} UTC"
    if not _fresh(segment, now, stale_after):
        return "crashed", f"{note}; {reason}" if reason else note
    note += f"; its process {segment.pid} has exited"
    return "crashed", f"{note}; {reason}" if reason else note


def _header_only_state(
    segment: Segment, now: float, stale_after: float, live: bool
) -> State:
    """A log with no record yet: a run in its first seconds (offline wandb
    flushes its first records after about 15 s) or one killed then.

    ``running`` while its writer lives, or while the log is younger than
    ``stale_after`` and its writers are not known dead (another machine, no
    /proc, no debug logs); ``empty`` otherwise. Calling a live run ``empty``
    would ask the user to delete it.
    """
    if live:
        return "running"
    # A copied folder has a fresh mtime; its name still says when it began
    # (local time, so allow a day for time zones).
    begun = _segment_time(segment)
    recent = not begun or now - begun < stale_after + 86400.0
    if recent and _fresh(segment, now, stale_after) and not writers_dead(segment):
        return "running"
    return "empty"


def _legacy_state(segment: Segment, now: float, stale_after: float) -> State:
    state = segment.legacy_state
    if state == "finished" and segment.exit_code in (0, None):
        return "finished"
    if state in ("failed", "killed", "finished") or segment.exit_code:
        return "failed"
    last = segment.last_activity
    if state == "running" and last and now - last < stale_after:
        return "running"
    return "crashed"


def _fresh(segment: Segment, now: float, stale_after: float) -> bool:
    if segment.log_mtime is None or now - segment.log_mtime >= stale_after:
        return False
    last = segment.last_activity
    return last is None or now - last < stale_after + _ACTIVITY_SLACK


def _gone(segment: Segment, now: float, grace: float) -> bool:
    """The writers are known dead and the log has been quiet for ``grace``."""
    quiet = segment.log_mtime is not None and now - segment.log_mtime >= grace
    return quiet and writers_dead(segment)


def _writer_alive(segment: Segment) -> bool:
    """Whether the user process that wrote the run still runs, on this machine."""
    if segment.pid is None or segment.exit_seen:
        return False
    import socket

    if segment.host and segment.host != socket.gethostname():
        return False
    return _process_status(segment.pid, _begun(segment)) is True


def writers_dead(segment: Segment) -> bool:
    """Whether every process that could still write the log is known gone.

    Those are the user process (``logs/debug.log``) and, when its log names
    it, the wandb-core service. Known only on the machine the run records as
    its host (or, for a log with no run record yet, on a machine that can read
    its wandb-core log), with a /proc to look in; anything else (no pid, no
    host, another machine, another OS, a process we may not see) is "not
    known".
    """
    if segment.pid is None:
        return False
    # The host comes from the run record, which a header-only log lacks. Its
    # pids are then looked for here only when wandb-core's log (a link into
    # the writer's ~/.cache) can be read here: the run was made on this
    # machine (or one sharing its home folder).
    if not segment.host and not (segment.header_only and segment.core_pid):
        return False
    import socket

    if segment.host and segment.host != socket.gethostname():
        return False
    begun = _begun(segment)
    pids = [p for p in (segment.pid, segment.core_pid) if p is not None]
    return all(_process_status(pid, begun) is False for pid in pids)


def _begun(segment: Segment) -> float:
    return segment.started_at or segment.log_mtime or 0.0


def _process_status(pid: int, begun: float) -> bool | None:
    """True: ``pid`` is the live process that began the run at ``begun``.

    False: no such process, a zombie, or the pid now belongs to a process
    started later (pids are reused). None: cannot tell (no /proc, or a
    process of another user hidden from us).
    """
    if not os.path.isdir("/proc/self"):
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except FileNotFoundError:
        return _signal_status(pid)
    except (OSError, IndexError):
        return None
    if fields[:1] in ([b"Z"], [b"X"]):  # exited; its parent has not reaped it
        return False
    started = _process_start(fields)
    if started is None:
        return None
    # A reused pid belongs to a process started after the run began.
    return started <= begun + 60.0


def _signal_status(pid: int) -> bool | None:
    """Liveness by signal 0, for a pid /proc does not show (``hidepid``)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return None  # it exists, but whose it is and since when is unknown
    return None


def _process_start(fields: list[bytes]) -> float | None:
    """Start time (epoch seconds) from the fields of ``/proc/<pid>/stat``."""
    try:
        with open("/proc/stat", "rb") as handle:
            boot = next(
                float(line.split()[1]) for line in handle if line.startswith(b"btime")
            )
        ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        return boot + int(fields[19]) / ticks
    except (OSError, IndexError, StopIteration, ValueError):
        return None


def judge_sync(segment: Segment) -> Sync:
    if segment.offline:
        return "synced" if segment.synced_marker else "unsynced"
    return "synced" if segment.upload_evidence else "unconfirmed"


# --- grouping -----------------------------------------------------------------


def group(segments: Sequence[Segment], *, now: float, stale_after: float) -> list[Run]:
    """One :class:`Run` per run id, newest first."""
    by_id: dict[str, list[Segment]] = {}
    for segment in segments:
        by_id.setdefault(segment.id, []).append(segment)
    runs = [_merge(_drop_copies(parts), now, stale_after) for parts in by_id.values()]
    shared = _shared_processes(segments)
    if shared:
        runs = [
            replace(run, shared_with=shared[run.id]) if run.id in shared else run
            for run in runs
        ]
    runs.sort(key=lambda run: (run.started_at or 0.0, run.id), reverse=True)
    return runs


def _shared_processes(segments: Sequence[Segment]) -> dict[str, str]:
    """Run id -> a run that ended in the same process while this one did not.

    Several runs in one notebook kernel share its pid and its wandb-core; a
    run left open there gets no exit record until it is finished, and never
    when the kernel is restarted. Pids are reused, so both pids (the user
    process and wandb-core, 0.17 on) must match, and the two runs must have
    begun within a day of each other, on the same host when both are known.
    The open run must have begun before the other ended: a loop in one
    process (a sweep agent) begins each run after the previous one ended,
    and its current run is simply running.
    """
    ended: dict[tuple[int | None, int | None], list[Segment]] = {}
    for segment in segments:
        if segment.exit_seen and segment.pid and segment.core_pid:
            key = (segment.pid, segment.core_pid)
            ended.setdefault(key, []).append(segment)
    if not ended:
        return {}
    found: dict[str, str] = {}
    for segment in segments:
        if segment.exit_seen or not (segment.pid and segment.core_pid):
            continue
        for other in ended.get((segment.pid, segment.core_pid), ()):
            if other.id != segment.id and _left_open(segment, other):
                found[segment.id] = other.id
                break
    return found


def _left_open(open_one: Segment, ended: Segment) -> bool:
    """Whether ``open_one`` was open in the session where ``ended`` ended."""
    if open_one.host and ended.host and open_one.host != ended.host:
        return False
    begun = open_one.started_at
    if begun is None:  # the folder's stamp, whole seconds: the latest it can be
        begun = _segment_time(open_one) + 1.0
    end = ended.log_mtime or _segment_time(ended)
    return begun < end and end - begun < 86400.0


def _drop_copies(parts: list[Segment]) -> list[Segment]:
    """Drop a copied ``latest-run`` folder when the folder it copies is present."""
    if len(parts) == 1:
        return parts
    originals = {(p.log_size, p.run_id) for p in parts if not _is_copy(p)}
    kept = [
        p for p in parts if not (_is_copy(p) and (p.log_size, p.run_id) in originals)
    ]
    return sorted(kept or parts, key=_segment_time)


def _is_copy(segment: Segment) -> bool:
    return os.path.basename(segment.path) == "latest-run"


def _segment_time(segment: Segment) -> float:
    if segment.started_at is not None:
        return segment.started_at
    match = FOLDER_RE.match(os.path.basename(segment.path))
    if match:
        try:
            return time.mktime(time.strptime(match[2], "%Y%m%d_%H%M%S"))
        except (ValueError, OverflowError):
            pass
    return segment.log_mtime or 0.0


def _merge(parts: list[Segment], now: float, stale_after: float) -> Run:
    if len(parts) == 1:
        return _single(parts[0], now, stale_after)
    judged = [judge_state(p, now, stale_after) for p in parts]
    primary = next(
        (i for i in range(len(parts) - 1, -1, -1) if judged[i][0] != "empty"),
        len(parts) - 1,
    )
    main = parts[primary]
    state, reason = judged[primary]
    syncs = [judge_sync(p) for p in parts]
    sync: Sync = (
        "synced"
        if all(s == "synced" for s in syncs)
        else "unsynced"
        if "unsynced" in syncs
        else "unconfirmed"
    )
    if len(parts) > 1:
        note = f"resumed: {len(parts)} folders"
        reason = f"{reason}; {note}" if reason else note
    return Run(
        id=main.id,
        path=parts[-1].path,
        mode=main.mode,  # type: ignore[arg-type]
        state=state,
        sync=sync,
        exit_code=main.exit_code if main.exit_seen else None,
        project=_newest(parts, "project", main),
        entity=_newest(parts, "entity", main),
        name=_newest(parts, "name", main),
        tags=main.tags or next((p.tags for p in reversed(parts) if p.tags), ()),
        config=_deep_merge(p.config for p in parts),
        summary=_deep_merge(p.summary for p in parts),
        commit=_newest(parts, "commit", main),
        remote=_newest(parts, "remote", main),
        started_at=_started(parts[0]),
        runtime_s=main.runtime_s,
        size_bytes=sum(p.size_bytes for p in parts),
        wandb_version=_newest(parts, "wandb_version", main),
        dirty=True if any(p.dirty for p in parts) else None,
        reason=_ascii_safe(reason),
        segments=tuple(p.path for p in parts),
        partial=any(p.partial for p in parts),
        log_mtime=max((p.log_mtime for p in parts if p.log_mtime), default=None),
    )


def _single(part: Segment, now: float, stale_after: float) -> Run:
    """The common case, one folder per run id, without merging (the warm path)."""
    state, reason = judge_state(part, now, stale_after)
    return Run(
        id=part.id,
        path=part.path,
        mode=part.mode,  # type: ignore[arg-type]
        state=state,
        sync=judge_sync(part),
        exit_code=part.exit_code if part.exit_seen else None,
        project=part.project,
        entity=part.entity,
        name=part.name,
        tags=part.tags,
        config=part.config,
        summary=part.summary,
        commit=part.commit,
        remote=part.remote,
        started_at=_started(part),
        runtime_s=part.runtime_s,
        size_bytes=part.size_bytes,
        wandb_version=part.wandb_version,
        dirty=part.dirty or None,
        reason=_ascii_safe(reason),
        segments=(part.path,),
        partial=part.partial,
        log_mtime=part.log_mtime,
    )


def _started(first: Segment) -> float | None:
    started = _segment_time(first)
    return started or None


def _newest(parts: list[Segment], name: str, main: Segment) -> Any:
    value = getattr(main, name)
    if value:
        return value
    return next((getattr(p, name) for p in reversed(parts) if getattr(p, name)), None)


def _deep_merge(layers: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        _merge_into(merged, layer)
    return merged


def _merge_into(target: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge_into(target[key], value)
        elif isinstance(value, dict):
            target[key] = _deep_merge([value])
        else:
            target[key] = value


@overload
def _ascii_safe(text: str) -> str: ...
@overload
def _ascii_safe(text: None) -> None: ...
def _ascii_safe(text: str | None) -> str | None:
    """``text`` with undecodable bytes (surrogate escapes) as U+FFFD."""
    if text is None:
        return None
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


# --- output -------------------------------------------------------------------


def run_to_json(run: Run) -> dict[str, Any]:
    """The JSON object ``ragguard runs --json`` prints for ``run``.

    Undecodable bytes in folder names (surrogate escapes in ``Run.path``)
    become U+FFFD here, so the JSON is valid UTF-8 for any reader.

    The object encodes as strict JSON (RFC 8259) with any encoder: a metric
    logged as NaN or an infinity (wandb keeps them in the summary) becomes the
    string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``, in config and summary
    alike; JavaScript's names, which also ``float()`` parses back. Strings, not
    ``null``: a diverged loss stays distinguishable from a missing value.
    """
    return {
        "id": _ascii_safe(run.id),
        "path": _ascii_safe(run.path),
        "mode": run.mode,
        "state": run.state,
        "exit_code": run.exit_code,
        "sync": run.sync,
        "project": run.project,
        "entity": run.entity,
        "name": run.name,
        "tags": list(run.tags),
        "config": _finite(run.config),
        "summary": _finite(run.summary),
        "commit": run.commit,
        "remote": run.remote,
        "started_at": _finite(run.started_at),
        "runtime_s": _finite(run.runtime_s),
        "size_bytes": run.size_bytes,
        "wandb_version": run.wandb_version,
        "dirty": run.dirty,
        "reason": run.reason,
        "partial": run.partial,
        "segments": [_ascii_safe(p) for p in run.segments],
        "log_mtime": _finite(run.log_mtime),
    }


def _finite(value: Any) -> Any:
    """``value`` with non-finite floats as strings; the same object when it has
    none, so the common case copies nothing."""
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (math.inf, -math.inf):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, Mapping):
        items = {key: _finite(item) for key, item in value.items()}
        if any(items[key] is not item for key, item in value.items()):
            return items
        return value
    if isinstance(value, list | tuple):
        values = [_finite(item) for item in value]
        if any(new is not old for new, old in zip(values, value, strict=True)):
            return values
        return value
    return value


def filter_runs(
    runs: Iterable[Run],
    *,
    states: Sequence[str] = (),
    syncs: Sequence[str] = (),
    commit: str | None = None,
) -> list[Run]:
    """Runs matching every given filter; ``commit`` matches a prefix."""
    wanted = []
    for run in runs:
        if states and run.state not in states:
            continue
        if syncs and run.sync not in syncs:
            continue
        if commit and not (run.commit or "").startswith(commit.lower()):
            continue
        wanted.append(run)
    return wanted
