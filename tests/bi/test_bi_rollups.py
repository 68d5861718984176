"""Hourly rollups: hot path, mergeability across writers, rebuild from raw, erasure."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from ff_class_configs.ff_analytics_configs.ff_analytics_config import FFAnalyticsConfigDTO
from ff_utils.ff_analytics_bench.ff_bi_workload import (
    EVENT_STREAM,
    generate_system_samples,
    generate_user_events,
)
from ff_utils.ff_analytics_bi.ff_rollup_accumulator import (
    FFRollupAccumulator,
    FFRollupAggregate,
)
from ff_utils.ff_analytics_bi.ff_rollup_erasure import erase_user_from_rollups
from ff_utils.ff_analytics_bi.ff_rollup_index import FFRollupIndex
from ff_utils.ff_analytics_bi.ff_rollup_rebuild import compute_rollups, rebuild_rollups
from ff_utils.ff_analytics_core.ff_clock import FFManualClock, ff_parse_iso
from ff_utils.ff_analytics_sketches.ff_distinct_sketch import ff_key64
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore
from tests._bi_events import FFTestBIEvent

START = datetime(2026, 11, 1, tzinfo=UTC)


def _cfg() -> FFAnalyticsConfigDTO:
    cfg = FFAnalyticsConfigDTO()
    cfg.fsync_policy = "never"
    cfg.max_buffered_records = 1_000_000
    return cfg


def _write_workload(root: Path, events: list[dict[str, Any]], writers: int, system: list[dict[str, Any]] = ()) -> None:  # type: ignore[assignment]
    """Several writers (own store + own accumulator each) share one clock following the events."""
    clock = FFManualClock(START)
    stores = [FFStreamStore(root, _cfg(), clock=clock, writer_id=f"w{i}") for i in range(writers)]
    accs = [FFRollupAccumulator(s.writer_id, emit=lambda r, s=s: s.append_many("rollups", r)) for s in stores]
    merged = sorted([(e["timestamp"], 0, i, e) for i, e in enumerate(events)] +
                    [(e["timestamp"], 1, i, e) for i, e in enumerate(system)])
    for ts, kind, i, rec in merged:
        clock.set(ff_parse_iso(ts))
        w = i % writers
        if kind == 0:
            stores[w].append(EVENT_STREAM.get(rec["event_type"], "engagement_metrics"), rec)
            accs[w].observe_user_event(FFTestBIEvent(**{k: v for k, v in rec.items() if k in FFTestBIEvent.__slots__}))
        else:
            stores[w].append("resource_usage", rec["resource"])
            stores[w].append("performance", rec["window"])
            stores[w].append("performance", {"timestamp": ts, "kind": "metric", "name": "x", "mean": 1.0})
            accs[w].observe_system(SimpleNamespace(**rec["dto"]))
        if i % 997 == 0:  # a flush mid-hour emits a partial delta for that hour
            accs[w].flush()
    for a, s in zip(accs, stores, strict=True):
        a.flush()
        s.flush()
        s.close()


def _canon(hours: dict[str, FFRollupAggregate]) -> dict[str, Any]:
    return {hk: a.canonical() for hk, a in hours.items()}


@pytest.fixture()
def workload(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    events = list(generate_user_events(6000, start=START, days=3, users=300, seed=3))
    system = list(generate_system_samples(start=START, days=3, interval_s=900))
    _write_workload(tmp_path, events, writers=3, system=system)
    return tmp_path, events


def test_incremental_equals_rebuilt_and_rebuild_replaces(workload: tuple[Path, list[dict[str, Any]]]) -> None:
    root, _events = workload
    store = FFStreamStore(root, _cfg(), writer_id="reader")
    index = FFRollupIndex(store)
    index.refresh()
    incremental = {hk: index.hour_full(hk).canonical() for hk in index.hour_aggs}
    assert len(incremental) == 72
    serial = _canon(compute_rollups(store, START, START + timedelta(days=3), workers=1))
    parallel = _canon(compute_rollups(store, START, START + timedelta(days=3), workers=2, parallel_threshold_bytes=0))
    assert serial == incremental
    assert parallel == incremental
    res = rebuild_rollups(store, START, START + timedelta(days=3), workers=2, parallel_threshold_bytes=0)
    assert res["hours"] == 72 and res["records_written"] == 72 and res["records_removed"] > 72
    assert index.refresh()
    assert {hk: index.hour_full(hk).canonical() for hk in index.hour_aggs} == incremental
    # the rollup stream now holds exactly one record per hour, no manifest left behind
    recs = list(store.read("rollups"))
    assert sorted(r["hour"] for r in recs) == sorted(incremental)
    assert not list((root / "analytics" / "business_intelligence" / "rollups").rglob("_compaction.json"))


def test_per_writer_merge_equals_rollup_of_merged_data(tmp_path: Path) -> None:
    events = list(generate_user_events(3000, start=START, days=1, users=120, seed=5))
    out_split: list[dict[str, Any]] = []
    out_one: list[dict[str, Any]] = []
    writers = [FFRollupAccumulator(f"w{i}", emit=out_split.extend) for i in range(4)]
    single = FFRollupAccumulator("one", emit=out_one.extend)
    for i, e in enumerate(events):
        writers[(i * 7) % 4].observe_user_dict(e)
        single.observe_user_dict(e)
    for w in writers:
        w.flush()
    single.flush()

    def merge(recs: list[dict[str, Any]]) -> dict[str, Any]:
        hours: dict[str, FFRollupAggregate] = {}
        for r in recs:
            a = FFRollupAggregate.from_record(orjson.loads(orjson.dumps(r)))
            hours[r["hour"]] = a if r["hour"] not in hours else hours[r["hour"]].merge(a)
        return _canon(hours)

    assert len(out_split) > len(out_one) == 24
    assert merge(out_split) == merge(out_one)
    # hour -> day: merging the 24 hours equals one aggregate built in any order
    day_a = FFRollupAggregate()
    for r in out_one:
        day_a.merge(FFRollupAggregate.from_record(r))
    day_b = FFRollupAggregate()
    for r in reversed(out_split):
        day_b.merge(FFRollupAggregate.from_record(r))
    assert day_a.canonical() == day_b.canonical()
    assert day_a.users.count() == len({e["user_hash"] for e in events})


def test_hour_closes_when_a_later_hour_arrives() -> None:
    out: list[dict[str, Any]] = []
    acc = FFRollupAccumulator("w", emit=out.extend)
    acc.observe_user_event(FFTestBIEvent("2026-11-01T10:59:59.000000Z", "u1", event_type="session_start"))
    assert out == [] and acc.open_hours == ["2026-11-01T10"]
    acc.observe_user_event(FFTestBIEvent("2026-11-01T11:00:00.000000Z", "u2", event_type="page_view"))
    assert [r["hour"] for r in out] == ["2026-11-01T10"]
    assert out[0]["sessions"] == 1 and out[0]["users"] == [ff_key64("u1")]
    acc.close_before("2026-11-01T12")
    assert [r["hour"] for r in out] == ["2026-11-01T10", "2026-11-01T11"]


def test_rebuild_fold_matches_hot_path_on_odd_records() -> None:
    recs: list[Any] = [
        {"timestamp": "2026-11-01T10:00:00Z", "user_hash": "a", "event_type": "session_end"},  # no duration -> 0
        {"timestamp": "2026-11-01T10:05:00Z", "user_hash": "", "event_type": "feature_usage", "features_used": ["x"]},
        {"timestamp": "2026-11-01T10:06:00Z", "user_hash": "b", "platform": None, "user_segment": "power",
         "satisfaction_rating": 4, "conversion_events": ["buy", "buy"]},
        {"timestamp": "2026-11-01T10:07:00+00:00", "user_hash": "c", "event_type": "page_view", "platform": "web"},
        {"timestamp": "2026-11-01 11:07:00+00:00", "user_hash": "d", "event_type": "page_view"},  # odd layout
        {"timestamp": "2026-11-01T09:59:00Z", "user_hash": "e", "event_type": "page_view"},  # late, earlier hour
        {"timestamp": "2026-11-02T00:00:00Z", "user_hash": "f"},  # outside the range
        {"timestamp": None, "user_hash": "g"},
        "not a record",
    ]
    out: list[dict[str, Any]] = []
    acc = FFRollupAccumulator("rebuild", emit=out.extend)
    for r in recs:
        if isinstance(r, dict) and r.get("timestamp") and r["timestamp"] < "2026-11-02":
            acc.observe_user_dict(r)
    acc.flush()
    fast: list[dict[str, Any]] = []
    fold = FFRollupAccumulator("rebuild", emit=fast.extend, auto_close=False)
    fold.fold_user_dicts(recs, "2026-11-01T00", "2026-11-02T00")
    fold.flush()

    def canon(rs: list[dict[str, Any]]) -> dict[str, Any]:
        hours: dict[str, FFRollupAggregate] = {}
        for r in rs:
            a = FFRollupAggregate.from_record(r)
            hours[r["hour"]] = a if r["hour"] not in hours else hours[r["hour"]].merge(a)
        return _canon(hours)

    assert canon(fast) == canon(out)
    assert len(fast) == 3  # one record per hour: no hour closed early
    c = canon(out)
    assert c["2026-11-01T11"]["events"] == 1 and c["2026-11-01T10"]["events"] == 4
    assert c["2026-11-01T10"]["durations"]["n"] == 1 and c["2026-11-01T10"]["conversions"] == {"buy": 2}


@pytest.mark.parametrize("workers", [1, 2])
def test_rebuild_skips_raw_records_with_fields_of_the_wrong_type(tmp_path: Path, workers: int,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A foreign or damaged writer's user records (a number as event type or user, a string as a
    duration or a feature list, non-str list items, a JSON true as rating) are not counted; they
    used to crash the rebuild (sorting mixed keys, hashing a number) or BI (``float("True")``)."""
    clock = FFManualClock(START + timedelta(hours=5))
    store = FFStreamStore(tmp_path, _cfg(), clock=clock, writer_id="w")
    ts = "2026-11-01T05:10:00.000000Z"
    good = [{"timestamp": ts, "user_hash": f"u{i}", "event_type": "page_view", "platform": "web"} for i in range(5)]
    good.append({"timestamp": ts, "user_hash": "u9", "event_type": "satisfaction", "satisfaction_rating": 4.0})
    odd = [
        {"event_type": 7}, {"event_type": ["page_view"]}, {"user_hash": 12}, {"user_hash": True},
        {"platform": {"os": "x"}}, {"user_segment": 3}, {"event_type": "session_end", "session_duration_seconds": "9"},
        {"features_used": "chat"}, {"features_used": [1, 2]}, {"conversion_events": [{"x": 1}]},
        {"satisfaction_rating": True}, {"satisfaction_rating": "5"},
    ]
    bad = [{"timestamp": ts, "user_hash": "x", "event_type": "feature_usage", **o} for o in odd]
    store.append_many("engagement_metrics", good[:3] + bad + good[3:])
    store.flush()
    res = rebuild_rollups(store, START, START + timedelta(days=1), workers=workers, parallel_threshold_bytes=0)
    assert res["hours"] == 1
    if workers == 1:  # in this process: the warning is captured here
        assert "12 user records in" in caplog.text and "not counted" in caplog.text
    index = FFRollupIndex(store, snapshot=False)
    index.refresh()
    agg = index.hour_full("2026-11-01T05")
    assert agg.events == len(good) and agg.by_type == {"page_view": 5, "satisfaction": 1}
    assert agg.ratings == {"4.0": 1} and agg.users.count() == 6
    from ff_utils.ff_analytics_bi.ff_bi_engine import FFBIEngine

    day = FFBIEngine(index, min_cell_size=1).generate("day", START + timedelta(hours=23))
    assert day.details["events"] == len(good) and day.fields["active_users"] == 6


def test_bi_over_hours_of_two_sketch_accuracies_answers_and_states_the_bound(tmp_path: Path) -> None:
    """``rollup_relative_accuracy`` changed between days: a week over both used to raise
    (``relative_accuracy 0.02 differs from 0.01``); now the finer hours are re-bucketed."""
    from ff_utils.ff_analytics_bi.ff_bi_engine import FFBIEngine

    events = list(generate_user_events(2000, start=START, days=2, users=60, seed=4))
    store = FFStreamStore(tmp_path, _cfg(), writer_id="w")
    for accuracy, part in ((0.01, events[:1000]), (0.02, events[1000:])):
        recs: list[dict[str, Any]] = []
        acc = FFRollupAccumulator("w", emit=recs.extend, relative_accuracy=accuracy)
        for e in part:
            acc.observe_user_dict(e)
        acc.flush()
        store.append_many("rollups", recs)
    store.flush()
    index = FFRollupIndex(store, snapshot=False)
    index.refresh()
    week = FFBIEngine(index, min_cell_size=1).generate("week", START + timedelta(days=2))
    d = week.details["session_duration_seconds"]
    ends = [float(e.get("session_duration_seconds") or 0) for e in events if e["event_type"] == "session_end"]
    assert d["count"] == len(ends) > 0 and d["relative_accuracy"] == pytest.approx(1.01 * 1.02 - 1)
    exact = sorted(ends)[int(0.5 * (len(ends) - 1))]
    assert abs(d["p50"] - exact) <= d["relative_accuracy"] * exact + 1e-3


def test_bi_recommendations_do_not_depend_on_the_order_features_arrived(tmp_path: Path) -> None:
    """Two features abandoned at the same rate: the recommendation list is ordered by rate, then
    name, whatever order the rollups hold them in (it followed dict order, which differs between a
    restored and a parsed index: a test comparing the two failed now and then)."""
    from ff_utils.ff_analytics_bi.ff_bi_engine import FFBIEngine

    def ux(features: list[str], root: Path) -> list[str]:
        store = FFStreamStore(root, _cfg(), writer_id="w")
        recs: list[dict[str, Any]] = []
        acc = FFRollupAccumulator("w", emit=recs.extend)
        for hour, feature in zip((3, 5), features, strict=True):  # the first hour's feature is seen first
            for i in range(6):
                acc.observe_user_dict({"timestamp": f"2026-11-01T{hour:02d}:00:00.000000Z", "user_hash": f"u{i}",
                                       "event_type": "feature_usage", "features_used": [feature]})
        for i in range(6, 12):
            acc.observe_user_dict({"timestamp": "2026-11-02T05:00:00.000000Z", "user_hash": f"u{i}",
                                   "event_type": "page_view"})
        acc.flush()
        store.append_many("rollups", recs)
        store.flush()
        index = FFRollupIndex(store, snapshot=False)
        index.refresh()
        return FFBIEngine(index, min_cell_size=1).generate("day", START + timedelta(days=1, hours=23)).fields[
            "user_experience_improvements"]

    first, second = ux(["zeta", "alpha"], tmp_path / "a"), ux(["alpha", "zeta"], tmp_path / "b")
    assert first == second and "'alpha'" in first[0] and "'zeta'" in first[1]


def test_erase_user_from_rollups(workload: tuple[Path, list[dict[str, Any]]]) -> None:
    root, events = workload
    victim = events[10]["user_hash"]
    store = FFStreamStore(root, _cfg(), writer_id="eraser")
    key = ff_key64(victim)
    before = [r for r in store.read("rollups") if key in r["users"]]
    assert before
    changed = erase_user_from_rollups(store, victim)
    assert changed == len(before)
    after = list(store.read("rollups"))
    assert all(key not in r["users"] for r in after)
    index = FFRollupIndex(store)
    index.refresh()
    assert key not in index.first_seen
    for r in after:  # index lists still point inside the shrunk user lists
        n = len(r["users"])
        for cat in ("type_users", "feature_users", "platform_users", "segment_users"):
            assert all(0 <= i < n for v in r[cat].values() for i in v)
    # open (not yet emitted) hours forget the user too
    acc = FFRollupAccumulator("w")
    acc.observe_user_event(FFTestBIEvent("2026-11-05T01:00:00Z", victim, features_used=["chat"]))
    assert acc.erase_user(victim) == 1
    assert acc.flush()[0]["users"] == []
    with pytest.raises(ValueError, match="user_hash"):
        erase_user_from_rollups(store, "")


def test_pack_byte_mask_matches_naive_bitmap() -> None:
    import random

    from ff_utils.ff_analytics_bi.ff_rollup_index import ff_pack_byte_mask

    rng = random.Random(4)
    for n in (1, 8, 9, 64, 65, 5000):
        size = (n // 8 + 1) * 8
        ids = set(rng.sample(range(n), max(1, n // 3)))
        buf = bytearray(size)
        for i in ids:
            buf[i] = 1
        assert ff_pack_byte_mask(buf) == sum(1 << i for i in ids)


def test_interrupted_rebuild_is_never_double_counted(workload: tuple[Path, list[dict[str, Any]]],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash after the new rollup file is exchanged in but before the old ones are removed: the
    old files sit in the hidden stage (no duplicates for any reader) and the next rebuild rolls the
    replacement forward."""
    import ff_utils.ff_analytics_bi.ff_rollup_rebuild as rb

    root, _events = workload
    store = FFStreamStore(root, _cfg(), writer_id="crash")
    index = FFRollupIndex(store)
    index.refresh()
    expected = {hk: index.hour_full(hk).canonical() for hk in index.hour_aggs}
    real_unlink = rb.os.unlink
    calls = {"n": 0}

    def failing_unlink(path: Any) -> None:
        calls["n"] += 1
        raise OSError(28, "simulated crash while removing superseded files")

    monkeypatch.setattr(rb.os, "unlink", failing_unlink)
    with pytest.raises(OSError, match="simulated"):
        rebuild_rollups(store, START, START + timedelta(days=3), workers=1)
    monkeypatch.setattr(rb.os, "unlink", real_unlink)
    assert calls["n"] == 1
    rdir = root / "analytics" / "business_intelligence" / "rollups"
    assert not list(rdir.rglob("_compaction.json"))
    assert len(list(rdir.glob(".ff-swap.*.json"))) == 1  # the first partition was interrupted mid-replacement
    fresh = FFRollupIndex(store)
    fresh.refresh()
    assert {hk: fresh.hour_full(hk).canonical() for hk in fresh.hour_aggs} == expected  # old files in the stage: no double count
    rebuild_rollups(store, START, START + timedelta(days=3), workers=1)
    assert not list(rdir.glob(".ff-swap.*"))
    assert len(list(store.read("rollups"))) == 72
    fresh.refresh()
    assert {hk: fresh.hour_full(hk).canonical() for hk in fresh.hour_aggs} == expected


def test_cold_first_seen_index_and_day_counts_equal_naive_ones(workload: tuple[Path, list[dict[str, Any]]],
                                                               tmp_path: Path) -> None:
    """The cold load (set differences, hour by hour) and the incremental path (one key at a time,
    late hours moving a key's first-seen back) give the first-seen index a naive scan gives."""
    root, events = workload
    store = FFStreamStore(root, _cfg(), writer_id="reader")
    cold = FFRollupIndex(store)
    assert cold.refresh()
    naive_first: dict[int, str] = {}
    naive_day: dict[str, set[int]] = {}
    for e in sorted(events, key=lambda e: e["timestamp"]):
        k = ff_key64(e["user_hash"])
        naive_first.setdefault(k, e["timestamp"][:13])
        naive_day.setdefault(e["timestamp"][:10], set()).add(k)
    assert cold.first_seen == naive_first
    assert {hk: n for hk, n in cold.new_by_hour.items() if n} == {
        hk: n for hk, n in Counter(naive_first.values()).items()}
    assert sorted(cold.uid.values()) == list(range(len(naive_first)))
    for day, keys in naive_day.items():
        assert cold.day_active_users(day) == len(keys) == cold.day_bits(day).users.bit_count()
    # the incremental path: the days' rollup partitions arrive newest first, a refresh after each
    # (every earlier day moves keys' first-seen hour back)
    src = root / "analytics" / "business_intelligence" / "rollups"
    late_root = tmp_path / "late"
    dst = late_root / "analytics" / "business_intelligence" / "rollups"
    dst.mkdir(parents=True)
    inc = FFRollupIndex(FFStreamStore(late_root, _cfg(), writer_id="reader"))
    for day_dir in sorted(src.glob("date=*"), reverse=True):
        shutil.copytree(day_dir, dst / day_dir.name)
        assert inc.refresh()
    assert inc.first_seen == naive_first
    assert {hk: n for hk, n in inc.new_by_hour.items() if n} == {hk: n for hk, n in cold.new_by_hour.items() if n}
    for day, keys in naive_day.items():
        assert inc.day_active_users(day) == len(keys) == inc.day_bits(day).users.bit_count()
