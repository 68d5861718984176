"""Issue 18 point 5: one truth in ``ff-metrics status``.

The health reason and the latest sample come from the same tick (same timestamp and writer), and a
threshold of 100 % does not fire on 100.0 % (readings count when strictly above, like the built-in
alert rules).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO
from ff_metrics_collection_manager import FFMetricsCollectionManager, main
from ff_utils.ff_analytics_alerts.ff_alert_rules import ff_builtin_rules
from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_system.ff_health_checks import (
    THRESHOLD_COMPARISON,
    assess_overall,
    thresholds_from,
)

START = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def _manager(base, clock, writer: str, cpu: float, cpu_threshold: float = 90.0) -> FFMetricsCollectionManager:
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(base)
    cfg.analytics.enable_real_time_metrics = False
    al = cfg.analytics.alerting_config
    al.cpu_usage_threshold_percent = cpu_threshold
    al.memory_usage_threshold_percent = 100.0
    al.disk_usage_threshold_percent = 100.0
    m = FFMetricsCollectionManager(cfg, clock=clock, writer_id=writer)
    real = m.system.probe.sample
    m.system.probe.sample = lambda: replace(real(), cpu_usage_percent=cpu, memory_usage_percent=40.0,
                                            disk_usage_percent=40.0)
    return m


async def _cli(*argv: str) -> int:
    """The CLI runs its own event loop: call it off this test's loop."""
    return await asyncio.to_thread(main, list(argv))


async def _status_json(base, capsys) -> dict:
    capsys.readouterr()
    assert await _cli("status", "--base-path", str(base), "--format", "json") == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("hot", ["w-a", "w-b"])
async def test_status_shows_the_sample_its_health_reason_was_assessed_on(tmp_path, capsys, hot):
    """Two writers tick at the same instant; whichever check status reports, its cpu is shown."""
    clock = FFManualClock(START)
    managers = [_manager(tmp_path, clock, w, cpu=97.0 if w == hot else 3.0) for w in ("w-a", "w-b")]
    for m in managers:
        await m.collect_system_metrics()
    for m in managers:
        await m.close()
    snap = await _status_json(tmp_path, capsys)
    cpu = snap["latest_metrics"]["cpu_usage_percent"]
    reasons = [r for r in snap["health_reasons"] if r.startswith("cpu usage")]
    if snap["overall_status"] == "degraded":
        assert reasons, snap["health_reasons"]
        shown = float(re.match(r"cpu usage ([0-9.]+)%", reasons[0]).group(1))
        assert shown == pytest.approx(cpu, abs=0.05), f"reason says {reasons[0]!r} beside latest cpu {cpu}"
    else:
        assert not reasons and cpu <= 90.0, (snap["overall_status"], cpu)
    assert snap["latest_metrics"]["timestamp"] == snap["health_checked_at"]
    capsys.readouterr()
    assert await _cli("status", "--base-path", str(tmp_path)) == 0
    text = capsys.readouterr().out
    cpu_line = next(line for line in text.splitlines() if line.strip().startswith("cpu "))
    assert f"{cpu:.1f}%" in cpu_line, text
    if reasons:
        assert f"cpu usage {cpu:.1f}%" in text, text


async def test_a_threshold_of_100_percent_does_not_fire_on_100_percent(tmp_path):
    clock = FFManualClock(START)
    m = _manager(tmp_path / "a", clock, "t1", cpu=100.0, cpu_threshold=100.0)
    for _ in range(3):
        await m.collect_system_metrics()
        clock.advance(10)
    h = await m.get_system_health()
    assert h["status"] == "healthy", h["reasons"]
    assert not [r for r in h["reasons"] if "cpu" in r]
    assert "builtin.cpu_usage" not in {a.rule_id for a in await m.get_active_alerts()}
    await m.close()
    stored = m.store.read("health_checks")
    assert stored and all(r["status"] == "healthy" for r in stored), [r["reasons"] for r in stored]

    m = _manager(tmp_path / "b", clock, "t1", cpu=100.0, cpu_threshold=99.5)
    await m.collect_system_metrics()
    h = await m.get_system_health()
    assert h["status"] == "degraded"
    assert "cpu usage 100.0% > threshold 99.5%" in h["reasons"]
    await m.close()


def test_health_compares_like_the_builtin_rules():
    """The health assessment and the built-in rules use one comparison (strictly above)."""
    assert THRESHOLD_COMPARISON == ">"
    cfg = FFAnalyticsManagerConfigDTO().analytics.alerting_config
    rules = {r.metric: r for r in ff_builtin_rules(cfg)}
    assert rules["cpu_usage_percent"].comparison == THRESHOLD_COMPARISON
    th = thresholds_from(cfg)
    at = {"cpu_usage_percent": th["cpu_usage_threshold_percent"]}
    assert assess_overall({}, at, {}, {}, th) == ("healthy", [])
    above = {"cpu_usage_percent": th["cpu_usage_threshold_percent"] + 0.1}
    status, reasons = assess_overall({}, above, {}, {}, th)
    assert status == "degraded" and reasons[0].startswith("cpu usage")
