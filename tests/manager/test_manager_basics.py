"""Manager skeleton: tree + metadata, protocols, async context flush, hooks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import (
    FFAnalyticsManagerConfigDTO,
    load_config,
)
from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_protocols.ff_analytics_protocols import FFAnalyticsProtocol, FFMonitoringProtocol
from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_core.ff_json_utils import ff_read_json
from ff_utils.ff_analytics_store.ff_stream_store import CATEGORY_STREAMS


def _config(tmp_path: Path) -> FFAnalyticsManagerConfigDTO:
    cfg = load_config(environment="test")
    cfg.storage.base_path = str(tmp_path)
    return cfg


async def test_initialize_creates_tree_and_metadata(tmp_path: Path) -> None:
    clock = FFManualClock(datetime(2026, 7, 1, 8, tzinfo=UTC))
    m = FFMetricsCollectionManager(_config(tmp_path), clock=clock)
    assert isinstance(m, FFAnalyticsProtocol) and isinstance(m, FFMonitoringProtocol)
    assert await m.initialize_analytics_system(start_collection=False) is True
    for cat, streams in CATEGORY_STREAMS.items():
        for s in streams:
            assert (tmp_path / "analytics" / cat / s).is_dir()
    meta = ff_read_json(tmp_path / "analytics" / "analytics_metadata.json")
    assert meta["initialized_at"] == "2026-07-01T08:00:00.000000Z"
    assert meta["analytics_level"] == m.analytics_config.analytics_level
    assert meta["privacy_config"] == m.analytics_config.privacy_config.to_dict()
    assert meta["collection_config"]["interval_seconds"] == m.analytics_config.collection_interval_seconds
    assert meta["environment"] == "test" and len(meta["analytics_system_id"]) == 16
    await m.close()
    # re-opening keeps identity and first initialization time
    clock.advance(days=2)
    m2 = FFMetricsCollectionManager(_config(tmp_path), clock=clock)
    await m2.initialize_analytics_system(start_collection=False)
    meta2 = ff_read_json(tmp_path / "analytics" / "analytics_metadata.json")
    assert meta2["analytics_system_id"] == meta["analytics_system_id"]
    assert meta2["initialized_at"] == meta["initialized_at"]
    assert meta2["last_opened_at"] == "2026-07-03T08:00:00.000000Z"
    await m2.close()


async def test_async_with_flushes_on_exit_and_runs_hooks(tmp_path: Path) -> None:
    calls: list[str] = []
    async with FFMetricsCollectionManager(_config(tmp_path), writer_id="w1") as m:
        m.add_flush_hook(lambda: calls.append("flush"))
        m.add_close_hook(lambda: calls.append("close"))
        m.store.append("usage_trends", {"timestamp": "t", "n": 1})
    assert calls[-2:] == ["flush", "close"]
    recs = list(m.store.read("usage_trends"))
    assert {"timestamp": "t", "n": 1} in recs
    await m.close()  # idempotent


def test_bad_config_type_and_periodic_job_validation(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="config"):
        FFMetricsCollectionManager({"storage": {}})  # type: ignore[arg-type]
    m = FFMetricsCollectionManager(_config(tmp_path))

    async def job() -> None:
        return None

    with pytest.raises(ValueError, match="interval_seconds"):
        m.register_periodic_job("x", 0, job)
    m.close_sync()


async def test_initialize_reports_failure_instead_of_raising(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    cfg = _config(blocker)
    m = FFMetricsCollectionManager(cfg)
    assert await m.initialize_analytics_system(start_collection=False) is False


async def test_config_loaded_and_changed_are_audited_once(tmp_path: Path) -> None:
    cfg = _config(tmp_path)
    cfg.analytics.alerting_config.webhook_urls = ["https://hooks.example.test/secret-token-123"]
    async with FFMetricsCollectionManager(cfg) as m:
        pass
    cfg.analytics.sampling_rate = 0.5
    for _ in range(2):  # the second start with the same config is not a change
        async with FFMetricsCollectionManager(cfg) as m:
            pass
    actions = [(r["action"], r["details"]) for r in m.store.read("audit_logs")]
    assert [a for a, _ in actions].count("config_loaded") == 3
    changed = [d for a, d in actions if a == "config_changed"]
    assert changed == [{"changed_fields": ["analytics.sampling_rate"], "changed_count": 1,
                        "config_sha256": changed[0]["config_sha256"]}]
    meta = (tmp_path / "analytics" / "analytics_metadata.json").read_text()
    assert "secret-token-123" not in meta
