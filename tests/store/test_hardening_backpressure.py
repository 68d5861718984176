"""Bounded buffer: 'drop' counts every drop per stream; 'block' waits briefly for the flusher."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ff_utils.ff_analytics_store import ff_stream_store
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore
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


def test_per_stream_choice_block_for_compliance_drop_for_raw(tmp_path: Path, monkeypatch) -> None:
    """Global policy 'drop', compliance events listed as blocking (the default), one raw stream
    forced to drop under a global 'block': each stream follows its own documented choice."""
    cfg = store_config(max_buffered_records=10, write_batch_size=5, block_timeout_seconds=0.2,
                       buffer_full_policy="drop")
    assert cfg.buffer_full_block_streams == ["privacy_events", "security_events"]  # the default
    s = FFStreamStore(tmp_path, cfg, writer_id="w")
    assert "privacy_events" in s.blocking_streams and "performance" not in s.blocking_streams

    def eio(fd, data):
        raise OSError(5, "EIO")

    monkeypatch.setattr(ff_stream_store.os, "write", eio)
    for i in range(10):
        assert s.append("performance", {"i": i})
    t0 = time.monotonic()
    assert s.append("performance", {"i": 10}) is False  # drop: immediately
    raw_wait = time.monotonic() - t0
    t0 = time.monotonic()
    assert s.append("privacy_events", {"kind": "opt_out"}) is False  # block: waited, then counted
    block_wait = time.monotonic() - t0
    assert raw_wait < 0.1 <= 0.2 <= block_wait + 0.02
    assert s.dropped_by_stream == {"performance": 1, "privacy_events": 1}
    monkeypatch.undo()
    s.close()

    cfg2 = store_config(buffer_full_policy="block", buffer_full_drop_streams=["performance"])
    s2 = FFStreamStore(tmp_path / "b", cfg2, writer_id="w")
    assert "performance" not in s2.blocking_streams and "feature_usage" in s2.blocking_streams
    s2.close()


def test_per_stream_lists_are_validated() -> None:
    from ff_class_configs.ff_analytics_configs.ff_analytics_base_config import FFConfigError

    for overrides, needle in (
        ({"buffer_full_block_streams": ["nope"]}, "buffer_full_block_streams[0]: unknown value 'nope'"),
        ({"buffer_full_block_streams": ["alerts"], "buffer_full_drop_streams": ["alerts"]},
         "buffer_full_drop_streams: ['alerts'] also listed"),
    ):
        try:  # construction validates
            store_config(**overrides)
        except FFConfigError as exc:
            assert needle in str(exc), str(exc)
        else:
            raise AssertionError(f"{overrides} accepted")
        cfg = store_config()  # and validate() catches the same when the lists are set afterwards
        for name, value in overrides.items():
            setattr(cfg, name, value)
        assert any(needle in e for e in cfg.validate()), cfg.validate()
