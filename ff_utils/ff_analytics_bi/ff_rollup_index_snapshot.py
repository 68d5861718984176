"""The file format of the rollup index snapshot: a JSON header, two packed integer arrays, bytes.

Guarantee: :func:`ff_unpack_snapshot` returns exactly what :func:`ff_pack_snapshot` was given, or
raises ``FFSnapshotError``: a torn, truncated, foreign or bit-flipped file (magic, version, byte
order, lengths and a CRC-32 over everything after the fixed prefix) is refused, never half-read.

Layout: ``MAGIC`` | CRC-32 (u32) | header, keys, ints and blob lengths (u64 each, little endian) |
header (orjson) | ``array('Q')`` bytes | ``array('I')`` bytes | blob. What the header, the arrays and
the blob mean is the index's business (``ff_rollup_index``); this module only packs and checks.
"""

from __future__ import annotations

import struct
import sys
import zlib
from array import array
from typing import Any

import orjson

MAGIC = b"FFRIDX2\n"
_PREFIX = struct.Struct("<IQQQQ")
MAX_HEADER_BYTES = 256 << 20


class FFSnapshotError(ValueError):
    """A snapshot file that must not be used (the reason is the message)."""


def ff_pack_snapshot(header: dict[str, Any], keys: array[int], ints: array[int], blob: bytes = b"") -> bytes:
    """One snapshot file's bytes; ``keys`` is an ``array('Q')``, ``ints`` an ``array('I')``."""
    if keys.typecode != "Q" or ints.typecode != "I":
        raise TypeError("keys/ints: expected array('Q') and array('I')")
    head = orjson.dumps({**header, "byteorder": sys.byteorder})
    body = b"".join((head, keys.tobytes(), ints.tobytes(), blob))
    crc = zlib.crc32(body)
    lengths = (len(head), len(keys) * keys.itemsize, len(ints) * ints.itemsize, len(blob))
    return MAGIC + _PREFIX.pack(crc, *lengths) + body


def ff_unpack_snapshot(data: bytes) -> tuple[dict[str, Any], array[int], array[int], bytes]:
    """``(header, keys, ints, blob)`` of a snapshot file, or ``FFSnapshotError`` naming what is wrong."""
    fixed = len(MAGIC) + _PREFIX.size
    if len(data) < fixed or not data.startswith(MAGIC):
        raise FFSnapshotError("not a rollup index snapshot (magic)")
    crc, hlen, klen, ilen, blen = _PREFIX.unpack_from(data, len(MAGIC))
    if hlen > MAX_HEADER_BYTES or fixed + hlen + klen + ilen + blen != len(data):
        raise FFSnapshotError("lengths do not match the file size (torn or truncated)")
    view = memoryview(data)[fixed:]
    if zlib.crc32(view) != crc:
        raise FFSnapshotError("CRC-32 mismatch (corrupted)")
    try:
        header = orjson.loads(view[:hlen])
    except orjson.JSONDecodeError as exc:
        raise FFSnapshotError(f"header: {exc}") from None
    if not isinstance(header, dict) or header.get("byteorder") != sys.byteorder:
        raise FFSnapshotError("header: missing or written with another byte order")
    keys, ints = array("Q"), array("I")
    if klen % keys.itemsize or ilen % ints.itemsize:
        raise FFSnapshotError("array lengths are not whole items")
    keys.frombytes(view[hlen:hlen + klen])
    ints.frombytes(view[hlen + klen:hlen + klen + ilen])
    return header, keys, ints, bytes(view[hlen + klen + ilen:])
