"""``ff-metrics capacity`` prints "not saturating within the horizon" for a far projection, and
``ff-metrics performance`` on a store whose data ended earlier says so (issue 18, point 4)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO
from ff_metrics_collection_manager import FFMetricsCollectionManager, main
from ff_utils.ff_analytics_core.ff_clock import ff_iso, ff_utc_now


def _write(base: Path, fn) -> None:
    async def go() -> None:
        cfg = FFAnalyticsManagerConfigDTO()
        cfg.storage.base_path = str(base)
        cfg.analytics.enable_real_time_metrics = False
        m = FFMetricsCollectionManager(cfg, writer_id="seed")  # real clock: the CLI looks back from now
        await m.initialize_analytics_system(start_collection=False)
        fn(m)
        m.store.flush()
        await m.close()

    asyncio.run(go())


def _rows(table: str) -> dict[str, str]:
    """Table rows by metric, a wrapped cell's continuation lines joined onto its row."""
    rows: dict[str, str] = {}
    key = None
    for ln in table.splitlines():
        if ln.startswith(("disk", "memory")):
            key = ln.split()[1]
            rows[key] = ln
        elif key and ln.startswith(" "):
            rows[key] += " " + ln.strip()
    return rows


def test_capacity_prints_not_saturating_within_the_horizon_and_days_when_near(tmp_path, capsys):
    now = ff_utc_now()
    n = 3 * 288

    def fill(m) -> None:
        for i in range(n):
            t = now - timedelta(minutes=5 * (n - 1 - i))
            days_left = (n - 1 - i) * 5 / 1440
            m.store.append("resource_usage", {
                "timestamp": ff_iso(t),
                "disk_usage_percent": 10.0 + 0.0005 * (3 - days_left),   # ~180,000 days to full
                "memory_usage_percent": 80.0 - 2.0 * days_left,          # 10 days to full
            })

    _write(tmp_path, fill)
    assert main(["capacity", "--base-path", str(tmp_path), "--window", "3d", "--no-write"]) == 0
    lines = _rows(capsys.readouterr().out)
    assert "not saturating within the horizon (365 days)" in lines["disk_usage_percent"]
    assert "beyond_horizon" in lines["disk_usage_percent"]
    assert "days at the current rate" not in lines["disk_usage_percent"]
    assert "full in 10.0 days" in lines["memory_usage_percent"] and " 10.0" in lines["memory_usage_percent"]

    assert main(["capacity", "--base-path", str(tmp_path), "--window", "3d", "--no-write",
                 "--horizon-days", "5", "--format", "json"]) == 0
    res = {r["metric"]: r for r in json.loads(capsys.readouterr().out)["capacity"]}
    mem = res["memory_usage_percent"]
    assert (mem["status"], mem["days_to_saturation"], mem["within_horizon"], mem["horizon_days"]) == \
        ("beyond_horizon", None, False, 5.0)

    assert main(["capacity", "--base-path", str(tmp_path), "--horizon-days", "-1"]) == 2
    assert "--horizon-days" in capsys.readouterr().err


def test_performance_on_a_store_whose_data_ended_earlier_says_so(tmp_path, capsys):
    last = ff_utc_now() - timedelta(hours=3)

    def fill(m) -> None:
        for i in range(12):
            t = ff_iso(last - timedelta(minutes=5 * (11 - i)))
            m.store.append("performance", {"timestamp": t, "kind": "window", "count": 10, "errors": 0,
                                           "sum": 1000.0, "sumsq": 100000.0, "min": 100.0, "max": 100.0})
            m.store.append("resource_usage", {"timestamp": t, "cpu_usage_percent": 20.0})

    _write(tmp_path, fill)
    assert main(["performance", "--base-path", str(tmp_path), "--timeframe", "1h"]) == 0
    out = capsys.readouterr().out
    assert f"no samples in the last 1h; latest sample at {ff_iso(last)}" in out
    assert "None" not in out

    assert main(["performance", "--base-path", str(tmp_path), "--timeframe", "1h", "--format", "json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["status"] == "no_samples" and res["latest_sample_at"] == ff_iso(last)
    assert res["samples"] == 0 and res["throughput_per_s"] is None
    assert res["message"] == f"no samples in the last 1h; latest sample at {ff_iso(last)}"

    # the timeframe that reaches the data reports it as before
    assert main(["performance", "--base-path", str(tmp_path), "--timeframe", "4h", "--format", "json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["status"] == "ok" and res["request_count"] == 120 and res["latest_sample_at"] == ff_iso(last)
    assert res["response_times"]["mean"] == 100.0

    # an empty store: nothing to point at
    empty = tmp_path / "empty"
    _write(empty, lambda m: None)
    assert main(["performance", "--base-path", str(empty), "--timeframe", "1h"]) == 0
    assert "no samples in the last 1h; the store has no performance or resource samples" in capsys.readouterr().out
