"""Read a wandb ``.wandb`` transaction log without wandb.

The log is a 7-byte header (``:W&B``, 0xBEE1 little-endian, version 0) followed
by LevelDB-style 32 KiB blocks of chunks: CRC-32 of type byte + payload (u32
little-endian), payload length (u16), type (1 full, 2 first, 3 middle, 4 last),
payload. Fewer than 7 bytes left in a block are padding.

The fast path reads the head (up to the run record) and the last two blocks,
going further back only while that window holds no summary record; ``deep``
reads every block. Memory stays flat either way: one block at a time, plus
the records of the tail window (at most ``TAIL_MAX`` bytes).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from ragguard.runs import wire
from ragguard.runs.records import R_EXIT, R_SUMMARY, LogFacts

BLOCK = 32768
CHUNK_HEADER = 7
MAGIC = b":W&B" + (0xBEE1).to_bytes(2, "little")
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
FULL_SCAN_MAX = 4 * BLOCK  # smaller logs are simply read whole
HEAD_MAX = 1 << 20  # give up looking for the run record after this much
TAIL_MAX = 1 << 20  # never step back further than this from the end
RECORD_MAX = 64 << 20  # a larger multi-block record is treated as damage
DAMAGE_MAX = 20  # problems noted per log; the first ones are what matters
_CHUNK = struct.Struct("<IHB")


@dataclass
class LogRead:
    """The outcome of reading one log: facts, damage found, and coverage."""

    facts: LogFacts = field(default_factory=LogFacts)
    size: int = 0
    header_ok: bool = False
    damage: list[str] = field(default_factory=list)
    truncated: bool = False  # the log ends inside a record (an interrupted write)
    partial: bool = False  # bytes between head and tail were not read


class _Reader:
    """Chunk-level reading of one open log, noting damage instead of raising."""

    def __init__(self, handle: BinaryIO, size: int, damage: list[str]) -> None:
        self.handle = handle
        self.size = size
        self.damage = damage
        self.truncated = False

    def records(
        self, start: int, stop: int | None = None
    ) -> Iterator[tuple[int, bytes]]:
        """Yield ``(offset, record)`` for each record from ``start`` on, reading
        no block that begins at or after ``stop`` unless a record continues there.

        ``start`` is 7 (just after the header) or a block boundary, where
        continuation chunks of a record begun earlier are skipped.
        """
        pending: list[bytes] | None = None
        pending_at = pending_size = 0
        pos = start
        end = self.size if stop is None else min(self.size, stop)
        # A record begun before ``stop`` is still read to its end.
        while pos < end or (pending is not None and pos < self.size):
            block_end = min(pos - pos % BLOCK + BLOCK, self.size)
            self.handle.seek(pos)
            block = self.handle.read(block_end - pos)
            at_eof = block_end >= self.size
            i = 0
            while True:
                rest = len(block) - i
                here = pos + i
                if rest < CHUNK_HEADER:
                    if rest and at_eof and BLOCK - here % BLOCK >= CHUNK_HEADER:
                        if block[i:].strip(b"\0"):
                            self._truncated(here if pending is None else pending_at)
                        return
                    break
                crc, length, kind = _CHUNK.unpack_from(block, i)
                if kind == 0 and length == 0:
                    if block[i:].strip(b"\0"):
                        self._note(f"zeroed bytes at offset {here}")
                        pending = None
                    break  # zero padding (or zeroed damage) up to the block's end
                payload = block[i + CHUNK_HEADER : i + CHUNK_HEADER + length]
                if len(payload) < length:
                    if at_eof:
                        self._truncated(here if pending is None else pending_at)
                        return
                    self._note(f"chunk at offset {here} overruns its block")
                    pending = None
                    break
                i += CHUNK_HEADER + length
                if zlib.crc32(payload, zlib.crc32(bytes((kind,)))) != crc:
                    if at_eof and i == len(block):
                        self._truncated(here if pending is None else pending_at)
                        return
                    # Skip just this chunk: its length fits the block, and a
                    # wrong length only leads to more mismatches, never to
                    # garbage accepted as a record.
                    self._note(f"checksum mismatch at offset {here}")
                    pending = None
                    continue
                if kind == FULL:
                    if pending is not None:
                        self._note(f"record at offset {pending_at} cut short")
                        pending = None
                    yield here, payload
                elif kind == FIRST:
                    pending, pending_at, pending_size = [payload], here, length
                elif kind in (MIDDLE, LAST) and pending is not None:
                    pending.append(payload)
                    pending_size += length
                    if pending_size > RECORD_MAX:
                        self._note(f"record at offset {pending_at} too large")
                        pending = None
                    elif kind == LAST:
                        yield pending_at, b"".join(pending)
                        pending = None
                elif kind not in (MIDDLE, LAST):
                    self._note(f"unknown chunk type {kind} at offset {here}")
                    pending = None
                    break
            pos = block_end
        if pending is not None:
            self._truncated(pending_at)

    def _truncated(self, offset: int) -> None:
        self.truncated = True
        self._note(f"log ends inside a record at offset {offset}")

    def _note(self, problem: str) -> None:
        if len(self.damage) < DAMAGE_MAX:
            self.damage.append(problem)


def read_log(handle: BinaryIO, size: int, *, deep: bool = False) -> LogRead:
    """Read the log open in ``handle`` (``size`` bytes); never raises on bad data."""
    result = LogRead(size=size)
    head = handle.read(CHUNK_HEADER)
    if len(head) < CHUNK_HEADER:
        return result
    if head[:6] != MAGIC:
        result.damage.append("not a W&B transaction log (bad header)")
        return result
    result.header_ok = True
    reader = _Reader(handle, size, result.damage)
    if deep or size <= FULL_SCAN_MAX:
        _apply(result, reader.records(CHUNK_HEADER))
    else:
        head_end = _read_head(result, reader)
        tail = _tail_records(reader, size, head_end)
        _apply(result, iter(tail))
        result.partial = True
    result.truncated = reader.truncated
    result.facts.finish()
    return result


def _read_head(result: LogRead, reader: _Reader) -> int:
    """Apply records from the start until the run record; return where it stopped."""
    end = CHUNK_HEADER
    # Bounded in bytes, not only in records: a zeroed stretch (a file system
    # that lost a write, a preallocated log) yields no record to stop at.
    for offset, record in reader.records(CHUNK_HEADER, HEAD_MAX):
        end = offset + len(record)
        if offset >= BLOCK and result.facts.run_seen or offset >= HEAD_MAX:
            break
        if not _apply_one(result, offset, record):
            break
    # Damage in the head is reported; damage only in skipped parts is not seen.
    return end


def _tail_records(reader: _Reader, size: int, head_end: int) -> list[tuple[int, bytes]]:
    """Records of the last two blocks, or further back while no summary is there."""
    floor = head_end - head_end % BLOCK + BLOCK
    start = max(floor, (size - 1) // BLOCK * BLOCK - BLOCK)
    while True:
        damage_before = len(reader.damage)
        records = list(reader.records(start))
        if any(_kind(record) in (R_SUMMARY, R_EXIT) for _o, record in records):
            return records
        back = max(floor, start - (size - start))
        if back >= start or size - back > TAIL_MAX:
            return records
        # Damage is noted again on the wider pass; keep one copy.
        del reader.damage[damage_before:]
        reader.truncated = False
        start = back


def _kind(record: bytes) -> int | None:
    """The record type's field number, without decoding the record."""
    try:
        for number, _w, _v in wire.fields(record):
            if number not in (1, 19, 200):  # num, uuid, _info
                return number
    except wire.WireError:
        return None
    return None


def _apply(result: LogRead, records: Iterator[tuple[int, bytes]]) -> None:
    for offset, record in records:
        _apply_one(result, offset, record)


def _apply_one(result: LogRead, offset: int, record: bytes) -> bool:
    try:
        result.facts.apply(record)
    except (wire.WireError, UnicodeError, ValueError, TypeError) as error:
        if len(result.damage) < DAMAGE_MAX:
            result.damage.append(f"record at offset {offset} does not decode ({error})")
        return False
    return True
