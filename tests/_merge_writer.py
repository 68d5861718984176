"""A writer process for the multi-store tests (not a test module): ``python -m tests._merge_writer
BASE WRITER_ID INDEX`` records a deterministic two-day workload of overlapping users into BASE."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

START = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 2


def users_of(index: int) -> list[str]:
    """Writer ``index``'s users: 15 of 25, overlapping the other writers' users."""
    return [f"user-{(index * 7 + j) % 25}@example.com" for j in range(15)]


async def run(base: str, writer_id: str, index: int) -> None:
    from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import load_config
    from ff_metrics_collection_manager import FFMetricsCollectionManager
    from ff_utils.ff_analytics_core.ff_clock import FFManualClock

    cfg = load_config(None)
    cfg.storage.base_path = base
    for name, value in (("enable_real_time_metrics", False), ("enable_data_sampling", False)):
        setattr(cfg.analytics, name, value)
    clock = FFManualClock(START)
    m = FFMetricsCollectionManager(cfg, clock=clock, writer_id=writer_id)
    await m.initialize_analytics_system(start_collection=False)
    features = ("chat", "search", "documents")
    for hour in range(DAYS * 24):
        clock.set(START + timedelta(hours=hour, minutes=index * 3))
        for j, uid in enumerate(users_of(index)):
            if (hour + j + index) % 4:
                continue
            sid = f"s-{uid}-{hour}"
            await m.record_user_analytics(uid, sid, "session_start", {"platform": ("web", "ios")[j % 2]})
            await m.record_user_analytics(uid, sid, "feature_usage", {"feature": features[(hour + j) % 3]})
            await m.record_user_analytics(uid, sid, "session_end", {"duration_seconds": 60 + 7 * j + hour})
            clock.advance(20)
    clock.set(START + timedelta(days=DAYS, minutes=5))
    m.flush()
    await m.close()


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1], sys.argv[2], int(sys.argv[3])))
