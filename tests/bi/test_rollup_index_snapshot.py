"""The persisted rollup index snapshot: a fresh index restored from it answers exactly like one that
parsed every rollup file, parses only files changed since, and a bad or stale snapshot is never used.

Every comparison is against an index built without a snapshot over the same files.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ff_class_configs.ff_analytics_configs.ff_analytics_config import FFAnalyticsConfigDTO
from ff_utils.ff_analytics_bench.ff_bi_workload import generate_user_events
from ff_utils.ff_analytics_bi.ff_bi_engine import FFBIEngine
from ff_utils.ff_analytics_bi.ff_rollup_accumulator import FFRollupAccumulator
from ff_utils.ff_analytics_bi.ff_rollup_erasure import erase_user_from_rollups
from ff_utils.ff_analytics_bi.ff_rollup_index import FFRollupIndex
from ff_utils.ff_analytics_bi.ff_rollup_index_snapshot import (
    FFSnapshotError,
    ff_pack_snapshot,
    ff_unpack_snapshot,
)
from ff_utils.ff_analytics_core.ff_clock import FFManualClock, ff_parse_iso
from ff_utils.ff_analytics_sketches.ff_distinct_sketch import ff_key64
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore

START = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 3


def _cfg() -> FFAnalyticsConfigDTO:
    cfg = FFAnalyticsConfigDTO()
    cfg.fsync_policy = "never"
    cfg.max_buffered_records = 1_000_000
    return cfg


def _write(root: Path, events: list[dict[str, Any]], writer: str) -> None:
    clock = FFManualClock(START)
    store = FFStreamStore(root, _cfg(), clock=clock, writer_id=writer)
    acc = FFRollupAccumulator(store.writer_id, emit=lambda r: store.append_many("rollups", r))
    for e in events:
        clock.set(ff_parse_iso(e["timestamp"]))
        acc.observe_user_dict(e)
    acc.flush()
    store.flush()
    store.close()


def _store(root: Path) -> FFStreamStore:
    return FFStreamStore(root, _cfg(), writer_id="reader")


def _index(root: Path, snapshot: bool = True) -> FFRollupIndex:
    return FFRollupIndex(_store(root), snapshot=snapshot, snapshot_min_stale_bytes=0)


def _answers(index: FFRollupIndex) -> dict[str, Any]:
    index.refresh()
    now = START + timedelta(days=DAYS, minutes=-30)
    engine = FFBIEngine(index, min_cell_size=1)
    out: dict[str, Any] = {p: engine.generate(p, now).fields for p in ("day", "week", "month")}
    out["hours"] = {hk: index.hour_full(hk).canonical() for hk in sorted(index.hour_aggs)}
    out["first_seen"] = dict(index.first_seen)
    out["new_by_hour"] = {hk: n for hk, n in index.new_by_hour.items() if n}
    out["day_active"] = {d: index.day_active_users(d) for d in sorted({hk[:10] for hk in index.hour_aggs})}
    return out


@pytest.fixture
def root(tmp_path: Path) -> Path:
    events = list(generate_user_events(3_000, start=START, days=DAYS, users=150, seed=5))
    _write(tmp_path, events[0::2], "w1")
    _write(tmp_path, events[1::2], "w2")
    return tmp_path


def test_a_fresh_index_from_the_snapshot_answers_like_a_full_parse_and_parses_nothing(root: Path) -> None:
    first = _index(root)
    expected = _answers(first)
    assert first.snapshot_saves == 1 and first.snapshot_path().is_file()
    again = _index(root)
    assert _answers(again) == expected
    assert again.snapshot_loads == 1 and again.parsed_files == 0
    assert again.uid == first.uid  # the bitmaps' dense ids too (their order is internal otherwise)
    assert _answers(_index(root, snapshot=False)) == expected


def test_files_changed_after_the_snapshot_are_parsed_and_the_answers_follow(root: Path) -> None:
    _answers(_index(root))  # saves the snapshot
    later = list(generate_user_events(600, start=START + timedelta(days=DAYS - 1), days=1, users=220, seed=8))
    _write(root, later, "w1")  # grows one writer's files, new users among them
    _write(root, later[:50], "w3")  # and a new writer's file
    restored = _index(root)
    got = _answers(restored)
    n_files = sum(len(p.files) for p in _store(root).iter_partitions("rollups"))
    assert restored.snapshot_loads == 1 and 0 < restored.parsed_files < n_files
    assert got == _answers(_index(root, snapshot=False))


def test_a_live_index_does_not_save_again_for_each_append_to_one_file(tmp_path: Path) -> None:
    root = tmp_path
    days = 12  # one day's file is a small part of the rollups, as in a month-long store
    events = list(generate_user_events(4_000, start=START, days=days, users=150, seed=5))
    _write(root, events[0::2], "w1")
    _write(root, events[1::2], "w2")
    live = _index(root)
    live.refresh()
    assert live.snapshot_saves == 1
    for n in range(4):  # a busy day: one writer's newest file grows between refreshes
        _write(root, list(generate_user_events(30, start=START + timedelta(days=days - 1), days=1, users=150,
                                               seed=20 + n)), "w1")
        assert live.refresh()
    assert live.snapshot_saves == 1  # what changed is well under a quarter of the rollups
    assert _answers(_index(root)) == _answers(_index(root, snapshot=False))  # stale parts are parsed


def test_a_restored_index_decodes_only_the_hours_a_query_reads(root: Path) -> None:
    expected = _answers(_index(root))
    restored = _index(root)
    restored.refresh()
    all_hours = len(restored.hour_aggs)
    assert restored.snapshot_loads == 1 and restored.snapshot_pending_hours == all_hours > 48
    last_day = (START + timedelta(days=DAYS - 1)).strftime("%Y-%m-%d")
    assert restored.day(last_day) is not None
    assert restored.snapshot_pending_hours == all_hours - 24  # that day's hours, no others
    assert restored.day_active_users(last_day) == expected["day_active"][last_day]  # no hour decoded
    assert restored.snapshot_pending_hours == all_hours - 24
    assert _open_fds_of(restored.snapshot_path()) == 1  # read by range while hours are pending
    assert _answers(restored) == expected and restored.parsed_files == 0
    assert restored.snapshot_pending_hours == 0 and _open_fds_of(restored.snapshot_path()) == 0  # closed


def _open_fds_of(path: Path) -> int:
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("needs /proc/self/fd")
    n = 0
    for fd in fds.iterdir():
        try:
            n += os.readlink(fd) == str(path)
        except OSError:
            continue
    return n


def test_a_live_restored_index_forgets_an_erased_user_on_its_next_refresh(root: Path) -> None:
    _answers(_index(root))  # saves the snapshot
    live = _index(root)
    live.refresh()
    first_day = START.strftime("%Y-%m-%d")
    assert live.day(first_day) is not None and live.snapshot_pending_hours > 0  # partly decoded
    user = next(iter(generate_user_events(10, start=START, days=1, users=150, seed=5)))["user_hash"]
    assert ff_key64(user) in live.first_seen
    assert erase_user_from_rollups(_store(root), user) > 0
    assert _open_fds_of(live.snapshot_path()) == 0 and not live.snapshot_path().exists()  # dropped...
    assert _open_fds_of(Path(f"{live.snapshot_path()} (deleted)")) == 1  # ...but still open here
    assert live.refresh()
    assert _open_fds_of(Path(f"{live.snapshot_path()} (deleted)")) == 0  # closed by the refresh that saw the rewrite
    assert live.snapshot_pending_hours == 0
    got = _answers(live)
    assert got == _answers(_index(root, snapshot=False))
    assert ff_key64(user) not in live.first_seen


def test_an_hour_that_does_not_decode_is_parsed_from_its_file_instead(root: Path) -> None:
    """A snapshot with a valid CRC whose hour document is not one (no writer of this code makes
    it): that rollup file is parsed, the other files still come from the snapshot."""
    expected = _answers(_index(root))
    path = _index(root).snapshot_path()
    header, keys, ints, blob = ff_unpack_snapshot(path.read_bytes())
    _key, off, n, _parts = header["files"][0][2][0]
    bad = bytes(blob[:off]) + b"[" + b" " * (n - 2) + b"]" + bytes(blob[off + n:])  # same length, not an hour
    path.write_bytes(ff_pack_snapshot(header, keys, ints, bad))
    idx = FFRollupIndex(_store(root), snapshot_min_stale_bytes=1 << 40)
    assert _answers(idx) == expected
    assert idx.snapshot_loads == 1 and idx.snapshot_rejects == 1 and idx.parsed_files == 1


@pytest.mark.parametrize("damage", ["flip header", "truncate", "empty", "foreign", "older format"])
def test_a_damaged_snapshot_is_refused_and_the_index_parses_the_files(root: Path, damage: str) -> None:
    expected = _answers(_index(root))
    path = _index(root).snapshot_path()
    data = bytearray(path.read_bytes())
    if damage == "flip header":
        data[60] ^= 0x40
    elif damage == "truncate":
        del data[len(data) // 3:]
    elif damage == "empty":
        data = bytearray()
    elif damage == "older format":
        data[:8] = b"FFRIDX2\n"
    else:
        data = bytearray(b'{"not": "a snapshot"}\n')
    path.write_bytes(bytes(data))
    idx = FFRollupIndex(_store(root), snapshot_min_stale_bytes=1 << 40)
    assert _answers(idx) == expected
    assert idx.snapshot_loads == 0 and idx.snapshot_rejects == 1
    assert idx.parsed_files > 0


def _body_offset(data: bytes, region: str, off: int) -> int:
    """The file offset of ``region`` item ``off`` (keys u64, ints u32, blob bytes)."""
    _h, keys, ints, blob = ff_unpack_snapshot(data)
    start = len(data) - keys.nbytes - ints.nbytes - len(blob)
    return start + {"keys": off * 8, "ints": keys.nbytes + off * 4, "blob": keys.nbytes + ints.nbytes + off}[region]


@pytest.mark.parametrize("where", ["first-seen keys", "day bitmaps", "hour counts", "hour users"])
def test_a_flipped_body_page_is_never_used(root: Path, where: str, caplog: pytest.LogCaptureFixture) -> None:
    """Body pages are checked when read: a flip in what a restore reads refuses the snapshot, one in
    a day's bitmaps or an hour builds them from the hours or parses that file instead."""
    expected = _answers(_index(root))
    path = _index(root).snapshot_path()
    data = bytearray(path.read_bytes())
    header = ff_unpack_snapshot(bytes(data))[0]
    if where == "first-seen keys":
        at = _body_offset(data, "keys", header["first_seen"][0])
    elif where == "day bitmaps":
        at = len(data) - 1  # the last day's last bitmap
    elif where == "hour counts":
        at = _body_offset(data, "blob", header["files"][-1][2][-1][1])
    else:
        at = _body_offset(data, "keys", header["files"][0][2][0][3][0][0])
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(FFSnapshotError):
        ff_unpack_snapshot(bytes(data))
    idx = FFRollupIndex(_store(root), snapshot_min_stale_bytes=1 << 40)
    assert _answers(idx) == expected
    files = sum(len(p.files) for p in _store(root).iter_partitions("rollups"))
    assert idx.snapshot_rejects >= 1
    if where == "first-seen keys":
        assert idx.snapshot_loads == 0 and idx.parsed_files == files
    else:  # only the files with an hour in the damaged page are parsed
        assert idx.snapshot_loads == 1 and 1 <= idx.parsed_files < files
    if where == "day bitmaps":
        assert "day bitmaps of" in caplog.text  # built from the day's hours instead


def test_a_disk_that_fails_after_the_restore_makes_the_index_parse_instead(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    expected = _answers(_index(root))
    idx = FFRollupIndex(_store(root), snapshot_min_stale_bytes=1 << 40)
    idx.refresh()
    assert idx.snapshot_loads == 1 and idx.snapshot_pending_hours > 0

    def failing(*_a: Any) -> bytes:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "pread", failing)
    assert _answers(idx) == expected  # every hour and day from the files, nothing from a failed read
    assert idx.snapshot_rejects >= 1 and idx.parsed_files > 0


def test_the_snapshot_file_reads_checked_ranges_from_what_was_opened(tmp_path: Path) -> None:
    from array import array

    from ff_utils.ff_analytics_bi.ff_rollup_index_snapshot import PAGE, FFSnapshotFile

    keys = array("Q", range(3 * PAGE // 8))  # three pages of keys
    ints = array("I", range(1000))
    path = tmp_path / "snap"
    path.write_bytes(ff_pack_snapshot({"v": 9}, keys, ints, b"tail"))
    with FFSnapshotFile(path) as f:
        assert f.header["v"] == 9 and f.lengths == {"keys": len(keys), "ints": 1000, "blob": 4}
        assert list(f.keys(PAGE // 8 - 3, 10)) == list(keys[PAGE // 8 - 3:PAGE // 8 + 7])  # across a page edge
        assert list(f.ints(990, 10)) == list(ints[990:]) and f.blob(1, 3) == b"ail" and f.blob(4, 0) == b""
        for bad in ((-1, 1), (0, len(keys) + 1), ("0", 1)):
            with pytest.raises(FFSnapshotError, match="outside"):
                f.keys(*bad)
        path.write_bytes(b"replaced")  # same inode, rewritten in place: cut short
        with pytest.raises(FFSnapshotError, match="cut short"):
            f.ints(0, 5)
    with pytest.raises(FFSnapshotError, match="closed"):
        f.blob(0, 1)
    data = bytearray(ff_pack_snapshot({"v": 9}, keys, ints, b"tail"))
    data[_body_offset(bytes(data), "keys", PAGE // 8 + 5)] ^= 0x80  # the second page
    path.write_bytes(bytes(data))
    with FFSnapshotFile(path) as f:
        assert list(f.keys(0, PAGE // 8)) == list(keys[:PAGE // 8]) and f.blob(0, 4) == b"tail"
        with pytest.raises(FFSnapshotError, match="page 1"):
            f.keys(PAGE // 8 - 1, 2)
    fresh = tmp_path / "fresh"
    fresh.write_bytes(ff_pack_snapshot({"v": 9}, keys, ints, b"tail"))
    with FFSnapshotFile(fresh) as f:
        os.replace(path, fresh)  # an atomic save by another process: this one reads what it opened
        assert list(f.keys(PAGE // 8 - 1, 2)) == list(keys[PAGE // 8 - 1:PAGE // 8 + 1])


def test_a_well_formed_snapshot_naming_a_path_outside_the_rollups_is_refused(root: Path) -> None:
    expected = _answers(_index(root))
    path = _index(root).snapshot_path()
    header, keys, ints, blob = ff_unpack_snapshot(path.read_bytes())
    header["files"][0][0] = "../../user_analytics/x.jsonl"
    path.write_bytes(ff_pack_snapshot(header, keys, ints, blob))
    idx = FFRollupIndex(_store(root), snapshot_min_stale_bytes=1 << 40)
    assert _answers(idx) == expected and idx.snapshot_rejects == 1


def test_erasure_and_rebuild_drop_the_snapshot_with_the_data_it_came_from(root: Path) -> None:
    idx = _index(root)
    _answers(idx)
    snap = idx.snapshot_path()
    user = next(iter(generate_user_events(10, start=START, days=1, users=150, seed=5)))["user_hash"]
    assert erase_user_from_rollups(_store(root), user) > 0
    assert not snap.exists()  # the erased user's key is gone from every file, the cache included
    after = _index(root)
    got = _answers(after)
    assert got == _answers(_index(root, snapshot=False))
    assert after.snapshot_loads == 0 and snap.is_file()  # re-saved from the erased files
    restored = _index(root)
    assert _answers(restored) == got and restored.snapshot_loads == 1


def test_the_container_refuses_what_it_did_not_write() -> None:
    from array import array

    blob = ff_pack_snapshot({"v": 1}, array("Q", [1, 2**64 - 1]), array("I", [7]), b"\x01\x02")
    header, keys, ints, tail = ff_unpack_snapshot(blob)
    assert header["v"] == 1 and list(keys) == [1, 2**64 - 1] and list(ints) == [7] and tail == b"\x01\x02"
    older = b"FFRIDX1\n" + blob[8:]
    for bad in (blob[:-1], blob + b"x", blob[:8] + b"\0" * 36, blob[:8] + b"\0" + blob[9:], older):
        with pytest.raises(FFSnapshotError):
            ff_unpack_snapshot(bad)


def test_retention_drops_the_snapshot_when_it_deletes_rollup_days(root: Path) -> None:
    from types import SimpleNamespace

    from ff_utils.ff_analytics_store.ff_retention_manager import FFRetentionManager

    _answers(_index(root))
    snap = _index(root).snapshot_path()
    assert snap.is_file()
    live = _index(root)  # restored, the last day read: the other days' hours still in the file
    live.refresh()
    assert live.day((START + timedelta(days=DAYS - 1)).strftime("%Y-%m-%d")) is not None
    assert live.snapshot_pending_hours > 0 and _open_fds_of(snap) == 1
    clock = FFManualClock(START + timedelta(days=DAYS + 1))  # the first days are past a 2-day retention
    privacy = SimpleNamespace(raw_data_retention_days=2, aggregated_data_retention_days=2,
                              compliance_data_retention_days=30)
    rep = FFRetentionManager(_store(root), privacy, clock=clock).run()
    assert rep.deleted > 0 and not rep.errors
    assert not snap.exists()  # nothing expired outlives its partitions in the cache
    assert live.refresh() and live.snapshot_pending_hours == 0
    assert _open_fds_of(Path(f"{snap} (deleted)")) == 0  # the deleted snapshot is not held open either
    assert _answers(live) == _answers(_index(root, snapshot=False))
    after = _index(root)
    assert _answers(after) == _answers(_index(root, snapshot=False))
    assert min(after.hour_aggs) > "2026-11-01T23"  # the expired first day is gone from the answers too
