"""Analysis that does not cry wolf (issue 18, point 4): a scale floor for zero-variance baselines,
a minimum practical effect for regressions and slope changes, severity by impact, and a capacity
horizon. Series are written to a store through the manager and read back through ``analyze``."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO
from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_utils.ff_analytics_core.ff_clock import FFManualClock, ff_iso

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
STEP = timedelta(minutes=5)


def _manager(tmp_path) -> FFMetricsCollectionManager:
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(tmp_path)
    return FFMetricsCollectionManager(cfg, clock=FFManualClock(NOW))


def _times(n: int) -> list[datetime]:
    return [NOW - STEP * (n - 1 - i) for i in range(n)]


def _anomalies(res: dict, metric: str, kind: str | None = None) -> list[dict]:
    found = res["metrics"][metric]["anomalies"]["anomalies"]
    return [a for a in found if kind is None or a["kind"] == kind]


# ------------------------------------------------------------------ 1. zero-variance baseline
@pytest.mark.parametrize("spike, severity", [(20.0, "critical"), (2.0, "warning")])
async def test_zero_variance_baseline_then_one_spike_has_a_bounded_z_and_severity_by_size(tmp_path, spike, severity):
    """error_rate_percent is exactly 0 for a day, then one window at ``spike`` percent. The old scale
    floor (1e-9) gave z = spike / 1e-9 (2e10) and "critical" for any spike; the floor is now 0.5 pp
    for a percent metric, so z = spike / 0.5 and the severity follows the size in percent points."""
    m = _manager(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    times = _times(288)
    k = 200
    for i, t in enumerate(times):
        err = spike if i == k else 0.0
        m.store.append("performance", {"timestamp": ff_iso(t), "kind": "window", "mean": 100.0, "count": 50,
                                       "error_rate_percent": err, "success_rate_percent": 100.0 - err})
    m.store.flush()
    res = await m.analyze("error_rate_percent", "1d", kinds=["anomalies"])
    (a,) = _anomalies(res, "error_rate_percent")
    assert a["kind"] == "spike" and a["value"] == spike and a["timestamp"] == ff_iso(times[k])
    z = a["details"]["z"]
    assert math.isfinite(z) and z == pytest.approx(spike / 0.5, rel=0.01)
    assert a["severity"] == severity
    assert res["metrics"]["error_rate_percent"]["anomalies"]["scale_floor"] == pytest.approx(0.5)
    (finding,) = [f for f in res["findings"] if f["kind"] == "anomaly"]
    assert f"z +{spike / 0.5:.1f}" in finding["message"] and finding["severity"] == severity
    await m.close()


# ------------------------------------------------------------------ 2. practical significance
def _write_disk(m, n: int, bend_at: int, slope_per_hour: float) -> None:
    """disk_usage_percent flat at 10.18, then rising ``slope_per_hour`` from ``bend_at`` (no noise)."""
    t_bend = _times(n)[bend_at]
    for t in _times(n):
        hours = max(0.0, (t - t_bend).total_seconds() / 3600.0)
        m.store.append("resource_usage", {"timestamp": ff_iso(t), "disk_usage_percent": 10.18 + slope_per_hour * hours})
    m.store.flush()


async def test_a_tiny_slope_change_on_disk_percent_is_not_an_anomaly(tmp_path):
    """+1e-4 %/h is 0.0024 percent points a day, below the 1 pp minimum effect: no anomaly at all
    (the old code reported a critical trend change with t ~ 1e9)."""
    m = _manager(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    _write_disk(m, 864, 540, 1e-4)
    res = await m.analyze("disk_usage_percent", "3d", kinds=["anomalies"])
    assert res["metrics"]["disk_usage_percent"]["points"] == 864
    assert _anomalies(res, "disk_usage_percent") == []
    assert not [f for f in res["findings"] if f["kind"] == "anomaly"]
    await m.close()


async def test_a_real_slope_change_on_disk_percent_still_is_and_carries_its_impact(tmp_path):
    """+2 %/h (48 pp a day) is a trend change; its severity comes from the impact (48 pp against the
    1 pp minimum effect) as well as from t."""
    m = _manager(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    _write_disk(m, 864, 540, 2.0)
    res = await m.analyze("disk_usage_percent", "3d", kinds=["anomalies"])
    changes = _anomalies(res, "disk_usage_percent", "trend_change")
    assert changes, "a slope change from 0 to +2%/h must be reported"
    c = changes[0]
    assert c["details"]["slope_after_per_hour"] == pytest.approx(2.0, rel=0.05)
    assert c["severity"] == "critical" and math.isfinite(c["score"]) and c["score"] < 1e6
    assert c["details"]["change_per_day"] == pytest.approx(48.0, rel=0.05)
    assert c["details"]["min_effect"] == pytest.approx(1.0)
    await m.close()


def _write_error_rate(m, before: float, after: float) -> None:
    """7 days of error_rate_percent at ``before``, the last hour (13 samples: both ends) at ``after``."""
    times = _times(7 * 288)
    for i, t in enumerate(times):
        v = after if i >= len(times) - 13 else before
        m.store.append("performance", {"timestamp": ff_iso(t), "kind": "window", "mean": 100.0, "count": 50,
                                       "error_rate_percent": v})
    m.store.flush()


@pytest.mark.parametrize("before, after, regression, severity", [
    (0.01, 0.05, False, ""),        # +400% but 0.04 percent points: not practically significant
    (0.0, 0.3, False, ""),          # from a zero baseline: 0.3 pp is below the 1 pp minimum effect
    (1.0, 2.5, True, "warning"),    # +150% (7.5x the 20% threshold) but only 1.5 pp
    (1.0, 12.0, True, "critical"),  # +1100% and 11 pp
])
async def test_a_regression_needs_a_practical_effect_and_its_severity_follows_the_effect(
        tmp_path, before, after, regression, severity):
    m = _manager(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    _write_error_rate(m, before, after)
    res = await m.analyze("error_rate_percent", "7d", detection_window="1h", kinds=["regression"])
    r = res["metrics"]["error_rate_percent"]["regression"]
    assert r["regression"] is regression and r["severity"] == severity
    assert any(f["kind"] == "regression" for f in res["findings"]) is regression
    assert r["effect"] == pytest.approx(after - before) and r["min_effect"] == pytest.approx(1.0)
    await m.close()


# ------------------------------------------------------------------ 3. capacity horizon
async def test_a_projection_beyond_the_horizon_is_not_saturating_and_a_near_one_has_days(tmp_path):
    """disk +0.0005 pp/day from 10% (~180,000 days to full) vs memory +2 pp/day to 80% (10 days)."""
    m = _manager(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    n = 3 * 288
    for i, t in enumerate(_times(n)):
        days = i * 5 / 1440
        m.store.append("resource_usage", {"timestamp": ff_iso(t), "disk_usage_percent": 10.0 + 0.0005 * days,
                                          "memory_usage_percent": 80.0 - 2.0 * (n - 1 - i) * 5 / 1440})
    m.store.flush()
    by = {r["metric"]: r for r in await m.forecast_capacity("3d", write=False)}
    disk, mem = by["disk_usage_percent"], by["memory_usage_percent"]
    assert disk["status"] == "beyond_horizon" and disk["within_horizon"] is False
    assert disk["days_to_saturation"] is None and disk["seconds_to_saturation"] is None
    assert disk["saturation_at"] == "" and disk["horizon_days"] == 365.0
    assert "not saturating within the horizon (365 days)" in disk["message"]
    assert not disk["scaling_recommendations"]
    assert mem["status"] == "saturating" and mem["within_horizon"] is True
    assert mem["days_to_saturation"] == pytest.approx(10.0, rel=0.01)
    # the horizon is the caller's: a 5-day horizon puts the memory projection beyond it too
    short = {r["metric"]: r for r in await m.forecast_capacity("3d", write=False, horizon_days=5)}
    assert short["memory_usage_percent"]["status"] == "beyond_horizon"
    assert short["memory_usage_percent"]["days_to_saturation"] is None
    # analyze: no capacity finding for the disk, a 10-day one for memory
    res = await m.analyze(window="3d", kinds=["capacity"])
    caps = {f["metric"]: f for f in res["findings"] if f["kind"] == "capacity"}
    assert "disk_usage_percent" not in caps
    assert caps["memory_usage_percent"]["numbers"]["days_to_saturation"] == pytest.approx(10.0, rel=0.01)
    with pytest.raises(ValueError, match="horizon_days"):
        await m.forecast_capacity("3d", write=False, horizon_days=0)
    await m.close()
