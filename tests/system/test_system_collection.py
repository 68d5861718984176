"""Manager-level system metrics: ticks on a manual clock write the expected records per stream and
level, failing collectors/ticks don't stop the loop, stop flushes, health transitions, data quality."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO
from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_utils.ff_analytics_core.ff_clock import FFManualClock, ff_iso

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STREAMS = ("health_checks", "resource_usage", "performance", "error_rates")


def make_manager(tmp_path: Path, clock: FFManualClock, level: str = "standard", **analytics: Any) -> Any:
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(tmp_path)
    cfg.analytics.analytics_level = level
    cfg.analytics.collection_interval_seconds = 10
    cfg.analytics.enable_real_time_metrics = False
    for k, v in analytics.items():
        setattr(cfg.analytics, k, v)
    m = FFMetricsCollectionManager(cfg, clock=clock, writer_id="t1")
    # host resources are real measurements on a shared machine: keep them out of the status here
    for k in ("cpu_usage_threshold_percent", "memory_usage_threshold_percent", "disk_usage_threshold_percent"):
        m.system.thresholds[k] = float("inf")
    return m


@pytest.fixture
def clock() -> FFManualClock:
    return FFManualClock(T0)


def records(m: Any, stream: str) -> list[dict]:
    return list(m.store.read(stream))


def _five_requests(m: Any) -> None:
    for d in (10.0, 20.0, 30.0):
        m.record_request("api", d)
    m.record_request("db", 5.0)
    m.record_request("db", 50.0, success=False)


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("minimal", {"health_checks": 4, "resource_usage": 0, "performance": 0, "error_rates": 0}),
        ("standard", {"health_checks": 4, "resource_usage": 4, "performance": 5, "error_rates": 5}),
        ("detailed", {"health_checks": 4, "resource_usage": 4, "performance": 15, "error_rates": 5}),
        ("full", {"health_checks": 4, "resource_usage": 4, "performance": 40, "error_rates": 5}),
    ],
)
async def test_ticks_write_expected_records_per_stream(
    tmp_path: Path, clock: FFManualClock, level: str, expected: dict[str, int]
) -> None:
    m = make_manager(tmp_path, clock, level)
    await m.initialize_analytics_system(start_collection=False)
    seen: list[Any] = []

    async def hook(metrics: Any) -> None:
        seen.append(metrics)
        _five_requests(m)  # traffic of the next window

    m.add_tick_hook(hook)
    _five_requests(m)
    await m.system.collection_loop.run(max_ticks=4)  # ticks at T0, +10, +20, +30 on the manual clock
    await m.stop_continuous_collection()  # writes the open (5th) window and flushes
    counts = {s: len(records(m, s)) for s in STREAMS}
    assert counts == expected
    assert [x.timestamp for x in seen] == [ff_iso(T0.replace(second=s)) for s in (0, 10, 20, 30)]
    assert [x.request_count for x in seen] == [5, 5, 5, 5]
    assert seen[1].error_count == 1 and seen[1].success_rate_percent == pytest.approx(80.0)
    assert seen[1].component_response_times == {"api": 20.0, "db": 27.5}
    assert seen[1].component_error_rates == {"api": 0.0, "db": 50.0}
    assert seen[1].collection_period_seconds == 10
    assert seen[1].throughput_requests_per_second == pytest.approx(0.5)
    if level != "minimal":
        windows = [r for r in records(m, "performance") if r["kind"] == "window"]
        assert sum(w["count"] for w in windows) == 25 and sum(w["errors"] for w in windows) == 5
        assert [w["window_seconds"] for w in windows[1:4]] == [10.0, 10.0, 10.0]
        err = records(m, "error_rates")
        assert err[1]["components"]["db"] == {"count": 2, "errors": 1, "error_rate_percent": 50.0}
        res = records(m, "resource_usage")
        assert all(r["memory_usage_mb"] > 0 and r["process_rss_mb"] > 0 for r in res)
    if level == "full":
        reqs = [r for r in records(m, "performance") if r["kind"] == "request"]
        assert sorted(r["duration_ms"] for r in reqs) == sorted([10.0, 20.0, 30.0, 5.0, 50.0] * 5)
    h = records(m, "health_checks")
    # 1 error in 5 requests = 20% >= error_rate_threshold_percent (5%): degraded, with the reason
    assert [r["status"] for r in h] == ["degraded"] * 4
    assert all(any(x.startswith("error rate 20.00%") for x in r["reasons"]) for r in h)
    await m.close()


async def test_collector_and_tick_failures_do_not_stop_the_loop(tmp_path: Path, clock: FFManualClock) -> None:
    m = make_manager(tmp_path, clock)
    await m.initialize_analytics_system(start_collection=False)

    def broken() -> dict:
        raise RuntimeError("sensor unplugged")

    m.register_collector("broken", broken)
    m.register_collector("queue", lambda: {"depth": 7})
    real_sample = m.system.probe.sample
    calls = {"n": 0}

    def flaky_sample() -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("proc vanished")
        return real_sample()

    m.system.probe.sample = flaky_sample
    await m.system.collection_loop.run(max_ticks=3)
    assert m.system.collection_loop.ticks == 3 and m.system.collection_loop.failed_ticks == 1
    await m.stop_continuous_collection()
    res = records(m, "resource_usage")
    assert len(res) == 3
    assert all(r["collectors"] == {"queue": {"depth": 7}} for r in res)
    assert all(r["collector_errors"] == {"broken": "RuntimeError: sensor unplugged"} for r in res)
    await m.close()


async def test_stop_flushes_everything_to_disk(tmp_path: Path, clock: FFManualClock) -> None:
    m = make_manager(tmp_path, clock, "detailed")
    await m.initialize_analytics_system(start_collection=False)
    assert await m.start_continuous_collection()
    assert await m.start_continuous_collection()  # idempotent
    for _ in range(200):
        await asyncio.sleep(0.005)
        if m.system.collection_loop.ticks >= 3:
            break
    m.record_request("api", 12.5)  # lands in the open window: stop must write it
    assert await m.stop_continuous_collection()
    assert await m.stop_continuous_collection()
    assert m.store.buffered_records == 0
    # read the part files directly, bypassing the store
    on_disk: dict[str, list[dict]] = {}
    for s in STREAMS:
        files = list((tmp_path / "analytics" / "system_metrics" / s).rglob("part-t1*.jsonl"))
        on_disk[s] = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    ticks = m.system.collection_loop.ticks
    assert len(on_disk["health_checks"]) == ticks
    assert len(on_disk["resource_usage"]) == ticks
    last = [r for r in on_disk["performance"] if r["kind"] == "component" and r["component"] == "api"]
    assert last and last[-1]["count"] == 1 and last[-1]["mean"] == 12.5
    await m.close()


async def test_component_health_fail_timeout_recover(tmp_path: Path, clock: FFManualClock) -> None:
    m = make_manager(tmp_path, clock, "minimal")
    await m.initialize_analytics_system(start_collection=False)
    up = {"db": False}

    async def db() -> bool:
        if not up["db"]:
            raise ConnectionError("connection refused")
        return True

    async def cache() -> None:
        await asyncio.sleep(5)

    async def queue() -> str:
        return "healthy"

    m.register_health_check("db", db, 1.0)
    m.register_health_check("cache", cache, 0.05)
    m.register_health_check("queue", queue)
    first = await m.collect_system_metrics()
    assert first.component_health == {"db": "unhealthy", "cache": "timeout", "queue": "healthy",
                                      "analytics_store": "healthy"}
    assert first.component_health_reasons["db"] == "ConnectionError: connection refused"
    assert "timed out after 0.05s" in first.component_health_reasons["cache"]
    assert first.system_reliability_score == pytest.approx(0.5)  # (0 + 0 + 1 + 1) / 4
    health = await m.get_system_health()  # fresh: reuses the last collection
    assert health["status"] == "unhealthy"
    assert "check db unhealthy: ConnectionError: connection refused" in health["reasons"]
    up["db"] = True
    m.system.health.unregister_health_check("cache")
    clock.advance(30)  # older than two intervals: get_system_health collects again
    health = await m.get_system_health()
    assert (health["status"], health["reasons"]) == ("healthy", [])
    assert health["components"]["db"] == {"status": "healthy", "reason": ""}
    await m.stop_continuous_collection()
    h = records(m, "health_checks")
    assert [r["component_health"]["db"] for r in h] == ["unhealthy", "healthy"]
    assert [r["status"] for r in h] == ["unhealthy", "healthy"]
    assert h[0]["checks"]["db"]["consecutive_failures"] == 1
    await m.close()


async def test_data_quality_drops_when_unparseable_lines_are_planted(tmp_path: Path, clock: FFManualClock) -> None:
    m = make_manager(tmp_path, clock)
    await m.initialize_analytics_system(start_collection=False)
    m.record_request("api", 5.0)
    first = await m.collect_system_metrics()
    await m.aflush()
    clock.advance(10)
    second = await m.collect_system_metrics()
    assert first.data_quality_score == 1.0 and second.data_quality_score == 1.0
    await m.aflush()
    part = m.store.partition_dir("performance", T0.date())
    (part / "part-planted.jsonl").write_text("not json\n{\"broken\": \n\x00\x00garbage\n")
    await m.analyze_performance("1h")  # the reader meets (and counts) the bad lines
    clock.advance(10)
    third = await m.collect_system_metrics()
    written = m.store.stats.records_written
    assert m.store.stats.unparseable_lines == 3
    assert third.data_quality_score == pytest.approx(written / (written + 3), abs=1e-6)
    assert third.data_quality_score < second.data_quality_score
    health = await m.get_system_health()
    assert health["status"] == "degraded"
    assert any("3 unparseable or quarantined lines" in r for r in health["reasons"])
    await m.close()


async def test_set_active_counts_and_slow_requests(tmp_path: Path, clock: FFManualClock) -> None:
    cfg_threshold = 100.0
    m = make_manager(tmp_path, clock)
    m.system.thresholds["response_time_threshold_ms"] = cfg_threshold
    m.system.instruments.slow_threshold_ms = cfg_threshold
    await m.initialize_analytics_system(start_collection=False)
    m.set_active_counts(12, 30)
    with pytest.raises(TypeError, match="concurrent_users"):
        m.set_active_counts("12", 3)
    with pytest.raises(ValueError, match="active_sessions"):
        m.set_active_counts(1, -1)
    for d in (50.0, 150.0, 250.0):
        m.record_request("api", d)
    met = await m.collect_system_metrics()
    assert (met.concurrent_users, met.active_sessions) == (12, 30)
    assert met.warning_count == 2  # requests slower than response_time_threshold_ms
    health = await m.get_system_health()
    assert health["status"] == "degraded"
    assert any(r.startswith("p95 response time") for r in health["reasons"])
    await m.aflush()
    res = records(m, "resource_usage")
    assert res[-1]["concurrent_users"] == 12 and res[-1]["active_sessions"] == 30
    await m.close()


def test_slow_threshold_comes_from_the_alerting_config(tmp_path: Path, clock: FFManualClock) -> None:
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(tmp_path)
    cfg.analytics.alerting_config.response_time_threshold_ms = 250.0
    m = FFMetricsCollectionManager(cfg, clock=clock, writer_id="t1")
    assert m.system.instruments.slow_threshold_ms == 250.0
    assert m.system.thresholds["response_time_threshold_ms"] == 250.0
    m.close_sync()


async def test_track_switches_and_disabled_monitoring(tmp_path: Path, clock: FFManualClock) -> None:
    m = make_manager(tmp_path, clock, "detailed", track_resource_usage=False, track_error_rates=False)
    await m.initialize_analytics_system(start_collection=False)
    m.record_request("api", 1.0)
    await m.collect_system_metrics()
    await m.stop_continuous_collection()
    assert len(records(m, "resource_usage")) == 0 and len(records(m, "error_rates")) == 0
    assert len(records(m, "performance")) == 2  # window + component
    await m.close()

    off = make_manager(tmp_path / "off", clock, "full", enable_performance_monitoring=False)
    await off.initialize_analytics_system(start_collection=False)
    off.record_request("api", 1.0)
    off.record_metric("x", 1, "counter")
    met = await off.collect_system_metrics()
    await off.stop_continuous_collection()
    assert met.request_count == 0 and len(records(off, "performance")) == 0
    assert len(records(off, "health_checks")) == 1
    await off.close()


async def test_close_stops_the_loop_and_writes_the_open_window(tmp_path: Path, clock: FFManualClock) -> None:
    m = make_manager(tmp_path, clock)
    await m.initialize_analytics_system(start_collection=False)
    await m.start_continuous_collection()
    await asyncio.sleep(0.01)
    m.record_metric("queue_depth", 4.0, "gauge")
    await m.close()
    assert not m.system.collection_loop.running
    metrics = [r for r in m.store.read("performance") if r["kind"] == "metric"]
    assert metrics and metrics[-1]["name"] == "queue_depth" and metrics[-1]["value"] == 4.0


async def test_run_collection_tick_runs_jobs_and_hooks(tmp_path: Path, clock: FFManualClock) -> None:
    m = make_manager(tmp_path, clock)
    await m.initialize_analytics_system(start_collection=False)
    got: list[Any] = []
    runs: list[str] = []

    async def hook(metrics: Any) -> None:
        got.append(metrics)

    async def job() -> None:
        runs.append(ff_iso(clock.now()))

    m.add_tick_hook(hook)
    m.register_periodic_job("sys_test_job", 20, job)
    for _ in range(5):
        m.record_request("api", 3.0)
        met = await m.run_collection_tick()
        clock.advance(10)
    await m.system.collection_loop.drain_jobs()
    assert met is got[-1] and len(got) == 5 and met.request_count == 1
    assert len(runs) == 2  # due at +20 s and +40 s of ticks at 0, 10, 20, 30, 40
    m.system.probe.sample = lambda: (_ for _ in ()).throw(OSError("gone"))
    assert await m.run_collection_tick() is None
    assert m.collection_stats()["failed_ticks"] == 1 and "gone" in m.collection_stats()["last_error"]
    await m.close()
