"""analyze_performance: percentiles equal independent computations over the same stored records."""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO
from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_system.ff_performance_analysis import parse_timeframe

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def make_manager(tmp_path: Path, clock: FFManualClock, level: str) -> Any:
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(tmp_path)
    cfg.analytics.analytics_level = level
    cfg.analytics.collection_interval_seconds = 60
    cfg.analytics.enable_real_time_metrics = False
    return FFMetricsCollectionManager(cfg, clock=clock, writer_id="a1")


async def _traffic(m: Any, clock: FFManualClock, rng: random.Random, ticks: int, per_tick: int) -> None:
    for _ in range(ticks):
        for i in range(per_tick):
            m.record_request("api" if i % 3 else "db", rng.lognormvariate(3.0, 0.8), success=rng.random() > 0.05)
        clock.advance(60)
        await m.collect_system_metrics()


async def test_exact_percentiles_match_statistics_and_duckdb(tmp_path: Path) -> None:
    clock = FFManualClock(T0)
    m = make_manager(tmp_path, clock, "full")
    await m.initialize_analytics_system(start_collection=False)
    await _traffic(m, clock, random.Random(3), ticks=5, per_tick=120)
    await m.aflush()
    res = await m.analyze_performance("15m")
    rt = res["response_times"]
    assert rt["method"] == "exact"
    stored = [r for r in m.store.read("performance") if r.get("kind") == "request"]
    durations = [r["duration_ms"] for r in stored]
    assert rt["count"] == len(durations) == 600
    q = statistics.quantiles(durations, n=100, method="inclusive")
    assert rt["p50"] == pytest.approx(statistics.median(durations), rel=1e-12)
    assert rt["median"] == rt["p50"]
    assert rt["p95"] == pytest.approx(q[94], rel=1e-12)
    assert rt["p99"] == pytest.approx(q[98], rel=1e-12)
    assert rt["mean"] == pytest.approx(statistics.fmean(durations), rel=1e-12)
    assert rt["stddev"] == pytest.approx(statistics.pstdev(durations), rel=1e-9)
    assert (rt["min"], rt["max"]) == (min(durations), max(durations))
    errors = sum(1 for r in stored if not r["success"])
    assert res["error_count"] == errors
    assert res["success_rate_percent"] == pytest.approx((600 - errors) / 600 * 100)
    assert res["resource_samples"] == 5 and res["resources"]["memory_usage_mb"]["peak"] > 0

    duckdb = pytest.importorskip("duckdb")
    glob = str(tmp_path / "analytics/system_metrics/performance/date=*/*.jsonl")
    row = duckdb.sql(
        f"select quantile_cont(duration_ms, 0.5), quantile_cont(duration_ms, 0.95), "
        f"quantile_cont(duration_ms, 0.99), count(*) from read_json_auto('{glob}', format='newline_delimited', "
        f"union_by_name=true) where kind = 'request'"
    ).fetchall()[0]
    assert row[3] == 600
    assert (rt["p50"], rt["p95"], rt["p99"]) == pytest.approx(row[:3], rel=1e-9)
    await m.close()


async def test_window_sketch_path_is_close_to_exact(tmp_path: Path) -> None:
    clock = FFManualClock(T0)
    m = make_manager(tmp_path, clock, "detailed")
    await m.initialize_analytics_system(start_collection=False)
    rng = random.Random(11)
    fed: list[float] = []
    errors = 0
    for _ in range(4):
        for i in range(250):
            d = rng.lognormvariate(3.0, 0.8)
            ok = rng.random() > 0.1
            errors += not ok
            fed.append(d)
            m.record_request("api" if i % 2 else "db", d, success=ok)
        clock.advance(60)
        await m.collect_system_metrics()
    await m.aflush()
    res = await m.analyze_performance("1h")
    rt = res["response_times"]
    assert rt["method"] == "sketch" and res["windows"] == 4
    assert rt["count"] == 1000 and res["error_count"] == errors
    assert rt["mean"] == pytest.approx(statistics.fmean(fed), rel=1e-9)
    assert rt["stddev"] == pytest.approx(statistics.pstdev(fed), rel=1e-6)
    assert (rt["min"], rt["max"]) == (min(fed), max(fed))
    q = statistics.quantiles(fed, n=100, method="inclusive")
    for key, exact in (("p50", statistics.median(fed)), ("p95", q[94]), ("p99", q[98])):
        assert rt[key] == pytest.approx(exact, rel=0.0101)  # documented: quantile_cont within 1%
    assert set(res["components"]) == {"api", "db"}
    assert res["components"]["api"]["count"] == 500
    await m.close()


async def test_timeframe_filters_by_timestamp(tmp_path: Path) -> None:
    clock = FFManualClock(T0)
    m = make_manager(tmp_path, clock, "full")
    await m.initialize_analytics_system(start_collection=False)
    m.record_request("api", 1000.0)
    await m.collect_system_metrics()
    clock.advance(minutes=20)
    for d in (1.0, 2.0, 3.0):
        m.record_request("api", d)
    await m.collect_system_metrics()
    await m.aflush()
    recent = await m.analyze_performance("15m")
    assert recent["response_times"]["count"] == 3 and recent["response_times"]["max"] == 3.0
    everything = await m.analyze_performance("1h")
    assert everything["response_times"]["count"] == 4 and everything["response_times"]["max"] == 1000.0
    clock.advance(days=2)
    assert (await m.analyze_performance("1d"))["response_times"]["count"] == 0
    assert (await m.analyze_performance("7d"))["response_times"]["count"] == 4
    await m.close()


@pytest.mark.parametrize("bad", ["15x", "", "0m", "1.5h", "m15", "fortnight", "-1h"])
def test_invalid_timeframes_name_the_accepted_forms(bad: str) -> None:
    with pytest.raises(ValueError, match=r"accepted forms: <N>s, <N>m, <N>h, <N>d or <N>w"):
        parse_timeframe(bad)


def test_timeframe_forms() -> None:
    assert parse_timeframe("15m") == timedelta(minutes=15)
    assert parse_timeframe("1h") == timedelta(hours=1)
    assert parse_timeframe("7d") == timedelta(days=7)
    assert parse_timeframe("30s") == timedelta(seconds=30)
    assert parse_timeframe("2w") == timedelta(weeks=2)
    assert parse_timeframe("hour") == timedelta(hours=1)
    with pytest.raises(TypeError, match="timeframe"):
        parse_timeframe(15)  # type: ignore[arg-type]


async def test_manager_rejects_bad_timeframe_before_reading(tmp_path: Path) -> None:
    m = make_manager(tmp_path, FFManualClock(T0), "standard")
    with pytest.raises(ValueError, match="timeframe"):
        await m.analyze_performance("yesterday")
    await m.close()
