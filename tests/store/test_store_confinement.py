"""Issue 18 point 7: the low-level store methods stay inside the store's tree."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore
from tests._store_helpers import store_config


def _store(tmp_path: Path) -> FFStreamStore:
    s = FFStreamStore(tmp_path / "base", store_config())
    s.ensure_tree()
    return s


@pytest.mark.parametrize("day", ["../../../../x", "2026-13-01", "2026-1-01", "", "2026-01-01/../..", 20260101, None])
def test_partition_dir_refuses_a_day_that_is_not_a_date(tmp_path: Path, day: object) -> None:
    s = _store(tmp_path)
    with pytest.raises((ValueError, TypeError), match="day"):
        s.partition_dir("feature_usage", day)  # type: ignore[arg-type]
    s.close()


def test_partition_dir_accepts_dates_and_iso_days(tmp_path: Path) -> None:
    s = _store(tmp_path)
    want = s.analytics_path / "user_analytics" / "feature_usage" / "date=2026-03-01"
    assert s.partition_dir("feature_usage", date(2026, 3, 1)) == want
    assert s.partition_dir("feature_usage", "2026-03-01") == want
    s.close()


def test_rewrite_file_refuses_a_file_outside_the_store(tmp_path: Path) -> None:
    s = _store(tmp_path)
    outside = tmp_path / "victim.jsonl"
    outside.write_bytes(b'{"u":1}\n{"u":2}\n')
    with pytest.raises(ValueError, match="path"):
        s.rewrite_file(outside, lambda r: False)
    with pytest.raises(ValueError, match="path"):  # a relative escape through the tree
        s.rewrite_file(s.analytics_path / ".." / ".." / "victim.jsonl", lambda r: False)
    assert outside.read_bytes() == b'{"u":1}\n{"u":2}\n'
    s.close()


def test_rewrite_file_refuses_a_symlink_out_of_the_store(tmp_path: Path) -> None:
    s = _store(tmp_path)
    outside = tmp_path / "victim.jsonl"
    outside.write_bytes(b'{"u":1}\n')
    part = s.partition_dir("feature_usage", "2026-03-01")
    part.mkdir(parents=True)
    link = part / "part-x.jsonl"
    os.symlink(outside, link)
    with pytest.raises(ValueError, match="path"):
        s.rewrite_file(link, lambda r: False)
    assert outside.read_bytes() == b'{"u":1}\n'
    os.symlink(tmp_path, part / "esc")  # a symlinked directory inside the tree
    with pytest.raises(ValueError, match="path"):
        s.rewrite_file(part / "esc" / "victim.jsonl", lambda r: False)
    assert outside.read_bytes() == b'{"u":1}\n'
    s.close()
