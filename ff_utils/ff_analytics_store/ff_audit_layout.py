"""Where the audit chain lives in the store, and which of its files a reader sees in which order.

Layout (under ``<base>/analytics/compliance``)::

    audit_logs/date=YYYY-MM-DD/audit.jsonl   the chain (old days may be compacted.jsonl.gz)
    audit_checkpoints.jsonl                  signed checkpoints
    audit_anchor.json                        signed start of the chain after retention deleted old days
    .audit.lock                              flock that gives every process one total order

The chain's format and keys are the compliance domain's (``ff_audit_chain``); retention and compression
need only this layout, so it lives with the store.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

from ff_utils.ff_analytics_store.ff_stream_store import partition_files

__all__ = [
    "ANCHOR_FILE",
    "AUDIT_FILE",
    "CHECKPOINT_FILE",
    "COMPACTED_PREFIX",
    "LOCK_FILE",
    "audit_day_dirs",
    "audit_day_files",
]

AUDIT_FILE = "audit.jsonl"
COMPACTED_PREFIX = "compacted"
CHECKPOINT_FILE = "audit_checkpoints.jsonl"
ANCHOR_FILE = "audit_anchor.json"
LOCK_FILE = ".audit.lock"
_DAY_RE = re.compile(r"date=(\d{4}-\d{2}-\d{2})")


def audit_day_dirs(audit_dir: Path) -> list[tuple[date, Path]]:
    """``date=`` directories of the audit stream, oldest first."""
    out: list[tuple[date, Path]] = []
    try:
        names = os.listdir(audit_dir)
    except FileNotFoundError:
        return out
    for n in names:
        m = _DAY_RE.fullmatch(n)
        if not m:
            continue
        try:
            out.append((date.fromisoformat(m.group(1)), audit_dir / n))
        except ValueError:
            continue
    out.sort()
    return out


def audit_day_files(day_dir: Path) -> list[Path]:
    """Chain files of one day in chain order: compacted (older) forms first, then ``audit.jsonl``,
    then anything else a reader would see (which can only be an insertion). Honours a compaction
    manifest exactly like the store reader."""
    files = partition_files(day_dir)

    def order(p: Path) -> tuple[int, str]:
        if p.name.startswith(COMPACTED_PREFIX) and p.name.endswith(".jsonl.gz"):
            return (0, p.name)
        if p.name == AUDIT_FILE:
            return (1, p.name)
        return (2, p.name)

    return sorted(files, key=order)
