"""Recompute hourly rollups from raw partitions (after a crash, an erasure or a config change).

Each raw partition file is folded by the same ``FFRollupAccumulator`` rules the hot path uses, so a
rebuilt hour equals the incremental rollups of that hour merged over writers. Files are processed
in parallel (one process per core, ``fork``) when the input is large; results merge in the parent.

Replacement is crash-safe per rollup partition and atomic for every reader: the new file replaces
all old files of the partition in one directory exchange (``ff_partition_swap.ff_replace_partition``),
so an outside engine reading ``date=*/*.jsonl*`` never sees old and new rollups together. Source
files are held under an exclusive ``flock`` meanwhile, so an appender in another process waits and
then reopens in the new directory.
"""

from __future__ import annotations

import fcntl
import gc
import gzip
import os
import secrets
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ff_utils.ff_analytics_bi.ff_rollup_accumulator import (
    RECORD_TYPE,
    REQUEST_STREAM,
    RESOURCE_STREAM,
    ROLLUP_STREAM,
    USER_STREAMS,
    FFRollupAccumulator,
    FFRollupAggregate,
    dt_to_hk,
)
from ff_utils.ff_analytics_core.ff_clock import ff_iso
from ff_utils.ff_analytics_core.ff_file_ops import ff_fsync_dir
from ff_utils.ff_analytics_core.ff_json_utils import ff_write_json
from ff_utils.ff_analytics_core.ff_jsonl_reader import ff_iter_jsonl_chunks
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_sketches.ff_quantile_sketch import DEFAULT_RELATIVE_ACCURACY
from ff_utils.ff_analytics_store.ff_partition_swap import (
    ff_recover_legacy_manifest,
    ff_recover_swaps,
    ff_replace_partition,
)

logger = get_logger(__name__)

REBUILD_WRITER = "rebuild"
REBUILD_JOURNAL = "_rebuild_journal.json"
PARALLEL_THRESHOLD_BYTES = 8 << 20
_DUMP_OPTS = orjson.OPT_NON_STR_KEYS


def _hour_floor(dt: datetime) -> datetime:
    if not isinstance(dt, datetime):
        raise TypeError(f"start/end: expected datetime, got {type(dt).__name__}")
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _hour_ceil(dt: datetime) -> datetime:
    f = _hour_floor(dt)
    exact = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return f if f == exact else f + timedelta(hours=1)


def _fold_day(files: list[tuple[str, str]], s_hk: str, e_hk: str, accuracy: float) -> list[tuple[str, bytes]]:
    """Worker: fold the raw files of one partition day into hourly records for ``[s_hk, e_hk)``,
    returned serialized (``(hour, JSON bytes)``: compact to ship and to hold in the parent)."""
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of small tuples in sets: cyclic GC passes would dominate the fold
    try:
        return _fold_day_inner(files, s_hk, e_hk, accuracy)
    finally:
        if gc_was_enabled:
            gc.enable()


def _fold_day_inner(files: list[tuple[str, str]], s_hk: str, e_hk: str, accuracy: float) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []

    def emit(recs: list[dict[str, Any]]) -> None:  # serialize at once: one hour's dicts alive at a time
        out.extend((r["hour"], orjson.dumps(r, option=_DUMP_OPTS)) for r in recs)

    acc = FFRollupAccumulator(REBUILD_WRITER, emit=emit, relative_accuracy=accuracy, auto_close=False)
    for path, kind in files:
        try:
            for recs in ff_iter_jsonl_chunks(path):
                if kind == "user":
                    acc.fold_user_dicts(recs, s_hk, e_hk)
                    continue
                for r in recs:
                    ts = r.get("timestamp") if type(r) is dict else None
                    if not (type(ts) is str and s_hk <= ts[:13] < e_hk):
                        continue
                    if kind == "resource" and "cpu_usage_percent" in r:
                        acc.observe_resource_record(r)
                    elif kind == "request" and r.get("kind") == "window":
                        acc.observe_window_record(r)
        except FileNotFoundError:
            continue
        except (OSError, EOFError) as exc:
            logger.error("rebuild: cannot read %s: %s", path, exc)
    for hk in acc.open_hours:  # emit hour by hour ("...T05\x7f" sorts between T05 and T06)
        acc.close_before(hk + "\x7f")
    if acc.skipped_records:
        logger.warning("rebuild: %d user records in %s not counted (fields of the wrong type)",
                       acc.skipped_records, ", ".join(sorted({p for p, k in files if k == "user"})))
    return out


def collect_inputs(store: Any, start: datetime, end: datetime) -> dict[str, list[tuple[str, str, int]]]:
    """Partition day -> ``(path, kind, size)`` of raw files that may hold events of ``[start, end)``."""
    d0 = start.date()
    d1 = (end + timedelta(days=1)).date()  # an event can land in the next day's partition
    out: dict[str, list[tuple[str, str, int]]] = {}
    for kind, streams in (("user", USER_STREAMS), ("resource", (RESOURCE_STREAM,)), ("request", (REQUEST_STREAM,))):
        for stream in streams:
            for part in store.iter_partitions(stream):
                if d0 <= part.day <= d1:
                    for f in part.files:
                        try:
                            out.setdefault(part.day.isoformat(), []).append((str(f), kind, os.path.getsize(f)))
                        except FileNotFoundError:
                            continue
    return out


def iter_rebuilt_hours(
    store: Any, start: datetime, end: datetime, *, workers: int | None = None,
    relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY, parallel_threshold_bytes: int = PARALLEL_THRESHOLD_BYTES,
) -> Iterator[tuple[str, bytes]]:
    """Yield ``(hour, rollup record as compact JSON)`` recomputed from raw, in hour order, one partition day at a time
    (memory stays bounded by about two days of rollups)."""
    s, e = _hour_floor(start), _hour_ceil(end)
    if e <= s:
        raise ValueError(f"end: must be after start ({ff_iso(start)} .. {ff_iso(end)})")
    s_hk, e_hk = dt_to_hk(s), dt_to_hk(e)
    inputs = collect_inputs(store, s, e)
    days = sorted(inputs)
    tasks = [[(p, k) for p, k, _sz in inputs[d]] for d in days]
    total = sum(sz for d in days for _p, _k, sz in inputs[d])
    n_workers = workers if workers is not None else (os.cpu_count() or 1)
    if isinstance(n_workers, bool) or not isinstance(n_workers, int) or n_workers < 1:
        raise ValueError(f"workers: must be an int >= 1, got {n_workers!r}")
    pending: dict[str, list[bytes]] = {}

    def finish(limit: str | None) -> Iterator[tuple[str, bytes]]:
        for hk in sorted(h for h in pending if limit is None or h < limit):
            recs = pending.pop(hk)
            if len(recs) == 1:
                yield hk, recs[0]
                continue
            agg = FFRollupAggregate.from_record(orjson.loads(recs[0]))
            for r in recs[1:]:
                agg.merge(FFRollupAggregate.from_record(orjson.loads(r)))
            yield hk, orjson.dumps(agg.to_record(hk, REBUILD_WRITER), option=_DUMP_OPTS)

    def consume(day: str, recs: list[tuple[str, bytes]]) -> Iterator[tuple[str, bytes]]:
        for hk, data in recs:
            pending.setdefault(hk, []).append(data)
        yield from finish(day)  # hours before this partition's day are complete now

    if n_workers > 1 and total >= parallel_threshold_bytes and len(tasks) > 1:
        n = min(n_workers, len(tasks))
        with ProcessPoolExecutor(max_workers=n) as pool:
            # a bounded window of in-flight days keeps the parent's memory flat (results in order)
            window: deque[Any] = deque()
            todo = iter(zip(days, tasks, strict=True))
            for day, task in todo:
                window.append((day, pool.submit(_fold_day, task, s_hk, e_hk, relative_accuracy)))
                if len(window) >= n + 1:
                    break
            while window:
                day, fut = window.popleft()
                nxt = next(todo, None)
                if nxt is not None:
                    window.append((nxt[0], pool.submit(_fold_day, nxt[1], s_hk, e_hk, relative_accuracy)))
                yield from consume(day, fut.result())
    else:
        for day, task in zip(days, tasks, strict=True):
            yield from consume(day, _fold_day(task, s_hk, e_hk, relative_accuracy))
    yield from finish(None)


def compute_rollups(store: Any, start: datetime, end: datetime, **kw: Any) -> dict[str, FFRollupAggregate]:
    """Hour key -> merged rollup recomputed from raw partitions (no writes)."""
    return {hk: FFRollupAggregate.from_record(orjson.loads(data)) for hk, data in iter_rebuilt_hours(store, start, end, **kw)}


def rebuild_rollups(
    store: Any, start: datetime, end: datetime, *, workers: int | None = None,
    relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY, parallel_threshold_bytes: int = PARALLEL_THRESHOLD_BYTES,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Replace the stored rollups of the hours in ``[start, end)`` with ones recomputed from raw.

    Returns counts: hours rebuilt, rollup records removed and written, partitions rewritten. The
    caller must flush its own accumulator and store first (the BI service does). Each rollup partition
    is replaced as soon as all its hours are computed.
    """
    s, e = _hour_floor(start), _hour_ceil(end)
    if e <= s:
        raise ValueError(f"end: must be after start ({ff_iso(start)} .. {ff_iso(end)})")
    s_hk, e_hk = dt_to_hk(s), dt_to_hk(e)
    # unique per run: two rebuilds at one clock instant (manual or coarse clocks) must not share the
    # replacement file name, or the second would unlink its own output as a superseded source
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S%f") + "-" + secrets.token_hex(4)
    stats = {"hours": 0, "records_removed": 0, "records_written": 0, "partitions_rewritten": 0}
    journal = journal_path(store)
    journal.parent.mkdir(parents=True, exist_ok=True)
    ff_write_json(journal, {"stamp": stamp, "start": s_hk, "end": e_hk, "state": "replacing"})
    # every rollup partition that may hold hours of the range, replaced in ascending day order
    stale = sorted(p.day.isoformat() for p in store.iter_partitions(ROLLUP_STREAM) if p.day >= s.date())

    def write_day(day: str, lines: list[bytes]) -> None:
        while stale and stale[0] < day:
            write_one(stale.pop(0), [])
        if stale and stale[0] == day:
            stale.pop(0)
        write_one(day, lines)

    def write_one(day: str, lines: list[bytes]) -> None:
        r, w = _replace_partition(store, day, s_hk, e_hk, lines, stamp)
        stats["records_removed"] += r
        stats["records_written"] += w
        stats["partitions_rewritten"] += 1 if (r or w) else 0

    cur_day = ""
    lines: list[bytes] = []
    tag = b',"rebuild":"' + stamp.encode() + b'"}\n'
    for hk, data in iter_rebuilt_hours(store, s, e, workers=workers, relative_accuracy=relative_accuracy,
                                      parallel_threshold_bytes=parallel_threshold_bytes):
        if hk[:10] != cur_day:
            if cur_day:
                write_day(cur_day, lines)
            cur_day, lines = hk[:10], []
        lines.append(data[:-1] + tag)  # '..."}' -> '...,"rebuild":"<stamp>"}\n' without a re-parse
        stats["hours"] += 1
    if cur_day:
        write_day(cur_day, lines)
    while stale:
        write_one(stale.pop(0), [])
    os.unlink(journal)
    ff_fsync_dir(journal.parent)
    store.drop_derived(ROLLUP_STREAM)  # the index snapshot describes the replaced files
    return {**stats, "start": ff_iso(s), "end": ff_iso(e)}


def journal_path(store: Any) -> Any:
    """While a rebuild replaces partitions: ``{stamp, start, end}``. Readers then take an hour of the
    range from the records of that rebuild only, if it has any, so a crash between two partition
    replacements never double counts; the next rebuild finishes the job."""
    return store.stream_dir(ROLLUP_STREAM) / REBUILD_JOURNAL


def _line_hour(line: bytes) -> str | None:
    """The ``hour`` of a stored rollup line (byte search; full parse only for odd layouts)."""
    i = line.find(b'"hour":"')
    if i >= 0 and line.find(b'"record_type":"hourly_rollup"') >= 0:
        return line[i + 8:i + 21].decode("ascii", "replace")
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if isinstance(rec, dict) and rec.get("record_type") == RECORD_TYPE:
        return str(rec.get("hour", ""))
    return None


def _recover_partition(pdir: Any) -> None:
    """Finish an interrupted replacement of the stream (swap journal or legacy manifest)."""
    ff_recover_swaps(pdir.parent)
    ff_recover_legacy_manifest(pdir)


def _replace_partition(store: Any, day: str, s_hk: str, e_hk: str, new_lines: list[bytes], stamp: str) -> tuple[int, int]:
    pdir = store.partition_dir(ROLLUP_STREAM, day)
    pdir.mkdir(parents=True, exist_ok=True)
    from ff_utils.ff_analytics_store.ff_stream_store import partition_files

    _recover_partition(pdir)
    sources = partition_files(pdir)
    fds: list[int] = []
    try:
        for f in sources:
            try:
                fd = os.open(f, os.O_RDONLY)
            except FileNotFoundError:
                continue
            fcntl.flock(fd, fcntl.LOCK_EX)
            fds.append(fd)
        kept = bytearray()
        removed = 0
        for f in sources:
            opener = gzip.open if f.name.endswith(".gz") else open
            try:
                with opener(f, "rb") as fh:  # type: ignore[operator]
                    for line in fh:
                        if not line.endswith(b"\n"):
                            continue
                        if b"hourly_rollup" in line:
                            hk = _line_hour(line)
                            if hk is not None and s_hk <= hk < e_hk:
                                removed += 1
                                continue
                        kept += line
            except FileNotFoundError:
                continue
        if not removed and not new_lines:
            return 0, 0
        target = f"part-{REBUILD_WRITER}-{stamp}.jsonl"
        payload = bytes(kept) + b"".join(new_lines)
        ff_replace_partition(pdir, sources, target, payload)
        return removed, len(new_lines)
    finally:
        for fd in fds:
            os.close(fd)
