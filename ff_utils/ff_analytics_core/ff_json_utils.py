"""JSON and JSONL helpers on orjson, with the host's names."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from ff_utils.ff_analytics_core.ff_file_ops import ff_atomic_write

JSON_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def ff_json_default(obj: Any) -> Any:
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


_LS = "\u2028".encode()
_PS = "\u2029".encode()
_NEL = "\u0085".encode()


def ff_line_safe(data: bytes | bytearray) -> bytes | bytearray:
    """Escape U+2028, U+2029 and U+0085 in serialized JSON as ``\\u2028`` etc.

    orjson writes them raw (valid JSON), but ``str.splitlines`` and some log tools treat them as
    line breaks. In JSON output they can only occur inside strings, so the escape is lossless.
    """
    # one memchr each for the lead bytes (\xe2: U+2000..U+2FFF, \xc2: U+0080..U+00BF) keeps the
    # common case at ~40 ns (int membership is a memchr); the substring searches run only when needed
    if (0xE2 in data or 0xC2 in data) and (_LS in data or _PS in data or _NEL in data):
        return data.replace(_LS, b"\\u2028").replace(_PS, b"\\u2029").replace(_NEL, b"\\u0085")
    return data


def ff_dumps(obj: Any) -> bytes:
    """Serialize to compact JSON bytes (dataclasses, enums, datetimes natively; NaN/Inf -> null).

    Integers beyond 64 bits become decimal strings, lone surrogates in strings become U+FFFD and
    U+2028/U+2029/U+0085 are escaped, so the output is always valid UTF-8 on one line.
    """
    try:
        out = orjson.dumps(obj, default=ff_json_default, option=JSON_OPTS)
    except orjson.JSONEncodeError as exc:
        if not _recoverable(exc):
            raise
        out = orjson.dumps(_json_safe(obj), default=ff_json_default, option=JSON_OPTS)
    return ff_line_safe(out)  # type: ignore[return-value]


def _recoverable(exc: Exception) -> bool:
    msg = str(exc)
    return "64-bit" in msg or "surrogates" in msg


def _json_safe(obj: Any) -> Any:
    """A copy of ``obj`` orjson can always serialize: big ints as strings, lone surrogates as U+FFFD."""
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
            return obj
        except UnicodeEncodeError:  # pairs written as two code points recombine, lone ones -> U+FFFD
            return obj.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if obj is None or isinstance(obj, (bool, float)):
        return obj
    if isinstance(obj, int):
        return obj if -(2**63) <= obj < 2**64 else str(obj)
    if isinstance(obj, dict):
        return {_json_safe(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return _json_safe(ff_json_default(obj)) if _sortable(obj) else [_json_safe(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _json_safe(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return _json_safe(to_dict())
    return obj  # datetimes, enums, UUIDs ...: orjson handles them


def _sortable(items: Any) -> bool:
    try:
        sorted(items)
        return True
    except TypeError:
        return False


def ff_dumps_line(obj: Any) -> bytes:
    """One JSONL line: compact JSON plus ``\\n``, exactly one line whatever the values hold
    (orjson escapes control characters; see ``ff_dumps`` for the rest)."""
    try:
        out = orjson.dumps(obj, default=ff_json_default, option=JSON_OPTS | orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError as exc:
        if not _recoverable(exc):
            raise
        return ff_dumps(obj) + b"\n"
    return ff_line_safe(out)  # type: ignore[return-value]


def ff_loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def ff_write_json(path: str | os.PathLike[str], obj: Any, *, indent: bool = True) -> Path:
    """Write ``obj`` as JSON atomically (temp file, fsync, rename, directory fsync)."""
    opts = JSON_OPTS | (orjson.OPT_INDENT_2 if indent else 0)
    try:
        payload = orjson.dumps(obj, default=ff_json_default, option=opts)
    except orjson.JSONEncodeError as exc:
        if not _recoverable(exc):
            raise
        payload = orjson.dumps(_json_safe(obj), default=ff_json_default, option=opts)
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
    from ff_utils.ff_analytics_core.ff_jsonl_reader import BAD_LINE, ff_iter_jsonl_lines

    for lineno, rec in ff_iter_jsonl_lines(path):
        if rec is BAD_LINE:
            if errors is not None:
                errors.append(lineno)
            continue
        yield rec

