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
