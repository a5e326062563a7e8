"""Just enough of the protobuf wire format to read wandb's records.

Importing ``google.protobuf`` and wandb's generated classes costs more than a
whole hook may take, so the few fields ragguard needs are decoded by hand.
Field numbers are those of wandb's ``wandb_internal.proto`` (checked against
wandb 0.31 in tests/test_runs_crosscheck.py).
"""

from __future__ import annotations

from collections.abc import Container, Iterator

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """The bytes are not a protobuf message."""


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """Decode the varint at ``pos``; return it and the position after it."""
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise WireError("varint runs past the end")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise WireError("varint longer than 10 bytes")


def fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield ``(number, wire_type, value)`` for each field of a message.

    Varints and fixed-width numbers come back as ``int``; length-delimited
    fields as ``bytes``. Groups (wire types 3 and 4) are not used by wandb.
    One-byte keys and lengths, the common case, skip the varint call.
    """
    pos = 0
    end = len(data)
    while pos < end:
        key = data[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if wire == LENGTH:
            size = data[pos] if pos < end else 0x80
            if size < 0x80:
                pos += 1
            else:
                size, pos = read_varint(data, pos)
            if pos + size > end:
                raise WireError("length-delimited field runs past the end")
            yield number, wire, data[pos : pos + size]
            pos += size
        elif wire == VARINT:
            value = data[pos] if pos < end else 0x80
            if value < 0x80:
                pos += 1
            else:
                value, pos = read_varint(data, pos)
            yield number, wire, value
        elif wire in (FIXED64, FIXED32):
            width = 8 if wire == FIXED64 else 4
            if pos + width > end:
                raise WireError("fixed-width field runs past the end")
            yield number, wire, int.from_bytes(data[pos : pos + width], "little")
            pos += width
        else:
            raise WireError(f"unsupported wire type {wire}")


def find_message(data: bytes, wanted: Container[int]) -> tuple[int, bytes] | None:
    """The first length-delimited field numbered in ``wanted``, and its bytes.

    Other fields are stepped over without being copied: a record is mostly
    one large field (a history row, console output) that ragguard never reads.
    """
    pos = 0
    end = len(data)
    while pos < end:
        key = data[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = read_varint(data, pos)
        wire = key & 7
        if wire == LENGTH:
            size = data[pos] if pos < end else 0x80
            if size < 0x80:
                pos += 1
            else:
                size, pos = read_varint(data, pos)
            if pos + size > end:
                raise WireError("length-delimited field runs past the end")
            if key >> 3 in wanted:
                return key >> 3, data[pos : pos + size]
            pos += size
        elif wire == VARINT:
            _value, pos = read_varint(data, pos)
        elif wire == FIXED64:
            pos += 8
        elif wire == FIXED32:
            pos += 4
        else:
            raise WireError(f"unsupported wire type {wire}")
    if pos > end:
        raise WireError("fixed-width field runs past the end")
    return None


def as_int32(value: int) -> int:
    """A varint read as protobuf ``int32`` (negatives use 64-bit two's complement)."""
    value &= 0xFFFFFFFFFFFFFFFF
    if value >= 1 << 63:
        value -= 1 << 64
    return value


def text(value: int | bytes) -> str:
    """A ``string`` field; undecodable bytes are replaced, never raised on."""
    if isinstance(value, int):
        raise WireError("expected a string, found a number")
    return value.decode("utf-8", "replace")


def message(value: int | bytes) -> bytes:
    if isinstance(value, int):
        raise WireError("expected a message, found a number")
    return value


def number(value: int | bytes) -> int:
    if isinstance(value, bytes):
        raise WireError("expected a number, found bytes")
    return value
