"""DuckDB reads the store (Hive ``date=`` partitions, plain and ``.jsonl.gz``) and returns the same
totals as the CLI: ``ff-metrics bi`` (events, sessions, users) and ``ff-metrics export`` (rows)."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

duckdb = pytest.importorskip("duckdb")

ROOT = Path(__file__).resolve().parents[2]
START, END = "2026-11-01T00:00:00Z", "2026-11-04T00:00:00Z"


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ff_metrics_collection_manager", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=240)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("duck") / "store"
    proc = _cli("demo", "--base-path", str(base), "--users", "40", "--days", "3", "--workers", "2",
                "--start", "2026-11-01", "--no-progress")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    # compress the first day of every user stream the way cold partitions are stored (.jsonl.gz)
    for part in (base / "analytics/user_analytics").glob("*/date=2026-11-01/*.jsonl"):
        gz = part.with_name(part.name + ".gz")
        gz.write_bytes(gzip.compress(part.read_bytes()))
        os.unlink(part)
    assert list((base / "analytics/user_analytics").glob("*/date=2026-11-01/*.jsonl.gz"))
    return base


def _q(sql: str) -> list[tuple]:
    return duckdb.connect().execute(sql).fetchall()


def _user_glob(base: Path) -> str:
    return f"{base}/analytics/user_analytics/*/date=*/*.jsonl*"


def test_duckdb_totals_equal_ff_metrics_bi(store: Path) -> None:
    proc = _cli("bi", "--base-path", str(store), "--start", START, "--end", END, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    bi = json.loads(proc.stdout)
    ((events, users, sessions, days),) = _q(
        f"SELECT count(*), count(DISTINCT user_hash), count(*) FILTER (WHERE event_type = 'session_start'), "
        f"count(DISTINCT date) FROM read_json('{_user_glob(store)}', format='newline_delimited', "
        f"hive_partitioning=true, union_by_name=true) "
        f"WHERE timestamp >= TIMESTAMPTZ '{START}' AND timestamp < TIMESTAMPTZ '{END}'"
    )
    assert days == 3  # the gzipped first day is part of the table
    assert events == bi["details"]["events"] > 0
    assert sessions == bi["details"]["sessions"] > 0
    assert users == bi["active_users"] > 0


def test_duckdb_rows_per_day_equal_cli_exports(store: Path, tmp_path: Path) -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows = dict(con.execute(  # rows per UTC day of the event time, the question `export --from D --to D` answers
        f"SELECT CAST(CAST(timestamp AS DATE) AS VARCHAR), count(*) FROM read_json("
        f"'{store}/analytics/user_analytics/feature_usage/date=*/*.jsonl*', format='newline_delimited', "
        "hive_partitioning=true, union_by_name=true) GROUP BY 1"
    ).fetchall())
    for day, n in rows.items():
        out = tmp_path / f"{day}.jsonl"
        proc = _cli("export", "--base-path", str(store), "--stream", "feature_usage", "--from", day, "--to", day,
                    "--format", "jsonl", "--out", str(out))
        assert proc.returncode == 0, proc.stderr
        assert sum(1 for _ in out.open()) == n
    assert set(rows) == {"2026-11-01", "2026-11-02", "2026-11-03"}


def test_duckdb_reads_system_streams_and_rollups(store: Path) -> None:
    ((n, writers),) = _q(
        f"SELECT count(*), count(DISTINCT writer_id) FROM read_json('{store}/analytics/system_metrics/resource_usage/date=*/*.jsonl*', "
        "format='newline_delimited', hive_partitioning=true, union_by_name=true)"
    )
    assert n == 2 * 3 * 144 and writers == 2  # one collection per simulated 10 minutes per worker
    ((hours,),) = _q(
        f"SELECT count(DISTINCT hour) FROM read_json('{store}/analytics/business_intelligence/rollups/date=*/*.jsonl*', "
        "format='newline_delimited', hive_partitioning=true, union_by_name=true, maximum_object_size=67108864) "
        "WHERE record_type = 'hourly_rollup'"
    )
    assert 0 < hours <= 3 * 24 + 1
