"""``ff-metrics bench ingest``: records/s appended through the stream store."""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

BENCH_NAME = "ingest"
BENCH_HELP = "records/s appended through the partitioned store (fsync never and batch)"
BENCH_EXAMPLE = "example: ff-metrics bench ingest --records 200000 --policies never,batch"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--records", type=int, default=200_000, help="records per policy (default 200000)")
    p.add_argument("--policies", default="never,batch", help="comma list of fsync policies")
    p.add_argument("--batch-size", type=int, default=1000, help="write_batch_size (default 1000)")
    p.add_argument("--repeat", type=int, default=3, help="runs per policy; the best and median are reported")
    p.add_argument("--dir", help="where to write (default: a temp dir, removed afterwards)")


def _one(policy: str, n: int, batch: int, root: Path) -> float:
    from ff_class_configs.ff_analytics_configs.ff_analytics_config import FFAnalyticsConfigDTO
    from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore

    cfg = replace(FFAnalyticsConfigDTO(), fsync_policy=policy, write_batch_size=batch, max_buffered_records=max(n, 100_000) * 2)
    shutil.rmtree(root / policy, ignore_errors=True)
    store = FFStreamStore(root / policy, cfg, writer_id=f"bench-{policy}")
    records = [
        {"timestamp": "2026-11-22T10:00:00.000000Z", "component": "chat", "duration_ms": i % 997 / 3.0, "ok": True}
        for i in range(1000)
    ]
    append = store.append
    t0 = time.perf_counter()
    for i in range(n):
        append("performance", records[i % 1000])
    store.flush()
    elapsed = time.perf_counter() - t0
    store.close()
    lines = sum(1 for _ in store.read("performance"))
    if lines != n:
        raise RuntimeError(f"bench ingest: wrote {n} records but read back {lines}")
    return n / elapsed


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.records <= 0:
        raise ValueError("--records: must be > 0")
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="ff-bench-ingest-"))
    out: dict[str, Any] = {"records": args.records, "batch_size": args.batch_size}
    try:
        for policy in [p.strip() for p in args.policies.split(",") if p.strip()]:
            if policy not in ("never", "batch", "always"):
                raise ValueError(f"--policies: unknown fsync policy {policy!r}")
            rates = sorted(_one(policy, args.records, args.batch_size, root) for _ in range(max(1, args.repeat)))
            out[f"{policy}_records_per_s_best"] = round(rates[-1])
            out[f"{policy}_records_per_s_median"] = round(statistics.median(rates))
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)
    return out
