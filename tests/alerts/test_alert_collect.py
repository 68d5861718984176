"""Issue 18 point 1: ``collect_system_metrics()`` evaluates the system alert rules (seed
``_check_system_alerts``), and a loop tick evaluates them exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO
from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_utils.ff_analytics_core.ff_clock import FFManualClock

START = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def _manager(base, clock):
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(base)
    cfg.analytics.enable_real_time_metrics = False
    cfg.analytics.alerting_config.memory_usage_threshold_percent = 1.0  # any real host is above 1 %
    return FFMetricsCollectionManager(cfg, clock=clock, writer_id="t1")


async def test_collect_system_metrics_alone_raises_the_memory_alert(tmp_path):
    clock = FFManualClock(START)
    m = _manager(tmp_path, clock)
    for _ in range(4):
        await m.collect_system_metrics()
        clock.advance(10)
    rules = {a.rule_id for a in await m.get_active_alerts()}
    assert "builtin.memory_usage" in rules, f"no memory alert after 4 collect_system_metrics(): {rules}"
    await m.close()
    fired = [r for r in m.store.read("alerts") if r.get("rule_id") == "builtin.memory_usage"]
    assert fired, "the alerts stream holds no builtin.memory_usage record"


async def test_a_loop_tick_evaluates_the_system_rules_once(tmp_path, monkeypatch):
    clock = FFManualClock(START)
    m = _manager(tmp_path, clock)
    calls: list[set] = []
    real = m.alerts.engine.evaluate

    def counting(values, now=None):
        if ("memory_usage_percent", "") in values:
            calls.append(set(values))
        return real(values, now)

    monkeypatch.setattr(m.alerts.engine, "evaluate", counting)
    for _ in range(3):
        assert await m.run_collection_tick() is not None
        clock.advance(10)
    assert len(calls) == 3, f"system rules evaluated {len(calls)} times in 3 ticks"
    await m.close()
