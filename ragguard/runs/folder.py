"""Read one run folder into a :class:`Segment`: what its files say, once.

A segment holds only facts that depend on the folder's contents, so it can be
cached by log size and modification time. Facts that change without the log
changing (the synced marker, whether the writer is alive, the clock) are
looked at on every load, in :mod:`ragguard.runs.index`.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import stat
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

if TYPE_CHECKING:  # the log reader is imported only when a log is read
    from ragguard.runs.logfile import LogRead
    from ragguard.runs.records import LogFacts

log = logging.getLogger(__name__)

# wandb names: run-<stamp>-<id>, offline-run-<stamp>-<id>, pre-0.10 dryrun-<stamp>-<id>.
# Ids chosen by the user may hold '-' or ':' (litjtml), so the id is the rest.
FOLDER_RE = re.compile(r"^(offline-run|run|dryrun)-(\d{8}_\d{6})-(.+)$")
_LOG_NAME_RE = re.compile(r"^run-(.+)\.wandb$")
_SDK_RE = re.compile(r"Current SDK version is (\S+)")
_PID_RE = re.compile(r"Configure stats pid to (\d+)")
# Every debug.log line names its process ("MainThread:4564 ["): the later runs
# of one process (a notebook) lack the "Configure stats pid" line.
_LINE_PID_RE = re.compile(r"^[\d-]+ [\d:,]+ +[A-Z]+ +\S+:(\d+) \[", re.MULTILINE)
# wandb-core's log names its socket /tmp/wandb-<parent pid>-<core pid>-<n>/socket.
_CORE_PID_RE = re.compile(rb"wandb-\d+-(\d+)-\d+/socket")
_CLI_VERSION_RE = re.compile(r"^\s+cli_version: (\S+)", re.MULTILINE)
_HEAD_OF_DEBUG_LOG = 4096
_EVIDENCE_TAIL = 64 * 1024
# Evidence of a completed upload by an online run, newest wandb first: the
# file stream's final request accepted, or the user-process footer that wandb
# prints only after its uploads are done.
_UPLOAD_DONE = (b'"complete":true', b"logging synced files")


class Segment(NamedTuple):
    """One run folder as read from disk (a resumed run has several).

    A NamedTuple, not a dataclass: the cache stores it as a plain tuple and the
    warm path rebuilds a thousand of them, which ``_make`` does cheaply.
    """

    path: str
    folder_id: str
    mode: str  # online, offline, legacy
    layout: str  # log, legacy, logs-only, no-log
    log_name: str | None = None
    log_size: int = 0
    log_mtime: float | None = None
    run_id: str | None = None
    entity: str | None = None
    project: str | None = None
    name: str | None = None
    tags: tuple[str, ...] = ()
    config: dict[str, Any] = {}  # shared default: never mutated
    summary: dict[str, Any] = {}  # shared default: never mutated
    commit: str | None = None
    remote: str | None = None
    started_at: float | None = None
    runtime_s: float | None = None
    exit_seen: bool = False
    exit_code: int | None = None
    wandb_version: str | None = None
    size_bytes: int = 0
    dirty: bool | None = None
    header_only: bool = False
    unreadable: bool = False
    truncated: bool = False
    partial: bool = False
    deep: bool = False
    reason: str | None = None
    last_activity: float | None = None
    pid: int | None = None  # the user process that called wandb.init
    core_pid: int | None = None  # the wandb-core service that wrote the log
    host: str | None = None
    legacy_state: str | None = None
    offline: bool = False  # offline-run-* or pre-0.10 dryrun-*: synced by marker
    synced_marker: bool = False
    upload_evidence: bool = False

    @property
    def id(self) -> str:
        return self.run_id or self.folder_id

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Segment:
        """Rebuild from a cached tuple; ``ValueError`` when the fields changed."""
        if len(row) != len(ROW_SCHEMA):
            raise ValueError("cached row does not match the Segment fields")
        return cls._make(row)


ROW_SCHEMA: tuple[str, ...] = Segment._fields


def folder_mode(name: str) -> str | None:
    """The mode a run folder's name implies, or None when it is not a run folder."""
    match = FOLDER_RE.match(name)
    if not match:
        return None
    return {"offline-run": "offline", "run": "online", "dryrun": "legacy"}[match[1]]


def find_log(path: str, name: str) -> str | None:
    """The ``.wandb`` file's name inside a run folder, without listing it if we can."""
    match = FOLDER_RE.match(name)
    if match:
        guess = f"run-{match[3]}.wandb"
        if os.path.isfile(os.path.join(path, guess)):
            return guess
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return None
    return next((n for n in names if _LOG_NAME_RE.match(n)), None)


def read_segment(path: str, *, deep: bool = False) -> Segment:
    """Read the run folder at ``path``; never raises, never writes into it."""
    name = os.path.basename(path)
    try:
        segment = _read(path, name, deep)
    except Exception as error:  # never raise on a folder: it becomes unreadable
        log.debug("reading %s failed", path, exc_info=True)
        return Segment(
            path=path,
            folder_id=_folder_id(path, name),
            mode=folder_mode(name) or "online",
            layout="no-log",
            unreadable=True,
            reason=f"cannot read the folder: {_one_line(error)}",
        )
    if not _is_utf8(path):
        note = "the folder's path is not valid UTF-8 (shown with replacements)"
        reason = f"{segment.reason}; {note}" if segment.reason else note
        segment = segment._replace(reason=reason)
    return segment


def _is_utf8(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # surrogate escapes stand for undecodable bytes
        return False
    return True


def _read(path: str, name: str, deep: bool) -> Segment:
    log_name = find_log(path, name)
    mode = folder_mode(name)
    base: dict[str, Any] = {
        "path": path,
        "folder_id": _folder_id(path, name, log_name),
        "mode": mode or "online",
        "size_bytes": _tree_size(path),
        "dirty": _dirty(path),
        "offline": mode == "offline" or name.startswith("dryrun-"),
    }
    special = _special_file(path, log_name)
    if special:
        return Segment(
            **base,
            layout="log" if log_name else "no-log",
            log_name=log_name,
            unreadable=True,
            reason=special,
        )
    base.update(_debug_log_facts(path))
    if "wandb_version" not in base:
        base["wandb_version"] = _config_yaml_version(path)
    if log_name is None:
        return _without_log(path, base)
    if mode is None:  # a copied folder such as raqa-rag's latest-run
        base["mode"] = _mode_from_metadata(path)
        base["offline"] = base["mode"] == "offline"
    return _with_log(path, log_name, base, deep)


def _with_log(path: str, log_name: str, base: dict[str, Any], deep: bool) -> Segment:
    from ragguard.runs.logfile import read_log

    log_path = os.path.join(path, log_name)
    try:
        with open_regular(log_path) as handle:
            info = os.fstat(handle.fileno())
            result = read_log(handle, info.st_size, deep=deep)
    except OSError as error:
        return Segment(
            **base,
            layout="log",
            log_name=log_name,
            unreadable=True,
            reason=f"cannot read {log_name}: {_one_line(error)}",
        )
    facts = result.facts
    metadata = _metadata(path)
    git = _git_section(metadata)
    version = facts.cli_version or facts.config_version
    if not version and facts.producer:
        version = facts.producer.split("+", 1)[0]
    config, summary = facts.config, facts.summary
    if result.partial:
        # Online runs keep the whole config and summary in files/; use them
        # where the fast path skipped the middle of the log.
        config = {**_config_yaml(path)[0], **config}
    summary = {**_summary_json(path), **summary}
    segment = Segment(
        **{**base, "wandb_version": version or base.get("wandb_version")},
        layout="log",
        log_name=log_name,
        log_size=info.st_size,
        log_mtime=info.st_mtime,
        run_id=facts.run_id,
        entity=facts.entity,
        project=facts.project,
        name=facts.name,
        tags=tuple(facts.tags),
        config=config,
        summary=summary,
        commit=facts.commit or facts.env_commit or _str(git.get("commit")),
        remote=facts.remote or facts.env_remote or _str(git.get("remote")),
        started_at=facts.started_at,
        runtime_s=facts.runtime(),
        exit_seen=facts.exit_seen,
        exit_code=facts.exit_code if facts.exit_seen else None,
        header_only=result.header_ok and facts.records == 0,
        truncated=result.truncated,
        partial=result.partial,
        deep=deep,
        last_activity=facts.last_activity,
        host=facts.host,
        synced_marker=os.path.exists(log_path + ".synced"),
        upload_evidence=facts.exit_seen and _upload_evidence(path),
    )
    return _judge_log(segment, result, facts)


def _judge_log(segment: Segment, result: LogRead, facts: LogFacts) -> Segment:
    """Turn what the log reader found into the segment's flags and reason."""
    size, damage, truncated = result.size, result.damage, result.truncated

    if size == 0:
        return segment._replace(header_only=True, reason="the log is 0 bytes")
    if size < 7:
        return segment._replace(
            header_only=True, reason="the log is shorter than its header"
        )
    if not result.header_ok:
        return segment._replace(unreadable=True, reason=damage[0] if damage else None)
    if facts.records == 0 and (truncated or not damage):
        # Killed before its first record was complete: nothing was logged.
        reason = damage[0] if damage else "the log holds only its header"
        return segment._replace(header_only=True, reason=reason)
    if facts.records == 0:
        return segment._replace(
            unreadable=True, reason=f"no record decodes: {damage[0]}"
        )
    if not facts.run_seen:
        reason = damage[0] if damage else "the log holds no run record"
        return segment._replace(unreadable=True, reason=f"no run record: {reason}")
    if damage:
        return segment._replace(reason="; ".join(damage[:2]))
    return segment


def _without_log(path: str, base: dict[str, Any]) -> Segment:
    if os.path.isfile(os.path.join(path, "wandb-metadata.json")):
        return _legacy(path, base)
    has_logs = os.path.isdir(os.path.join(path, "logs"))
    has_files = os.path.isdir(os.path.join(path, "files"))
    if has_logs and not has_files:
        reason = "only debug logs; no transaction log (.wandb)"
        return Segment(**base, layout="logs-only", header_only=True, reason=reason)
    metadata = _metadata(path)
    git = _git_section(metadata)
    return Segment(
        **base,
        layout="no-log",
        header_only=True,
        commit=_str(git.get("commit")),
        remote=_str(git.get("remote")),
        reason="no transaction log (.wandb) in the folder",
    )


def _legacy(path: str, base: dict[str, Any]) -> Segment:
    """A pre-0.10 folder: JSON files at the top level, the state in the metadata."""
    metadata = _load_json(os.path.join(path, "wandb-metadata.json"))
    summary = _load_json(os.path.join(path, "wandb-summary.json"))
    git = _git_section(metadata)
    state = _str(metadata.get("state"))
    exit_code = metadata.get("exitcode")
    config, version = _config_yaml(path, legacy=True)
    started = _iso_time(metadata.get("startedAt"))
    heartbeat = _iso_time(metadata.get("heartbeatAt"))
    return Segment(
        **{**base, "mode": "legacy", "wandb_version": version},
        layout="legacy",
        project=_str(metadata.get("project")),
        name=_str(metadata.get("name")),
        config=config,
        summary={k: v for k, v in summary.items() if k != "_wandb"},
        commit=_str(git.get("commit")),
        remote=_str(git.get("remote")),
        started_at=started,
        runtime_s=heartbeat - started if heartbeat and started else None,
        exit_seen=isinstance(exit_code, int),
        exit_code=exit_code if isinstance(exit_code, int) else None,
        legacy_state=state,
        last_activity=heartbeat,
        reason="pre-0.10 folder: state from wandb-metadata.json",
    )


def _config_yaml(
    path: str, *, legacy: bool = False
) -> tuple[dict[str, Any], str | None]:
    """Config and wandb version from ``config.yaml`` (``key: {desc, value}``).

    PyYAML is imported only here: pre-0.10 folders, and long online logs
    whose middle the fast path skipped.
    """
    name = os.path.join(path, "config.yaml" if legacy else "files/config.yaml")
    if not os.path.isfile(name):
        return {}, None
    import yaml

    try:
        with open_regular(name) as handle:
            data = yaml.safe_load(handle.read().decode("utf-8", "replace"))
    except (OSError, yaml.YAMLError):
        return {}, None
    if not isinstance(data, dict):
        return {}, None
    config: dict[str, Any] = {}
    version = None
    for key, entry in data.items():
        value = entry.get("value") if isinstance(entry, dict) else entry
        if key == "_wandb":
            if isinstance(value, dict):
                version = _str(value.get("cli_version"))
        elif key != "wandb_version":
            config[str(key)] = value
    return json.loads(json.dumps(config, default=str)), version


def _config_yaml_version(path: str) -> str | None:
    """``_wandb.cli_version`` from ``files/config.yaml``, found without YAML."""
    try:
        with open_regular(os.path.join(path, "files", "config.yaml")) as handle:
            head = handle.read(_HEAD_OF_DEBUG_LOG).decode("utf-8", "replace")
    except OSError:
        return None
    match = _CLI_VERSION_RE.search(head)
    return match[1].strip("'\"") if match else None


def _summary_json(path: str) -> dict[str, Any]:
    summary = _load_json(os.path.join(path, "files", "wandb-summary.json"))
    summary.pop("_wandb", None)
    return summary


def _folder_id(path: str, name: str, log_name: str | None = None) -> str:
    match = FOLDER_RE.match(name)
    if match:
        return match[3]
    log_match = _LOG_NAME_RE.match(log_name or "")
    return log_match[1] if log_match else name


def _mode_from_metadata(path: str) -> str:
    return "offline" if _metadata(path).get("mode") == "offline" else "online"


def _metadata(path: str) -> dict[str, Any]:
    return _load_json(os.path.join(path, "files", "wandb-metadata.json"))


def _load_json(path: str) -> dict[str, Any]:
    try:
        with open_regular(path) as handle:
            data = json.loads(handle.read(4 << 20))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _debug_log_facts(path: str) -> dict[str, Any]:
    """The wandb version and the writers' pids from the heads of the debug logs.

    ``debug.log`` names the user process; ``debug-core.log`` (a link to
    wandb-core's own log under ``~/.cache/wandb``, 0.17 on) names the service
    process that actually writes the ``.wandb`` file.
    """
    facts: dict[str, Any] = {}
    try:
        with open_regular(os.path.join(path, "logs", "debug.log")) as handle:
            head = handle.read(_HEAD_OF_DEBUG_LOG).decode("utf-8", "replace")
    except OSError:
        return facts
    if match := _SDK_RE.search(head):
        facts["wandb_version"] = match[1]
    if match := _PID_RE.search(head) or _LINE_PID_RE.search(head):
        facts["pid"] = int(match[1])
    try:
        with open_regular(os.path.join(path, "logs", "debug-core.log")) as handle:
            core = handle.read(_HEAD_OF_DEBUG_LOG)
    except OSError:
        return facts
    # wandb-core names its log by the second it started: cores started in the
    # same second share one file, so take the socket of this run's process.
    own = _own_core_re(facts["pid"]) if "pid" in facts else None
    if found := (own and own.search(core)) or _CORE_PID_RE.search(core):
        facts["core_pid"] = int(found[1])
    return facts


def _own_core_re(pid: int) -> re.Pattern[bytes]:
    return re.compile(rb"wandb-%d-(\d+)-\d+/socket" % pid)


def _upload_evidence(path: str) -> bool:
    for name in ("debug-internal.log", "debug.log"):
        tail = _tail(os.path.join(path, "logs", name), _EVIDENCE_TAIL)
        if any(marker in tail for marker in _UPLOAD_DONE):
            return True
    return False


def _tail(path: str, size: int) -> bytes:
    try:
        with open_regular(path) as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - size))
            return handle.read(size).replace(b'": ', b'":')
    except OSError:
        return b""


# Files the index opens, relative to a run folder (besides the log itself).
_READ_FILES = (
    "files/config.yaml",
    "files/wandb-summary.json",
    "files/wandb-metadata.json",
    "logs/debug.log",
    "logs/debug-internal.log",
    "logs/debug-core.log",
    "config.yaml",  # pre-0.10 folders
    "wandb-summary.json",
    "wandb-metadata.json",
)
_KINDS = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a directory"),
)


def _special_file(path: str, log_name: str | None) -> str | None:
    """Why the folder cannot be read safely: a file the index would open is
    not a regular file. Reading a named pipe blocks until someone writes to
    it, which would hang every hook; devices may do worse."""
    names = ([log_name] if log_name else []) + list(_READ_FILES)
    for name in names:
        try:
            info = os.stat(os.path.join(path, name))
        except OSError:  # absent, or a dangling link: nothing to open
            continue
        if not stat.S_ISREG(info.st_mode):
            kind = next((k for test, k in _KINDS if test(info.st_mode)), "special")
            return f"cannot read {name}: it is {kind}, not a regular file"
    return None


def open_regular(path: str) -> BinaryIO:
    """Open ``path`` for reading in binary, refusing anything but a regular file.

    ``stat`` first, so a pipe or device is never opened; then ``O_NONBLOCK``
    and ``fstat`` on the open descriptor, in case the path was swapped for a
    pipe in between (opening a pipe without a writer blocks, without
    ``O_NONBLOCK``). ``O_NONBLOCK`` changes nothing for regular files.
    """
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError(errno.EINVAL, "not a regular file", path)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _dirty(path: str) -> bool | None:
    """True when wandb saved a non-empty ``diff.patch``; absence proves nothing."""
    try:
        return os.path.getsize(os.path.join(path, "files", "diff.patch")) > 0 or None
    except OSError:
        return None


def _tree_size(path: str) -> int:
    """Bytes of the regular files under ``path``, not following symlinks."""
    total = 0
    stack = [path]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode):
                stack.append(entry.path)
            elif stat.S_ISREG(info.st_mode):
                total += info.st_size
    return total


def _iso_time(value: Any) -> float | None:
    from datetime import UTC, datetime

    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:  # pre-0.10 wandb wrote UTC without an offset
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _git_section(metadata: dict[str, Any]) -> dict[str, Any]:
    git = metadata.get("git")
    return git if isinstance(git, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
