"""The partitioned JSONL stream store: buffered group-commit writers and a tolerant streaming reader.

Layout: ``<base>/analytics/<category>/<stream>/date=YYYY-MM-DD/part-<writer>.jsonl`` where the day is
the UTC day of the store's clock at append time. Every process writes its own part file, so a torn
tail can never glue itself to another writer's record.
"""

from __future__ import annotations

import atexit
import errno
import fcntl
import gzip
import os
import re
import socket
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from ff_class_configs.ff_analytics_configs.ff_analytics_config import CATEGORY_STREAMS
from ff_protocols.ff_analytics_protocols.ff_stream_store_protocol import FFStreamStoreProtocol
from ff_utils.ff_analytics_core.ff_clock import FFClock, ff_iso
from ff_utils.ff_analytics_core.ff_file_ops import (
    QUARANTINE_DIR,
    ff_atomic_write,
    ff_fsync_dir,
    ff_repair_torn_tail,
)
from ff_utils.ff_analytics_core.ff_json_utils import (
    JSON_OPTS,
    ff_dumps_line,
    ff_json_default,
    ff_line_safe,
    ff_read_json,
)
from ff_utils.ff_analytics_core.ff_jsonl_reader import BAD_LINE, FFStoreCorruptionError, ff_iter_jsonl_lines
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_core.ff_names import ff_validate_name
from ff_utils.ff_analytics_store.ff_record_defaults import ff_fill_record_defaults, record_defaults

logger = get_logger(__name__)

STREAM_CATEGORY: dict[str, str] = {s: c for c, streams in CATEGORY_STREAMS.items() for s in streams}
PRIORITY_STREAMS = frozenset({*CATEGORY_STREAMS["compliance"], "alerts"})
"""Streams that keep writing inside the free-space reserve (compliance records and alerts)."""

_orjson_dumps = orjson.dumps
_json_default = ff_json_default
_LINE_OPTS = JSON_OPTS | orjson.OPT_APPEND_NEWLINE
COMPACTION_MANIFEST = "_compaction.json"
# a stream's derived caches (e.g. the rollup index snapshot): files at the stream's root named
# ``_derived.*``, rebuilt from its partitions at will; whoever deletes or rewrites data drops them
DERIVED_PREFIX = "_derived."
__all__ = [
    "CATEGORY_STREAMS",
    "COMPACTION_MANIFEST",
    "DERIVED_PREFIX",
    "QUARANTINE_DIR",
    "STREAM_CATEGORY",
    "FFPartitionDTO",
    "FFStoreStatsDTO",
    "FFStreamStore",
    "ff_close_at_exit",
    "ff_default_writer_id",
    "partition_files",
]
_WRITER_RE = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
_PARTITION_RE = re.compile(r"date=(\d{4}-\d{2}-\d{2})")
_ISO_DAY_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


ATEXIT_FLUSH_TIMEOUT_SECONDS = 5.0
"""How long the interpreter-exit flush may take in total before it gives up (documented)."""

_LIVE_STORES: weakref.WeakSet[FFStreamStore] = weakref.WeakSet()


def ff_close_at_exit(objs: list[Any], what: str) -> None:
    """Call ``obj.close_sync()`` / ``obj.close()`` for each of ``objs`` in a daemon thread, bounded by
    ``ATEXIT_FLUSH_TIMEOUT_SECONDS`` in total (an exit handler must neither raise nor hang)."""
    if not objs:
        return

    def work() -> None:
        for o in objs:
            try:
                (getattr(o, "close_sync", None) or o.close)()
            except Exception:  # never raise at interpreter exit
                logger.exception("closing %s at exit failed", what)

    t = threading.Thread(target=work, name=f"ff-atexit-{what}", daemon=True)
    t.start()
    t.join(ATEXIT_FLUSH_TIMEOUT_SECONDS)
    if t.is_alive():
        logger.error("closing %s at exit took over %.1fs; what is still buffered may be lost",
                     what, ATEXIT_FLUSH_TIMEOUT_SECONDS)


def _flush_live_stores_at_exit() -> None:
    """atexit: flush and close every open store, bounded by ``ATEXIT_FLUSH_TIMEOUT_SECONDS``."""
    ff_close_at_exit([s for s in list(_LIVE_STORES) if not s._closed], "stores")


def _reset_live_stores_in_child() -> None:
    for s in list(_LIVE_STORES):
        s._after_fork_in_child()


atexit.register(_flush_live_stores_at_exit)
os.register_at_fork(after_in_child=_reset_live_stores_in_child)


def ff_default_writer_id() -> str:
    """``<host>-<pid>-<start ms>``: unique per process start, safe as a file-name part."""
    host = re.sub(r"[^A-Za-z0-9_.\-]", "_", socket.gethostname())[:64] or "host"
    return f"{host}-{os.getpid()}-{int(time.time() * 1000)}"


@dataclass(slots=True)
class FFStoreStatsDTO:
    """Counters of what the store saw; they feed data quality and health."""

    records_written: int = 0
    records_dropped: int = 0
    records_dropped_reserve: int = 0
    batches_written: int = 0
    bytes_written: int = 0
    write_failures: int = 0
    unparseable_lines: int = 0
    quarantined_lines: int = 0
    corrupt_files: int = 0
    last_error: str = ""
    last_error_at: str = ""
    pending_records: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(slots=True)
class FFPartitionDTO:
    """One day of one stream: its directory and the readable files in it."""

    stream: str
    day: date
    path: Path
    files: list[Path] = field(default_factory=list)


@dataclass(slots=True)
class _Batch:
    stream: str
    day: str
    data: bytearray
    count: int


class _OpenPart:
    __slots__ = ("path", "fd")

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd


class FFStreamStore(FFStreamStoreProtocol):
    """Append records to day-partitioned streams; read them back as one table per stream.

    ``append`` only serializes into a per-stream buffer (no syscall). A full batch
    (``write_batch_size``) or an old one (``write_max_delay_seconds``) is written by a background
    flusher thread with one ``write()`` (plus one ``fsync`` under the ``batch`` policy); ``flush()``
    writes everything now in the caller's thread. With ``always`` every append is written and
    fsynced before it returns.
    """

    def __init__(
        self,
        base_path: str | os.PathLike[str],
        config: Any,
        clock: FFClock | None = None,
        writer_id: str | None = None,
    ) -> None:
        self.base_path = Path(base_path)
        self.analytics_path = self.base_path / "analytics"
        self.config = config
        self.clock = clock or FFClock()
        self._time = time.time if type(self.clock) is FFClock else self.clock.time
        if writer_id is not None and not (isinstance(writer_id, str) and _WRITER_RE.fullmatch(writer_id)):
            raise ValueError(f"writer_id: {writer_id!r} must match ^[A-Za-z0-9_.-]{{1,128}}$")
        self._fixed_writer_id = writer_id
        self.writer_id = writer_id or ff_default_writer_id()
        self.fsync_policy = str(getattr(config, "fsync_policy", "batch"))
        self.batch_size = max(1, int(getattr(config, "write_batch_size", 1000)))
        self.max_delay = float(getattr(config, "write_max_delay_seconds", 1.0))
        self.max_buffered = max(1, int(getattr(config, "max_buffered_records", 100_000)))
        self.buffer_full_policy = str(getattr(config, "buffer_full_policy", "drop"))
        block = set(getattr(config, "buffer_full_block_streams", ()) or ())
        drop = set(getattr(config, "buffer_full_drop_streams", ()) or ())
        self.blocking_streams = frozenset(
            s for s in STREAM_CATEGORY
            if s in block or (self.buffer_full_policy == "block" and s not in drop)
        )
        """Streams whose full buffer waits up to ``block_timeout_seconds`` for room (others drop)."""
        self.block_timeout = float(getattr(config, "block_timeout_seconds", 0.05))
        self.reserve_bytes = int(float(getattr(config, "free_space_reserve_mb", 0)) * 1024 * 1024)
        self._room_limit = self.max_buffered - 1
        self._batch_limit = self.batch_size - 1
        self.stats = FFStoreStatsDTO()
        self.dropped_by_stream: dict[str, int] = {}
        self._init_runtime_state()
        _LIVE_STORES.add(self)

    # ------------------------------------------------------------------ state
    def _init_runtime_state(self) -> None:
        self._lock = threading.Lock()  # guards buffers and pending
        self._io_lock = threading.Lock()  # serializes writes: batches land in append order
        self._space = threading.Condition(self._lock)
        self._buffers: dict[str, _Batch] = {}
        self._buffer_started: dict[str, float] = {}
        self._pending: deque[_Batch] = deque()
        self._buffered = 0
        self._open: dict[tuple[str, str], _OpenPart] = {}
        self._cut_back: dict[Path, tuple[int, int]] = {}  # part file -> (inode, size to cut back to)
        self._day_str = ""
        self._day_start = 0.0
        self._day_end = -1.0
        self._flusher: threading.Thread | None = None
        self._wake = threading.Event()
        self._stop = False
        self._closed = False
        self._slow = self.fsync_policy == "always"  # closed or always-fsync: take the full path
        self._warned_closed = False
        self._retry_after = 0.0
        self._reserve_checked_at = 0.0
        self._reserve_low = False

    def _after_fork_in_child(self) -> None:
        # The child must not write the parent's buffered records (the parent will) nor share its
        # part files: fresh identity, buffers, locks and flusher thread.
        was_closed = self._closed
        for part in self._open.values():
            try:
                os.close(part.fd)  # the parent's descriptors; closing them here leaves the parent's open
            except OSError:
                pass
        self.writer_id = (
            f"{self._fixed_writer_id}-{os.getpid()}" if self._fixed_writer_id else ff_default_writer_id()
        )
        self._init_runtime_state()
        self.stats = FFStoreStatsDTO()  # the child's health describes the child's writes
        self.dropped_by_stream = {}
        if was_closed:
            self._closed = self._slow = True

    @property
    def buffered_records(self) -> int:
        return self._buffered

    def ensure_tree(self) -> None:
        """Create the category/stream directories (idempotent)."""
        for cat, streams in CATEGORY_STREAMS.items():
            for s in streams:
                (self.analytics_path / cat / s).mkdir(parents=True, exist_ok=True)

    def stream_dir(self, stream: str) -> Path:
        cat = STREAM_CATEGORY.get(stream)
        if cat is None:
            ff_validate_name(stream)
            raise ValueError(f"stream: unknown stream {stream!r} (known: {sorted(STREAM_CATEGORY)})")
        return self.analytics_path / cat / stream

    def partition_dir(self, stream: str, day: date | str) -> Path:
        """``<stream dir>/date=YYYY-MM-DD``; ``day`` is a ``date`` or an ISO day string (anything else,
        e.g. ``'../x'``, raises ``ValueError`` naming ``day``)."""
        if isinstance(day, datetime):
            day = day.date()
        if isinstance(day, date):
            d = day.isoformat()
        elif isinstance(day, str) and _ISO_DAY_RE.fullmatch(day):
            try:
                d = date.fromisoformat(day).isoformat()
            except ValueError:
                raise ValueError(f"day: {day!r} is not a calendar date (YYYY-MM-DD)") from None
        else:
            raise ValueError(f"day: expected a date or 'YYYY-MM-DD', got {day!r:.80}")
        return self.stream_dir(stream) / f"date={d}"

    def confined_path(self, path: str | os.PathLike[str], what: str = "path") -> Path:
        """``path`` resolved (symlinks included); ``ValueError`` naming ``what`` unless it lies inside
        the store's tree (``<base_path>/analytics``)."""
        try:
            real = Path(os.path.realpath(os.fspath(path)))
        except TypeError:
            raise TypeError(f"{what}: expected a path, got {type(path).__name__}") from None
        tree = Path(os.path.realpath(self.analytics_path))
        if real == tree or tree not in real.parents:
            raise ValueError(f"{what}: {os.fspath(path)!r} resolves to {str(real)!r}, outside the store's tree {str(tree)!r}")
        return real

    # ------------------------------------------------------------------ append path
    def _roll_day(self, t: float) -> str:
        """Recompute the cached UTC day for epoch ``t`` (called once per day per process)."""
        now = datetime.fromtimestamp(t, UTC)
        start = datetime(now.year, now.month, now.day, tzinfo=UTC)
        self._day_start = start.timestamp()
        self._day_end = (start + timedelta(days=1)).timestamp()
        self._day_str = start.date().isoformat()
        return self._day_str

    def append(self, stream: str, record: Any) -> bool:
        """Serialize ``record`` into ``stream``'s buffer; False when dropped (counted, never silent).

        The fast path is inlined (serialize, one lock, bytearray append): no syscall per record.
        """
        if stream not in STREAM_CATEGORY:
            self.stream_dir(stream)  # raises the precise error
        try:
            line = _orjson_dumps(record, default=_json_default, option=_LINE_OPTS)
        except orjson.JSONEncodeError:
            line = ff_dumps_line(record)  # slow path: ints beyond 64 bits
        t = self._time()
        b = self._buffers.get(stream)
        if (
            b is None
            or self._slow
            or b.day is not self._day_str  # another stream rolled the day: this batch is yesterday's
            or not (self._day_start <= t < self._day_end)
            or self._buffered >= self._room_limit
            or b.count >= self._batch_limit
        ):
            return self._append_lines(stream, line, 1)
        with self._lock:
            if self._buffers.get(stream) is b:
                b.data += line
                b.count += 1
                self._buffered += 1
                return True
        return self._append_lines(stream, line, 1)  # swapped out by a flush meanwhile

    def append_many(self, stream: str, records: Iterable[Any]) -> int:
        if stream not in STREAM_CATEGORY:
            self.stream_dir(stream)
        buf = bytearray()
        n = 0
        dumps = _orjson_dumps
        for rec in records:
            try:
                buf += dumps(rec, default=_json_default, option=_LINE_OPTS)
            except orjson.JSONEncodeError:
                buf += ff_dumps_line(rec)  # slow path: ints beyond 64 bits
            n += 1
        if not n:
            return 0
        return n if self._append_lines(stream, buf, n) else 0

    def _append_lines(self, stream: str, data: bytes | bytearray, n: int) -> bool:
        if self._closed:  # a host call racing shutdown: dropped and counted, never raised
            with self._lock:
                self.stats.records_dropped += n
                self.dropped_by_stream[stream] = self.dropped_by_stream.get(stream, 0) + n
            if not self._warned_closed:
                self._warned_closed = True
                logger.warning("analytics store is closed: records appended after close() are dropped")
            return False
        t = self._time()
        with self._lock:
            if self._buffered + n > self.max_buffered and (
                stream not in self.blocking_streams or not self._make_room(n)
            ):
                self.stats.records_dropped += n
                self.dropped_by_stream[stream] = self.dropped_by_stream.get(stream, 0) + n
                return False
            day = self._day_str if self._day_start <= t < self._day_end else self._roll_day(t)
            b = self._buffers.get(stream)
            if b is not None and b.day == day:
                b.day = day  # same day, recomputed string: keep the fast path's identity check true
            if b is None or b.day != day:
                if b is not None:
                    self._pending.append(b)
                b = self._buffers[stream] = _Batch(stream, day, bytearray(), 0)
                self._buffer_started[stream] = time.monotonic()
            b.data += data
            b.count += n
            self._buffered += n
            full = b.count >= self.batch_size
            if full:
                self._pending.append(b)
                del self._buffers[stream]
        if full:
            if self.fsync_policy == "always":
                self.flush()
                return True
            if self._flusher is None:
                self._ensure_flusher()
            self._wake.set()
        elif self.fsync_policy == "always":
            self.flush()
        elif self._flusher is None:
            self._ensure_flusher()
        return True

    def _make_room(self, n: int) -> bool:
        """Called with ``_lock`` held when the buffer is full (blocking stream); True if there is room now."""
        deadline = time.monotonic() + self.block_timeout
        for b in list(self._buffers.values()):
            self._pending.append(b)
        self._buffers.clear()
        self._ensure_flusher()
        self._wake.set()
        while self._buffered + n > self.max_buffered:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._space.wait(left)
        return True

    # ------------------------------------------------------------------ background flusher
    def _ensure_flusher(self) -> None:
        if self._flusher is not None or self._stop:
            return
        t = threading.Thread(target=self._flusher_main, name=f"ff-store-flusher-{self.writer_id}", daemon=True)
        self._flusher = t
        t.start()

    def _flusher_main(self) -> None:
        interval = max(0.01, min(self.max_delay, 1.0) / 2)
        while not self._stop:
            self._wake.wait(interval)
            self._wake.clear()
            if self._stop:
                break
            try:
                self._flush_due()
            except Exception:  # never let the flusher die
                logger.exception("background flush failed")

    def _flush_due(self) -> None:
        now = time.monotonic()
        if now < self._retry_after:
            return
        with self._lock:
            for stream, b in list(self._buffers.items()):
                if now - self._buffer_started.get(stream, now) >= self.max_delay:
                    self._pending.append(b)
                    del self._buffers[stream]
        self._write_pending(fsync=self.fsync_policy != "never")

    # ------------------------------------------------------------------ writing
    def flush(self) -> bool:
        """Write every buffered record now; fsync unless the policy is ``never``.

        Returns True when everything buffered before the call is written (and synced per policy).
        On an I/O failure the batches stay buffered (bounded) for retry, the error is counted, and
        False is returned; nothing is raised.
        """
        with self._lock:
            for b in self._buffers.values():
                self._pending.append(b)
            self._buffers.clear()
        return self._write_pending(fsync=self.fsync_policy != "never")

    async def aflush(self) -> None:
        import asyncio

        await asyncio.to_thread(self.flush)

    def _write_pending(self, fsync: bool) -> bool:
        ok = True
        with self._io_lock:
            touched: dict[tuple[str, str], _OpenPart] = {}
            while True:
                with self._lock:
                    if not self._pending:
                        break
                    batch = self._pending[0]
                for k in [k for k in touched if k[0] == batch.stream and k[1] != batch.day]:
                    # opening the next day closes this stream's previous part: sync it first
                    prev = touched.pop(k)
                    if fsync:
                        try:
                            os.fsync(prev.fd)
                        except OSError as exc:
                            self._note_failure(exc)
                            ok = False
                try:
                    part = self._write_batch(batch)
                except OSError as exc:
                    self._note_failure(exc)
                    ok = False
                    break
                if part is not None:
                    touched[(batch.stream, batch.day)] = part
                with self._lock:
                    self._pending.popleft()
                    self._buffered -= batch.count
                    self._space.notify_all()
            if fsync:
                for key, part in touched.items():
                    try:
                        os.fsync(part.fd)
                    except OSError as exc:
                        self._note_failure(exc)
                        self._drop_open(key)
                        ok = False
            self.stats.pending_records = self._buffered
        return ok

    def _note_failure(self, exc: OSError) -> None:
        self.stats.write_failures += 1
        self.stats.last_error = f"{errno.errorcode.get(exc.errno or 0, 'OSError')}: {exc}"
        self.stats.last_error_at = ff_iso(self.clock.now())
        self._retry_after = time.monotonic() + 0.5
        logger.warning("analytics store write failed (will retry): %s", exc)

    def _reserve_blocks(self, stream: str) -> bool:
        if self.reserve_bytes <= 0 or stream in PRIORITY_STREAMS:
            return False
        now = time.monotonic()
        if now - self._reserve_checked_at >= 1.0:
            self._reserve_checked_at = now
            try:
                st = os.statvfs(self.analytics_path if self.analytics_path.exists() else self.base_path)
                self._reserve_low = st.f_bavail * st.f_frsize < self.reserve_bytes
            except OSError:
                self._reserve_low = False
        return self._reserve_low

    def _write_batch(self, batch: _Batch) -> _OpenPart | None:
        """Append one batch with one write(); on failure truncate back so no partial line remains."""
        if self._reserve_blocks(batch.stream):
            self.stats.records_dropped_reserve += batch.count
            self.stats.records_dropped += batch.count
            self.dropped_by_stream[batch.stream] = self.dropped_by_stream.get(batch.stream, 0) + batch.count
            return None
        part = self._open_part(batch.stream, batch.day)
        fd = part.fd
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            st = os.fstat(fd)
            if st.st_nlink == 0:  # rewritten (erasure/compaction) under us: append to the new file
                fcntl.flock(fd, fcntl.LOCK_UN)
                self._drop_open((batch.stream, batch.day))
                part = self._open_part(batch.stream, batch.day)
                fd = part.fd
                fcntl.flock(fd, fcntl.LOCK_SH)
                st = os.fstat(fd)
            start = st.st_size
            payload = ff_line_safe(batch.data)  # U+2028/2029/0085 escaped: splitlines-safe lines
            view = memoryview(payload)
            try:
                while view:
                    view = view[os.write(fd, view):]
            except OSError:
                try:
                    os.ftruncate(fd, start)
                except OSError:
                    # Could not cut the partial bytes back: forget this descriptor; the next attempt
                    # reopens the file and cuts it back to ``start`` first (this writer owns the part
                    # file, so nothing else appended), so no complete record of the batch is doubled.
                    logger.error("could not truncate %s after a failed write", part.path)
                    self._cut_back[part.path] = (st.st_ino, start)
                    self._open.pop((batch.stream, batch.day), None)
                    _close_quietly(fd)
                    fd = -1
                raise
        finally:
            if fd >= 0:
                try:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                except OSError:
                    pass
        self.stats.records_written += batch.count
        self.stats.batches_written += 1
        self.stats.bytes_written += len(payload)
        return part

    def _open_part(self, stream: str, day: str) -> _OpenPart:
        key = (stream, day)
        part = self._open.get(key)
        if part is not None:
            return part
        for old in [k for k in self._open if k[0] == stream]:
            self._drop_open(old)
        d = self.partition_dir(stream, day)
        created = not d.exists()
        d.mkdir(parents=True, exist_ok=True)
        if created:
            ff_fsync_dir(d.parent)
        path = d / f"part-{self.writer_id}.jsonl"
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            cut = self._cut_back.get(path)
            if cut is not None:  # a failed batch left bytes that could not be cut back then
                st = os.fstat(fd)
                if st.st_ino == cut[0] and st.st_size >= cut[1]:
                    os.ftruncate(fd, cut[1])
                    logger.warning("cut %s back to %d bytes after an earlier failed write", path, cut[1])
                del self._cut_back[path]
            self._repair_tail(fd, path)
        except OSError:
            os.close(fd)
            raise
        if created:
            ff_fsync_dir(d)
        part = self._open[key] = _OpenPart(path, fd)
        return part

    def _repair_tail(self, fd: int, path: Path) -> None:
        """Cut a torn final line (from a crash) back to the last newline, keeping it in quarantine."""
        cut = ff_repair_torn_tail(fd, path)
        if cut:
            self.stats.quarantined_lines += 1
            logger.warning("repaired torn tail of %s (%d bytes quarantined)", path, cut)

    def _drop_open(self, key: tuple[str, str]) -> None:
        part = self._open.pop(key, None)
        if part is not None:
            try:
                os.close(part.fd)
            except OSError:
                pass

    def close(self) -> None:
        """Flush, stop the flusher thread and close files; idempotent."""
        if self._closed:
            return
        self.flush()
        self._stop = True
        self._wake.set()
        t = self._flusher
        if t is not None and t is not threading.current_thread():
            t.join(timeout=5)
        with self._io_lock:
            for key in list(self._open):
                self._drop_open(key)
        self._closed = True
        self._slow = True

    # ------------------------------------------------------------------ maintenance helpers
    def drop_derived(self, stream: str) -> int:
        """Delete ``stream``'s derived caches (``DERIVED_PREFIX`` files at its root) so nothing
        erased or expired outlives its partitions there; returns how many were removed."""
        sdir = self.stream_dir(stream)
        n = 0
        try:
            entries = list(os.scandir(sdir))
        except FileNotFoundError:
            return 0
        for e in entries:
            if e.name.startswith(DERIVED_PREFIX) and e.is_file(follow_symlinks=False):
                try:
                    os.unlink(e.path)
                    n += 1
                except FileNotFoundError:
                    continue
        if n:
            ff_fsync_dir(sdir)
        return n

    def rewrite_file(self, path: str | os.PathLike[str], keep: Callable[[Any], bool]) -> tuple[int, int]:
        """Rewrite one partition file keeping the records for which ``keep(record)`` is true.

        Atomic (temp + rename) and exclusive against appenders (they hold a shared lock per batch
        and reopen after the rename). Kept lines stay byte-identical; unparseable lines are kept.
        Returns ``(kept, removed)``; a file left with no records is removed. ``path`` must resolve
        (symlinks included) inside the store's tree, else ``ValueError`` naming ``path``.
        """
        p = self.confined_path(path, "path")
        gz = p.name.endswith(".gz")
        fd = os.open(p, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            kept_lines = bytearray()
            kept = removed = 0
            opener = gzip.open if gz else open
            with opener(p, "rb") as fh:  # type: ignore[operator]
                for line in fh:
                    if not line.endswith(b"\n"):
                        kept_lines += line  # torn tail: leave it for the tail repair
                        continue
                    try:
                        rec = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        kept_lines += line
                        kept += 1
                        continue
                    if keep(rec):
                        kept_lines += line
                        kept += 1
                    else:
                        removed += 1
            if removed:
                if kept or kept_lines:
                    payload = gzip.compress(bytes(kept_lines), mtime=0) if gz else bytes(kept_lines)
                    ff_atomic_write(p, payload)
                else:
                    os.unlink(p)
                    ff_fsync_dir(p.parent)
            return kept, removed
        finally:
            os.close(fd)

    # ------------------------------------------------------------------ reading
    def iter_partitions(self, stream: str) -> list[FFPartitionDTO]:
        """Partitions of ``stream``, oldest first, with the files a reader must read."""
        sdir = self.stream_dir(stream)
        out: list[FFPartitionDTO] = []
        try:
            entries = sorted(os.scandir(sdir), key=lambda e: e.name)
        except FileNotFoundError:
            return out
        for e in entries:
            m = _PARTITION_RE.fullmatch(e.name)
            if not m or not e.is_dir():
                continue
            try:
                day = date.fromisoformat(m.group(1))
            except ValueError:
                continue
            path = Path(e.path)
            out.append(FFPartitionDTO(stream, day, path, partition_files(path)))
        return out

    def read(
        self,
        stream: str,
        start: datetime | date | None = None,
        end: datetime | date | None = None,
        *,
        strict: bool = False,
    ) -> Iterator[dict]:
        """Stream records of the partitions whose day lies in ``[start, end]`` (inclusive days).

        Unparseable lines are skipped and counted in ``stats.unparseable_lines``. A corrupt file
        (truncated gzip) is counted in ``stats.corrupt_files`` and logged; with ``strict=True`` it
        raises ``FFStoreCorruptionError``.
        """
        d0 = _as_day(start)
        d1 = _as_day(end)
        fill = record_defaults(stream) is not None  # compact user records: absent fields -> defaults
        for part in self.iter_partitions(stream):
            if (d0 and part.day < d0) or (d1 and part.day > d1):
                continue
            for f in part.files:
                if fill:
                    yield from map(ff_fill_record_defaults, self._read_file(f, strict))
                else:
                    yield from self._read_file(f, strict)

    def _read_file(self, f: Path, strict: bool) -> Iterator[dict]:
        try:
            for _lineno, rec in ff_iter_jsonl_lines(f):
                if rec is BAD_LINE:
                    self.stats.unparseable_lines += 1
                    continue
                yield rec
        except FileNotFoundError:
            return  # removed by retention/compaction while listing
        except FFStoreCorruptionError as exc:
            self.stats.corrupt_files += 1
            self.stats.last_error = str(exc)
            self.stats.last_error_at = ff_iso(self.clock.now())
            logger.error("%s", exc)
            if strict:
                raise


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def partition_files(path: Path) -> list[Path]:
    """Readable files of a partition directory, honouring an in-progress compaction manifest."""
    try:
        names = sorted(
            n for n in os.listdir(path) if not n.startswith(".") and (n.endswith(".jsonl") or n.endswith(".jsonl.gz"))
        )
    except FileNotFoundError:
        return []
    if COMPACTION_MANIFEST in os.listdir(path):
        manifest = ff_read_json(path / COMPACTION_MANIFEST, default=None) or {}
        target = manifest.get("target")
        if target and target in names:
            superseded = set(manifest.get("sources", []))
            names = [n for n in names if n not in superseded]
    return [path / n for n in names]


def _as_day(v: datetime | date | None) -> date | None:
    if v is None:
        return None
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            v = v.astimezone(UTC)
        return v.date()
    return v
