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


def ff_pack_snapshot(header: dict[str, Any], keys: array[int] | memoryview, ints: array[int] | memoryview,
                     blob: bytes | memoryview = b"") -> bytes:
    """One snapshot file's bytes; ``keys`` holds u64 items (``array('Q')``), ``ints`` u32 (``array('I')``);
    the views :func:`ff_unpack_snapshot` returns are accepted too."""
    mk, mi = memoryview(keys), memoryview(ints)
    if mk.format != "Q" or mi.format != "I":
        raise TypeError("keys/ints: expected array('Q') and array('I')")
    head = orjson.dumps({**header, "byteorder": sys.byteorder})
    body = b"".join((head, mk.cast("B"), mi.cast("B"), blob))
    crc = zlib.crc32(body)
    lengths = (len(head), mk.nbytes, mi.nbytes, len(blob))
    return MAGIC + _PREFIX.pack(crc, *lengths) + body


def ff_unpack_snapshot(data: bytes) -> tuple[dict[str, Any], memoryview, memoryview, memoryview]:
    """``(header, keys, ints, blob)`` of a snapshot file, or ``FFSnapshotError`` naming what is wrong.

    ``keys`` (u64 items) and ``ints`` (u32) and ``blob`` are read-only views into ``data``, not
    copies: a restore copies only the parts it reads."""
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
    if klen % 8 or ilen % 4:
        raise FFSnapshotError("array lengths are not whole items")
    view = view.toreadonly()
    keys = view[hlen:hlen + klen].cast("Q")
    ints = view[hlen + klen:hlen + klen + ilen].cast("I")
    return header, keys, ints, view[hlen + klen + ilen:]
