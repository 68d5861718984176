"""Instrument registry: per-window aggregation, percentiles, spill, metric kinds, argument errors."""

from __future__ import annotations

import math
import random
import statistics
from datetime import UTC, datetime

import pytest

from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_system.ff_instrument_registry import FFInstrumentRegistry


@pytest.fixture
def clock() -> FFManualClock:
    return FFManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


def test_window_stats_match_independent_computation(clock: FFManualClock) -> None:
    reg = FFInstrumentRegistry(clock, slow_threshold_ms=100.0)
    rng = random.Random(7)
    api = [rng.lognormvariate(3, 1) for _ in range(500)]
    db = [rng.uniform(0, 20) for _ in range(200)]
    for i, d in enumerate(api):
        reg.record_request("api", d, success=(i % 10 != 0))
    for d in db:
        reg.record_request("db", d)
    clock.advance(10)
    snap = reg.summarize(reg.swap_window())
    assert snap.window_seconds == 10.0
    a = snap.components["api"]
    q = statistics.quantiles(api, n=100, method="inclusive")
    assert a["count"] == 500 and a["errors"] == 50 and a["error_rate_percent"] == 10.0
    assert a["p50"] == pytest.approx(statistics.median(api))
    assert a["p95"] == pytest.approx(q[94]) and a["p99"] == pytest.approx(q[98])
    assert a["mean"] == pytest.approx(statistics.fmean(api))
    assert a["stddev"] == pytest.approx(statistics.pstdev(api))
    assert a["slow"] == sum(1 for d in api if d > 100.0)
    assert a["percentile_method"] == "exact"
    ov = snap.overall
    both = api + db
    assert ov["count"] == 700 and ov["errors"] == 50
    assert ov["p95"] == pytest.approx(statistics.quantiles(both, n=100, method="inclusive")[94])
    assert ov["throughput_per_s"] == pytest.approx(70.0)
    assert ov["min"] == min(both) and ov["max"] == max(both)
    # the next window starts empty
    clock.advance(1)
    empty = reg.summarize(reg.swap_window())
    assert empty.overall["count"] == 0 and empty.components == {}
    assert empty.overall["p95"] is None


def test_spill_keeps_exact_sums_and_bounded_memory(clock: FFManualClock) -> None:
    reg = FFInstrumentRegistry(clock, spill_at=64)
    rng = random.Random(1)
    values = [rng.uniform(1, 1000) for _ in range(20_000)]
    for v in values:
        reg.record_request("chat", v, v < 900)
    assert len(reg._requests["chat"].values) < 64  # spilled, not accumulated
    clock.advance(1)
    s = reg.summarize(reg.swap_window()).components["chat"]
    assert s["count"] == 20_000
    assert s["errors"] == sum(1 for v in values if v >= 900)
    assert s["mean"] == pytest.approx(statistics.fmean(values), rel=1e-9)
    assert s["min"] == min(values) and s["max"] == max(values)
    assert s["stddev"] == pytest.approx(statistics.pstdev(values), rel=1e-6)
    assert s["percentile_method"] == "sketch"
    exact = statistics.quantiles(values, n=100, method="inclusive")
    assert s["p50"] == pytest.approx(exact[49], rel=0.05)  # 1-in-8 sample + 1% sketch
    assert s["p95"] == pytest.approx(exact[94], rel=0.05)


def test_sketch_quantile_cont_tracks_exact_interpolation() -> None:
    from ff_utils.ff_analytics_system.ff_instrument_registry import _sketch_from_sorted, sketch_quantile_cont

    assert sketch_quantile_cont(_sketch_from_sorted([]), 0.5) is None
    two = _sketch_from_sorted([1.0, 100.0])
    assert sketch_quantile_cont(two, 0.5) == pytest.approx(50.5, rel=0.01)
    rng = random.Random(4)
    vals = sorted(rng.expovariate(0.1) for _ in range(5000))
    sk = _sketch_from_sorted(vals)
    q = statistics.quantiles(vals, n=100, method="inclusive")
    for p in (50, 90, 95, 99):
        assert sketch_quantile_cont(sk, p / 100) == pytest.approx(q[p - 1], rel=0.0101)


def test_time_operation_sync_and_async(clock: FFManualClock) -> None:
    reg = FFInstrumentRegistry(clock)
    with reg.time_operation("db"):
        clock.advance(0.25)
    with pytest.raises(RuntimeError):
        with reg.time_operation("db"):
            clock.advance(0.5)
            raise RuntimeError("boom")

    async def go() -> None:
        async with reg.time_operation("db"):
            clock.advance(1.0)

    import asyncio

    asyncio.run(go())
    s = reg.summarize(reg.swap_window()).components["db"]
    assert s["count"] == 3 and s["errors"] == 1
    assert s["min"] == pytest.approx(250.0) and s["max"] == pytest.approx(1000.0)


def test_record_request_argument_errors(clock: FFManualClock) -> None:
    reg = FFInstrumentRegistry(clock)
    with pytest.raises(TypeError, match="duration_ms"):
        reg.record_request("api", "12")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="duration_ms"):
        reg.record_request("api", -1.0)
    with pytest.raises(ValueError, match="duration_ms"):
        reg.record_request("api", math.nan)
    with pytest.raises(ValueError, match="component"):
        reg.record_request("Bad Name", 1.0)
    with pytest.raises(TypeError, match="component"):
        reg.time_operation(3)  # type: ignore[arg-type]
    # nothing bad was counted
    assert reg.summarize(reg.swap_window()).components.get("api", {"count": 0})["count"] == 0


def test_metric_kinds(clock: FFManualClock) -> None:
    reg = FFInstrumentRegistry(clock)
    for v in (1, 2, 3):
        reg.record_metric("cache_hits", v, "counter")
    for v in (10.0, 30.0, 20.0):
        reg.record_metric("queue_depth", v, "gauge", {"queue": "ingest"})
    reg.record_metric("queue_depth", 5.0, "gauge", {"queue": "mail"})
    hist = [float(i) for i in range(1, 101)]
    for v in hist:
        reg.record_metric("payload_kb", v, "histogram")
    reg.record_metric("llm_ms", 120.0, "timer")
    for _ in range(30):
        reg.record_metric("logins", 1, "rate")
    clock.advance(15)
    rows = {(r["name"], tuple(r["labels"].items())): r for r in reg.summarize(reg.swap_window()).metrics}
    assert rows[("cache_hits", ())]["value"] == 6 and rows[("cache_hits", ())]["count"] == 3
    g = rows[("queue_depth", (("queue", "ingest"),))]
    assert (g["value"], g["min"], g["max"], g["mean"]) == (20.0, 10.0, 30.0, 20.0)
    assert rows[("queue_depth", (("queue", "mail"),))]["value"] == 5.0
    h = rows[("payload_kb", ())]
    assert h["count"] == 100 and h["p95"] == pytest.approx(statistics.quantiles(hist, n=100, method="inclusive")[94])
    assert rows[("llm_ms", ())]["max"] == 120.0
    assert rows[("logins", ())]["rate_per_s"] == pytest.approx(2.0)


def test_metric_argument_errors(clock: FFManualClock) -> None:
    reg = FFInstrumentRegistry(clock)
    with pytest.raises(ValueError, match="kind"):
        reg.record_metric("x", 1, "summary")
    reg.record_metric("x", 1, "counter")
    with pytest.raises(ValueError, match="kind"):
        reg.record_metric("x", 1, "gauge")
    with pytest.raises(ValueError, match="value"):
        reg.record_metric("x", -1, "counter")
    with pytest.raises(TypeError, match="value"):
        reg.record_metric("y", "3", "gauge")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="value"):
        reg.record_metric("y", math.inf, "gauge")
    with pytest.raises(TypeError, match="labels"):
        reg.record_metric("z", 1, "gauge", {"env": 3})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="name"):
        reg.record_metric("Z-bad", 1, "gauge")


def test_debug_sink_gets_one_record_per_request(clock: FFManualClock) -> None:
    got: list[dict] = []
    reg = FFInstrumentRegistry(clock, debug_sink=got.append)
    reg.record_request_debug("api", 3.5, True)
    reg.record_request_debug("api", 7.0, False)
    assert [(r["kind"], r["duration_ms"], r["success"]) for r in got] == [("request", 3.5, True), ("request", 7.0, False)]
    assert got[0]["timestamp"] == "2026-03-01T12:00:00.000000Z"
    with reg.time_operation("db"):
        clock.advance(0.002)
    assert got[-1]["component"] == "db" and got[-1]["duration_ms"] == pytest.approx(2.0, rel=1e-3)
    assert reg.summarize(reg.swap_window()).overall["count"] == 3
