"""Stored rollup records a foreign or damaged writer changed: one field of a valid record replaced by
a value of another type or range. The index and BI never raise on them; a record that does not parse
is skipped, so the answers equal those of the store without it.

Before 2026-12-07 such a record crashed the index refresh or BI (84 kinds of crash over 1,500 trials:
counts added to lists, positions outside the users, sketch buckets that are not an object...).
``FF_TEST_ROLLUP_MUTATIONS`` sets the number of random trials (default 150).
"""

from __future__ import annotations

import copy
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ff_utils.ff_analytics_bench.ff_bi_workload import generate_user_events
from ff_utils.ff_analytics_bi.ff_bi_engine import FFBIEngine
from ff_utils.ff_analytics_bi.ff_rollup_accumulator import FFRollupAccumulator, FFRollupAggregate
from ff_utils.ff_analytics_bi.ff_rollup_index import FFHourUsers, FFRollupIndex
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore

TRIALS = int(os.environ.get("FF_TEST_ROLLUP_MUTATIONS", "150"))
START = datetime(2026, 11, 1, tzinfo=UTC)
ODD = [None, True, 7, -1, 1.5, "x", "", [], [1], [-1], [10**6], ["a"], {}, {"a": 1}, {"a": "b"}, {"1": -3},
       {"99999999": 1}, 2**70]


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    acc = FFRollupAccumulator("w", emit=out.extend)
    for e in generate_user_events(400, start=START, days=1, users=25, seed=2):
        acc.observe_user_dict(e)
    acc.observe_system(SimpleNamespace(timestamp=START + timedelta(hours=3, minutes=5), cpu_usage_percent=10.0,
                                       memory_usage_percent=20.0, disk_usage_percent=30.0, concurrent_users=2,
                                       avg_response_time_ms=12.0, error_rate_percent=1.0, throughput_rps=3.0,
                                       request_count=10))
    acc.flush()
    return out


def _paths(d: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for k, v in d.items():
        out.append((*prefix, k))
        if isinstance(v, dict):
            out.extend(_paths(v, (*prefix, k)))
    return out


def _answers(root: Path, recs: list[dict[str, Any]]) -> Any:
    store = FFStreamStore(root, SimpleNamespace(fsync_policy="never"), writer_id="w")
    try:
        store.append_many("rollups", recs)
        store.flush()
        index = FFRollupIndex(store, snapshot=False)
        index.refresh()
        engine = FFBIEngine(index, min_cell_size=1)
        out = {p: (r.fields, r.details) for p in ("day", "week")
               for r in [engine.generate(p, START + timedelta(hours=23))]}
        out["hours"] = {hk: index.hour_full(hk).canonical() for hk in sorted(index.hour_aggs)}
        return out
    finally:
        store.close()


def _parses(rec: dict[str, Any]) -> bool:
    try:
        FFRollupAggregate.from_record(rec, sets=False)
        FFRollupAggregate.from_record(rec)
        FFHourUsers.from_record(rec)
    except (ValueError, TypeError, KeyError, IndexError, OverflowError):
        return False
    return True


def test_one_mutated_field_never_breaks_the_index_or_bi(records: list[dict[str, Any]], tmp_path: Path) -> None:
    rng = random.Random(7)
    targets = [i for i, r in enumerate(records) if r["events"] or "system" in r]
    skipped = 0
    for t in range(TRIALS):
        i = rng.choice(targets)
        rec = copy.deepcopy(records[i])
        path = rng.choice(_paths(rec))
        node = rec
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = copy.deepcopy(rng.choice(ODD))
        recs = [*records[:i], rec, *records[i + 1:]]
        got = _answers(tmp_path / f"t{t}", recs)  # never raises
        if not _parses(rec):
            skipped += 1
            assert got == _answers(tmp_path / f"w{t}", [*records[:i], *records[i + 1:]]), path
    assert skipped > TRIALS // 3  # most mutations make the record unusable: they were exercised
