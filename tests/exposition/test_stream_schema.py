"""Stream schemas: every record the demo writes validates; the DuckDB and Polars recipes of
docs/operators.md (explicit columns, uint64 user keys, ``date`` from the path) agree with the library."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ff_class_configs.ff_analytics_configs.ff_analytics_config import STREAM_NAMES, FFAnalyticsConfigDTO
from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_exposition.ff_stream_schema import (
    UINT64_MAX,
    ff_duckdb_columns,
    ff_polars_schema,
    ff_stream_schema,
)
from ff_utils.ff_analytics_store.ff_partition_compressor import FFPartitionCompressor
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore

ROOT = Path(__file__).resolve().parents[2]
jsonschema = pytest.importorskip("jsonschema")


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("schema") / "store"
    proc = subprocess.run([sys.executable, "-m", "ff_metrics_collection_manager", "demo", "--base-path", str(base),
                           "--users", "40", "--days", "3", "--workers", "2", "--start", "2026-11-01"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # one cold day compacted to .jsonl.gz so the recipes read both forms
    clock = FFManualClock(datetime(2026, 11, 12, tzinfo=UTC))
    store = FFStreamStore(base, FFAnalyticsConfigDTO(), clock=clock, writer_id="compactor")
    rep = FFPartitionCompressor(store, compression_age_days=10, clock=clock).run()
    store.close()
    assert rep.partitions_compacted > 0 and not rep.errors
    return base


def test_every_demo_record_validates_against_its_stream_schema(demo_store: Path) -> None:
    store = FFStreamStore(demo_store, FFAnalyticsConfigDTO(), writer_id="reader")
    checked = {}
    for stream in STREAM_NAMES:
        schema = ff_stream_schema(stream)
        jsonschema.Draft202012Validator.check_schema(schema)
        v = jsonschema.Draft202012Validator(schema)
        n = 0
        for rec in store.read(stream, strict=True):
            errors = [f"{list(e.absolute_path)}: {e.message}" for e in v.iter_errors(rec)]
            assert not errors, (stream, errors[:5])
            n += 1
        checked[stream] = n
    store.close()
    assert sum(checked.values()) > 1000
    assert all(checked[s] > 0 for s in ("feature_usage", "performance", "rollups", "alerts", "audit_logs"))


def test_schema_rejects_wrong_types_and_requires_nothing_with_a_default() -> None:
    v = jsonschema.Draft202012Validator(ff_stream_schema("feature_usage"))
    assert not list(v.iter_errors({}))  # compact records may omit every default-valued field
    assert list(v.iter_errors({"features_used": "chat"}))
    assert list(v.iter_errors({"session_duration_seconds": "long"}))
    r = jsonschema.Draft202012Validator(ff_stream_schema("rollups"))
    assert not list(r.iter_errors({"users": [0, UINT64_MAX]}))
    assert list(r.iter_errors({"users": [UINT64_MAX + 1]})) and list(r.iter_errors({"users": [-1]}))
    with pytest.raises(ValueError, match="stream"):
        ff_stream_schema("nope")
    with pytest.raises(ValueError, match="fields"):
        ff_duckdb_columns("rollups", ["hour", "nope"])


def test_cli_schema_command_prints_the_schema() -> None:
    out = subprocess.run([sys.executable, "-m", "ff_metrics_collection_manager", "schema", "rollups",
                          "--duckdb-columns", "--fields", "hour,users"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"hour": "VARCHAR", "users": "UBIGINT[]"}
    out = subprocess.run([sys.executable, "-m", "ff_metrics_collection_manager", "schema", "alerts"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert json.loads(out.stdout) == ff_stream_schema("alerts")


def _lib_daily(base: Path) -> dict[str, tuple[int, int]]:
    store = FFStreamStore(base, FFAnalyticsConfigDTO(), writer_id="reader")
    days: dict[str, tuple[int, set[str]]] = {}
    for stream in ("behavior_patterns", "feature_usage", "session_analytics", "engagement_metrics"):
        for part in store.iter_partitions(stream):
            for rec in store.read(stream, part.day, part.day):
                n, users = days.setdefault(part.day.isoformat(), (0, set()))
                users.add(rec["user_hash"])
                days[part.day.isoformat()] = (n + 1, users)
    store.close()
    return {d: (n, len(u)) for d, (n, u) in days.items()}


def test_duckdb_recipe_with_explicit_columns(demo_store: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    a = demo_store / "analytics"
    cols = ff_duckdb_columns("feature_usage", ["user_hash", "event_type", "features_used"])
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    rows = con.execute(
        f"SELECT CAST(date AS VARCHAR), count(*), count(DISTINCT user_hash) FROM read_json(?, "
        f"format='newline_delimited', hive_partitioning=true, columns={cols!r}) GROUP BY 1 ORDER BY 1",
        [str(a / "user_analytics" / "*" / "date=*" / "*.jsonl*")]).fetchall()
    assert {d: (n, u) for d, n, u in rows} == _lib_daily(demo_store)
    rcols = ff_duckdb_columns("rollups", ["record_type", "hour", "events", "users"])
    typ = con.execute(f"SELECT typeof(users) FROM read_json(?, format='newline_delimited', columns={rcols!r}) "
                      "LIMIT 1", [str(a / "business_intelligence" / "rollups" / "date=*" / "*.jsonl*")]).fetchall()
    assert typ == [("UBIGINT[]",)]


def test_polars_recipe_with_schema_and_date_from_path(demo_store: Path) -> None:
    pl = pytest.importorskip("polars")
    a = demo_store / "analytics"

    def dtype(name: str) -> object:
        if name.startswith("List("):
            return pl.List(getattr(pl, name[5:-1]))
        return getattr(pl, name)

    schema = {k: dtype(v) for k, v in ff_polars_schema("feature_usage", ["user_hash", "event_type"]).items()}
    frames = []
    for stream in ("behavior_patterns", "feature_usage", "session_analytics", "engagement_metrics"):
        frames.append(pl.scan_ndjson(str(a / "user_analytics" / stream / "date=*" / "*.jsonl*"), schema=schema,
                                     include_file_paths="path"))
    df = (pl.concat(frames)
          .with_columns(pl.col("path").str.extract(r"date=(\d{4}-\d{2}-\d{2})", 1).alias("date"))
          .group_by("date").agg(pl.len().alias("events"), pl.col("user_hash").n_unique().alias("users"))
          .collect())
    got = {r["date"]: (r["events"], r["users"]) for r in df.iter_rows(named=True)}
    assert got == _lib_daily(demo_store)
    rs = {k: dtype(v) for k, v in ff_polars_schema("rollups", ["hour", "users"]).items()}
    roll = pl.scan_ndjson(str(a / "business_intelligence" / "rollups" / "date=*" / "*.jsonl*"), schema=rs).collect()
    assert roll.schema["users"] == pl.List(pl.UInt64) and roll.height > 0
