"""``ff-metrics bench rebuild`` and ``bench analytics --peers`` run end to end at a small size."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_utils.ff_analytics_bench import ff_analytics_bench, ff_rebuild_bench


def test_bench_rebuild_small_against_duckdb(tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    p = argparse.ArgumentParser()
    ff_rebuild_bench.add_arguments(p)
    out = ff_rebuild_bench.run(p.parse_args(["--events", "3000", "--days", "2", "--users", "100", "--repeat", "1",
                                             "--dir", str(tmp_path)]))
    assert out["rebuild_hours"] == 48 and out["compact_records"] is True
    assert out["rebuild_s"] > 0 and out["duckdb_scan_s"] > 0 and out["rebuild_vs_duckdb"] > 0
    assert 0 < out["rebuild_peak_rss_mb_parent"] and 0 < out["duckdb_peak_rss_mb"]


def test_bench_analytics_peers_small(tmp_path: Path) -> None:
    pytest.importorskip("structlog")
    p = argparse.ArgumentParser()
    ff_analytics_bench.add_arguments(p)
    args = p.parse_args(["--events", "2000", "--users", "200", "--batch", "500", "--peers", "--repeat", "2",
                         "--dir", str(tmp_path)])
    args.manager_factory = FFMetricsCollectionManager
    out = ff_analytics_bench.run(args)
    assert out["read_back_ok"] is True
    assert len(out["single_events_per_s_runs"]) == 2 and len(out["peer_structlog_events_per_s_runs"]) == 2
    assert out["single_vs_structlog"] > 0 and out["batch_vs_limit"] > 0
    assert out["stored_bytes_per_event"] < out["peer_structlog_bytes_per_event"] * 3


def test_bench_rejects_bad_repeat() -> None:
    p = argparse.ArgumentParser()
    ff_rebuild_bench.add_arguments(p)
    with pytest.raises(ValueError, match="--repeat"):
        ff_rebuild_bench.run(p.parse_args(["--repeat", "0"]))
