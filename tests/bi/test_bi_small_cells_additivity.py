"""Small-cell suppression: primary everywhere, complementary only in additive groups."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO
from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_utils.ff_analytics_bi.ff_bi_small_cells import ff_suppressed_cells
from ff_utils.ff_analytics_core.ff_clock import FFManualClock, ff_iso
from tests._bi_events import FFTestBIEvent

START = datetime(2026, 11, 2, tzinfo=UTC)


async def _bi(tmp_path: Path) -> tuple[dict, dict]:
    """30 users on common_feature (web, segment casual), 2 on rare_feature (rare_platform, segment power)."""
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(tmp_path)
    cfg.analytics.fsync_policy = "never"
    clock = FFManualClock(START)
    m = FFMetricsCollectionManager(cfg, clock=clock, writer_id="cells-test")
    await m.initialize_analytics_system(start_collection=False)
    for u in range(32):
        rare = u >= 30
        clock.set(START + timedelta(hours=9, minutes=u))
        m.bi.observe_user_event(FFTestBIEvent(
            ff_iso(clock.now()), f"user-{u:04d}", event_type="feature_usage",
            features_used=["rare_feature"] if rare else ["common_feature"],
            platform="rare_platform" if rare else "web", user_segment="power" if rare else "casual",
        ))
    clock.set(START + timedelta(days=1, hours=1))
    dto = await m.generate_business_intelligence("day", start=START, end=START + timedelta(days=1))
    await m.aflush()
    trends = [json.loads(line) for p in (tmp_path / "analytics" / "business_intelligence" / "usage_trends").rglob("*.jsonl")
              for line in p.read_text().splitlines()]
    await m.close()
    return orjson.loads(orjson.dumps(dto)), trends[-1]


async def test_large_feature_cell_published_beside_a_hidden_small_one(tmp_path: Path) -> None:
    dto, written = await _bi(tmp_path)
    assert dto["active_users"] == 32
    # users per feature are not additive: the 30-user cell stays, the 2-user cell is hidden
    assert dto["feature_adoption_rates"] == {"common_feature": 93.75}
    assert [r["feature"] for r in dto["most_used_features"]] == ["common_feature"]
    assert dto["most_used_features"][0]["users"] == 30
    assert "rare_feature" not in json.dumps(written) and "rare_feature" not in json.dumps(dto)


async def test_additive_groups_keep_complementary_suppression(tmp_path: Path) -> None:
    _dto, written = await _bi(tmp_path)
    b = written["breakdowns"]
    # events per platform sum to the published event count: 32 - 30 would reveal the 2-user cell
    assert written["events"] == 32
    assert b["platforms"] == {"cells": {}, "suppressed": 2}
    # segments partition the active users (published): same
    assert b["segments"] == {"cells": {}, "suppressed": 2}
    # one event type covers every user: nothing to hide
    assert b["event_types"]["cells"] == {"feature_usage": {"users": 32, "events": 32}}
    assert "rare_platform" not in json.dumps(written)


def test_suppression_rule_by_additivity() -> None:
    cells = {"small": 2, "large": 50, "larger": 60}
    assert ff_suppressed_cells(cells, 5, additive=False) == {"small"}
    assert ff_suppressed_cells(cells, 5, additive=True) == {"small", "large"}
    assert ff_suppressed_cells({"a": 7, "b": 9}, 5, additive=True) == set()
    with pytest.raises(TypeError):
        ff_suppressed_cells(cells, 5)  # type: ignore[call-arg]  # the caller must say which kind of group
    with pytest.raises(TypeError, match="additive"):
        ff_suppressed_cells(cells, 5, additive="yes")  # type: ignore[arg-type]
