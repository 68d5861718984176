"""Tolerant streaming JSONL reading (plain and gzip): one line at a time, or a chunk of lines at a time."""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator
from typing import Any

import orjson

BAD_LINE: Any = object()
"""Sentinel yielded for a line that is not valid JSON."""


class FFStoreCorruptionError(OSError):
    """A partition file cannot be read to its end (e.g. a truncated gzip member)."""


def ff_iter_jsonl_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, record)`` for every complete line of ``path``.

    An unparseable line yields ``BAD_LINE``. A final line without ``\\n`` (a writer's torn or
    in-progress tail) is not yielded at all. A truncated or corrupt ``.gz`` raises
    ``FFStoreCorruptionError`` after the records that could be read.
    """
    name = os.fspath(path)
    if name.endswith(".gz"):
        try:
            with gzip.open(name, "rb") as fh:
                yield from _iter_lines(fh)
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise FFStoreCorruptionError(f"{name}: corrupt or truncated gzip ({exc})") from exc
    else:
        with open(name, "rb", buffering=1 << 20) as fh:
            yield from _iter_lines(fh)


def _iter_lines(fh: Any) -> Iterator[tuple[int, Any]]:
    loads = orjson.loads
    lineno = 0
    for line in fh:
        lineno += 1
        if not line.endswith(b"\n"):
            return  # torn / in-progress tail: not a record yet
        if len(line) <= 1 or line.isspace():
            continue
        try:
            yield lineno, loads(line)
        except orjson.JSONDecodeError:
            yield lineno, BAD_LINE


CHUNK_BYTES = 2 << 20
"""What :func:`ff_iter_jsonl_chunks` reads at a time (the last line of a chunk is carried over)."""


def ff_iter_jsonl_chunks(path: str | os.PathLike[str]) -> Iterator[list[Any]]:
    """Yield the records of ``path`` (plain or gzip) a chunk of whole lines at a time, for bulk readers.

    Each ~``CHUNK_BYTES`` chunk is one ``orjson.loads`` of its lines as a JSON array. Lines that do
    not parse are skipped: when the array fails (a blank, torn or hostile line), or yields more
    values than the chunk has lines (a line ``{..},{..}`` is not taken for two records), the chunk is
    parsed line by line. A final line without ``\\n`` is not yielded. A truncated or corrupt ``.gz``
    raises ``FFStoreCorruptionError`` after the chunks that could be read.
    """
    name = os.fspath(path)
    if not name.endswith(".gz"):
        with open(name, "rb") as fh:
            yield from _iter_chunks(fh)
        return
    try:
        with gzip.open(name, "rb") as fh:
            yield from _iter_chunks(fh)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise FFStoreCorruptionError(f"{name}: corrupt or truncated gzip ({exc})") from exc


def _iter_chunks(fh: Any) -> Iterator[list[Any]]:
    carry = b""
    while True:
        block = fh.read(CHUNK_BYTES)
        if not block:
            return  # a tail without "\n" (carry) is a torn / in-progress record: not a record yet
        data = carry + block
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            continue
        carry = data[cut + 1:]
        body = data[:cut]
        del data
        try:  # the whole chunk as one JSON array: one C call instead of one per line
            recs = orjson.loads(b"".join((b"[", body.replace(b"\n", b","), b"]")))
        except orjson.JSONDecodeError:
            recs = None
        # every line is at least one value (a blank line does not parse), so equal counts mean
        # exactly one value per line
        if recs is not None and len(recs) == body.count(b"\n") + 1:
            yield recs
            continue
        recs = []
        for line in body.split(b"\n"):
            if line.strip():
                try:
                    recs.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    continue
        yield recs
