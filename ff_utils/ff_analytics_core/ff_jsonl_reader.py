"""Tolerant streaming JSONL reading (plain and gzip), one line at a time."""

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
