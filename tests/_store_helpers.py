"""Shared helpers for the store tests (not a test module)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any


def store_config(**overrides: Any) -> Any:
    """An analytics config for store tests: the real DTO when available, with overrides."""
    try:
        from dataclasses import replace

        from ff_class_configs.ff_analytics_configs.ff_analytics_config import FFAnalyticsConfigDTO

        return replace(FFAnalyticsConfigDTO(), **overrides)
    except ImportError:  # pragma: no cover - only while the config module is being written
        base = dict(
            fsync_policy="batch",
            write_batch_size=1000,
            write_max_delay_seconds=1.0,
            max_buffered_records=100_000,
            buffer_full_policy="drop",
            block_timeout_seconds=0.05,
            free_space_reserve_mb=0,
        )
        base.update(overrides)
        return SimpleNamespace(**base)
