"""Stream store: layout, round trip, readers (plain/gz), torn-tail repair, name safety, rewrite."""

from __future__ import annotations

import gzip
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_core.ff_jsonl_reader import FFStoreCorruptionError
from ff_utils.ff_analytics_core.ff_names import ff_validate_name
from ff_utils.ff_analytics_store.ff_stream_store import STREAM_CATEGORY, FFStreamStore
from tests._store_helpers import store_config


def make_store(tmp_path: Path, clock: FFManualClock | None = None, **cfg) -> FFStreamStore:
    return FFStreamStore(tmp_path, store_config(**cfg), clock=clock or FFManualClock(), writer_id="w1")


def test_seventeen_streams_in_four_categories() -> None:
    # the seed's 15 JSONL streams plus alerts and rollups
    assert len(STREAM_CATEGORY) == 17
    assert set(STREAM_CATEGORY.values()) == {"system_metrics", "user_analytics", "business_intelligence", "compliance"}


def test_layout_is_hive_partitioned_by_clock_day(tmp_path: Path) -> None:
    clock = FFManualClock(datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC))
    s = make_store(tmp_path, clock)
    s.append("performance", {"timestamp": "a", "i": 1})
    clock.advance(2)
    s.append("performance", {"timestamp": "b", "i": 2})
    assert s.flush() is True
    s.close()
    base = tmp_path / "analytics" / "system_metrics" / "performance"
    assert (base / "date=2026-03-01" / "part-w1.jsonl").read_bytes() == b'{"timestamp":"a","i":1}\n'
    assert (base / "date=2026-03-02" / "part-w1.jsonl").read_bytes() == b'{"timestamp":"b","i":2}\n'
    days = [p.day.isoformat() for p in FFStreamStore(tmp_path, store_config()).iter_partitions("performance")]
    assert days == ["2026-03-01", "2026-03-02"]


def test_read_range_and_order(tmp_path: Path) -> None:
    clock = FFManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    s = make_store(tmp_path, clock, write_batch_size=7)
    for day in range(5):
        for i in range(30):
            s.append("feature_usage", {"day": day, "i": i})
        clock.advance(days=1)
    s.flush()
    got = list(s.read("feature_usage", datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 3, 12, tzinfo=UTC)))
    assert [(r["day"], r["i"]) for r in got] == [(d, i) for d in (1, 2) for i in range(30)]
    s.close()


def test_unknown_or_unsafe_stream_rejected(tmp_path: Path) -> None:
    s = make_store(tmp_path)
    with pytest.raises(ValueError, match="unknown stream"):
        s.append("not_a_stream", {})
    with pytest.raises(ValueError, match="not a safe name"):
        s.append("../etc", {})
    with pytest.raises(TypeError, match="stream"):
        s.append(None, {})  # type: ignore[arg-type]
    s.close()


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(min_size=0, max_size=80),
        st.sampled_from(["../x", "/etc/passwd", "a/b", "a\\b", "a\x00b", "a\u2215b", "a\uff0fb", "x" * 65, ".", ".."]),
    )
)
def test_name_validation_property(name: str) -> None:
    import re

    if re.fullmatch(r"[a-z0-9_]{1,64}", name):
        assert ff_validate_name(name) == name
    else:
        with pytest.raises(ValueError):
            ff_validate_name(name)


def test_hostile_names_never_create_files_outside(tmp_path: Path) -> None:
    root = tmp_path / "root"
    s = FFStreamStore(root, store_config(), writer_id="w1")
    for name in ["../escape", "/tmp/abs", "a/../../b", "x\x00y", "a\u2215b", "A", "x" * 65, ""]:
        with pytest.raises(ValueError):
            s.append(name, {"x": 1})
    s.close()
    outside = [p for p in tmp_path.rglob("*") if not str(p).startswith(str(root))]
    assert outside == [root] or outside == []


def test_writer_id_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="writer_id"):
        FFStreamStore(tmp_path, store_config(), writer_id="../evil")


def test_gz_partition_reads_same_records(tmp_path: Path) -> None:
    s = make_store(tmp_path)
    recs = [{"i": i, "text": "héllo\u2028world\n"} for i in range(500)]
    s.append_many("session_analytics", recs)
    s.flush()
    part = s.iter_partitions("session_analytics")[0]
    plain = list(s.read("session_analytics"))
    f = part.files[0]
    gz = f.with_name(f.name + ".gz")
    gz.write_bytes(gzip.compress(f.read_bytes()))
    f.unlink()
    assert list(s.read("session_analytics")) == plain == recs
    s.close()


def test_truncated_gz_is_reported_as_corruption(tmp_path: Path) -> None:
    s = make_store(tmp_path)
    s.append_many("session_analytics", [{"i": i, "pad": "x" * 200} for i in range(2000)])
    s.flush()
    f = s.iter_partitions("session_analytics")[0].files[0]
    data = gzip.compress(f.read_bytes())
    f.unlink()
    gz = f.with_name(f.name + ".gz")
    gz.write_bytes(data[: len(data) // 2])
    got = list(s.read("session_analytics"))
    assert len(got) < 2000
    assert s.stats.corrupt_files == 1 and "truncated" in s.stats.last_error
    with pytest.raises(FFStoreCorruptionError):
        list(s.read("session_analytics", strict=True))
    s.close()


def test_unparseable_lines_skipped_and_counted(tmp_path: Path) -> None:
    s = make_store(tmp_path)
    s.append_many("error_rates", [{"i": 1}, {"i": 2}])
    s.flush()
    f = s.iter_partitions("error_rates")[0].files[0]
    with open(f, "ab") as fh:
        fh.write(b"{not json\n")
    s.append("error_rates", {"i": 3})
    s.flush()
    assert [r["i"] for r in s.read("error_rates")] == [1, 2, 3]
    assert s.stats.unparseable_lines == 1
    s.close()


def test_torn_tail_repaired_and_quarantined(tmp_path: Path) -> None:
    s = make_store(tmp_path)
    s.append_many("performance", [{"i": 1}, {"i": 2}])
    s.close()
    f = s.iter_partitions("performance")[0].files[0]
    with open(f, "ab") as fh:
        fh.write(b'{"i": 3, "torn')
    s2 = make_store(tmp_path)
    s2.append("performance", {"i": 4})
    s2.close()
    assert f.read_bytes() == b'{"i":1}\n{"i":2}\n{"i":4}\n'
    q = list((f.parent / "_quarantine").iterdir())
    assert len(q) == 1 and q[0].read_bytes() == b'{"i": 3, "torn'
    assert s2.stats.quarantined_lines == 1


def test_one_record_per_line_with_hostile_values(tmp_path: Path) -> None:
    s = make_store(tmp_path)
    vals = ["a\nb", "c\rd", "\u2028\u2029", "\x00", "😀", 2**70, float("nan"), float("inf"), -(2**63)]
    for v in vals:
        s.append("behavior_patterns", {"v": v})
    s.flush()
    f = s.iter_partitions("behavior_patterns")[0].files[0]
    lines = f.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == len(vals) + 1
    got = [r["v"] for r in s.read("behavior_patterns")]
    assert got[:5] == vals[:5]
    assert got[5] == str(2**70)  # ints beyond 64 bits are stored exactly, as decimal strings
    assert got[6] is None and got[7] is None  # NaN/Inf are stored as null (documented)
    assert got[8] == -(2**63)
    s.close()


def test_rewrite_file_keeps_other_lines_byte_identical(tmp_path: Path) -> None:
    s = make_store(tmp_path)
    s.append_many("feature_usage", [{"u": i % 3, "i": i} for i in range(30)])
    s.flush()
    f = s.iter_partitions("feature_usage")[0].files[0]
    before = [ln for ln in f.read_bytes().splitlines(keepends=True) if b'"u":1' not in ln]
    kept, removed = s.rewrite_file(f, lambda r: r["u"] != 1)
    assert (kept, removed) == (20, 10)
    assert f.read_bytes() == b"".join(before)
    # the live writer reopens the new inode and keeps appending to it
    s.append("feature_usage", {"u": 9, "i": 99})
    s.flush()
    assert f.read_bytes().endswith(b'{"u":9,"i":99}\n')
    assert sum(1 for _ in s.read("feature_usage")) == 21
    s.close()


def test_compaction_manifest_hides_superseded_sources(tmp_path: Path) -> None:
    s = make_store(tmp_path)
    s.append_many("usage_trends", [{"i": i} for i in range(10)])
    s.close()
    part = s.iter_partitions("usage_trends")[0]
    src = part.files[0]
    (part.path / "compacted.jsonl.gz").write_bytes(gzip.compress(src.read_bytes()))
    # manifest present and target present -> sources ignored: each record read once
    (part.path / "_compaction.json").write_bytes(orjson.dumps({"target": "compacted.jsonl.gz", "sources": [src.name]}))
    assert [r["i"] for r in s.read("usage_trends")] == list(range(10))
    # target absent (crash before rename) -> sources read
    os.unlink(part.path / "compacted.jsonl.gz")
    assert [r["i"] for r in s.read("usage_trends")] == list(range(10))


def test_drop_when_buffer_full_is_counted(tmp_path: Path) -> None:
    cfg = store_config(write_batch_size=1000, write_max_delay_seconds=60)
    cfg.max_buffered_records = 10  # below write_batch_size on purpose: not constructible, so set afterwards
    s = FFStreamStore(tmp_path, cfg, clock=FFManualClock(), writer_id="w1")
    results = [s.append("performance", {"i": i}) for i in range(15)]
    assert results.count(False) == 5
    assert s.stats.records_dropped == 5 and s.dropped_by_stream == {"performance": 5}
    s.close()
    assert sum(1 for _ in s.read("performance")) == 10


def test_failed_write_leaves_no_partial_line_and_retries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = make_store(tmp_path)
    s.append_many("performance", [{"i": i} for i in range(3)])
    assert s.flush()
    real_write = os.write
    calls = {"n": 0}

    def short_then_fail(fd: int, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            real_write(fd, bytes(data)[:5])  # partial write, then the disk is full
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    s.append_many("performance", [{"i": i} for i in range(3, 6)])
    monkeypatch.setattr(os, "write", short_then_fail)
    assert s.flush() is False
    f = s.iter_partitions("performance")[0].files[0]
    assert f.read_bytes().endswith(b'{"i":2}\n')  # the partial bytes were cut back
    assert s.stats.write_failures == 1 and "ENOSPC" in s.stats.last_error
    s._retry_after = 0
    assert s.flush() is True
    assert [r["i"] for r in s.read("performance")] == list(range(6))
    s.close()


def test_copy_tree_readable_elsewhere(tmp_path: Path) -> None:
    s = make_store(tmp_path / "a")
    s.append("alerts", {"x": 1})
    s.close()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert list(FFStreamStore(tmp_path / "b", store_config()).read("alerts")) == [{"x": 1}]


def test_day_rollover_seen_by_one_stream_applies_to_all(tmp_path: Path) -> None:
    clock = FFManualClock(datetime(2026, 11, 1, 23, 59, 59, tzinfo=UTC))
    s = make_store(tmp_path, clock)
    s.append("error_rates", {"d": 1})
    s.append("performance", {"d": 1})
    clock.advance(2)
    s.append("performance", {"d": 2})  # this stream rolls the cached day
    s.append("error_rates", {"d": 2})  # must not join yesterday's open batch
    s.close()
    for stream in ("error_rates", "performance"):
        days = {p.day.isoformat(): [r["d"] for r in s.read(stream, p.day, p.day)] for p in s.iter_partitions(stream)}
        assert days == {"2026-11-01": [1], "2026-11-02": [2]}, stream


def test_flush_across_midnight_syncs_each_day_without_bad_descriptors(tmp_path: Path) -> None:
    clock = FFManualClock(datetime(2026, 11, 1, 23, 59, 59, tzinfo=UTC))
    s = make_store(tmp_path, clock, fsync_policy="batch")
    for _ in range(3):
        s.append("performance", {"x": 1})
        s.append("error_rates", {"x": 1})
    clock.advance(2)
    for _ in range(3):
        s.append("performance", {"x": 2})
        s.append("error_rates", {"x": 2})
    assert s.flush() is True
    assert s.stats.write_failures == 0, s.stats.last_error
    s.close()
    assert sum(1 for _ in s.read("performance")) == 6
