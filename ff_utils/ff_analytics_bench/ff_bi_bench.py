"""``ff-metrics bench bi``: BI from rollups (day/week/month) and ``rebuild_rollups`` over N events.

Setup (not timed): N synthetic user events over D days plus 10-minute system samples are written
as raw partitions, and the hourly rollups the hot path would emit are computed with the same
accumulator and written to the rollups stream. Timed: ``generate`` for day, week and month on a cold
index (first call parses every rollup file) and warm (index and closed-day merges cached); the
first call (index load + ``day``) in fresh processes with and without the index snapshot, 3 rounds
interleaved, medians; and
``rebuild_rollups`` over all days in a fresh process (so its peak RSS is the rebuild's own).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ff_utils.ff_analytics_bench.ff_bi_workload import build_bi_store

BENCH_NAME = "bi"
BENCH_HELP = "BI from rollups (day/week/month) and rebuild_rollups over N events (default 1,000,000)"
BENCH_EXAMPLE = "example: ff-metrics bench bi --events 1000000 --days 30"

_REBUILD_CODE = r"""
import json, resource, sys, time, types
from datetime import datetime
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore
from ff_utils.ff_analytics_bi.ff_rollup_rebuild import rebuild_rollups
root, s, e, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = FFStreamStore(root, types.SimpleNamespace(fsync_policy="batch"), writer_id="bench-rebuild")
t0 = time.perf_counter()
res = rebuild_rollups(store, datetime.fromisoformat(s), datetime.fromisoformat(e), workers=workers)
dt = time.perf_counter() - t0
ru_s = resource.getrusage(resource.RUSAGE_SELF)
ru_c = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = ru_s.ru_utime + ru_s.ru_stime + ru_c.ru_utime + ru_c.ru_stime
# VmHWM, not ru_maxrss: ru_maxrss survives execve and would report the forking bench's size
hwm = int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1])
print(json.dumps({"seconds": dt, "cpu_s": cpu, "self_kb": hwm, "child_kb": ru_c.ru_maxrss, **res}))
"""

_FIRST_CALL_CODE = r"""
import json, sys, time, types
from datetime import datetime
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore
from ff_utils.ff_analytics_bi.ff_bi_engine import FFBIEngine
from ff_utils.ff_analytics_bi.ff_rollup_index import FFRollupIndex
root, mode, now = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
store = FFStreamStore(root, types.SimpleNamespace(fsync_policy="never"), writer_id="bench-bi-first")
index = FFRollupIndex(store, snapshot=mode == "snapshot", snapshot_min_stale_bytes=1 << 62)
t0 = time.perf_counter()
index.refresh()
t1 = time.perf_counter()
res = FFBIEngine(index).generate("day", now)
t2 = time.perf_counter()
print(json.dumps({"load_ms": (t1 - t0) * 1000, "day_ms": (t2 - t1) * 1000, "loads": index.snapshot_loads,
                  "parsed_files": index.parsed_files, "active_users": res.fields["active_users"]}))
"""


def _first_call(root: Path, mode: str, now: datetime) -> dict[str, Any]:
    """The first BI call (index load + ``day``) in a fresh process, with or without the snapshot."""
    proc = subprocess.run(
        [sys.executable, "-c", _FIRST_CALL_CODE, str(root), mode, now.isoformat()],
        capture_output=True, text=True, check=False, cwd=str(Path(__file__).resolve().parent.parent.parent),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench bi: first-call process failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--events", type=int, default=1_000_000, help="user events (default 1000000)")
    p.add_argument("--days", type=int, default=30, help="days the events span (default 30)")
    p.add_argument("--users", type=int, default=20_000, help="distinct users (default 20000)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="rebuild processes (default: cores)")
    p.add_argument("--repeat", type=int, default=5, help="warm BI timing: best of N (default 5)")
    p.add_argument("--dir", help="where to build the store (default: a temp dir, removed afterwards)")


def _orjson_baseline(root: Path) -> tuple[float, float]:
    """Seconds for a plain single-process loop parsing every raw user line with orjson (the
    reference the issue's 1.0 s target is relative to: ~1.8 s there for 1M events)."""
    import orjson

    loads = orjson.loads
    t0, c0 = time.perf_counter(), time.process_time()
    for f in sorted((root / "analytics" / "user_analytics").rglob("*.jsonl")):
        with open(f, "rb") as fh:
            for line in fh:
                loads(line)
    return round(time.perf_counter() - t0, 3), round(time.process_time() - c0, 3)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import types

    from ff_utils.ff_analytics_bi.ff_bi_engine import FFBIEngine
    from ff_utils.ff_analytics_bi.ff_rollup_index import FFRollupIndex
    from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore

    for name in ("events", "days", "users", "workers", "repeat"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name}: must be >= 1")
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="ff-bench-bi-"))
    start = datetime(2026, 10, 1, tzinfo=UTC)
    end = start + timedelta(days=args.days)
    out: dict[str, Any] = {"events": args.events, "days": args.days, "users": args.users}
    try:
        t0 = time.perf_counter()
        out.update(build_bi_store(root, args.events, args.days, args.users, start))
        out["setup_s"] = round(time.perf_counter() - t0, 2)

        store = FFStreamStore(root, types.SimpleNamespace(fsync_policy="never"), writer_id="bench-bi")
        index = FFRollupIndex(store, snapshot=False)  # the parse path; the snapshot is measured below
        engine = FFBIEngine(index)
        now = end - timedelta(minutes=30)
        t0 = time.perf_counter()
        index.refresh()
        out["index_cold_load_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        for period in ("day", "week", "month"):
            t0 = time.perf_counter()
            engine.generate(period, now)
            out[f"bi_{period}_first_ms"] = round((time.perf_counter() - t0) * 1000, 2)
        for period in ("day", "week", "month"):
            best = float("inf")
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                res = engine.generate(period, now)
                best = min(best, time.perf_counter() - t0)
            out[f"bi_{period}_ms"] = round(best * 1000, 2)
            out[f"bi_{period}_active_users"] = res.fields["active_users"]
        incremental = {hk: index.hour_full(hk).canonical() for hk in index.hour_aggs}

        snap_index = FFRollupIndex(store, snapshot=False)  # save once (what a big refresh does), timed
        snap_index.refresh()
        t0 = time.perf_counter()
        if not snap_index.save_snapshot():
            raise RuntimeError("bench bi: the index snapshot could not be saved")
        out["index_snapshot_save_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        out["index_snapshot_bytes"] = snap_index.snapshot_path().stat().st_size
        del snap_index
        runs: dict[str, list[dict[str, Any]]] = {"parse": [], "snapshot": []}
        for _ in range(3):  # fresh processes, interleaved
            for mode in runs:
                runs[mode].append(_first_call(root, mode, now))
        if any(r["loads"] != 1 or r["parsed_files"] for r in runs["snapshot"]):
            raise RuntimeError(f"bench bi: the snapshot was not used: {runs['snapshot']}")
        if len({r["active_users"] for rs in runs.values() for r in rs}) != 1:
            raise RuntimeError("bench bi: answers differ with and without the snapshot")
        for mode, rs in runs.items():
            first = sorted(r["load_ms"] + r["day_ms"] for r in rs)
            out[f"first_call_{mode}_ms"] = round(first[1], 1)
            out[f"first_call_{mode}_ms_runs"] = [round(x, 1) for x in first]
            out[f"first_call_{mode}_load_ms"] = round(sorted(r["load_ms"] for r in rs)[1], 1)
        out["first_call_snapshot_vs_parse"] = round(out["first_call_snapshot_ms"] / out["first_call_parse_ms"], 2)
        store.drop_derived("rollups")  # the rebuild below replaces the files anyway

        out["orjson_loop_baseline_s"], out["orjson_loop_baseline_cpu_s"] = _orjson_baseline(root)
        proc = subprocess.run(
            [sys.executable, "-c", _REBUILD_CODE, str(root), start.isoformat(), end.isoformat(), str(args.workers)],
            capture_output=True, text=True, check=False, cwd=str(Path(__file__).resolve().parent.parent),
        )
        if proc.returncode != 0:
            raise RuntimeError(f"bench bi: rebuild process failed: {proc.stderr.strip()[-500:]}")
        rb = json.loads(proc.stdout.strip().splitlines()[-1])
        out["rebuild_s"] = round(rb["seconds"], 3)
        out["rebuild_cpu_s"] = round(rb["cpu_s"], 3)
        out["load_average_1m"] = round(os.getloadavg()[0], 2)
        out["rebuild_wall_vs_orjson_loop_wall"] = round(rb["seconds"] / out["orjson_loop_baseline_s"], 2)
        out["rebuild_cpu_vs_orjson_loop_cpu"] = round(rb["cpu_s"] / max(out["orjson_loop_baseline_cpu_s"], 1e-9), 2)
        out["rebuild_hours"] = rb["hours"]
        out["rebuild_workers"] = args.workers
        out["rebuild_peak_rss_mb_parent"] = round(rb["self_kb"] / 1024, 1)
        out["rebuild_peak_rss_mb_worker"] = round(rb["child_kb"] / 1024, 1)
        index2 = FFRollupIndex(store, snapshot=False)
        index2.refresh()
        rebuilt = {hk: index2.hour_full(hk).canonical() for hk in index2.hour_aggs}
        out["rebuild_matches_incremental"] = rebuilt == incremental
        out["targets"] = ("bi <= 30 ms each (warm), first call in a fresh process <= 50 ms, rebuild <= 1.0 s, "
                          "rss <= 100 MB at 5M events")
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)
    return out
