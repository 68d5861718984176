"""The rebuild's column-wise fold and the hot path's inlined ``observe_user_dict`` give the same hourly
records as the generic per-record rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ff_utils.ff_analytics_bench.ff_bi_workload import generate_user_events
from ff_utils.ff_analytics_bi.ff_rollup_accumulator import FFRollupAccumulator


def _fold(recs: list[Any], columnar: bool, generic: bool = False) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    acc = FFRollupAccumulator("w", emit=out.extend, auto_close=False)
    if generic:  # the per-record rules (``_add``) the fast forms must equal
        acc._fold_user_dicts_slow(recs, "2026-10-01T00", "2026-10-03T00")
    elif columnar:
        for i in range(0, len(recs), 97):  # chunks cut across hours
            acc.fold_user_dicts(recs[i:i + 97], "2026-10-01T00", "2026-10-03T00")
    else:
        for r in recs:
            ts = r.get("timestamp") if isinstance(r, dict) else None
            if isinstance(ts, str) and "2026-10-01T00" <= ts[:13] < "2026-10-03T00":
                acc.observe_user_dict(r)
    acc.flush()
    return sorted(out, key=lambda r: r["hour"])


def test_columnar_fold_equals_per_record_fold() -> None:
    recs: list[Any] = list(generate_user_events(3000, start=datetime(2026, 10, 1, tzinfo=UTC), days=3, users=120))
    for i, r in enumerate(recs):
        if i % 5 == 0:  # compact records: default-valued fields absent
            for k in ("features_used", "conversion_events", "session_duration_seconds", "satisfaction_rating",
                      "return_user", "user_segment"):
                r.pop(k, None)
        if i % 37 == 0:
            r["user_hash"] = ""  # counted as an event, no user
        if i % 41 == 0:
            r.pop("platform", None)
    recs[100]["satisfaction_rating"] = 4.0  # a float rating: that chunk takes the per-record path
    recs[200] = "not a record"
    columnar = _fold(recs, True)
    per_record = _fold([r for r in recs if isinstance(r, dict)], False)
    assert len(columnar) == 48  # two days in range
    assert columnar == per_record == _fold(recs, False, generic=True)
    assert any(r["ratings"] for r in columnar) and any(r["segment_users"] for r in columnar)


def _per_record_then(recs: list[Any], erase: str | None = None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    acc = FFRollupAccumulator("w", emit=out.extend, auto_close=False)
    acc._fold_user_dicts_slow(recs, "2026-10-01T00", "2026-10-03T00")
    if erase is not None:
        acc.erase_user(erase)
    acc.flush()
    return sorted(out, key=lambda r: r["hour"])


def test_an_hour_with_more_names_than_codes_folds_the_rest_into_sets_with_the_same_records() -> None:
    """Over 255 event types (custom events) and platforms in one hour: the runs that cannot be coded
    are folded into sets, and the emitted records still equal the per-record rules."""
    from ff_utils.ff_analytics_bi.ff_rollup_columns import MAX_CODES

    recs: list[Any] = list(generate_user_events(2000, start=datetime(2026, 10, 1, tzinfo=UTC), days=1, users=90))
    for i, r in enumerate(recs):
        sec = i * 7200 // len(recs)  # two hours
        r["timestamp"] = f"2026-10-01T{5 + sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}.000000Z"
        if i % 3 == 0:
            r["event_type"] = f"custom_{i % 400}"
            r["platform"] = f"p{i % 300}"
        if i % 11 == 0:
            r["user_segment"] = ""
        if i % 13 == 0:
            r["platform"] = ""
    columnar = _fold(recs, True)
    assert columnar == _per_record_then(recs)
    hours_over = [r for r in columnar if len(r["type_users"]) > MAX_CODES or len(r["platform_users"]) > MAX_CODES]
    assert hours_over  # the limit was crossed: both paths were taken in one hour
    assert all("" not in r["platform_users"] for r in columnar)


def test_erasing_a_user_from_a_rebuild_accumulator_equals_the_per_record_rules() -> None:
    recs: list[Any] = list(generate_user_events(1500, start=datetime(2026, 10, 1, tzinfo=UTC), days=2, users=40))
    victim = recs[7]["user_hash"]
    out: list[dict[str, Any]] = []
    acc = FFRollupAccumulator("w", emit=out.extend, auto_close=False)
    for i in range(0, len(recs), 97):
        acc.fold_user_dicts(recs[i:i + 97], "2026-10-01T00", "2026-10-03T00")
    assert acc.erase_user(victim) > 0
    acc.flush()
    got = sorted(out, key=lambda r: r["hour"])
    assert got == _per_record_then(recs, erase=victim)
    assert sum(r["events"] for r in got) == len(recs)  # the erased user's events stay counted


def test_odd_field_types_fold_like_the_per_record_rules() -> None:
    """Values a hostile or foreign writer may store (JSON true next to 1, numbers or lists as names,
    a string as a feature list, falsy non-lists): the column fold must send those runs to the
    per-record rules or fold them exactly like them."""
    odd: list[tuple[str, Any]] = [
        ("satisfaction_rating", True), ("satisfaction_rating", 1), ("satisfaction_rating", 4.0),
        ("event_type", 7), ("event_type", ["a"]), ("event_type", True), ("platform", {"x": 1}),
        ("platform", 0), ("user_segment", 1.5), ("user_hash", 12), ("user_hash", None),
        ("features_used", "abc"), ("features_used", 0), ("features_used", []), ("features_used", {}),
        ("conversion_events", "signup"), ("conversion_events", False), ("session_duration_seconds", "9"),
    ]
    for k, (key, value) in enumerate(odd):
        recs: list[Any] = list(generate_user_events(400, start=datetime(2026, 10, 1, tzinfo=UTC), days=2, users=30,
                                                    seed=k))
        for i in range(k % 5, len(recs), 23):
            recs[i][key] = value
        assert _fold(recs, True) == _per_record_then(recs), (key, value)
