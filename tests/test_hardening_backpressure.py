"""Bounded buffer: 'drop' counts every drop per stream; 'block' waits briefly for the flusher."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ff_utils import ff_stream_store
from ff_utils.ff_stream_store import FFStreamStore
from tests._store_helpers import store_config


def test_block_policy_waits_for_flusher_instead_of_dropping(tmp_path: Path) -> None:
    s = FFStreamStore(
        tmp_path,
        store_config(max_buffered_records=200, write_batch_size=50, buffer_full_policy="block", block_timeout_seconds=2.0),
        writer_id="w",
    )
    for i in range(5_000):
        assert s.append("performance", {"i": i}) is True
    s.close()
    assert s.stats.records_dropped == 0
    assert [r["i"] for r in s.read("performance")] == list(range(5_000))


def test_block_policy_gives_up_after_timeout_and_counts(tmp_path: Path, monkeypatch) -> None:
    s = FFStreamStore(
        tmp_path,
        store_config(max_buffered_records=20, write_batch_size=10, buffer_full_policy="block", block_timeout_seconds=0.05),
        writer_id="w",
    )
    real_write = os.write

    def slow_fail(fd, data):  # the disk is gone: every write fails
        raise OSError(5, "EIO")

    monkeypatch.setattr(ff_stream_store.os, "write", slow_fail)
    t0 = time.monotonic()
    results = [s.append("performance", {"i": i}) for i in range(30)]
    elapsed = time.monotonic() - t0
    assert results.count(False) == 10
    assert s.stats.records_dropped == 10 and s.dropped_by_stream["performance"] == 10
    assert elapsed < 0.05 * 10 + 1.0  # each blocked append waits at most block_timeout
    monkeypatch.setattr(ff_stream_store.os, "write", real_write)
    assert s.flush() is True
    s.close()
    assert [r["i"] for r in s.read("performance")] == list(range(20))


def test_free_space_reserve_stops_raw_events_but_not_compliance(tmp_path: Path, monkeypatch) -> None:
    s = FFStreamStore(tmp_path, store_config(free_space_reserve_mb=10**9), writer_id="w")  # reserve > disk
    s.append("performance", {"raw": 1})
    s.append("audit_logs", {"compliance": 1})
    s.append("privacy_events", {"compliance": 2})
    s.flush()
    assert s.stats.records_dropped_reserve == 1 and s.dropped_by_stream == {"performance": 1}
    assert list(s.read("performance")) == []
    assert [r["compliance"] for st in ("audit_logs", "privacy_events") for r in s.read(st)] == [1, 2]
    s.close()
