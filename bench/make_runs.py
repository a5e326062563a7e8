"""Build a benchmark folder of W&B run folders from runs the installed wandb writes.

    python bench/make_runs.py [--count 1000] [--out bench/out/runs] [--big-log-mb 1024]

1. A few real runs are written with the installed wandb in offline mode
   (finished, failed, finished with tags and nested config), in a throwaway
   git repository so that they record a commit.
2. Each is copied with a new run id until there are ``--count`` folders: the
   log is decoded record by record with ``wandb.proto``, the run record gets the
   new id and a shifted start time, and the records are written back with the
   same 32 KiB block framing wandb uses; ``files/`` and ``logs/`` are copied.
   The folders are ``offline-run-*``, so ``wandb sync --dry-run`` lists them.
3. With ``--big-log-mb``, one more folder (in ``<out>-big``) gets a log of that
   size: a real run's head and tail with history records in between.

Writes only under ``--out``; needs wandb and git.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import string
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

BLOCK = 32768
HEADER = b":W&B" + (0xBEE1).to_bytes(2, "little") + b"\0"

_CHILD = """
import json, sys, wandb
spec = json.loads(sys.argv[1])
run = wandb.init(project="bench", tags=spec["tags"], config=spec["config"])
for step in range(spec["steps"]):
    run.log({"loss": 1.0 / (step + 1), "recall@5": step / spec["steps"]})
run.summary["best_recall"] = 0.8
if spec["fail"]:
    raise RuntimeError("the bench run fails on purpose")
run.finish()
"""

TEMPLATES = (
    {"tags": [], "config": {"lr": 0.1}, "steps": 50, "fail": False},
    {"tags": [], "config": {"lr": 0.2}, "steps": 20, "fail": True},
    {
        "tags": ["retriever:bm25", "k=5"],
        "config": {"retriever": {"type": "bm25", "k": 5}, "chunk_size": 256},
        "steps": 200,
        "fail": False,
    },
)


def write_templates(work: Path) -> list[Path]:
    """Real offline runs written by the installed wandb; their run folders."""
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    env.update(WANDB_CONSOLE="off", GIT_CONFIG_NOSYSTEM="1")
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    (work / "train.py").write_text("print('bench')\n")
    subprocess.run(["git", "add", "train.py"], cwd=work, check=True)
    commit = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run(
        [*commit, "commit", "-qm", "Add the bench script"], cwd=work, check=True
    )
    for spec in TEMPLATES:
        subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(spec)], cwd=work, env=env,
            check=False, capture_output=True,
        )  # fmt: skip
    return sorted((work / "wandb").glob("offline-run-*"))


def decode(log: Path) -> list[Any]:
    """Every record of a (clean) log, decoded with wandb's protobuf classes."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = log.read_bytes()
    records, pending, pos = [], b"", len(HEADER)
    while pos + 7 <= len(data):
        if BLOCK - pos % BLOCK < 7:
            pos += BLOCK - pos % BLOCK
            continue
        _crc, length, kind = struct.unpack_from("<IHB", data, pos)
        payload = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        pending = payload if kind in (1, 2) else pending + payload
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


class LogWriter:
    """Writes records with wandb's framing: CRC-32, u16 length, type, payload."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.pos = 0
        self._write(HEADER)

    def _write(self, data: bytes) -> None:
        self.handle.write(data)
        self.pos += len(data)

    def add(self, record: bytes) -> None:
        first = True
        while True:
            room = BLOCK - self.pos % BLOCK
            if room < 7:
                self._write(b"\0" * room)
                continue
            piece, record = record[: room - 7], record[room - 7 :]
            kind = (1 if not record else 2) if first else (4 if not record else 3)
            crc = zlib.crc32(piece, zlib.crc32(bytes((kind,))))
            self._write(struct.pack("<IHB", crc, len(piece), kind) + piece)
            first = False
            if not record:
                return


def new_id(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_lowercase + string.digits, k=8))


def copy_run(
    template: Path, records: list[Any], run_id: str, start: float, out: Path
) -> None:
    stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime(start))
    folder = out / f"offline-run-{stamp}-{run_id}"
    for sub in ("files", "logs"):
        if (template / sub).is_dir():
            shutil.copytree(template / sub, folder / sub, symlinks=True)
    folder.mkdir(exist_ok=True)
    with open(folder / f"run-{run_id}.wandb", "wb") as handle:
        writer = LogWriter(handle)
        for record in _renamed(records, run_id, start):
            writer.add(record)


def _renamed(records: Iterable[Any], run_id: str, start: float) -> Iterator[bytes]:
    for record in records:
        if record.WhichOneof("record_type") == "run":
            record = type(record).FromString(record.SerializeToString())
            record.run.run_id = run_id
            record.run.start_time.seconds = int(start)
        yield record.SerializeToString()


def build(out: Path, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        templates = write_templates(Path(tmp))
        if not templates:
            sys.exit("make_runs: wandb wrote no runs")
        decoded = [(t, decode(next(t.glob("*.wandb")))) for t in templates]
        out.mkdir(parents=True, exist_ok=True)
        start = time.time() - count * 600
        for index in range(count):
            template, records = decoded[index % len(decoded)]
            copy_run(template, records, new_id(rng), start + index * 600, out)
        print(f"{count} run folders in {out} (from {len(templates)} real runs)")


def build_big(out: Path, size_mb: int) -> Path:
    """A run folder with a ``size_mb`` MiB log: real head and tail, history between."""
    with tempfile.TemporaryDirectory() as tmp:
        # the longest template: 200 steps, tags and nested config
        template = max(write_templates(Path(tmp)), key=_log_size)
        records = [
            r.SerializeToString() for r in decode(next(template.glob("*.wandb")))
        ]
        folder = out / "offline-run-20250101_000000-biglog01"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        history = _big_history()
        with open(folder / "run-biglog01.wandb", "wb") as handle:
            writer = LogWriter(handle)
            for record in _renamed(decode_bytes(records[:4]), "biglog01", time.time()):
                writer.add(record)
            while writer.pos < size_mb << 20:
                writer.add(history)
            for record in records[4:]:
                writer.add(record)
    print(f"{size_mb} MiB log in {folder}")
    return folder


def _log_size(folder: Path) -> int:
    return sum(log.stat().st_size for log in folder.glob("*.wandb"))


def decode_bytes(records: list[bytes]) -> list[Any]:
    from wandb.proto import wandb_internal_pb2 as pb

    return [pb.Record.FromString(r) for r in records]


def _big_history() -> bytes:
    """A history record of about 8 KiB (a wide metrics row)."""
    from wandb.proto import wandb_internal_pb2 as pb

    record = pb.Record()
    for i in range(300):
        item = record.history.item.add()
        item.key = f"metric/{i:03d}"
        item.value_json = "0.123456789"
    return record.SerializeToString()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("bench/out/runs/wandb"))
    parser.add_argument("--big-log-mb", type=int, default=0)
    args = parser.parse_args()
    if args.out.exists():
        shutil.rmtree(args.out)
    build(args.out, args.count)
    if args.big_log_mb:
        build_big(args.out.parent.parent / "big" / "wandb", args.big_log_mb)


if __name__ == "__main__":
    main()
