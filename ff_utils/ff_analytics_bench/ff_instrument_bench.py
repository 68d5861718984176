"""``ff-metrics bench instrument``: ``record_request`` calls/s through the manager (target >= 1,000,000/s)."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from ff_utils.ff_analytics_bench.ff_bench_support import bench_manager_factory

BENCH_NAME = "instrument"
BENCH_HELP = "record_request / time_operation / record_metric calls per second (aggregated per window)"
BENCH_EXAMPLE = "example: ff-metrics bench instrument --calls 2000000 --components 4"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--calls", type=int, default=2_000_000, help="record_request calls (default 2000000)")
    p.add_argument("--components", type=int, default=4, help="distinct components (default 4)")
    p.add_argument("--repeat", type=int, default=3, help="runs; the best and the median are reported")


def _build(factory: Any, root: Path) -> Any:
    from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import (
        FFAnalyticsManagerConfigDTO,
    )

    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(root)
    cfg.analytics.analytics_level = "standard"
    cfg.analytics.enable_real_time_metrics = False
    return factory(cfg, writer_id="bench-instrument")


def _record_request_rate(m: Any, calls: int, comps: list[str]) -> float:
    rr = m.record_request
    per = calls // len(comps)
    durations = [float(i % 250) / 7.0 for i in range(1000)]
    reps, rest = divmod(per, len(durations))
    t0 = time.perf_counter()
    for c in comps:  # plain iteration over a list: as little harness cost as a host loop has
        for _ in range(reps):
            for d in durations:
                rr(c, d, True)
        for d in durations[:rest]:
            rr(c, d, True)
    return per * len(comps) / (time.perf_counter() - t0)


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.calls <= 0:
        raise ValueError("--calls: must be > 0")
    if args.components <= 0:
        raise ValueError("--components: must be > 0")
    root = Path(tempfile.mkdtemp(prefix="ff-bench-instrument-"))
    try:
        m = _build(bench_manager_factory(args), root)
        comps = [f"component_{i}" for i in range(args.components)]
        rates = []
        for _ in range(max(1, args.repeat)):
            rates.append(_record_request_rate(m, args.calls, comps))
            # what a tick does with the window, timed separately (off the hot path)
            t0 = time.perf_counter()
            snap = m.system.instruments.summarize(m.system.instruments.swap_window())
            summarize_ms = (time.perf_counter() - t0) * 1000.0
            counted = snap.overall["count"]
            if counted != (args.calls // len(comps)) * len(comps):
                raise RuntimeError(f"bench instrument: recorded {args.calls} calls but the window counted {counted}")
        n_small = max(1, args.calls // 10)
        t0 = time.perf_counter()
        for _ in range(n_small):
            with m.time_operation("timed"):
                pass
        timed_rate = n_small / (time.perf_counter() - t0)
        rm = m.record_metric
        t0 = time.perf_counter()
        for i in range(n_small):
            rm("queue_depth", i, "gauge")
        metric_rate = n_small / (time.perf_counter() - t0)
        m.system.instruments.swap_window()
        asyncio.run(m.close())
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rates.sort()
    return {
        "calls": args.calls,
        "components": args.components,
        "record_request_calls_per_s_best": round(rates[-1]),
        "record_request_calls_per_s_median": round(rates[len(rates) // 2]),
        "record_request_ns_per_call_best": round(1e9 / rates[-1], 1),
        "target_calls_per_s": 1_000_000,
        "meets_target": rates[-1] >= 1_000_000,
        "window_summarize_ms": round(summarize_ms, 2),
        "time_operation_calls_per_s": round(timed_rate),
        "record_metric_gauge_calls_per_s": round(metric_rate),
    }
