"""Export one stream over a time range as JSONL, CSV or a JSON array, streaming (constant memory).

Records are filtered by their ``timestamp`` (inclusive bounds) after the store has narrowed the read
to the partitions of the days concerned. Records without a parseable timestamp are only exported
when no bound is given. CSV needs its columns up front: a first streaming pass collects the union
of top-level keys (first-appearance order), the second writes the rows. CSV cells: strings as they
are, ``true``/``false`` for booleans, empty for null/missing, JSON text for numbers, objects and
lists. ``ff_decode_csv_cell`` reverses that (a string that itself looks like JSON, e.g. ``"42"``,
comes back as a number: CSV carries no types).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any

from ff_utils.ff_analytics_core.ff_clock import ff_iso, ff_parse_iso
from ff_utils.ff_analytics_core.ff_file_ops import ff_fsync_dir, ff_mkstemp
from ff_utils.ff_analytics_core.ff_json_utils import ff_dumps, ff_dumps_line, ff_loads
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_store.ff_stream_store import STREAM_CATEGORY

logger = get_logger(__name__)

EXPORT_FORMATS = ("jsonl", "csv", "json")


@dataclass(slots=True)
class FFExportResultDTO:
    """What an export wrote."""

    stream: str
    format: str
    records: int
    bytes: int
    path: str = ""
    start: str = ""
    end: str = ""
    columns: int = 0
    skipped_no_timestamp: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def ff_parse_time_bound(text: str | datetime | date | None, *, end: bool = False, what: str = "--from") -> datetime | None:
    """``YYYY-MM-DD`` (start of day, or end of day when ``end``) or an ISO timestamp -> aware UTC."""
    if text is None or text == "":
        return None
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=UTC)
    if isinstance(text, date):
        d = text
    elif isinstance(text, str):
        s = text.strip()
        if len(s) == 10:
            try:
                d = date.fromisoformat(s)
            except ValueError as exc:
                raise ValueError(f"{what}: {text!r} is not a date (YYYY-MM-DD) or ISO timestamp") from exc
        else:
            try:
                return ff_parse_iso(s.replace("Z", "+00:00") if s.endswith("Z") else s)
            except ValueError as exc:
                raise ValueError(f"{what}: {text!r} is not a date (YYYY-MM-DD) or ISO timestamp") from exc
    else:
        raise TypeError(f"{what}: expected str, date or datetime, got {type(text).__name__}")
    t = time.max if end else time.min
    return datetime.combine(d, t, tzinfo=UTC)


def _validate(stream: str, fmt: str, start: datetime | None, end: datetime | None) -> None:
    if stream not in STREAM_CATEGORY:
        raise ValueError(f"stream: {stream!r} is not a known stream (one of {', '.join(sorted(STREAM_CATEGORY))})")
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"format: {fmt!r} is not one of {', '.join(EXPORT_FORMATS)}")
    if start and end and start > end:
        raise ValueError(f"--from ({ff_iso(start)}) is after --to ({ff_iso(end)})")


NEIGHBOUR_PARTITION_DAYS = 1
"""Partitions are the writer's ingestion days, not the records' days: an hourly rollup is written when
its hour closes (hour 23 lands in the next day's partition) and a batch open at midnight can hold the
first records of the new day. A bounded read therefore scans this many extra partitions on each side
and filters on each record's ``timestamp``."""


def ff_iter_stream_range(
    store: Any, stream: str, start: datetime | None = None, end: datetime | None = None, counts: dict[str, int] | None = None
) -> Iterator[dict]:
    """Records of ``stream`` whose ``timestamp`` lies in ``[start, end]`` (either bound optional)."""
    lo = ff_iso(start) if start else None
    hi = ff_iso(end) if end else None
    bounded = lo is not None or hi is not None
    pad = timedelta(days=NEIGHBOUR_PARTITION_DAYS)
    for rec in store.read(stream, start - pad if start else None, end + pad if end else None):
        if not isinstance(rec, dict):
            continue
        if not bounded:
            yield rec
            continue
        ts = rec.get("timestamp")
        if isinstance(ts, str) and len(ts) == 27 and ts.endswith("Z") and ts[10] == "T":
            key = ts  # ff_iso format: lexicographic order is time order
        else:
            try:
                key = ff_iso(ff_parse_iso(ts)) if isinstance(ts, str) else ""
            except ValueError:
                key = ""
            if not key:
                if counts is not None:
                    counts["skipped_no_timestamp"] = counts.get("skipped_no_timestamp", 0) + 1
                continue
        if (lo is not None and key < lo) or (hi is not None and key > hi):
            continue
        yield rec


def ff_encode_csv_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    return ff_dumps(v).decode()


def ff_decode_csv_cell(cell: str) -> Any:
    """Inverse of ``ff_encode_csv_cell`` (empty -> None; JSON literals/objects -> values)."""
    if cell == "":
        return None
    c0 = cell[0]
    if c0 in "{[-0123456789" or cell in ("true", "false", "null"):
        try:
            return ff_loads(cell)
        except ValueError:
            return cell
    return cell


class _CountingWriter:
    """Counts bytes written to a binary file-like; buffers small writes."""

    __slots__ = ("fh", "n", "buf")

    def __init__(self, fh: IO[bytes]) -> None:
        self.fh = fh
        self.n = 0
        self.buf = bytearray()

    def write(self, b: bytes) -> None:
        self.buf += b
        if len(self.buf) >= 1 << 20:
            self.drain()

    def drain(self) -> None:
        if self.buf:
            self.fh.write(self.buf)
            self.n += len(self.buf)
            self.buf = bytearray()


def ff_export_stream(
    store: Any,
    stream: str,
    fmt: str,
    out: IO[bytes],
    start: datetime | None = None,
    end: datetime | None = None,
) -> FFExportResultDTO:
    """Write ``stream``'s records in ``[start, end]`` to the binary file ``out`` as ``fmt``."""
    _validate(stream, fmt, start, end)
    counts: dict[str, int] = {}
    w = _CountingWriter(out)
    n = 0
    ncols = 0
    if fmt == "jsonl":
        for rec in ff_iter_stream_range(store, stream, start, end, counts):
            w.write(ff_dumps_line(rec))
            n += 1
    elif fmt == "json":
        w.write(b"[")
        for rec in ff_iter_stream_range(store, stream, start, end, counts):
            w.write(b"\n" if n == 0 else b",\n")
            w.write(ff_dumps(rec))
            n += 1
        w.write(b"\n]\n" if n else b"]\n")
    else:
        columns: dict[str, None] = {}
        for rec in ff_iter_stream_range(store, stream, start, end):
            for k in rec:
                if k not in columns:
                    columns[k] = None
        cols = list(columns)
        ncols = len(cols)
        text = io.StringIO()
        cw = csv.writer(text, lineterminator="\n")
        cw.writerow(cols)
        for rec in ff_iter_stream_range(store, stream, start, end, counts):
            cw.writerow([ff_encode_csv_cell(rec.get(c)) for c in cols])
            n += 1
            if text.tell() >= 1 << 20:
                w.write(text.getvalue().encode())
                text.seek(0)
                text.truncate()
        w.write(text.getvalue().encode())
    w.drain()
    return FFExportResultDTO(
        stream=stream,
        format=fmt,
        records=n,
        bytes=w.n,
        start=ff_iso(start) if start else "",
        end=ff_iso(end) if end else "",
        columns=ncols,
        skipped_no_timestamp=counts.get("skipped_no_timestamp", 0),
    )


def ff_export_to_path(
    store: Any,
    stream: str,
    fmt: str,
    path: str | os.PathLike[str],
    start: datetime | None = None,
    end: datetime | None = None,
) -> FFExportResultDTO:
    """Export into ``path`` atomically: a temp file in the same directory, fsync, rename."""
    _validate(stream, fmt, start, end)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = ff_mkstemp(target)
    try:
        with os.fdopen(fd, "wb") as fh:
            res = ff_export_stream(store, stream, fmt, fh, start, end)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    ff_fsync_dir(target.parent)
    res.path = str(target)
    return res


def ff_read_export(path: str | os.PathLike[str], fmt: str) -> Iterator[dict]:
    """Read an export back (round trip); CSV rows omit columns whose cell was empty."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"format: {fmt!r} is not one of {', '.join(EXPORT_FORMATS)}")
    if fmt == "json":
        with open(path, "rb") as fh:
            yield from ff_loads(fh.read())
    elif fmt == "jsonl":
        with open(path, "rb") as fh:
            for line in fh:
                if line.strip():
                    yield ff_loads(line)
    else:
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                yield {k: ff_decode_csv_cell(v) for k, v in row.items() if v != ""}


def ff_day_bounds(day: date) -> tuple[datetime, datetime]:
    """``[00:00, 23:59:59.999999]`` of a UTC day."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start, start + timedelta(days=1) - timedelta(microseconds=1)
