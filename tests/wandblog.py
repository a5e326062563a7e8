"""Writing ``.wandb`` logs byte by byte, and damaging them, for the tests.

The layout is written out here from wandb's format (LevelDB-style blocks),
not taken from ragguard's reader, so that the tests check the reader against
an independent writer.
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Sequence

BLOCK = 32768
HEADER = b":W&B" + (0xBEE1).to_bytes(2, "little") + b"\0"
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def frame(records: Sequence[bytes], at: int = 0) -> bytes:
    """``records`` as checksummed chunks, written from file offset ``at``:
    a record that does not fit in what is left of a block goes on in the
    next, and fewer than 7 bytes left in a block are zero padding."""
    out = bytearray()
    for record in records:
        rest, first = record, True
        while True:
            room = BLOCK - (at + len(out)) % BLOCK
            if room < 7:
                out += bytes(room)
                continue
            piece, rest = rest[: room - 7], rest[room - 7 :]
            kind = (
                (FULL if not rest else FIRST)
                if first
                else (LAST if not rest else MIDDLE)
            )
            crc = zlib.crc32(bytes([kind]) + piece)
            out += struct.pack("<IHB", crc, len(piece), kind) + piece
            first = False
            if not rest:
                break
    return bytes(out)


def write_log(records: Sequence[bytes]) -> bytes:
    """A whole ``.wandb`` log holding ``records``: the header, then chunks."""
    return HEADER + frame(records, len(HEADER))


MUTATIONS = ("truncate", "flip", "zero", "splice", "garbage", "repeat")


def mutate(
    data: bytes, steps: Sequence[tuple[str, float, int]], other: bytes = b""
) -> bytes:
    """``data`` after each step ``(kind, where, value)``: ``where`` is a
    fraction of the length, ``value`` a byte count or a seed. ``splice``
    inserts a piece of ``other``; ``garbage`` inserts seeded random bytes;
    ``repeat`` doubles a stretch."""
    buf = bytearray(data)
    for kind, where, value in steps:
        at = int(where * len(buf))
        if kind == "truncate":
            del buf[at:]
        elif kind == "flip" and buf:
            buf[min(at, len(buf) - 1)] ^= value or 1
        elif kind == "zero":
            buf[at : at + value] = bytes(len(buf[at : at + value]))
        elif kind == "splice":
            buf[at:at] = other[at % max(1, len(other)) :][: value * 37 + 1]
        elif kind == "garbage":
            buf[at:at] = random.Random(value).randbytes(value)
        elif kind == "repeat":
            buf[at:at] = buf[at : at + value * 64]
    return bytes(buf)
