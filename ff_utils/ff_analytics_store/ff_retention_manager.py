"""Retention cleanup: delete whole day partitions past their category's retention.

Categories and their settings (``privacy_config``):

- ``raw`` = ``system_metrics`` + ``user_analytics`` -> ``raw_data_retention_days`` (30)
- ``aggregated`` = ``business_intelligence`` + ``reports`` -> ``aggregated_data_retention_days`` (365)
- ``compliance`` = ``compliance`` -> ``compliance_data_retention_days`` (2555)

A partition of day D is deleted when ``(today - D).days > retention_days`` (today from the injected
clock). Every deletion is audited (partition, record count, size) *before* the directory goes, in
one locked batch per stream; the directory is first renamed to a hidden ``.deleting-*`` name (readers
skip it at once) and then removed, so a crash never leaves a half-deleted visible partition.
Deleting audit days writes a signed anchor (first remaining seq and its prev hash) so the chain
still verifies.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from ff_utils.ff_analytics_core.ff_clock import FFClock
from ff_utils.ff_analytics_core.ff_file_ops import ff_fsync_dir
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_store.ff_stream_store import CATEGORY_STREAMS, STREAM_CATEGORY

logger = get_logger(__name__)

RETENTION_CLASSES: dict[str, tuple[tuple[str, ...], str]] = {
    "raw": (("system_metrics", "user_analytics"), "raw_data_retention_days"),
    "aggregated": (("business_intelligence", "reports"), "aggregated_data_retention_days"),
    "compliance": (("compliance",), "compliance_data_retention_days"),
}
_DAY_RE = re.compile(r"date=(\d{4}-\d{2}-\d{2})")
DELETING_PREFIX = ".deleting-"


@dataclass(slots=True)
class FFRetentionCandidateDTO:
    """One partition past its retention."""

    retention_class: str
    category: str
    stream: str
    day: str
    path: str
    age_days: int
    retention_days: int
    records: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(slots=True)
class FFRetentionReportDTO:
    """What one cleanup run deleted (or, in dry-run, would delete)."""

    dry_run: bool
    today: str
    retention_days: dict[str, int] = field(default_factory=dict)
    candidates: list[FFRetentionCandidateDTO] = field(default_factory=list)
    deleted: int = 0
    records_deleted: int = 0
    bytes_deleted: int = 0
    errors: list[str] = field(default_factory=list)
    elapsed_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "today": self.today,
            "retention_days": dict(self.retention_days),
            "partitions": [c.to_dict() for c in self.candidates],
            "deleted": self.deleted,
            "records_deleted": self.records_deleted,
            "bytes_deleted": self.bytes_deleted,
            "errors": list(self.errors),
            "elapsed_seconds": round(self.elapsed_seconds, 4),
        }


def retention_days_from(privacy_config: Any) -> dict[str, int]:
    """``{class: days}`` from the privacy config; ValueError naming a bad field."""
    out: dict[str, int] = {}
    for cls, (_cats, fname) in RETENTION_CLASSES.items():
        v = getattr(privacy_config, fname, None)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"privacy_config.{fname}: must be an int >= 1, got {v!r}")
        out[cls] = v
    if out["compliance"] < out["raw"]:
        raise ValueError(
            "privacy_config.compliance_data_retention_days: must not be shorter than raw_data_retention_days"
        )
    return out


def count_records(path: Path) -> tuple[int, int]:
    """``(records, bytes)`` of one partition file (complete lines; gzip read as a stream)."""
    size = path.stat().st_size
    n = 0
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    n += chunk.count(b"\n")
        else:
            with open(path, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    n += chunk.count(b"\n")
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        logger.error("retention: %s is corrupt (%s); counted %d records", path, exc, n)
    return n, size


class FFRetentionManager:
    """Plan and run retention deletions over the store (and ``reports/``)."""

    def __init__(
        self,
        store: Any,
        privacy_config: Any,
        *,
        clock: FFClock | None = None,
        audit_many: Callable[[list[dict[str, Any]]], None] | None = None,
        chain_writer: Any = None,
    ) -> None:
        self.store = store
        self.analytics_path = Path(store.analytics_path)
        self.retention = retention_days_from(privacy_config)
        self.clock = clock or getattr(store, "clock", None) or FFClock()
        self.audit_many = audit_many
        self.chain_writer = chain_writer

    # ------------------------------------------------------------------ discovery
    def _partitions(self) -> list[tuple[str, str, str, date, Path]]:
        """``(class, category, stream, day, dir)`` of every partition, oldest first per stream."""
        out: list[tuple[str, str, str, date, Path]] = []
        for cls, (cats, _f) in RETENTION_CLASSES.items():
            for cat in cats:
                if cat in CATEGORY_STREAMS:
                    for stream in CATEGORY_STREAMS[cat]:
                        for day, d in _date_dirs(os.path.join(self.analytics_path, cat, stream), depth=0):
                            out.append((cls, cat, stream, day, Path(d)))
                else:  # reports/: date= directories up to three levels down
                    root = self.analytics_path / cat
                    for day, d in _date_dirs(str(root), depth=3):
                        rel = Path(d).parent.relative_to(root).as_posix()
                        out.append((cls, cat, rel if rel != "." else cat, day, Path(d)))
        return out

    def oldest_by_class(self) -> dict[str, str | None]:
        """Oldest partition day held per retention class (None when it holds none)."""
        return {cls: min((v for v in cats.values() if v), default=None) for cls, cats in self.oldest().items()}

    def oldest(self) -> dict[str, dict[str, str | None]]:
        """``{class: {category: oldest partition day or None}}``."""
        out: dict[str, dict[str, str | None]] = {
            cls: dict.fromkeys(cats) for cls, (cats, _f) in RETENTION_CLASSES.items()
        }
        for cls, cat, _s, day, _p in self._partitions():
            cur = out[cls][cat]
            iso = day.isoformat()
            if cur is None or iso < cur:
                out[cls][cat] = iso
        return out

    def plan(self) -> list[FFRetentionCandidateDTO]:
        today = self.clock.now().date()
        out: list[FFRetentionCandidateDTO] = []
        for cls, cat, stream, day, pdir in self._partitions():
            keep = self.retention[cls]
            age = (today - day).days
            if age <= keep:
                continue
            records = size = 0
            for f in _files(pdir) if cat != "reports" else _report_files(pdir):
                try:
                    if f.name.endswith((".jsonl", ".jsonl.gz")):
                        r, b = count_records(f)
                    else:  # a whole report document counts as one record
                        r, b = 1, f.stat().st_size
                except FileNotFoundError:
                    continue
                records += r
                size += b
            out.append(FFRetentionCandidateDTO(cls, cat, stream, day.isoformat(), str(pdir), age, keep, records, size))
        return out

    # ------------------------------------------------------------------ run
    def run(self, *, dry_run: bool = False) -> FFRetentionReportDTO:
        t0 = time.perf_counter()
        rep = FFRetentionReportDTO(dry_run=dry_run, today=self.clock.now().date().isoformat(),
                                   retention_days=dict(self.retention))
        rep.candidates = self.plan()
        if dry_run:
            rep.elapsed_seconds = time.perf_counter() - t0
            return rep
        by_stream: dict[str, list[FFRetentionCandidateDTO]] = {}
        for c in rep.candidates:
            by_stream.setdefault(f"{c.category}/{c.stream}", []).append(c)
        for _key, group in by_stream.items():
            entries = [_audit_entry(c) for c in group]
            if self.audit_many is not None:
                try:
                    self.audit_many(entries)
                except Exception as exc:  # no deletion without its audit record
                    rep.errors.append(f"audit failed, {len(group)} partitions kept: {exc}")
                    logger.error("retention: audit append failed, skipping %d deletions: %s", len(group), exc)
                    continue
            if group[0].stream == "audit_logs" and self.chain_writer is not None:
                try:
                    self._anchor_before_deleting_audit_days(group)
                except (OSError, ValueError) as exc:
                    rep.errors.append(f"audit anchor: {exc}")
                    continue
            failed: list[dict[str, Any]] = []
            hidden: list[tuple[FFRetentionCandidateDTO, Path]] = []
            for c in group:  # 1) hide every partition of the stream (readers skip them at once)
                try:
                    hidden.append((c, _hide_dir(Path(c.path))))
                except OSError as exc:
                    rep.errors.append(f"{c.path}: {exc}")
                    failed.append({**_audit_entry(c), "outcome": "failure", "error": str(exc)})
            for parent in {h.parent for _c, h in hidden}:  # 2) one directory fsync per stream
                try:
                    ff_fsync_dir(parent)
                except OSError as exc:
                    logger.warning("retention: fsync of %s failed: %s", parent, exc)
            for c, h in hidden:  # 3) remove (a crash here leaves .deleting-* for the next run)
                shutil.rmtree(h, ignore_errors=True)
                rep.deleted += 1
                rep.records_deleted += c.records
                rep.bytes_deleted += c.bytes
            if hidden and group[0].stream in STREAM_CATEGORY:  # 4) caches derived from what went
                try:
                    self.store.drop_derived(group[0].stream)
                except OSError as exc:
                    rep.errors.append(f"{group[0].stream}: derived caches: {exc}")
            if failed and self.audit_many is not None:
                try:
                    self.audit_many(failed)
                except Exception:
                    logger.exception("retention: could not audit failed deletions")
        rep.elapsed_seconds = time.perf_counter() - t0
        return rep

    def _anchor_before_deleting_audit_days(self, group: list[FFRetentionCandidateDTO]) -> None:
        """Sign the first surviving record as the new start of the chain (under the chain lock)."""
        from ff_utils.ff_analytics_store.ff_audit_layout import audit_day_dirs, audit_day_files

        doomed = {c.path for c in group}
        w = self.chain_writer
        with w.locked():
            for _day, ddir in audit_day_dirs(w.audit_dir):
                if str(ddir) in doomed:
                    continue
                for f in audit_day_files(ddir):
                    first = _first_line(f)
                    if first is not None:
                        rec = orjson.loads(first)
                        w.write_anchor(int(rec["seq"]), str(rec["prev_hash"]))
                        return
            head = w._head()
            w.write_anchor(head.seq + 1, head.hash)


def _audit_entry(c: FFRetentionCandidateDTO) -> dict[str, Any]:
    return {
        "action": "retention_delete",
        "target": f"{c.category}/{c.stream}/date={c.day}",
        "outcome": "success",
        "actor": "retention",
        "details": {
            "retention_class": c.retention_class,
            "records": c.records,
            "bytes": c.bytes,
            "age_days": c.age_days,
            "retention_days": c.retention_days,
        },
    }


def _hide_dir(pdir: Path) -> Path:
    hidden = pdir.parent / f"{DELETING_PREFIX}{pdir.name}-{time.time_ns()}"
    os.rename(pdir, hidden)
    return hidden


def _files(pdir: Path) -> list[Path]:
    from ff_utils.ff_analytics_store.ff_stream_store import partition_files

    return partition_files(pdir)


def _report_files(pdir: Path) -> list[Path]:
    return sorted(p for p in pdir.rglob("*") if p.is_file() and not p.name.startswith("."))


def _first_line(f: Path) -> bytes | None:
    opener = gzip.open if f.name.endswith(".gz") else open
    with opener(f, "rb") as fh:  # type: ignore[operator]
        line = fh.readline()
    return line if line.endswith(b"\n") else None


def _date_dirs(root: str, depth: int) -> list[tuple[date, str]]:
    """``(day, path)`` of ``date=YYYY-MM-DD`` directories under ``root`` (up to ``depth`` levels)."""
    out: list[tuple[date, str]] = []
    if depth < 0:
        return out
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return out
    for e in entries:
        if e.name.startswith(DELETING_PREFIX):  # left behind by a crashed run: finish it
            shutil.rmtree(e.path, ignore_errors=True)
            continue
        if e.name.startswith(".") or not e.is_dir():
            continue
        m = _DAY_RE.fullmatch(e.name)
        if m:
            try:
                out.append((date.fromisoformat(m.group(1)), e.path))
            except ValueError:
                continue
        else:
            out.extend(_date_dirs(e.path, depth - 1))
    return out
