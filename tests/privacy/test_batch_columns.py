"""``record_user_events`` takes a column path for a list of plain 4-tuples: it stores what the item
path stores, and hands every batch it cannot judge (a filtered item, a bad item) to the item path."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO
from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_privacy.ff_user_event_pipeline import USER_STREAMS

KEY = "ab" * 32


def _manager(base: Path, **analytics: Any) -> Any:
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(base)
    cfg.analytics.enable_real_time_metrics = False
    for k, v in analytics.items():
        setattr(cfg.analytics, k, v)
    return FFMetricsCollectionManager(cfg, clock=FFManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC)), writer_id="w")


def _stored(m: Any) -> dict[str, list[dict[str, Any]]]:
    return {s: list(m.store.read(s)) for s in USER_STREAMS}


async def _both(tmp: Path, batches: list[list[Any]], **analytics: Any) -> tuple[Any, Any]:
    """The same batches through the column path (lists) and the item path (generators)."""
    out = []
    for name, wrap in (("columns", list), ("items", iter)):
        async with _manager(tmp / name, **analytics) as m:
            for b in batches:
                await m.record_user_events(wrap(b))
            await m.aflush()
            stats = {k: v for k, v in m.privacy_stats.items() if k != "index_users"}
            out.append((_stored(m), stats, m.privacy_stats["index_users"]))
    return out[0], out[1]


_IDS = st.sampled_from(["alice", "bob", "carol-1234", "u", "x" * 40])
_SESSIONS = st.sampled_from(["", "s1", "s2", "session-alice", "bob"])
_TYPES = st.sampled_from(["page_view", "session_start", "session_end", "feature_usage", "conversion",
                          "satisfaction", "content_interaction", "custom_thing"])
_VALUES = st.one_of(st.sampled_from(["alice", "hi bob", "/settings", "mail me at a@b.co", "web", "x"]),
                    st.integers(0, 20), st.floats(0, 5, allow_nan=False))
_DATA = st.dictionaries(
    st.sampled_from(["platform", "duration", "features", "feature", "rating", "conversion", "page", "note",
                     "user_id", "thread_id", "message", "frequency", "alice_key", "language"]),
    _VALUES, max_size=4)


def _fix(ev: tuple[str, str, str, dict[str, Any]]) -> tuple[str, str, str, dict[str, Any]]:
    """Values of the right type for the mapped keys (the bad-field case has its own test)."""
    u, s, t, d = ev
    d = dict(d)
    for k in ("duration", "rating", "frequency"):
        if k in d and (not isinstance(d[k], int) or d[k] > 10):
            d[k] = 3
    for k in ("feature", "conversion", "platform", "language"):
        if k in d and not isinstance(d[k], str):
            d[k] = "web"
    if "features" in d:
        d["features"] = [str(d["features"])]
    return u, s, t, d


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.tuples(_IDS, _SESSIONS, _TYPES, _DATA).map(_fix), min_size=1, max_size=12),
                min_size=1, max_size=4))
async def test_the_column_path_stores_what_the_item_path_stores(
    tmp_path_factory: Any, monkeypatch: pytest.MonkeyPatch, batches: Any
) -> None:
    monkeypatch.setenv("FF_ANALYTICS_PSEUDONYM_KEY", KEY)  # both managers pseudonymize alike
    cols, items = await _both(tmp_path_factory.mktemp("b"), batches)
    assert cols == items
    assert sum(map(len, cols[0].values())) == sum(map(len, batches))


async def test_filtered_or_bad_items_go_to_the_item_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FF_ANALYTICS_PSEUDONYM_KEY", KEY)
    batches = [
        [("a", "s", "page_view", {}), ("b", "s", "page_view", {"do_not_track": "1"})],  # a drop
        [("a", "s", "page_view", {"do_not_track": False}), ("c", "", "custom_event", {"k": 1})],
        [("d", "s", "page_view", {}), {"user_id": "e", "session_id": "s", "event_type": "page_view",
                                       "event_data": None}],  # a dict item
    ]
    cols, items = await _both(tmp_path, batches)
    assert cols == items
    assert cols[1]["dropped_do_not_track"] == 1 and cols[1]["accepted"] == 5
    async with _manager(tmp_path / "bad") as m:
        bad = [("a", "s", "page_view", {}), ("a", "s", "satisfaction", {"rating": 11})]
        with pytest.raises(ValueError, match=r"events\[1\]: event_data\['rating'\]"):
            await m.record_user_events(bad)
        with pytest.raises(TypeError, match=r"events\[0\]: session_id"):
            await m.record_user_events([("a", None, "page_view", {})])
        with pytest.raises(ValueError, match=r"events\[1\]: event_type"):
            await m.record_user_events([("a", "s", "page_view", {}), ("a", "s", "Bad Type", {})])
        assert m.privacy_stats["accepted"] == 0 and m.privacy_stats["index_users"] == 0
        assert m.privacy.pipeline.scrubber.scrubbed_values == 0  # a rejected batch counts nothing
        await m.aflush()
        assert not any(_stored(m).values())


async def test_opted_out_users_in_a_batch_are_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FF_ANALYTICS_PSEUDONYM_KEY", KEY)
    async with _manager(tmp_path) as m:
        assert await m.set_user_opt_out("b", True)
        n = await m.record_user_events([("a", "s", "page_view", {}), ("b", "s", "page_view", {})])
        assert n == 1 and m.privacy_stats["dropped_opt_out"] == 1
        await m.aflush()
        stored = [r for recs in _stored(m).values() for r in recs]
        assert len(stored) == 1 and stored[0]["user_hash"] == m.privacy.pipeline.pseudonymizer.user_hash("a")
