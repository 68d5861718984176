"""The file format of the rollup index snapshot: a JSON header, two packed integer arrays, bytes.

Guarantee: no byte reaches a caller unchecked. :func:`ff_unpack_snapshot` returns exactly what
:func:`ff_pack_snapshot` was given, or raises ``FFSnapshotError``; :class:`FFSnapshotFile` reads only
the ranges asked for and raises ``FFSnapshotError`` for a range whose pages fail their CRC-32, were
cut short since the file was opened, or cannot be read. A torn, truncated, foreign or bit-flipped file is refused,
never half-read: the header (magic, version, byte order, lengths) when the file is opened, a body
page when a range covering it is read.

Layout: ``MAGIC`` | CRC-32 (u32) of what follows up to the body | header, keys, ints and blob lengths
(u64 each, little endian) | header (orjson) | one CRC-32 (u32) per ``PAGE`` bytes of the body | body:
``array('Q')`` bytes, ``array('I')`` bytes, blob. What the header, the arrays and the blob mean is the
index's business (``ff_rollup_index``); this module only packs, checks and reads ranges.
"""

from __future__ import annotations

import os
import struct
import sys
import weakref
import zlib
from array import array
from typing import Any

import orjson

MAGIC = b"FFRIDX3\n"
PAGE = 16384  # a range read checks the CRC of the pages it covers (at most two pages more than asked)
_CRC = struct.Struct("<I")
_LENGTHS = struct.Struct("<QQQQ")
_FIXED = len(MAGIC) + _CRC.size + _LENGTHS.size
MAX_HEADER_BYTES = 256 << 20


class FFSnapshotError(ValueError):
    """A snapshot file, or a part of one, that must not be used (the reason is the message)."""


def _page_crcs(body: memoryview) -> array[int]:
    return array("I", [zlib.crc32(body[i:i + PAGE]) for i in range(0, len(body), PAGE)])


def ff_pack_snapshot(header: dict[str, Any], keys: array[int] | memoryview, ints: array[int] | memoryview,
                     blob: bytes | memoryview = b"") -> bytes:
    """One snapshot file's bytes; ``keys`` holds u64 items (``array('Q')``), ``ints`` u32 (``array('I')``);
    the views :func:`ff_unpack_snapshot` returns are accepted too."""
    mk, mi = memoryview(keys), memoryview(ints)
    if mk.format != "Q" or mi.format != "I":
        raise TypeError("keys/ints: expected array('Q') and array('I')")
    head = orjson.dumps({**header, "byteorder": sys.byteorder})
    body = memoryview(b"".join((mk.cast("B"), mi.cast("B"), blob)))
    table = _page_crcs(body).tobytes()
    checked = _LENGTHS.pack(len(head), mk.nbytes, mi.nbytes, len(blob)) + head + table
    return b"".join((MAGIC, _CRC.pack(zlib.crc32(checked)), checked, body))


def _table_bytes(body_len: int) -> int:
    return -(-body_len // PAGE) * 4


def _check_prefix(prefix: bytes, size: int) -> tuple[int, int, int, int, int]:
    """``(crc, hlen, klen, ilen, blen)`` of a file of ``size`` bytes from its first ``_FIXED`` bytes."""
    if len(prefix) < _FIXED or not prefix.startswith(MAGIC):
        raise FFSnapshotError("not a rollup index snapshot (magic)")
    (crc,) = _CRC.unpack_from(prefix, len(MAGIC))
    hlen, klen, ilen, blen = _LENGTHS.unpack_from(prefix, len(MAGIC) + _CRC.size)
    body = klen + ilen + blen
    if hlen > MAX_HEADER_BYTES or _FIXED + hlen + _table_bytes(body) + body != size:
        raise FFSnapshotError("lengths do not match the file size (torn or truncated)")
    if klen % 8 or ilen % 4:
        raise FFSnapshotError("array lengths are not whole items")
    return crc, hlen, klen, ilen, blen


def _check_head(lengths: bytes, head: bytes, table: bytes, crc: int) -> dict[str, Any]:
    if zlib.crc32(lengths + head + table) != crc:
        raise FFSnapshotError("CRC-32 mismatch in the header (corrupted)")
    try:
        header = orjson.loads(head)
    except orjson.JSONDecodeError as exc:
        raise FFSnapshotError(f"header: {exc}") from None
    if not isinstance(header, dict) or header.get("byteorder") != sys.byteorder:
        raise FFSnapshotError("header: missing or written with another byte order")
    return header


def ff_unpack_snapshot(data: bytes) -> tuple[dict[str, Any], memoryview, memoryview, memoryview]:
    """``(header, keys, ints, blob)`` of a whole snapshot file, every page checked, or
    ``FFSnapshotError`` naming what is wrong. ``keys`` (u64 items), ``ints`` (u32) and ``blob`` are
    read-only views into ``data``, not copies."""
    crc, hlen, klen, ilen, blen = _check_prefix(data[:_FIXED], len(data))
    view = memoryview(data).toreadonly()
    t0 = _FIXED + hlen
    b0 = t0 + _table_bytes(klen + ilen + blen)
    header = _check_head(bytes(view[len(MAGIC) + _CRC.size:_FIXED]), bytes(view[_FIXED:t0]), bytes(view[t0:b0]), crc)
    body = view[b0:]
    if _page_crcs(body).tobytes() != view[t0:b0]:
        raise FFSnapshotError("CRC-32 mismatch in the body (corrupted)")
    keys = body[:klen].cast("Q")
    ints = body[klen:klen + ilen].cast("I")
    return header, keys, ints, body[klen + ilen:]


class FFSnapshotFile:
    """An open snapshot file read by range: the header and the page CRCs are read and checked when
    it is opened, a range of ``keys``/``ints``/``blob`` when asked for (``os.pread``: no shared file
    position, so threads and forked children may read at once).

    The descriptor is kept until :meth:`close` (or the object is collected): a snapshot replaced or
    deleted meanwhile goes on being read from the file that was opened; one cut short in place fails
    the read with ``FFSnapshotError``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        """Open and check ``path``; ``FileNotFoundError``/``OSError`` as from ``open``, or ``FFSnapshotError``."""
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        self._fd = fd
        self._finalizer = weakref.finalize(self, os.close, fd)
        try:
            size = os.fstat(fd).st_size
            crc, hlen, klen, ilen, blen = _check_prefix(os.pread(fd, _FIXED, 0), size)
            tlen = _table_bytes(klen + ilen + blen)
            rest = os.pread(fd, hlen + tlen, _FIXED)
            if len(rest) != hlen + tlen:
                raise FFSnapshotError("lengths do not match the file size (torn or truncated)")
            self.header = _check_head(_LENGTHS.pack(hlen, klen, ilen, blen), rest[:hlen], rest[hlen:], crc)
        except BaseException:
            self.close()
            raise
        self._crcs = array("I")
        self._crcs.frombytes(rest[hlen:])
        self._body = _FIXED + hlen + tlen
        self._body_len = klen + ilen + blen
        self._starts = {"keys": 0, "ints": klen, "blob": klen + ilen}
        self.lengths = {"keys": klen // 8, "ints": ilen // 4, "blob": blen}

    def close(self) -> None:
        self._finalizer()

    @property
    def closed(self) -> bool:
        return not self._finalizer.alive

    def __enter__(self) -> FFSnapshotFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, region: str, off: Any, n: Any, item: int) -> bytes:
        """Items ``[off, off + n)`` of ``region`` as bytes, every page they touch checked."""
        if type(off) is not int or type(n) is not int or off < 0 or n < 0 or off + n > self.lengths[region]:
            raise FFSnapshotError(f"a {region} range lies outside the file")
        if self.closed:
            raise FFSnapshotError("the snapshot file is closed")
        lo = self._starts[region] + off * item
        hi = lo + n * item
        if hi == lo:
            return b""
        p0, p1 = lo // PAGE, (hi - 1) // PAGE + 1
        start = p0 * PAGE
        want = min(p1 * PAGE, self._body_len) - start
        try:
            data = os.pread(self._fd, want, self._body + start)
        except OSError as exc:  # a failing disk, or closed by another thread meanwhile: not usable
            raise FFSnapshotError(f"read failed: {exc}") from None
        if len(data) != want:
            raise FFSnapshotError("the file was cut short after it was opened")
        view = memoryview(data)
        crcs = self._crcs
        for i, p in enumerate(range(p0, p1)):
            if zlib.crc32(view[i * PAGE:(i + 1) * PAGE]) != crcs[p]:
                raise FFSnapshotError(f"CRC-32 mismatch in body page {p} (corrupted)")
        return data[lo - start:hi - start]

    def keys(self, off: Any, n: Any) -> array[int]:
        """``keys`` items ``[off, off + n)`` (u64)."""
        out = array("Q")
        out.frombytes(self._read("keys", off, n, 8))
        return out

    def ints(self, off: Any, n: Any) -> array[int]:
        """``ints`` items ``[off, off + n)`` (u32)."""
        out = array("I")
        out.frombytes(self._read("ints", off, n, 4))
        return out

    def blob(self, off: Any, n: Any) -> bytes:
        """``blob`` bytes ``[off, off + n)``."""
        return self._read("blob", off, n, 1)
