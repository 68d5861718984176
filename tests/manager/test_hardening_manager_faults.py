"""Faulty storage through the public manager API: the k-th file-system call under the store fails.

For every k from 1 to the number of file-system calls the workload makes (``FFFaultInjector`` with
``root=``: every module, every create/write/fsync/truncate/rename/link/unlink/mkdir under the
store), with ENOSPC and EIO, once and forever:

- no exception reaches the host (record calls, audit, ticks, flushes, initialize all return);
- no partial record: every JSONL file of the store parses line by line, no temp file is left;
- nothing acknowledged is lost and nothing is duplicated: after the fault clears, one ``flush()``
  returns True and every accepted user event, per-request record and audit entry is on disk exactly
  once, the audit chain verifies;
- writing resumes by itself (the same manager, no restart).

``FF_TEST_MANAGER_FAULT_EVENTS`` sizes the workload (default 12 events: ~300 calls per run).
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO
from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_privacy.ff_privacy_pseudonymizer import DEFAULT_KEY_ENV_VAR
from ff_utils.ff_analytics_privacy.ff_user_event_pipeline import USER_STREAMS
from ff_utils.ff_analytics_testing.ff_fault_injector import FFFaultInjector

EVENTS = int(os.environ.get("FF_TEST_MANAGER_FAULT_EVENTS", "12"))
START = datetime(2026, 5, 4, 20, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEFAULT_KEY_ENV_VAR, raising=False)


@pytest.fixture
def fast_tmp(tmp_path: Path) -> Iterator[Path]:
    """A directory on tmpfs when there is one (the real fsyncs are cheap there), else ``tmp_path``."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        d = Path(tempfile.mkdtemp(prefix="ff-faults-", dir=shm))
        yield d
        shutil.rmtree(d, ignore_errors=True)
    else:
        yield tmp_path


def _config(base: Path) -> FFAnalyticsManagerConfigDTO:
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(base)
    a = cfg.analytics
    a.analytics_level = "full"  # one performance record per request: every request is checkable
    a.enable_real_time_metrics = False
    a.fsync_policy = "batch"
    a.free_space_reserve_mb = 0
    a.write_max_delay_seconds = 3600.0  # only our flushes write: the k-th call is deterministic
    a.write_batch_size = 100_000
    return cfg


class _Run:
    """What the host saw: which calls were accepted, which flushes acknowledged."""

    def __init__(self) -> None:
        self.user_accepted: set[int] = set()
        self.user_refused: set[int] = set()
        self.durable_users: set[int] = set()
        self.durable_requests: set[int] = set()
        self.durable_audits: set[int] = set()
        self.init_ok = False


async def _workload(base: Path, injector: FFFaultInjector) -> tuple[FFMetricsCollectionManager, _Run]:
    clock = FFManualClock(START)
    m = FFMetricsCollectionManager(_config(base), clock=clock, writer_id="w1")
    run = _Run()
    with injector:
        run.init_ok = await m.initialize_analytics_system(start_collection=False)
        for i in range(EVENTS):
            ok = await m.record_user_analytics(
                f"user-{i % 3}", f"sess-{i % 2}", "content_interaction", {"seq": i, "messages": 1}
            )
            (run.user_accepted if ok else run.user_refused).add(i)
            m.record_request("chat_api", duration_ms=1000.0 + i, success=True)
            m.audit("host_action", target=f"t{i}")
            if i % 4 == 1:
                m.record_metric("queue_depth", float(i))
            if i % 6 == 5:
                await m.run_collection_tick()
            if i % 4 == 3:
                if await m.aflush():
                    run.durable_users |= run.user_accepted
                    run.durable_requests |= set(range(i + 1))
                    run.durable_audits |= set(range(i + 1))
                clock.advance(hours=2)  # crosses midnight mid-workload: new partitions
        await m.set_user_opt_out("user-optout", True)
    return m, run


def _jsonl_files(base: Path) -> list[Path]:
    return [p for p in base.rglob("*.jsonl") if "_quarantine" not in p.parts]


def _check(base: Path, m: FFMetricsCollectionManager, run: _Run, label: str) -> None:
    # no partial record anywhere, no temp file left behind
    for f in _jsonl_files(base):
        data = f.read_bytes()
        assert not data or data.endswith(b"\n"), f"{label}: torn tail left in {f}"
        for n, line in enumerate(data.split(b"\n")[:-1], 1):
            try:
                orjson.loads(line)
            except orjson.JSONDecodeError:
                raise AssertionError(f"{label}: partial record {f}:{n}: {line[:80]!r}") from None
    leftovers = [p for p in base.rglob("*") if p.name.endswith(".tmp") or p.name.startswith((".ff-tmp.", ".ff-swap."))]
    assert not leftovers, f"{label}: temp files left: {leftovers}"

    # user events: every accepted event exactly once, nothing refused on disk
    seqs = Counter(r["properties"]["seq"] for s in USER_STREAMS for r in m.store.read(s))
    dup = [s for s, c in seqs.items() if c > 1]
    assert not dup, f"{label}: user events duplicated: {dup}"
    assert set(seqs) == run.user_accepted, (
        f"{label}: on disk {sorted(seqs)} != accepted {sorted(run.user_accepted)}"
    )
    assert run.durable_users <= set(seqs)
    # per-request records: all of them (record_request never refuses), exactly once
    reqs = Counter(
        int(r["duration_ms"]) - 1000 for r in m.store.read("performance") if r.get("kind") == "request"
    )
    assert all(c == 1 for c in reqs.values()), f"{label}: request records duplicated"
    assert set(reqs) == set(range(EVENTS)), f"{label}: request records lost: {set(range(EVENTS)) - set(reqs)}"
    # audit entries: all host actions exactly once, chain intact
    audits = Counter(
        r["target"] for r in m.store.read("audit_logs") if r.get("action") == "host_action"
    )
    assert all(c == 1 for c in audits.values()), f"{label}: audit entries duplicated: {audits}"
    assert set(audits) == {f"t{i}" for i in range(EVENTS)}, f"{label}: audit entries lost"
    report = m.verify_audit_log_sync()
    assert report.ok, f"{label}: audit chain broken: {report.to_dict() if hasattr(report, 'to_dict') else report}"


def _run_once(base: Path, injector: FFFaultInjector, label: str) -> _Run:
    async def go() -> _Run:
        m, run = await _workload(base, injector)
        # the fault has cleared: the same manager catches up by itself
        assert await m.aflush() is True, f"{label}: flush did not recover after the fault cleared"
        if not run.init_ok:
            assert await m.initialize_analytics_system(start_collection=False) is True
        await m.close()
        reader = FFMetricsCollectionManager(_config(base), clock=FFManualClock(START), writer_id="r1")
        _check(base, reader, run, label)
        reader.store.close()
        return run

    return asyncio.run(go())


def _count_calls(tmp_path: Path) -> int:
    dry = FFFaultInjector(fail_at=0, root=tmp_path / "dry")
    run = _run_once(tmp_path / "dry", dry, "dry run")
    assert run.user_accepted == set(range(EVENTS)) and run.init_ok
    shutil.rmtree(tmp_path / "dry")
    return dry.count


@pytest.mark.parametrize("mode", ["once", "forever"])
@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EIO], ids=["ENOSPC", "EIO"])
def test_kth_filesystem_call_fails_through_the_manager(fast_tmp: Path, err: int, mode: str) -> None:
    tmp_path = fast_tmp
    total = _count_calls(tmp_path)
    assert total > 50, total
    # Audit entries are written by a worker thread, so how many batches (and calls) a run makes
    # varies a little; k runs on until a run ends before its k-th call: every call is covered.
    k = 0
    while True:
        k += 1
        base = tmp_path / f"k{k}"
        inj = FFFaultInjector(fail_at=k, err=err, mode=mode, root=base)
        label = f"{errno.errorcode[err]} {mode} k={k}/{total}"
        try:
            _run_once(base, inj, label)
        except AssertionError as exc:
            raise AssertionError(f"{exc} [failed calls: {inj.failed_calls[:5]}]") from None
        shutil.rmtree(base)
        if inj.failures == 0:
            assert inj.count < k and k > total * 0.8, f"{label}: no fault injected in {inj.count} calls"
            break
    assert k > total * 0.8


@pytest.mark.parametrize("err", [errno.EROFS, errno.EACCES], ids=["EROFS", "EACCES"])
def test_read_only_and_permission_faults_forever(fast_tmp: Path, err: int) -> None:
    """A volume that turns read-only (or loses permissions) at a sample of points, then recovers."""
    tmp_path = fast_tmp
    total = _count_calls(tmp_path)
    for k in range(1, total + 1, max(1, total // 25)):
        base = tmp_path / f"k{k}"
        inj = FFFaultInjector(fail_at=k, err=err, mode="forever", root=base)
        _run_once(base, inj, f"{errno.errorcode[err]} k={k}/{total}")
        shutil.rmtree(base)


def test_faults_are_counted_and_surface_in_health(tmp_path: Path) -> None:
    """A disk that fails every write: the host keeps running, health and alerts say so."""

    async def go() -> dict[str, Any]:
        clock = FFManualClock(START)
        m = FFMetricsCollectionManager(_config(tmp_path), clock=clock, writer_id="w1")
        assert await m.initialize_analytics_system(start_collection=False)
        # privacy state is set up before the disk fills (a failing setup refuses events: documented)
        assert await m.record_user_analytics("u-warm", "s", "page_view", {"seq": -1}) is True
        with FFFaultInjector(fail_at=1, err=errno.ENOSPC, mode="forever", root=tmp_path):
            for i in range(20):
                assert await m.record_user_analytics(f"u{i}", "s", "page_view", {"seq": i}) is True
                m.record_request("api", 5.0)
                m.audit("host_action", target=f"t{i}")
            assert await m.aflush() is False  # nothing written, nothing raised
            await m.run_collection_tick()
            health = await m.get_system_health()
            active = [a.rule_id for a in await m.get_active_alerts()]
        assert await m.aflush() is True  # recovered: everything buffered is written now
        await m.close()
        return {"health": health, "active": active, "store": m.store.stats.to_dict(),
                "compliance": dict(m.compliance_stats)}

    out = asyncio.run(go())
    assert out["store"]["write_failures"] >= 1 and "ENOSPC" in out["store"]["last_error"]
    assert out["compliance"]["audit_write_failures"] >= 1
    assert out["health"]["status"] != "healthy"
    assert out["health"]["components"]["analytics_store"]["status"] == "unhealthy"
    assert "builtin.store_drops" in out["active"]
    reader = FFMetricsCollectionManager(_config(tmp_path), clock=FFManualClock(START), writer_id="r1")
    assert sorted(r["properties"]["seq"] for r in reader.store.read("behavior_patterns")) == list(range(-1, 20))
    reader.store.close()


def test_calls_racing_close_never_raise_and_are_counted(tmp_path: Path) -> None:
    """A request handler still running while the host shuts analytics down: its calls return."""

    async def go() -> FFMetricsCollectionManager:
        m = FFMetricsCollectionManager(_config(tmp_path), clock=FFManualClock(START), writer_id="w1")
        assert await m.initialize_analytics_system(start_collection=False)
        assert await m.record_user_analytics("u", "s", "page_view", {"seq": 0}) is True
        await m.close()
        m.record_request("chat_api", 12.0)  # level full: a per-request record for a closed store
        m.record_metric("queue_depth", 3.0)
        assert await m.record_user_analytics("u", "s", "page_view", {"seq": 1}) is False
        assert m.record_privacy_event("late_event") is False
        assert await m.aflush() is True  # nothing pending: a closed manager flushes trivially
        await m.close()  # idempotent
        return m

    m = asyncio.run(go())
    assert m.store.stats.records_dropped == 3
    assert m.store.dropped_by_stream == {"performance": 1, "behavior_patterns": 1, "privacy_events": 1}
    reader = FFMetricsCollectionManager(_config(tmp_path), clock=FFManualClock(START), writer_id="r1")
    assert [r["properties"]["seq"] for r in reader.store.read("behavior_patterns")] == [0]
    reader.store.close()
