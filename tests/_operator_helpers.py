"""Shared helpers of the operator tests: a synthetic store with every stream the dashboard reads.

The store is written with the real FFStreamStore and FFRollupAccumulator (no manager needed), so
the dashboard/export/prometheus tests do not depend on the other domains being finished.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ff_utils.ff_analytics_bi.ff_rollup_accumulator import FFRollupAccumulator
from ff_utils.ff_analytics_core.ff_clock import FFManualClock, ff_iso
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore

START = datetime(2026, 11, 1, tzinfo=UTC)
FEATURES = ("chat", "search", "documents", "tools", "voice")


def store_config() -> Any:
    return SimpleNamespace(fsync_policy="never", write_batch_size=1000, write_max_delay_seconds=60.0,
                           max_buffered_records=1_000_000, buffer_full_policy="drop", free_space_reserve_mb=0)


def build_synthetic_store(base: Path, days: int = 3, users: int = 40, seed: int = 7) -> dict[str, Any]:
    """Write ``days`` of metrics, user events, rollups, alerts, health checks and BI; return totals."""
    rnd = random.Random(seed)
    clock = FFManualClock(START)
    store = FFStreamStore(base, store_config(), clock=clock, writer_id="synthetic-1")
    acc = FFRollupAccumulator("synthetic-1", emit=lambda recs: store.append_many("rollups", recs))
    totals: dict[str, int] = {"resource_usage": 0, "user_events": 0, "alerts": 0}
    user_ids = [f"{i:032x}" for i in range(1, users + 1)]
    for _step in range(days * 24 * 6):  # every 10 minutes
        now = clock.now()
        ts = ff_iso(now)
        hour = now.hour + now.minute / 60
        load = 0.5 + 0.45 * math.sin((hour - 9) / 24 * 2 * math.pi)
        sample = {
            "timestamp": ts,
            "cpu_usage_percent": round(15 + 60 * load + rnd.random() * 5, 2),
            "memory_usage_percent": round(40 + 20 * load, 2),
            "disk_usage_percent": round(50 + (now - START).total_seconds() / 86400 * 3, 2),
            "response_time_ms": round(80 + 100 * load, 1),
            "p95_response_time_ms": round(200 + 300 * load, 1),
            "success_rate_percent": round(99.5 - 2 * load, 2),
            "error_count": int(3 * load),
            "component_health": {"store": "healthy", "collector": "healthy", "chat_api": "degraded" if load > 0.9 else "healthy"},
        }
        store.append("resource_usage", sample)
        acc.observe_system(sample)
        store.append("performance", sample)
        totals["resource_usage"] += 1
        store.append("error_rates", {"timestamp": ts, "error_rate_percent": round(100 - sample["success_rate_percent"], 2)})
        if _step % 3 == 0:
            store.append("health_checks", {"timestamp": ts, "component_health": sample["component_health"]})
        for _ in range(int(6 * load) + 1):
            uid = user_ids[rnd.randrange(min(users, 10 + _step // 20))]
            feats = [f for i, f in enumerate(FEATURES) if rnd.random() < 0.8 / (i + 1)]
            rec = {"timestamp": ts, "user_hash": uid, "session_id": "s", "event_type": "feature_usage",
                   "features_used": feats, "platform": "web", "session_duration_seconds": 0}
            store.append("feature_usage", rec)
            acc.observe_user_dict(rec)
            totals["user_events"] += 1
        clock.advance(600)
        if clock.now().hour == 0 and clock.now().minute == 0:
            # flush at midnight: works around the store appending a stream's first records of a new
            # day to its still-open batch of the previous day (reported to the lead)
            store.flush()
    acc.flush()
    # alerts: one resolved with ack, one open
    t1 = ff_iso(START.replace(hour=14))
    store.append("alerts", {"timestamp": t1, "alert_id": "alert_a", "severity": "warning", "title": "p95 latency high",
                            "metric_name": "p95_response_time_ms", "current_value": 1800.0, "acknowledged": False, "resolved": False})
    store.append("alerts", {"timestamp": ff_iso(START.replace(hour=14, minute=20)), "alert_id": "alert_a", "acknowledged": True,
                            "acknowledged_at": ff_iso(START.replace(hour=14, minute=20))})
    store.append("alerts", {"timestamp": ff_iso(START.replace(hour=16)), "alert_id": "alert_a", "resolved": True,
                            "resolved_at": ff_iso(START.replace(hour=16))})
    store.append("alerts", {"timestamp": ff_iso(START.replace(day=2, hour=3)), "alert_id": "alert_b", "severity": "critical",
                            "title": "disk usage above 55%", "metric_name": "disk_usage_percent", "current_value": 56.0})
    totals["alerts"] = 2
    bi = {"timestamp": ts, "insight_id": "bi_synthetic", "analysis_period": "day",
          "period_start": ff_iso(START), "period_end": ts}
    store.append("usage_trends", {**bi, "active_users": users, "total_users": users,
                                  "user_satisfaction_trends": [7.5, 8.0, 8.25, 6.5]})
    store.append("optimization_insights", {**bi, "performance_bottlenecks": ["slow responses: p95 500 ms"]})
    store.append("capacity_planning", {**bi, "scaling_recommendations": ["scale out CPU: peak 80%"]})
    store.flush()
    store.close()
    totals["days"] = days
    totals["end"] = ff_iso(clock.now())
    return totals


def open_store(base: Path, clock: Any = None) -> FFStreamStore:
    return FFStreamStore(base, store_config(), clock=clock or FFManualClock(START), writer_id="reader-1")
