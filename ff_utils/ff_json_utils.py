"""JSON and JSONL helpers on orjson, with the host's names."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from ff_utils.ff_file_ops import ff_atomic_write

_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _default(obj: Any) -> Any:
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, int):  # ints beyond 64 bits: keep exact as a string
        return str(obj)
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    raise TypeError(f"Type is not JSON serializable: {type(obj).__name__}")


def ff_dumps(obj: Any) -> bytes:
    """Serialize to compact JSON bytes (dataclasses, enums, datetimes natively; NaN/Inf -> null)."""
    try:
        return orjson.dumps(obj, default=_default, option=_OPTS)
    except orjson.JSONEncodeError as exc:
        if "Integer exceeds 64-bit range" in str(exc):
            return orjson.dumps(_stringify_big_ints(obj), default=_default, option=_OPTS)
        raise


def _stringify_big_ints(obj: Any) -> Any:
    if isinstance(obj, bool):
        return obj
    if isinstance(obj, int) and not (-(2**63) <= obj < 2**64):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _stringify_big_ints(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_stringify_big_ints(v) for v in obj]
    return obj


def ff_dumps_line(obj: Any) -> bytes:
    """One JSONL line: compact JSON plus ``\\n``. orjson escapes control characters, and U+2028/2029
    are not line breaks for JSONL readers, so a record is always exactly one line."""
    try:
        return orjson.dumps(obj, default=_default, option=_OPTS | orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError as exc:
        if "Integer exceeds 64-bit range" in str(exc):
            return ff_dumps(obj) + b"\n"
        raise


def ff_loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def ff_write_json(path: str | os.PathLike[str], obj: Any, *, indent: bool = True) -> Path:
    """Write ``obj`` as JSON atomically (temp file, fsync, rename, directory fsync)."""
    opts = _OPTS | (orjson.OPT_INDENT_2 if indent else 0)
    try:
        payload = orjson.dumps(obj, default=_default, option=opts)
    except orjson.JSONEncodeError:
        payload = orjson.dumps(_stringify_big_ints(obj), default=_default, option=opts)
    return ff_atomic_write(path, payload + b"\n")


def ff_read_json(path: str | os.PathLike[str], default: Any = None) -> Any:
    """Read a JSON file; return ``default`` when it does not exist."""
    try:
        with open(path, "rb") as fh:
            return orjson.loads(fh.read())
    except FileNotFoundError:
        return default


def ff_append_jsonl(path: str | os.PathLike[str], records: Iterable[Any], *, fsync: bool = False) -> int:
    """Append records as JSON lines with one ``write()``; returns the number appended.

    For streams use the partitioned store (buffered, one writer per process); this helper is for
    small side files.
    """
    buf = bytearray()
    n = 0
    for rec in records:
        buf += ff_dumps(rec)
        buf += b"\n"
        n += 1
    if not n:
        return 0
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(os.fspath(path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        view = memoryview(buf)
        while view:
            view = view[os.write(fd, view):]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    return n


def ff_read_jsonl(path: str | os.PathLike[str], *, errors: list[int] | None = None) -> Iterator[Any]:
    """Stream records from a JSONL file (plain or ``.gz``), skipping unparseable lines.

    When ``errors`` is given, the 1-based line numbers of skipped lines are appended to it.
    """
    from ff_utils.ff_jsonl_reader import BAD_LINE, ff_iter_jsonl_lines

    for lineno, rec in ff_iter_jsonl_lines(path):
        if rec is BAD_LINE:
            if errors is not None:
                errors.append(lineno)
            continue
        yield rec

