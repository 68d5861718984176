"""Compress cold partitions into one ``compacted.jsonl.gz`` per day, crash-safe at every step.

Protocol: ``ff_partition_swap.ff_replace_partition``. The gzip member is written into a stage
directory beside the partition, fsynced and read back against the source bytes; then the stage and
the partition directory are exchanged in one ``renameat2(RENAME_EXCHANGE)``, so every reader (the
library's and an outside engine globbing ``date=*/*.jsonl*``) sees either all old part files or the
compacted file, never both and never neither. A crash anywhere is finished or discarded by
``recover`` (the next run); ``STEPS`` names the points a test can stop at.

A later run finishes (exchanged) or discards (not exchanged) an
interrupted compaction. Source files are held under an exclusive ``flock`` from read to unlink so
a straggling appender (which takes a shared lock per batch and reopens an unlinked file) can never
lose a batch. Audit partitions are compacted under the audit chain lock, and the verifier reads
``compacted*.jsonl.gz`` before ``audit.jsonl`` of the same day, so verification is unaffected.
"""

from __future__ import annotations

import fcntl
import gzip
import os
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ff_utils.ff_analytics_core.ff_clock import FFClock
from ff_utils.ff_analytics_core.ff_file_ops import ff_atomic_write, ff_fsync_dir
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_store.ff_audit_layout import LOCK_FILE
from ff_utils.ff_analytics_store.ff_partition_swap import (
    SWAP_STEPS,
    ff_recover_legacy_manifest,
    ff_recover_swaps,
    ff_replace_partition,
)
from ff_utils.ff_analytics_store.ff_stream_store import (
    COMPACTION_MANIFEST,
    QUARANTINE_DIR,
    STREAM_CATEGORY,
    partition_files,
)

logger = get_logger(__name__)

TARGET = "compacted.jsonl.gz"

STEPS = SWAP_STEPS


@dataclass(slots=True)
class FFCompactionResultDTO:
    """One compacted partition."""

    stream: str
    day: str
    target: str
    sources: list[str]
    records: int
    bytes_before: int
    bytes_after: int
    torn_bytes_quarantined: int = 0


@dataclass(slots=True)
class FFCompressionReportDTO:
    """What one compression run did."""

    partitions_compacted: int = 0
    partitions_recovered: int = 0
    partitions_skipped: int = 0
    records: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    errors: list[str] = field(default_factory=list)
    compacted: list[FFCompactionResultDTO] = field(default_factory=list)
    elapsed_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "partitions_compacted": self.partitions_compacted,
            "partitions_recovered": self.partitions_recovered,
            "partitions_skipped": self.partitions_skipped,
            "records": self.records,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
            "errors": list(self.errors),
            "elapsed_seconds": round(self.elapsed_seconds, 4),
        }


def _chain_order(p: Path) -> tuple[int, str]:
    return (0 if p.name.startswith("compacted") and p.name.endswith(".gz") else 1, p.name)


class FFPartitionCompressor:
    """Rewrite partitions older than ``compression_age_days`` (never today's) as gzip."""

    def __init__(
        self,
        store: Any,
        *,
        compression_age_days: int = 7,
        clock: FFClock | None = None,
        compresslevel: int = 6,
        step_hook: Callable[[str, Path], None] | None = None,
    ) -> None:
        if not isinstance(compression_age_days, int) or isinstance(compression_age_days, bool) or compression_age_days < 0:
            raise ValueError(f"compression_age_days: must be an int >= 0, got {compression_age_days!r}")
        if not 1 <= int(compresslevel) <= 9:
            raise ValueError(f"compresslevel: must be in 1..9, got {compresslevel!r}")
        self.store = store
        self.clock = clock or getattr(store, "clock", None) or FFClock()
        self.compression_age_days = compression_age_days
        self.compresslevel = int(compresslevel)
        self._step_hook = step_hook

    def _step(self, name: str, pdir: Path) -> None:
        if self._step_hook is not None:
            self._step_hook(name, pdir)

    def due(self, day: date, today: date) -> bool:
        age = (today - day).days
        return day < today and age > self.compression_age_days

    def run(self, streams: Iterable[str] | None = None, *, dry_run: bool = False) -> FFCompressionReportDTO:
        """Compact every due partition of ``streams`` (default: all). I/O errors are contained."""
        t0 = time.perf_counter()
        rep = FFCompressionReportDTO()
        today = self.clock.now().date()
        for stream in streams or list(STREAM_CATEGORY):
            for part in self.store.iter_partitions(stream):
                if not self.due(part.day, today):
                    continue
                try:
                    if self.recover(part.path):
                        rep.partitions_recovered += 1
                    if dry_run:
                        if _needs_compaction(part.path):
                            rep.partitions_compacted += 1
                        continue
                    res = self.compact_partition(stream, part.path, part.day)
                except OSError as exc:
                    rep.errors.append(f"{part.path}: {exc}")
                    logger.error("compression of %s failed: %s", part.path, exc)
                    continue
                if res is None:
                    rep.partitions_skipped += 1
                    continue
                rep.partitions_compacted += 1
                rep.records += res.records
                rep.bytes_before += res.bytes_before
                rep.bytes_after += res.bytes_after
                rep.compacted.append(res)
        rep.elapsed_seconds = time.perf_counter() - t0
        return rep

    # ------------------------------------------------------------------ recovery
    def recover(self, pdir: Path) -> bool:
        """Finish or discard an interrupted compaction of ``pdir``'s stream; True if there was one.

        Rolls an exchanged swap forward and drops an unexchanged one (``ff_recover_swaps``), finishes
        a manifest left by the fallback or by an older version, and removes that version's
        ``.compacted*.tmp`` leftovers.
        """
        did = False
        for n in _listdir(pdir):
            if (n.startswith(".compacted") or n.startswith(f".{COMPACTION_MANIFEST}.")) and n.endswith(".tmp"):
                os.unlink(pdir / n)
                did = True
        if did:
            ff_fsync_dir(pdir)
        if ff_recover_swaps(pdir.parent):
            did = True
        mpath = pdir / COMPACTION_MANIFEST
        if mpath.exists():
            ff_recover_legacy_manifest(pdir)
            did = True
        return did

    # ------------------------------------------------------------------ compaction
    def compact_partition(self, stream: str, pdir: Path, day: date | None = None) -> FFCompactionResultDTO | None:
        """Merge every readable file of ``pdir`` into one gzip member; None when nothing to do."""
        if not _needs_compaction(pdir):
            return None
        if stream == "audit_logs":
            lock_path = Path(self.store.analytics_path) / "compliance" / LOCK_FILE
            lfd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(lfd, fcntl.LOCK_EX)
                return self._compact_locked(stream, pdir, day)
            finally:
                os.close(lfd)
        return self._compact_locked(stream, pdir, day)

    def _compact_locked(self, stream: str, pdir: Path, day: date | None) -> FFCompactionResultDTO | None:
        self.recover(pdir)
        sources = sorted(partition_files(pdir), key=_chain_order)
        if not sources or (len(sources) == 1 and sources[0].name.endswith(".gz")):
            return None
        names = {s.name for s in sources}
        target = TARGET
        k = 2
        while target in names:
            target = f"compacted-{k}.jsonl.gz"
            k += 1
        fds: list[int] = []
        try:
            data = bytearray()
            before = 0
            torn_total = 0
            for src in sources:
                fd = os.open(src, os.O_RDONLY)
                fds.append(fd)
                fcntl.flock(fd, fcntl.LOCK_EX)
                before += os.fstat(fd).st_size
                raw = _read_source(src, fd)
                if raw and not raw.endswith(b"\n"):
                    cut = raw.rfind(b"\n") + 1
                    torn = bytes(raw[cut:])
                    qdir = pdir / QUARANTINE_DIR
                    qdir.mkdir(exist_ok=True)
                    ff_atomic_write(qdir / f"{src.name}.{time.time_ns()}.torn", torn)
                    torn_total += len(torn)
                    raw = raw[:cut]
                data += raw
            payload = gzip.compress(bytes(data), compresslevel=self.compresslevel, mtime=0)

            def verify(path: Path) -> None:
                with open(path, "rb") as fh:
                    check = gzip.decompress(fh.read())
                if check != data:
                    raise OSError(f"{path}: read-back verification failed ({len(check)} != {len(data)} bytes)")

            ff_replace_partition(pdir, sources, target, payload, verify=verify, step_hook=self._step_hook)
        finally:
            for fd in fds:
                os.close(fd)
        return FFCompactionResultDTO(
            stream=stream,
            day=day.isoformat() if day else pdir.name.removeprefix("date="),
            target=target,
            sources=[s.name for s in sources],
            records=data.count(b"\n"),
            bytes_before=before,
            bytes_after=len(payload),
            torn_bytes_quarantined=torn_total,
        )


def _needs_compaction(pdir: Path) -> bool:
    if (pdir / COMPACTION_MANIFEST).exists():
        return True
    files = partition_files(pdir)
    return bool(files) and not (len(files) == 1 and files[0].name.endswith(".gz"))


def _read_source(src: Path, fd: int) -> bytes:
    if src.name.endswith(".gz"):
        try:
            with gzip.open(src, "rb") as fh:
                return fh.read()
        except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
            raise OSError(f"{src}: corrupt gzip, partition left as is ({exc})") from exc
    size = os.fstat(fd).st_size
    out = bytearray()
    while len(out) < size:
        chunk = os.pread(fd, min(1 << 22, size - len(out)), len(out))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def _listdir(p: Path) -> list[str]:
    try:
        return os.listdir(p)
    except FileNotFoundError:
        return []
