"""``ff-metrics bench rebuild``: ``rebuild_rollups`` over N events against DuckDB's full scan of the same files.

Setup (not timed): the same generated store as ``bench bi`` (raw user and system partitions plus the
hourly rollups). Timed, each in a fresh process (so peak RSS is the run's own), interleaved for
``--repeat`` rounds, medians reported:

Raw user records are compact (default-valued fields omitted, as the store writes them now);
``--full-records`` writes them whole. Both engines read the same files.

- ours: ``rebuild_rollups`` over every day (parse, fold, merge, atomic replacement of the rollups);
- DuckDB (needs the ``duckdb`` package, in the dev extra): one full scan of the raw user partitions
  with the per-hour aggregate BI needs (events and distinct users per hour and event type, session
  duration sum), on all cores.

``rebuild_vs_duckdb`` is ours / DuckDB wall time (the goal is <= 1.0).
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

BENCH_NAME = "rebuild"
BENCH_HELP = "rebuild_rollups over N events vs a DuckDB full scan of the same raw files (ratio, peak RSS)"
BENCH_EXAMPLE = "example: ff-metrics bench rebuild --events 1000000 --days 30 --repeat 3"

_HWM = 'int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1])'

_OURS = r"""
import json, resource, sys, time, types
from datetime import datetime
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore
from ff_utils.ff_analytics_bi.ff_rollup_rebuild import rebuild_rollups
root, s, e, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
store = FFStreamStore(root, types.SimpleNamespace(fsync_policy="batch"), writer_id="bench-rebuild")
t0 = time.perf_counter()
res = rebuild_rollups(store, datetime.fromisoformat(s), datetime.fromisoformat(e), workers=workers)
dt = time.perf_counter() - t0
ru_s, ru_c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = ru_s.ru_utime + ru_s.ru_stime + ru_c.ru_utime + ru_c.ru_stime
# VmHWM, not ru_maxrss: ru_maxrss survives execve and would report the forking bench's size
print(json.dumps({"seconds": dt, "cpu_s": cpu, "self_kb": HWM, "child_kb": ru_c.ru_maxrss, "hours": res["hours"]}))
""".replace("HWM", _HWM)

_DUCK = r"""
import json, resource, sys, time
import duckdb
glob = sys.argv[1]
con = duckdb.connect()
t0 = time.perf_counter()
rows = con.execute(
    "SELECT date_trunc('hour', \"timestamp\") AS hour, event_type, count(*) AS n, count(DISTINCT user_hash) AS users, "
    "sum(session_duration_seconds) AS dur FROM read_json(?, format='newline_delimited', union_by_name=true) "
    "GROUP BY ALL", [glob]).fetchall()
dt = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": dt, "cpu_s": ru.ru_utime + ru.ru_stime, "self_kb": HWM,
                  "hours": len({r[0] for r in rows}), "events": sum(r[2] for r in rows)}))
""".replace("HWM", _HWM)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--events", type=int, default=1_000_000, help="user events (default 1000000)")
    p.add_argument("--days", type=int, default=30, help="days the events span (default 30)")
    p.add_argument("--users", type=int, default=20_000, help="distinct users (default 20000)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="rebuild processes (default: cores)")
    p.add_argument("--repeat", type=int, default=3, help="interleaved rounds, medians reported (default 3)")
    p.add_argument("--full-records", action="store_true",
                   help="write raw user records whole (the format before compact records) instead of compact")
    p.add_argument("--no-duckdb", action="store_true", help="skip the DuckDB peer (ours only)")
    p.add_argument("--dir", help="where to build the store (default: a temp dir, removed afterwards)")


def _run(code: str, *argv: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, check=False,
                          cwd=str(Path(__file__).resolve().parent.parent.parent))
    if proc.returncode != 0:
        raise RuntimeError(f"bench rebuild: subprocess failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2]


def run(args: argparse.Namespace) -> dict[str, Any]:
    for name in ("events", "days", "users", "workers", "repeat"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name}: must be >= 1")
    duck = not getattr(args, "no_duckdb", False)
    if duck:
        try:
            import duckdb  # noqa: F401
        except ImportError as exc:
            raise RuntimeError("bench rebuild: the DuckDB peer needs `pip install duckdb` (or pass --no-duckdb)") from exc
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="ff-bench-rebuild-"))
    start = datetime(2026, 10, 1, tzinfo=UTC)
    end = start + timedelta(days=args.days)
    out: dict[str, Any] = {"events": args.events, "days": args.days, "users": args.users,
                           "workers": args.workers, "repeat": args.repeat}
    try:
        t0 = time.perf_counter()
        out["compact_records"] = not getattr(args, "full_records", False)
        out.update(build_bi_store(root, args.events, args.days, args.users, start, compact=out["compact_records"]))
        out["setup_s"] = round(time.perf_counter() - t0, 2)
        glob = str(root / "analytics" / "user_analytics" / "*" / "*" / "*.jsonl")
        ours: list[dict[str, Any]] = []
        peer: list[dict[str, Any]] = []
        for _ in range(args.repeat):
            ours.append(_run(_OURS, str(root), start.isoformat(), end.isoformat(), str(args.workers)))
            if duck:
                peer.append(_run(_DUCK, glob))
        out["rebuild_s"] = round(_median([r["seconds"] for r in ours]), 3)
        out["rebuild_s_runs"] = [round(r["seconds"], 3) for r in ours]
        out["rebuild_cpu_s"] = round(_median([r["cpu_s"] for r in ours]), 3)
        out["rebuild_hours"] = ours[-1]["hours"]
        out["rebuild_peak_rss_mb_parent"] = round(max(r["self_kb"] for r in ours) / 1024, 1)
        out["rebuild_peak_rss_mb_worker"] = round(max(r["child_kb"] for r in ours) / 1024, 1)
        if duck:
            out["duckdb_scan_s"] = round(_median([r["seconds"] for r in peer]), 3)
            out["duckdb_scan_s_runs"] = [round(r["seconds"], 3) for r in peer]
            out["duckdb_cpu_s"] = round(_median([r["cpu_s"] for r in peer]), 3)
            out["duckdb_peak_rss_mb"] = round(max(r["self_kb"] for r in peer) / 1024, 1)
            if peer[-1]["events"] != args.events:
                raise RuntimeError(f"bench rebuild: DuckDB counted {peer[-1]['events']} events, not {args.events}")
            out["rebuild_vs_duckdb"] = round(
                _median([o["seconds"] / p["seconds"] for o, p in zip(ours, peer, strict=True)]), 2)
        out["load_average_1m"] = round(os.getloadavg()[0], 2)
        out["targets"] = "rebuild_vs_duckdb <= 1.0, peak RSS <= 100 MB"
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)
    return out
