"""Faulty storage: the k-th file-system call fails (ENOSPC, EIO; once and forever) — invariants hold."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore
from ff_utils.ff_analytics_testing.ff_fault_injector import FFFaultInjector
from tests._store_helpers import store_config

ROOT = Path(__file__).resolve().parents[2]
RECORDS = int(os.environ.get("FF_TEST_FAULT_RECORDS", "120"))


def _workload(base: Path, injector: FFFaultInjector | None) -> tuple[FFStreamStore, set[int], set[int]]:
    clock = FFManualClock(datetime(2026, 2, 3, 23, 59, 50, tzinfo=UTC))
    cfg = store_config(write_batch_size=10_000, write_max_delay_seconds=3600, fsync_policy="batch")
    store = FFStreamStore(base, cfg, clock=clock, writer_id="w")
    accepted: set[int] = set()
    durable: set[int] = set()
    ctx = injector if injector is not None else _Null()
    with ctx:
        for i in range(RECORDS):
            stream = "audit_logs" if i % 7 == 0 else "performance"
            if store.append(stream, {"i": i, "pad": "p" * (i % 50)}):  # must never raise
                accepted.add(i)
            if i % 20 == 19:
                if store.flush():  # must never raise
                    durable |= accepted
                clock.advance(1)  # crosses midnight: a new partition mid-workload
    return store, accepted, durable


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return None


def _count_calls(tmp_path: Path) -> int:
    inj = FFFaultInjector(fail_at=0)
    store, accepted, _ = _workload(tmp_path / "dry", inj)
    store.close()
    assert len(accepted) == RECORDS
    return inj.count


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EIO])
@pytest.mark.parametrize("mode", ["once", "forever"])
def test_kth_call_fails_invariants_hold(tmp_path: Path, err: int, mode: str) -> None:
    total = _count_calls(tmp_path)
    assert total > 20
    for k in range(1, total + 1):
        base = tmp_path / f"run{k}"
        inj = FFFaultInjector(fail_at=k, err=err, mode=mode)
        store, accepted, durable = _workload(base, inj)
        # the fault clears: writing resumes by itself
        assert store.flush() is True, f"k={k}: did not recover after the fault cleared"
        store.close()
        reader = FFStreamStore(base, store_config())
        got = [r["i"] for s in ("performance", "audit_logs") for r in reader.read(s)]
        assert reader.stats.unparseable_lines == 0, f"k={k}: partial record on disk"
        assert len(got) == len(set(got)), f"k={k}: duplicated record"
        assert durable <= set(got), f"k={k}: acknowledged-durable record lost"
        assert set(got) == accepted, f"k={k}: accepted records not all written after recovery"
        assert inj.failures >= 1
        for f in base.rglob("part-*.jsonl"):
            assert f.read_bytes().endswith(b"\n")
        shutil.rmtree(base)


def _mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return r.returncode == 0


def test_real_enospc_on_tiny_filesystem_then_resume(tmp_path: Path) -> None:
    mnt = tmp_path / "tiny"
    if not _mount_tmpfs(mnt, "2m"):
        pytest.skip("cannot mount a tmpfs here (needs root); the RLIMIT_FSIZE variant below still runs")
    try:
        cfg = store_config(write_batch_size=50, fsync_policy="batch", max_buffered_records=1_000_000, free_space_reserve_mb=0)
        store = FFStreamStore(mnt, cfg, writer_id="w")
        accepted = []
        durable: list[int] = []
        i = 0
        while store.stats.write_failures == 0 and i < 200_000:
            if store.append("performance", {"i": i, "pad": "z" * 200}):
                accepted.append(i)
            if i % 50 == 49 and store.flush():
                durable = list(accepted)
            i += 1
        assert store.stats.write_failures >= 1 and "ENOSPC" in store.stats.last_error
        # free space (an operator deletes something), writing resumes by itself
        ballast = [p for p in mnt.rglob("*") if p.is_file()]
        filler = mnt / "filler"
        assert not filler.exists() and ballast
        big = max(ballast, key=lambda p: p.stat().st_size)
        shutil.copy(big, tmp_path / "saved.jsonl")
        os.unlink(big)  # what the operator freed is gone; everything else must be intact
        store._retry_after = 0
        assert store.flush() is True
        store.close()
        reader = FFStreamStore(mnt, store_config())
        got = [r["i"] for r in reader.read("performance")]
        assert reader.stats.unparseable_lines == 0
        assert len(got) == len(set(got))
        # the records after the fault are all there
        assert set(accepted[len(durable):]) <= set(got)
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_rlimit_fsize_variant(tmp_path: Path) -> None:
    """Same invariant with RLIMIT_FSIZE (EFBIG) in a subprocess: no partial line, resume later."""
    code = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore
from tests._store_helpers import store_config
s = FFStreamStore(sys.argv[1], store_config(write_batch_size=10), writer_id="w")
s.append("performance", {"i": -1}); assert s.flush()
hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
resource.setrlimit(resource.RLIMIT_FSIZE, (20000, hard))
ok = 0
for i in range(2000):
    s.append("performance", {"i": i, "pad": "q" * 100})
    if i % 10 == 9 and s.flush():
        ok = i
print(ok, s.stats.write_failures)
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
assert s.flush()
s.close()
"""
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    ok, failures = map(int, r.stdout.split())
    assert failures >= 1
    got = [x["i"] for x in FFStreamStore(tmp_path, store_config()).read("performance")]
    assert got == [-1, *range(2000)]  # nothing lost (buffer kept), nothing duplicated, in order


def test_real_enospc_through_the_manager_then_resume(tmp_path: Path) -> None:
    """A 3 MB tmpfs filled by ballast: the manager ingests into the last free bytes, hits ENOSPC
    (short writes included), keeps answering the host, and once the ballast is deleted one flush
    writes every accepted event exactly once; no partial line, the audit chain verifies."""
    import asyncio

    from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import (
        FFAnalyticsManagerConfigDTO,
    )
    from ff_metrics_collection_manager import FFMetricsCollectionManager

    mnt = tmp_path / "tiny"
    if not _mount_tmpfs(mnt, "3m"):
        pytest.skip("cannot mount a tmpfs here (needs root); the RLIMIT_FSIZE variant still runs")
    try:
        cfg = FFAnalyticsManagerConfigDTO()
        cfg.storage.base_path = str(mnt)
        a = cfg.analytics
        a.enable_real_time_metrics = False
        a.free_space_reserve_mb = 0
        a.write_batch_size = 200
        a.max_buffered_records = 1_000_000
        m = FFMetricsCollectionManager(cfg, writer_id="w")
        accepted: list[int] = []

        async def ingest() -> tuple[int, int]:
            assert await m.initialize_analytics_system(start_collection=False)
            assert await m.record_user_analytics("warm", "s", "page_view", {"i": -1})
            assert await m.aflush()
            accepted.append(-1)
            st = os.statvfs(mnt)
            free = st.f_bavail * st.f_frsize
            ballast = mnt / "ballast"
            with open(ballast, "wb") as fh:  # leave ~150 KB for the analytics tree
                fh.write(b"\0" * max(0, free - 150_000))
            i = failures_at = 0
            while i < 60_000:
                if await m.record_user_analytics(f"u{i % 50}", f"s{i % 7}", "page_view", {"i": i, "pad": "p" * 60}):
                    accepted.append(i)
                if i % 100 == 0:
                    m.audit("host_action", target=str(i))
                if i % 200 == 199 and not await m.aflush() and not failures_at:
                    failures_at = i
                if failures_at and i > failures_at + 2_000:  # the host kept going well past the fault
                    break
                i += 1
            assert failures_at, "the volume never filled up"
            assert "ENOSPC" in m.store.stats.last_error
            os.unlink(ballast)  # the operator frees space: writing resumes by itself
            assert await m.aflush() is True
            await m.close()
            return failures_at, i

        failures_at, last = asyncio.run(ingest())
        assert m.store.stats.write_failures >= 1 and failures_at < last
        reader = FFMetricsCollectionManager(cfg, writer_id="r")
        got = [r["properties"]["i"] for r in reader.store.read("behavior_patterns")]
        assert reader.store.stats.unparseable_lines == 0
        assert len(got) == len(set(got)), "an event was written twice"
        assert sorted(got) == sorted(accepted), "an accepted event was lost"
        assert reader.verify_audit_log_sync().ok
        for f in mnt.rglob("*.jsonl"):
            data = f.read_bytes()
            assert not data or data.endswith(b"\n"), f"partial line left in {f}"
        reader.store.close()
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
