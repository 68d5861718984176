"""Several hosts' stores, one BI answer: merge the hourly rollups of N stores into one store.

Hourly rollups are mergeable deltas (counts add, user key sets union, sketches merge), so the BI
of a store holding every store's rollup records equals the BI of one store that received all the
events. ``ff_merge_store_rollups`` writes, per UTC day, one file
``rollups/date=D/part-merged.jsonl`` into the destination holding the rollup lines of every source
(plain or ``.jsonl.gz``); each day replaces the previous merge of that day in one atomic directory
exchange (``ff_partition_swap``), so re-running after the sources grew is safe and readers of the
destination never see a half-merged day. The sources are only read. All stores must share the
pseudonymization key, or the same user counts once per store.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ff_utils.ff_analytics_bi.ff_rollup_accumulator import ROLLUP_STREAM
from ff_utils.ff_analytics_core.ff_jsonl_reader import FFStoreCorruptionError
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_store.ff_partition_swap import ff_replace_partition
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore, partition_files

logger = get_logger(__name__)

__all__ = ["MERGED_FILE", "ff_merge_store_rollups"]

MERGED_FILE = "part-merged.jsonl"


def _read_lines(path: Path) -> bytes:
    import gzip
    import zlib

    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                data = fh.read()
        else:
            data = path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise FFStoreCorruptionError(f"{path}: corrupt gzip ({exc})") from exc
    cut = data.rfind(b"\n") + 1  # a torn tail (crashed writer) is left out, as readers skip it
    return data[:cut]


def ff_merge_store_rollups(
    sources: list[str | os.PathLike[str]],
    dest: str | os.PathLike[str],
    config: Any,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Merge the rollups of the stores under ``sources`` (base paths) into the store under ``dest``.

    Returns ``{"stores", "days", "records", "bytes", "elapsed_seconds"}``. ``progress(done, total)``
    is called after each day. Errors name the offending path.
    """
    t0 = time.perf_counter()
    if not sources:
        raise ValueError("sources: at least one store is required")
    dest_base = Path(dest).resolve()
    src_stores = []
    for s in sources:
        base = Path(s).resolve()
        if not (base / "analytics").is_dir():
            raise ValueError(f"sources: {s} holds no store (no analytics/ directory)")
        if base == dest_base:
            raise ValueError(f"sources: {s} is the destination itself")
        src_stores.append(FFStreamStore(base, config, writer_id="merge-reader"))
    out = FFStreamStore(dest_base, config, writer_id="merge")
    out.ensure_tree()
    days: dict[str, list[Path]] = {}
    for st in src_stores:
        for part in st.iter_partitions(ROLLUP_STREAM):
            days.setdefault(part.day.isoformat(), []).extend(part.files)
    records = nbytes = 0
    for i, day in enumerate(sorted(days), 1):
        payload = b"".join(_read_lines(f) for f in days[day])
        pdir = out.partition_dir(ROLLUP_STREAM, day)
        pdir.mkdir(parents=True, exist_ok=True)
        ff_replace_partition(pdir, partition_files(pdir), MERGED_FILE, payload)
        records += payload.count(b"\n")
        nbytes += len(payload)
        if progress is not None:
            progress(i, len(days))
    for st in src_stores:
        st.close()
    out.close()
    return {"stores": len(src_stores), "days": len(days), "records": records, "bytes": nbytes,
            "elapsed_seconds": round(time.perf_counter() - t0, 4)}
