"""Request paths and URLs keep their shape only: unit table, idempotence, and end to end on disk."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO
from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_privacy.ff_path_shape import ff_path_shape
from ff_utils.ff_analytics_privacy.ff_pii_scrubber import scrub_text
from ff_utils.ff_analytics_privacy.ff_privacy_pseudonymizer import DEFAULT_KEY_ENV_VAR


@pytest.mark.parametrize("raw,shape", [
    ("/users/12345/messages/abc", "/users/[ID]/messages/abc"),
    ("/chat/550e8400-e29b-41d4-a716-446655440000/reply", "/chat/[ID]/reply"),
    ("/files/9f1c2e7ab3/download", "/files/[ID]/download"),
    ("/t/AbCdEfGh12345678Zz", "/t/[ID]"),
    ("/u/alice@example.com/x", "/u/[ID]/x"),
    ("/~alice/notes", "/[ID]/notes"),
    ("/p/john%20doe", "/p/[ID]"),
    ("/reports/2026-11-22", "/reports/[ID]"),
    ("/search?q=my+secret+disease", "/search?[QUERY]"),
    ("/reset#access_token=abc", "/reset#[FRAGMENT]"),
    ("https://bob:pw@db.example.com/x/42?q=1", "https://[ID]@db.example.com/x/[ID]?[QUERY]"),
    ("https://example.com?next=/u/7", "https://example.com?[QUERY]"),
    ("GET /orders/98765 took 3 ms", "GET /orders/[ID] took 3 ms"),
    ('see (/a/1234) or "/b/x?y=2" [/c/9]', 'see (/a/[ID]) or "/b/x?[QUERY]" [/c/[ID]]'),
    ("/u/1", "/u/[ID]"),
    # shapes, not paths: unchanged
    ("/settings/profile", "/settings/profile"),
    ("/api/v2/items", "/api/v2/items"),
    ("/usr/local/lib/python3.11/site-packages", "/usr/local/lib/python3.11/site-packages"),
    ("Europe/Berlin", "Europe/Berlin"),
    ("Chrome/120.0.6099.109", "Chrome/120.0.6099.109"),
    ("2026/11/22", "2026/11/22"),
    ("and/or 1/2 a / b", "and/or 1/2 a / b"),
    ("/", "/"),
])
def test_path_shape_table(raw: str, shape: str) -> None:
    assert ff_path_shape(raw) == shape
    assert ff_path_shape(shape) == shape


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="/?#=&@%~.:-_ ()[]\"'abcxyzABC0123456789", max_size=60))
def test_path_shape_and_scrub_are_idempotent(s: str) -> None:
    once = ff_path_shape(s)
    assert ff_path_shape(once) == once
    scrubbed = scrub_text(s)
    assert scrubbed == scrub_text(scrubbed)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 10**12).map(str), st.uuids().map(str)), min_size=1, max_size=4),
       st.text(alphabet="abcdefghij+", min_size=1, max_size=12))
def test_no_numeric_or_uuid_segment_and_no_query_survives(ids: list[str], q: str) -> None:
    path = "/" + "/".join(f"items/{i}" for i in ids) + "?q=" + q
    out = ff_path_shape(path)
    assert all(i not in out for i in ids) and ("q=" + q) not in out


async def test_paths_under_any_property_name_never_reach_a_file(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEFAULT_KEY_ENV_VAR, raising=False)
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(tmp_path)
    cfg.analytics.enable_real_time_metrics = False
    secrets = ["48213977", "7c9e6679-7425-40de-944b-e07fc1f90ae7", "cancer+treatment", "pw0rd", "531234"]
    data = {
        "page": "/patients/48213977/records",
        "referrer": "https://app.example.com/chat/7c9e6679-7425-40de-944b-e07fc1f90ae7?draft=1",
        "route_seen": "GET /search?q=cancer+treatment",
        "nested": {"links": ["https://me:pw0rd@internal.example.com/", "/orders/531234"]},
    }
    clock = FFManualClock(datetime(2026, 3, 1, 9, tzinfo=UTC))
    async with FFMetricsCollectionManager(cfg, clock=clock, writer_id="w1") as m:
        assert await m.record_user_analytics("u1", "s1", "page_view", dict(data))
        assert await m.record_user_events([("u2", "s2", "search_done", dict(data))]) == 1
        await m.aflush()
        recs = [r for s in ("behavior_patterns",) for r in m.store.read(s)]
    assert len(recs) == 2
    for r in recs:
        assert r["properties"]["page"] == "/patients/[ID]/records"
        assert r["properties"]["referrer"] == "https://app.example.com/chat/[ID]?[QUERY]"
        assert r["properties"]["nested"]["links"] == ["https://[ID]@internal.example.com/", "/orders/[ID]"]
    for root, _dirs, files in os.walk(tmp_path):
        for name in files:
            blob = (Path(root) / name).read_bytes()
            for s in secrets:
                assert s.encode() not in blob, (name, s)
