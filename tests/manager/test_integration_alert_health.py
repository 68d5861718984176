"""Cross-domain wiring: instrument-window rules fire on ticks; health shows failing channels and drops."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import load_config
from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_utils.ff_analytics_core.ff_clock import FFManualClock


def _manager(tmp_path: Path, **alerting) -> FFMetricsCollectionManager:
    cfg = load_config(environment="test")
    cfg.storage.base_path = str(tmp_path)
    for k, v in alerting.items():
        setattr(cfg.analytics.alerting_config, k, v)
    return FFMetricsCollectionManager(cfg, clock=FFManualClock(datetime(2026, 4, 1, tzinfo=UTC)))


async def test_instrument_window_rule_fires_on_a_tick(tmp_path: Path) -> None:
    m = _manager(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    m.add_alert_rule(rule_id="queue_depth_high", metric="queue_depth", threshold=100.0, comparison=">")
    m.record_metric("queue_depth", 250.0, "gauge", {"component": "ingest"})
    await m.collect_system_metrics()
    active = await m.get_active_alerts()
    hits = [a for a in active if a.rule_id == "queue_depth_high"]
    assert len(hits) == 1 and hits[0].current_value == 250.0 and hits[0].affected_component == "ingest"
    await m.close()


async def test_health_reports_failing_channel_and_store_drops(tmp_path: Path) -> None:
    m = _manager(
        tmp_path,
        enable_webhook_alerts=True,
        webhook_urls=["http://127.0.0.1:9/unreachable"],
        webhook_timeout_seconds=0.2,
        webhook_max_retries=0,
    )
    await m.initialize_analytics_system(start_collection=False)
    m.raise_alert("manual_test", "test alert", severity="critical", alert_type="performance")
    await m.wait_alert_work(5.0)
    # force drops: a tiny buffer and no flushing
    m.store.max_buffered = 1
    m.store._room_limit = 0
    for i in range(5):
        m.store.append("performance", {"i": i})
    health = await m.get_system_health()
    assert health["status"] in ("degraded", "unhealthy")
    assert any("alert channel webhook" in r and "failing" in r for r in health["reasons"]), health["reasons"]
    assert any("store dropped" in r for r in health["reasons"])
    assert health["store"]["records_dropped"] >= 4
    await m.close()


async def test_rejected_metric_name_becomes_a_security_event_without_the_value(tmp_path: Path) -> None:
    import pytest

    m = _manager(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    with pytest.raises(ValueError, match="name"):
        m.record_metric("../alice@example.com", 1.0, "gauge")
    with pytest.raises(ValueError, match="component"):
        m.record_request("Bad Component", 3.0, True)
    m.flush()
    events = list(m.store.read("security_events"))
    kinds = [(e.get("kind"), e.get("source")) for e in events]
    assert kinds.count(("unsafe_name_rejected", "instrument")) == 2, events
    raw = b"".join(p.read_bytes() for p in (tmp_path / "analytics").rglob("*.jsonl"))
    assert b"alice@example.com" not in raw
    await m.close()
