"""Fold wandb ``Record`` messages into the facts the run index reports.

Only the record types below are decoded; the others (history, stats, console
output, ...) are skipped by their field number without being parsed. The
numbers are those of wandb's ``wandb_internal.proto``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ragguard.runs import wire

# Record oneof members
R_SUMMARY, R_CONFIG, R_TELEMETRY, R_RUN, R_EXIT = 3, 5, 11, 17, 18
R_FINAL, R_HEADER, R_STATS, R_ENVIRONMENT = 20, 21, 7, 26
WANTED = frozenset(
    {R_SUMMARY, R_CONFIG, R_TELEMETRY, R_RUN, R_EXIT, R_FINAL, R_HEADER, R_STATS}
    | {R_ENVIRONMENT}
)


Ops = dict[tuple[bytes, ...], bytes | None]


@dataclass
class LogFacts:
    """What a scan of a ``.wandb`` log learned; filled record by record."""

    producer: str | None = None  # header record: "0.31.0+<sha>"
    run_seen: bool = False
    run_id: str | None = None
    entity: str | None = None
    project: str | None = None
    name: str | None = None
    host: str | None = None
    tags: list[str] = field(default_factory=list)
    started_at: float | None = None
    commit: str | None = None
    remote: str | None = None
    env_commit: str | None = None
    env_remote: str | None = None
    cli_version: str | None = None
    config_version: str | None = None  # config["_wandb"]["cli_version"]
    config: dict[str, Any] = field(default_factory=dict)  # set by finish()
    summary: dict[str, Any] = field(default_factory=dict)  # set by finish()
    # Pending updates, path -> value_json (None: removed), in last-write order.
    # Values are parsed once, in finish(): logs repeat keys thousands of times.
    config_ops: Ops = field(default_factory=dict)
    summary_ops: Ops = field(default_factory=dict)
    exit_seen: bool = False
    exit_code: int | None = None
    runtime_s: float | None = None
    final_seen: bool = False
    summary_seen: bool = False
    last_activity: float | None = None  # newest timestamp found inside the log
    records: int = 0

    def apply(self, record: bytes) -> None:
        """Fold one serialized ``Record`` in; raises ``wire.WireError``."""
        self.records += 1
        found = wire.find_message(record, WANTED)
        if found is not None:
            _HANDLERS[found[0]](self, found[1])

    def finish(self) -> None:
        """Turn the pending config and summary updates into nested dicts."""
        self.config, internal = _fold(self.config_ops)
        _wandb_section(self, internal)
        self.summary, _internal = _fold(self.summary_ops)
        stamp = self.summary.get("_timestamp")
        if isinstance(stamp, int | float) and not isinstance(stamp, bool):
            self.touch(float(stamp))

    def runtime(self) -> float | None:
        """Seconds run: the exit record's, else the newest summary ``_runtime``."""
        if self.runtime_s:
            return self.runtime_s
        logged = self.summary.get("_runtime")
        if isinstance(logged, int | float) and not isinstance(logged, bool):
            return float(logged)
        return self.runtime_s

    def touch(self, when: float | None) -> None:
        if when is not None and (
            self.last_activity is None or when > self.last_activity
        ):
            self.last_activity = when


def _header(facts: LogFacts, data: bytes) -> None:
    for number, _w, value in wire.fields(data):
        if number == 1:  # version_info
            for sub, _w2, item in wire.fields(wire.message(value)):
                if sub == 1:  # producer
                    facts.producer = wire.text(item)


def _run(facts: LogFacts, data: bytes) -> None:
    facts.run_seen = True
    tags: list[str] = []
    for number, _w, value in wire.fields(data):
        if number == 1:
            facts.run_id = wire.text(value) or facts.run_id
        elif number == 2:
            facts.entity = wire.text(value) or facts.entity
        elif number == 3:
            facts.project = wire.text(value) or facts.project
        elif number == 4:
            _config(facts, wire.message(value))
        elif number == 5:
            _summary(facts, wire.message(value))
        elif number == 8:
            facts.name = wire.text(value) or facts.name
        elif number == 10:
            tags.append(wire.text(value))
        elif number == 13:
            facts.host = wire.text(value) or facts.host
        elif number == 17:
            facts.started_at = _timestamp(wire.message(value))
            facts.touch(facts.started_at)
        elif number == 19:
            _telemetry(facts, wire.message(value))
        elif number == 21:
            commit, remote = _git(wire.message(value))
            facts.commit = commit or facts.commit
            facts.remote = remote or facts.remote
    # A resumed run's record repeats the tags; the newest record wins.
    facts.tags = tags


def _exit(facts: LogFacts, data: bytes) -> None:
    # finish() writes exit code 0 as an absent field: the record itself is
    # the signal. Some logs hold a second exit record; wandb's sender ignores
    # it ("received Exit record more than once"), and so do we.
    if facts.exit_seen:
        return
    facts.exit_seen = True
    facts.exit_code = 0
    facts.runtime_s = 0.0
    for number, _w, value in wire.fields(data):
        if number == 1:
            facts.exit_code = wire.as_int32(wire.number(value))
        elif number == 2:
            facts.runtime_s = float(wire.as_int32(wire.number(value)))
    if facts.started_at is not None and facts.runtime_s is not None:
        facts.touch(facts.started_at + facts.runtime_s)


def _final(facts: LogFacts, data: bytes) -> None:
    facts.final_seen = True


def _environment(facts: LogFacts, data: bytes) -> None:
    for number, _w, value in wire.fields(data):
        if number == 9:
            commit, remote = _git(wire.message(value))
            facts.env_commit = commit or facts.env_commit
            facts.env_remote = remote or facts.env_remote
        elif number == 3 and facts.started_at is None:
            facts.started_at = _timestamp(wire.message(value))


def _telemetry(facts: LogFacts, data: bytes) -> None:
    for number, _w, value in wire.fields(data):
        if number == 5:  # cli_version
            facts.cli_version = wire.text(value) or facts.cli_version


def _stats(facts: LogFacts, data: bytes) -> None:
    for number, _w, value in wire.fields(data):
        if number == 2:  # timestamp
            facts.touch(_timestamp(wire.message(value)))


def _config(facts: LogFacts, data: bytes) -> None:
    _items(data, facts.config_ops)


def _summary(facts: LogFacts, data: bytes) -> None:
    facts.summary_seen = True
    _items(data, facts.summary_ops)


def _fold(ops: Ops) -> tuple[dict[str, Any], Any]:
    """The nested dict the updates in ``ops`` build, and the ``_wandb`` value."""
    result: dict[str, Any] = {}
    internal = None
    for raw_path, raw in ops.items():
        path = tuple(part.decode("utf-8", "replace") for part in raw_path)
        value = None if raw is None else _json(raw)
        if path[0] == "_wandb":  # wandb's own bookkeeping, not the user's
            internal = value if len(path) == 1 else internal
            continue
        _put(result, path, value, remove=raw is None)
    return result, internal


def _wandb_section(facts: LogFacts, value: Any) -> None:
    if isinstance(value, dict) and isinstance(value.get("cli_version"), str):
        facts.config_version = value["cli_version"]


def _items(data: bytes, ops: Ops) -> None:
    """Record the items of a ConfigRecord or SummaryRecord into ``ops``.

    Items are ``key`` 1, ``nested_key`` 2 (repeated), ``value_json`` 16, all
    length-delimited; updates are field 1 of the record, removals field 2.
    This is the hot loop of a full scan (a summary record per logged step),
    so both levels are decoded inline, and nothing is decoded from UTF-8 or
    JSON until :func:`_fold` has the last value of each path.
    """
    pos, end = 0, len(data)
    while pos < end:
        tag = data[pos]
        if tag < 0x80:
            pos += 1
        else:
            tag, pos = wire.read_varint(data, pos)
        size = data[pos] if pos < end else 0x80
        if size < 0x80:
            pos += 1
        else:
            size, pos = wire.read_varint(data, pos)
        stop = pos + size
        if tag & 7 != wire.LENGTH or stop > end:
            raise wire.WireError("malformed config or summary record")
        if tag == 0x0A or tag == 0x12:  # update 1, remove 2
            path, raw = _item(data, pos, stop)
            ops.pop(path, None)  # re-inserted: the dict keeps last-write order
            ops[path] = None if tag == 0x12 else raw
        pos = stop


def _item(data: bytes, pos: int, end: int) -> tuple[tuple[bytes, ...], bytes]:
    key = b""
    nested: list[bytes] = []
    raw = b""
    while pos < end:
        tag = data[pos]
        if tag < 0x80:
            pos += 1
        elif tag == 0x82 and pos + 1 < end and data[pos + 1] == 0x01:
            tag, pos = 0x82, pos + 2  # value_json's two-byte key, inline
        else:
            tag, pos = wire.read_varint(data, pos)
        size = data[pos] if pos < end else 0x80
        if size < 0x80:
            pos += 1
        else:
            size, pos = wire.read_varint(data, pos)
        if tag & 7 != wire.LENGTH or pos + size > end:
            raise wire.WireError("malformed config or summary item")
        if tag == 0x82:  # field 16, wire type 2
            raw = data[pos : pos + size]
        elif tag == 0x12:
            nested.append(data[pos : pos + size])
        elif tag == 0x0A:
            key = data[pos : pos + size]
        pos += size
    # An empty key is kept: wandb 0.10 wrote such items and counts them.
    return (tuple(nested) if nested else (key,)), raw


def _json(raw: bytes | str) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def _put(
    target: dict[str, Any], path: tuple[str, ...], value: Any, *, remove: bool
) -> None:
    node = target
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            if remove:
                return
            child = node[part] = {}
        node = child
    if remove:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = value


def _git(data: bytes) -> tuple[str | None, str | None]:
    commit = remote = None
    for number, _w, value in wire.fields(data):
        if number == 1:
            remote = wire.text(value) or None
        elif number == 2:
            commit = wire.text(value) or None
    return commit, remote


def _timestamp(data: bytes) -> float | None:
    seconds = nanos = 0
    for number, _w, value in wire.fields(data):
        if number == 1:
            seconds = wire.as_int32(wire.number(value))
        elif number == 2:
            nanos = wire.number(value)
    return seconds + nanos / 1e9 if seconds else None


_HANDLERS = {
    R_HEADER: _header,
    R_RUN: _run,
    R_EXIT: _exit,
    R_FINAL: _final,
    R_ENVIRONMENT: _environment,
    R_TELEMETRY: _telemetry,
    R_STATS: _stats,
    R_CONFIG: _config,
    R_SUMMARY: _summary,
}
