"""``ff-metrics bench bi`` runs end to end at a small size and checks rebuilt == incremental."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ff_utils.ff_analytics_bench import ff_bi_bench


def test_bench_bi_small(tmp_path: Path) -> None:
    p = argparse.ArgumentParser()
    ff_bi_bench.add_arguments(p)
    args = p.parse_args(["--events", "4000", "--days", "3", "--users", "150", "--repeat", "1", "--dir", str(tmp_path)])
    out = ff_bi_bench.run(args)
    assert out["rebuild_matches_incremental"] is True
    assert out["rebuild_hours"] == 72
    for key in ("bi_day_ms", "bi_week_ms", "bi_month_ms", "rebuild_s", "rebuild_peak_rss_mb_parent"):
        assert out[key] > 0
    assert 0 < out["bi_day_active_users"] <= out["bi_month_active_users"] <= 150


def test_bench_bi_rejects_bad_sizes() -> None:
    p = argparse.ArgumentParser()
    ff_bi_bench.add_arguments(p)
    with pytest.raises(ValueError, match="--events"):
        ff_bi_bench.run(p.parse_args(["--events", "0"]))
