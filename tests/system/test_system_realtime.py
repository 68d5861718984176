"""Real time: event-loop lag during collection ticks, the probe, ``ff-metrics run`` and the benches."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO
from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_utils.ff_analytics_system.ff_system_probe import FFSystemProbe

ROOT = Path(__file__).resolve().parents[2]
LAG_BOUND_MS = float(os.environ.get("FF_TEST_LOOP_LAG_BOUND_MS", "100"))


def make_manager(tmp_path: Path, level: str = "detailed") -> Any:
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(tmp_path)
    cfg.analytics.analytics_level = level
    cfg.analytics.enable_real_time_metrics = False
    return FFMetricsCollectionManager(cfg, writer_id="rt")


async def test_collection_ticks_do_not_block_the_event_loop(tmp_path: Path) -> None:
    """A concurrent task measures loop lag while ticks run every 0.1 s with busy windows.

    The issue's goal is < 5 ms; the assertion uses a generous bound (shared CI machines) and the
    measured maximum is printed for the report.
    """
    m = make_manager(tmp_path)
    await m.initialize_analytics_system(start_collection=False)

    async def check() -> bool:
        await asyncio.sleep(0.001)
        return True

    m.register_health_check("dep", check, 1.0)
    m.register_collector("queue", lambda: {"depth": 3})
    m.set_collection_interval(0.1)
    lags: list[float] = []
    await m.start_continuous_collection()
    t_end = time.perf_counter() + 1.5
    i = 0
    rr = m.record_request
    while time.perf_counter() < t_end:
        for _ in range(200):  # host traffic between sleeps: windows hold thousands of requests
            rr("chat" if i % 2 else "search", float(i % 97), i % 50 != 0)
            i += 1
        t0 = time.perf_counter()
        await asyncio.sleep(0.002)
        lags.append((time.perf_counter() - t0 - 0.002) * 1000.0)
    await m.stop_continuous_collection()
    ticks = m.collection_stats()["ticks"]
    await m.close()
    lags.sort()
    worst, p99 = lags[-1], lags[int(0.99 * (len(lags) - 1))]
    print(f"loop lag over {len(lags)} samples and {ticks} ticks: max {worst:.2f} ms, p99 {p99:.2f} ms")
    assert ticks >= 5
    assert worst < LAG_BOUND_MS
    windows = [r for r in m.store.read("performance") if r["kind"] == "window"]
    assert sum(w["count"] for w in windows) == i  # every recorded request is in some window


async def test_tick_cpu_on_the_loop_thread_stays_under_5ms(tmp_path: Path) -> None:
    """The loop thread's own CPU time per tick (psutil and window statistics run in a worker
    thread): with 20,000 requests per window, each tick costs the event loop < 5 ms."""
    m = make_manager(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    costs = []
    for _ in range(8):
        for i in range(20_000):
            m.record_request("chat" if i % 3 else "search", float((i * 7919) % 1000) / 10.0, i % 40 != 0)
        t0 = time.thread_time()
        assert await m.system.collection_loop.run_once()
        costs.append((time.thread_time() - t0) * 1000.0)
    await m.close()
    print(f"loop-thread CPU per tick: max {max(costs):.2f} ms, all {[round(c, 2) for c in costs]}")
    assert max(costs[1:]) < 5.0  # the first tick also imports and warms up


def test_probe_samples_real_values(tmp_path: Path) -> None:
    probe = FFSystemProbe(tmp_path / "not" / "created" / "yet")
    s1 = probe.sample()
    time.sleep(0.05)
    s2 = probe.sample()
    for s in (s1, s2):
        assert s.memory_usage_mb and s.memory_usage_mb > 0
        assert 0.0 <= (s.memory_usage_percent or 0.0) <= 100.0
        assert s.disk_usage_percent is not None and 0.0 < s.disk_usage_percent <= 100.0
        assert Path(s.disk_path) in (tmp_path, *tmp_path.parents)  # nearest existing ancestor
        assert s.process_rss_mb and s.process_rss_mb > 1.0
        assert s.process_open_files and s.process_open_files >= 3
        assert s.cpu_usage_percent is not None and 0.0 <= s.cpu_usage_percent <= 100.0
    assert s2.uptime_seconds >= 0.05
    if "network" not in s2.errors:
        assert s2.network_bytes_sent_per_s is not None and s2.network_bytes_sent_per_s >= 0.0


def _cli(*args: str, **kw: Any) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ff_metrics_collection_manager", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw,
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_run_flushes_and_exits_zero_on_signal(tmp_path: Path, sig: signal.Signals) -> None:
    p = _cli("run", "--interval", "0.2", "--base-path", str(tmp_path), "--format", "json")
    hc = tmp_path / "analytics" / "system_metrics" / "health_checks"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list(hc.rglob("*.jsonl")):
        time.sleep(0.1)  # the first tick's records reach disk within write_max_delay_seconds
    time.sleep(0.3)
    p.send_signal(sig)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    res = json.loads(out)
    assert res["stopped_by"] == sig.name and res["ticks"] >= 1
    lines = [ln for f in hc.rglob("*.jsonl") for ln in f.read_text().splitlines()]
    assert len(lines) == res["ticks"]  # every tick's health record was flushed before exit
    perf = tmp_path / "analytics" / "system_metrics" / "performance"
    assert [ln for f in perf.rglob("*.jsonl") for ln in f.read_text().splitlines()]


def test_cli_run_duration_and_argument_errors(tmp_path: Path) -> None:
    p = _cli("run", "--duration", "0.5", "--interval", "0.2", "--base-path", str(tmp_path), "--format", "json")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert json.loads(out)["stopped_by"] == "duration"
    bad = _cli("run", "--interval", "0", "--base-path", str(tmp_path))
    _, err = bad.communicate(timeout=60)
    assert bad.returncode == 2 and "--interval" in err
    bad = _cli("performance", "--timeframe", "soon", "--base-path", str(tmp_path))
    _, err = bad.communicate(timeout=60)
    assert bad.returncode == 2 and "accepted forms" in err


def test_bench_instrument_small() -> None:
    from ff_utils.ff_analytics_bench import ff_instrument_bench

    res = ff_instrument_bench.run(argparse.Namespace(calls=200_000, components=4, repeat=1,
                                                   manager_factory=FFMetricsCollectionManager))
    assert res["record_request_calls_per_s_best"] > 100_000  # the real target is checked by the bench itself
    assert res["calls"] == 200_000


def test_bench_overhead_two_seconds() -> None:
    from ff_utils.ff_analytics_bench import ff_overhead_bench

    res = ff_overhead_bench.run(argparse.Namespace(duration=2.0, interval=1.0, level="standard",
                                                 manager_factory=FFMetricsCollectionManager))
    assert res["ticks"] >= 2 and res["failed_ticks"] == 0
    assert 0.0 <= res["cpu_percent_of_one_core"] < 100.0
    assert res["records_written"] >= res["ticks"] * 3
