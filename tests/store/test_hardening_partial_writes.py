"""A write that lands only partly and cannot be cut back (two faults in a row) loses nothing and
doubles nothing, in the stream store and in the audit chain; fsync failures after a complete write
never make the next flush append the same records again."""

from __future__ import annotations

import errno
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ff_utils.ff_analytics_compliance import ff_audit_chain
from ff_utils.ff_analytics_compliance.ff_audit_chain import FFAuditChainWriter
from ff_utils.ff_analytics_compliance.ff_audit_verifier import FFAuditVerifier
from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_store import ff_stream_store
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore
from tests._store_helpers import store_config

KEY = b"k" * 32


class _PartialDisk:
    """``os.write`` lands ``fraction`` of its bytes then fails with ENOSPC; ``os.ftruncate`` fails:
    what a volume filling up under a writer looks like, with the cut-back also refused."""

    def __init__(self, module: Any, monkeypatch: pytest.MonkeyPatch, fraction: float = 0.6) -> None:
        self.real_write = os.write
        self.fraction = fraction
        self.armed = True
        mp = monkeypatch

        def write(fd: int, data: Any) -> int:
            if self.armed:
                self.armed = False
                n = max(1, int(len(data) * self.fraction))
                self.real_write(fd, bytes(data[:n]))
                raise OSError(errno.ENOSPC, "No space left on device (partial write)")
            return self.real_write(fd, data)

        def ftruncate(fd: int, length: int) -> None:
            if self.truncate_fails:
                raise OSError(errno.EIO, "truncate refused")
            os.truncate(f"/proc/self/fd/{fd}", length)

        self.truncate_fails = True
        proxy = type("os_proxy", (), {})()
        for name in dir(os):
            if not name.startswith("__"):
                try:
                    setattr(proxy, name, getattr(os, name))
                except (AttributeError, TypeError):
                    pass
        proxy.write = write  # type: ignore[attr-defined]
        proxy.ftruncate = ftruncate  # type: ignore[attr-defined]
        mp.setattr(module, "os", proxy)


def test_store_partial_batch_without_cut_back_is_not_doubled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = FFStreamStore(tmp_path, store_config(write_batch_size=100_000), writer_id="w")
    for i in range(50):
        s.append("performance", {"i": i, "pad": "x" * 40})
    disk = _PartialDisk(ff_stream_store, monkeypatch)
    assert s.flush() is False  # 60% of the batch landed, the cut-back failed
    part = next(tmp_path.rglob("part-w.jsonl"))
    landed = part.read_bytes()
    assert landed and landed.count(b"\n") >= 1  # complete records of the batch are in the file
    disk.truncate_fails = False  # the volume recovers
    for i in range(50, 60):
        s.append("performance", {"i": i, "pad": "x" * 40})
    assert s.flush() is True
    s.close()
    got = [r["i"] for r in FFStreamStore(tmp_path, store_config()).read("performance")]
    assert got == list(range(60))  # nothing lost, nothing doubled, in order


def test_audit_partial_batch_without_cut_back_is_not_doubled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FFManualClock(datetime(2026, 6, 1, 12, tzinfo=UTC))
    w = FFAuditChainWriter(tmp_path / "analytics", KEY, clock=clock)
    w.append_many([{"action": "before", "n": -1}])
    entries = [{"action": "host_action", "n": i, "pad": "y" * 30} for i in range(20)]
    disk = _PartialDisk(ff_audit_chain, monkeypatch)
    with pytest.raises(OSError):
        w.append_many(entries)  # what the compliance service catches, keeps queued and retries
    disk.truncate_fails = False
    w.append_many(entries + [{"action": "after", "n": 99}])  # the retry, with a newer entry
    w.close()
    files = sorted((tmp_path / "analytics" / "compliance" / "audit_logs").rglob("audit.jsonl"))
    import orjson

    recs = [orjson.loads(line) for f in files for line in f.read_bytes().splitlines()]
    assert [r["n"] for r in recs] == [-1, *range(20), 99]
    assert [r["seq"] for r in recs] == list(range(1, 23))
    res = FFAuditVerifier(tmp_path / "analytics", KEY, clock=clock).verify()
    assert res.ok and res.kind == "ok", res


def test_audit_fsync_failure_after_complete_write_keeps_records_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FFManualClock(datetime(2026, 6, 1, 12, tzinfo=UTC))
    w = FFAuditChainWriter(tmp_path / "analytics", KEY, clock=clock)
    real_fsync = os.fsync
    calls = {"n": 0}

    def fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(errno.EIO, "fsync failed")
        real_fsync(fd)

    disk = _PartialDisk(ff_audit_chain, monkeypatch)
    disk.armed = False  # writes succeed; only the first fsync fails, and the cut-back is refused
    ff_audit_chain.os.fsync = fsync  # type: ignore[attr-defined]
    seqs = w.append_many([{"action": "a", "n": i} for i in range(5)])  # written, not durable: no raise
    assert seqs == [1, 2, 3, 4, 5] and w.durability_failures == 1
    w.append_many([{"action": "b", "n": 5}])
    res = FFAuditVerifier(tmp_path / "analytics", KEY, clock=clock).verify()
    assert res.ok and res.records == 6
