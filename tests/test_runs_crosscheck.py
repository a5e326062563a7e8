"""The hand-written decoder agrees with wandb's own protobuf classes.

Each log is read twice: by ``ragguard.runs.logfile`` and by a plain reader in
this file that decodes every record with ``wandb.proto.wandb_internal_pb2``.
Every field the index reports from a log is compared. Logs: the session's
real runs and every ``.wandb`` in the shared corpus.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from test_runs_corpus import CORPUS

import wandbgen
from ragguard.runs.logfile import read_log
from wandblog import BLOCK, write_log


def proto_records(data: bytes) -> list[Any]:
    """Every record that decodes, in order, read the simple way."""
    from wandb.proto import wandb_internal_pb2 as pb

    records = []
    pos, pending = 7, None
    while pos + 7 <= len(data):
        room = BLOCK - pos % BLOCK
        if room < 7:
            pos += room
            continue
        crc, length, kind = struct.unpack_from("<IHB", data, pos)
        payload = data[pos + 7 : pos + 7 + length]
        if len(payload) < length or zlib.crc32(bytes([kind]) + payload) != crc:
            break  # damage: the corpus's damaged logs end here
        pos += 7 + length
        if kind == 1:
            pending = None
            records.append(payload)
        elif kind == 2:
            pending = payload
        elif kind in (3, 4) and pending is not None:
            pending += payload
            if kind == 4:
                records.append(pending)
                pending = None
    decoded = []
    for raw in records:
        record = pb.Record()
        record.ParseFromString(raw)
        decoded.append(record)
    return decoded


def expected_facts(records: list[Any]) -> dict[str, Any]:
    """The facts the index should report, computed from decoded records."""
    facts: dict[str, Any] = {"config": {}, "summary": {}, "exit_code": None}
    for record in records:
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            facts.update(
                run_id=run.run_id or None,
                entity=run.entity or None,
                project=run.project or None,
                name=run.display_name or None,
                tags=list(run.tags),
                commit=run.git.commit or None,
                remote=run.git.remote_url or None,
                started_at=_time(run.start_time),
            )
            _apply(facts["config"], run.config.update, run.config.remove)
            if run.telemetry.cli_version:
                facts["cli_version"] = run.telemetry.cli_version
        elif kind == "config":
            _apply(facts["config"], record.config.update, record.config.remove)
        elif kind == "summary":
            _apply(facts["summary"], record.summary.update, record.summary.remove)
        elif kind == "exit" and "exit_seen" not in facts:
            facts.update(exit_seen=True, exit_code=record.exit.exit_code)
            facts["runtime_s"] = float(record.exit.runtime)
        elif kind == "telemetry" and record.telemetry.cli_version:
            facts["cli_version"] = record.telemetry.cli_version
        elif kind == "environment" and record.environment.git.commit:
            facts.setdefault("env_commit", record.environment.git.commit)
        elif kind == "header":
            facts["producer"] = record.header.version_info.producer or None
    return facts


def _apply(target: dict[str, Any], updates: Any, removes: Any) -> None:
    for item, remove in [(u, False) for u in updates] + [(r, True) for r in removes]:
        path = list(item.nested_key) or [item.key]
        if path[0] == "_wandb":
            continue
        node = target
        for part in path[:-1]:
            node = node.setdefault(part, {})
        if remove:
            node.pop(path[-1], None)
        else:
            node[path[-1]] = json.loads(item.value_json) if item.value_json else None


def _time(stamp: Any) -> float | None:
    return stamp.seconds + stamp.nanos / 1e9 if stamp.seconds else None


def _logs() -> list[Path]:
    return sorted(CORPUS.glob("*/*/*.wandb")) if CORPUS.is_dir() else []


def _compare(data: bytes) -> None:
    expected = expected_facts(proto_records(data))
    deep = read_log(io.BytesIO(data), len(data), deep=True).facts
    fast = read_log(io.BytesIO(data), len(data)).facts
    for got in (deep, fast):
        for name in ("run_id", "entity", "project", "name", "commit", "remote"):
            assert getattr(got, name) == expected.get(name), name
        assert got.tags == expected.get("tags", [])
        assert got.exit_code == expected["exit_code"]
        assert got.exit_seen == expected.get("exit_seen", False)
        assert got.runtime_s == expected.get("runtime_s")
        assert got.cli_version == expected.get("cli_version")
        assert got.producer == expected.get("producer")
        assert got.env_commit == expected.get("env_commit")
        if expected.get("started_at") is not None:
            assert got.started_at == pytest.approx(expected["started_at"])
    assert deep.config == expected["config"]
    assert deep.summary == expected["summary"]
    for key, value in fast.summary.items():  # the tail holds the newest values
        assert expected["summary"][key] == value, key


@pytest.mark.parametrize("log", _logs(), ids=lambda p: p.parent.name)
def test_corpus_log(log: Path):
    _compare(log.read_bytes())


def test_sample_logs(sample_runs: wandbgen.SampleRuns):
    folders = list(sample_runs.folders.values())
    assert len(folders) == 8
    for folder in folders:
        for log in folder.glob("*.wandb"):
            _compare(log.read_bytes())


def test_fast_path_on_a_long_real_log(sample_runs: wandbgen.SampleRuns):
    """A real log made long by repeating its history records: the fast path
    reads head and tail only and still agrees on every tail fact."""
    data = (
        sample_runs.folders["finished"]
        / next(p.name for p in sample_runs.folders["finished"].glob("*.wandb"))
    ).read_bytes()
    long_log = _lengthen(data, 3 << 20)
    result = read_log(io.BytesIO(long_log), len(long_log))
    assert result.partial and not result.damage
    _compare(long_log)


def _lengthen(data: bytes, size: int) -> bytes:
    """Re-chunk ``data``'s records with extra history records in the middle."""
    records = [r.SerializeToString() for r in proto_records(data)]
    history = next(
        r for r in proto_records(data) if r.WhichOneof("record_type") == "history"
    )
    filler = [history.SerializeToString()] * (size // 120)
    return write_log(records[:4] + filler + records[4:])
