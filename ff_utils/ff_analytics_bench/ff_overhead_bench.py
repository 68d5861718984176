"""``ff-metrics bench overhead``: CPU used by continuous collection, as % of one core.

The figure is the whole process's CPU time (event loop, worker-thread probe, the store's flusher
thread) over the wall time of the run, with no other load: an upper bound of the collection's cost.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from ff_utils.ff_analytics_bench.ff_bench_support import bench_manager_factory

BENCH_NAME = "overhead"
BENCH_HELP = "CPU %% of one core used by continuous collection (target <= 0.5%% at a 1 s interval)"
BENCH_EXAMPLE = "example: ff-metrics bench overhead --duration 60 --interval 1"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--duration", type=float, default=60.0, help="seconds of collection (default 60)")
    p.add_argument("--interval", type=float, default=1.0, help="collection interval in seconds (default 1)")
    p.add_argument("--level", default="standard", choices=["minimal", "standard", "detailed", "full"],
                   help="analytics level (default standard)")


async def _measure(factory: Any, root: Path, duration: float, interval: float, level: str) -> dict[str, Any]:
    from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import (
        FFAnalyticsManagerConfigDTO,
    )

    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(root)
    cfg.analytics.analytics_level = level
    cfg.analytics.enable_real_time_metrics = False
    m = factory(cfg, writer_id="bench-overhead")
    m.set_collection_interval(interval)
    await m.initialize_analytics_system(start_collection=False)
    c0, w0 = time.process_time(), time.perf_counter()
    await m.start_continuous_collection()
    await asyncio.sleep(duration)
    await m.stop_continuous_collection()
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    stats = m.collection_stats()
    written = m.store.stats.records_written
    await m.close()
    pct = cpu / wall * 100.0
    return {
        "duration_s": round(wall, 3),
        "interval_s": interval,
        "level": level,
        "ticks": stats["ticks"],
        "failed_ticks": stats["failed_ticks"],
        "mean_tick_ms": stats["mean_tick_ms"],
        "max_tick_ms": stats["max_tick_ms"],
        "records_written": written,
        "cpu_seconds": round(cpu, 4),
        "cpu_percent_of_one_core": round(pct, 3),
        "target_percent": 0.5,
        "meets_target": pct <= 0.5,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    if not args.duration > 0:
        raise ValueError("--duration: must be > 0")
    if not args.interval > 0:
        raise ValueError("--interval: must be > 0")
    root = Path(tempfile.mkdtemp(prefix="ff-bench-overhead-"))
    try:
        return asyncio.run(_measure(bench_manager_factory(args), root, args.duration, args.interval, args.level))
    finally:
        shutil.rmtree(root, ignore_errors=True)
