"""Oracle: BI from rollups vs DuckDB over the raw JSONL partitions written by several processes."""

from __future__ import annotations

import math
import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ff_class_configs.ff_analytics_configs.ff_analytics_config import FFAnalyticsConfigDTO
from ff_utils.ff_analytics_bench.ff_bi_workload import EVENT_STREAM, generate_user_events
from ff_utils.ff_analytics_bi.ff_bi_engine import FFBIEngine
from ff_utils.ff_analytics_bi.ff_rollup_accumulator import FFRollupAccumulator
from ff_utils.ff_analytics_bi.ff_rollup_index import FFRollupIndex
from ff_utils.ff_analytics_core.ff_clock import FFManualClock, ff_parse_iso
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore

duckdb = pytest.importorskip("duckdb")

START = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 4
WRITERS = 3
ACCURACY = 0.01


def _cfg() -> FFAnalyticsConfigDTO:
    cfg = FFAnalyticsConfigDTO()
    cfg.fsync_policy = "never"
    cfg.max_buffered_records = 1_000_000
    return cfg


def _writer_process(root: str, idx: int) -> None:
    """One host process: its own store (part file) and accumulator, clock following its events."""
    events = [e for i, e in enumerate(generate_user_events(12_000, start=START, days=DAYS, users=400, seed=9))
              if i % WRITERS == idx]
    clock = FFManualClock(START)
    store = FFStreamStore(root, _cfg(), clock=clock, writer_id=f"proc{idx}")
    acc = FFRollupAccumulator(store.writer_id, emit=lambda r: store.append_many("rollups", r))
    for e in events:
        clock.set(ff_parse_iso(e["timestamp"]))
        store.append(EVENT_STREAM.get(e["event_type"], "engagement_metrics"), e)
        acc.observe_user_dict(e)
    acc.flush()
    store.flush()
    store.close()


@pytest.fixture(scope="module")
def store_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("oracle")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer_process, args=(str(root), i)) for i in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    return root


def _duck(root: Path) -> Any:
    con = duckdb.connect()
    glob = str(root / "analytics" / "user_analytics" / "*" / "*" / "*.jsonl")
    con.execute(
        f"""CREATE TABLE ev AS SELECT *, CAST("timestamp" AS TIMESTAMP) AS ts
            FROM read_json('{glob}', format='newline_delimited', hive_partitioning=true, union_by_name=true)"""
    )
    return con


def test_bi_matches_duckdb_over_raw_partitions(store_root: Path) -> None:
    con = _duck(store_root)
    n_total, n_parts = con.execute("SELECT count(*), count(DISTINCT filename) FROM read_json("
                                   f"'{store_root}/analytics/user_analytics/*/*/*.jsonl', filename=true)").fetchone()
    assert n_total == 12_000 and n_parts >= WRITERS * DAYS
    # the hive partition column is read; every record sits in a date= partition
    assert con.execute("SELECT count(*) FROM ev WHERE date IS NULL").fetchone()[0] == 0

    store = FFStreamStore(store_root, _cfg(), writer_id="reader")
    engine = FFBIEngine(FFRollupIndex(store), min_cell_size=5)
    now = START + timedelta(days=DAYS)
    for d in range(DAYS):
        s = START + timedelta(days=d)
        e = s + timedelta(days=1)
        res = engine.generate("day", now, start=s, end=e)
        f, det = res.fields, res.details
        events, active, sessions = con.execute(
            "SELECT count(*), count(DISTINCT user_hash), count(*) FILTER (WHERE event_type = 'session_start') "
            "FROM ev WHERE ts >= ? AND ts < ?", [s.replace(tzinfo=None), e.replace(tzinfo=None)]).fetchone()
        new = con.execute(
            "SELECT count(*) FROM (SELECT user_hash, min(ts) AS first FROM ev GROUP BY user_hash) "
            "WHERE first >= ? AND first < ?", [s.replace(tzinfo=None), e.replace(tzinfo=None)]).fetchone()[0]
        total = con.execute("SELECT count(DISTINCT user_hash) FROM ev WHERE ts < ?", [e.replace(tzinfo=None)]).fetchone()[0]
        assert det["events"] == events
        assert det["sessions"] == sessions
        assert f["active_users"] == active  # exact sets: within the stated bound of 0
        assert f["new_users"] == new
        assert f["returning_users"] == active - new
        assert f["total_users"] == total
        # per-feature usage counts of visible features
        for row in f["most_used_features"]:
            n = con.execute("SELECT count(*) FROM (SELECT unnest(features_used) AS feat FROM ev WHERE ts >= ? AND ts < ?) "
                            "WHERE feat = ?", [s.replace(tzinfo=None), e.replace(tzinfo=None), row["feature"]]).fetchone()[0]
            assert row["usage_count"] == n
        durs = con.execute(
            "SELECT list_sort(list(CAST(session_duration_seconds AS DOUBLE))) FROM ev "
            "WHERE event_type = 'session_end' AND ts >= ? AND ts < ?", [s.replace(tzinfo=None), e.replace(tzinfo=None)]
        ).fetchone()[0]
        assert det["session_duration_seconds"]["count"] == len(durs) > 100
        for q, key in ((0.95, "p95"), (0.99, "p99")):
            exact = durs[math.floor(q * (len(durs) - 1))]
            est = det["session_duration_seconds"][key]
            assert abs(est - exact) <= ACCURACY * exact + 0.01, (q, est, exact)  # +0.01: output rounded to 2 dp
        mean = con.execute("SELECT avg(session_duration_seconds) FROM ev WHERE event_type='session_end' AND ts >= ? AND ts < ?",
                           [s.replace(tzinfo=None), e.replace(tzinfo=None)]).fetchone()[0]
        assert f["average_session_duration_minutes"] == pytest.approx(mean / 60.0, abs=1e-4)
