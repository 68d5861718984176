"""Retention over simulated years, compaction crash safety (step faults and real SIGKILLs)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from ff_class_configs.ff_analytics_configs.ff_analytics_config import FFAnalyticsConfigDTO
from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO
from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_utils.ff_analytics_compliance.ff_audit_verifier import FFAuditVerifier
from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_store.ff_partition_compressor import STEPS, TARGET, FFPartitionCompressor
from ff_utils.ff_analytics_store.ff_retention_manager import FFRetentionManager
from ff_utils.ff_analytics_store.ff_stream_store import COMPACTION_MANIFEST, FFStreamStore

KILLS = int(os.environ.get("FF_TEST_COMPRESS_KILLS", "50"))


def _manager(base: Path, clock: FFManualClock) -> FFMetricsCollectionManager:
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(base)
    cfg.analytics.fsync_policy = "never"  # simulated years: durability is not under test here
    return FFMetricsCollectionManager(cfg, clock=clock, writer_id="w1")


def _days(store: FFStreamStore, stream: str) -> list[date]:
    try:
        names = os.listdir(store.stream_dir(stream))
    except FileNotFoundError:
        return []
    return sorted(date.fromisoformat(n[5:]) for n in names if n.startswith("date="))


def test_retention_three_simulated_years(tmp_path: Path) -> None:
    clock = FFManualClock(datetime(2024, 1, 1, 12, tzinfo=UTC))
    m = _manager(tmp_path, clock)
    store = m.store
    start = clock.now().date()
    deleted_seen: set[str] = set()
    for day in range(3 * 365):
        ts = clock.now().isoformat()
        # partitions as the store lays them out for the clock's day (written directly: the store's
        # own fsyncs would dominate 1,095 simulated days and are not under test here)
        for stream in ("performance", "usage_trends", "security_events"):
            pdir = store.partition_dir(stream, clock.now().date())
            pdir.mkdir(parents=True)
            (pdir / "part-w1.jsonl").write_bytes(orjson.dumps({"timestamp": ts, "day": day}) + b"\n")
        if day % 14 == 13:  # a cleanup every two simulated weeks
            before = {s: set(_days(store, s)) for s in ("performance", "usage_trends", "security_events")}
            rep = m.run_retention_cleanup_sync()
            assert not rep.errors
            today = clock.now().date()
            after = {s: set(_days(store, s)) for s in before}
            assert min(after["performance"]) >= today - timedelta(days=30)
            assert min(after["usage_trends"]) >= today - timedelta(days=365)
            assert after["security_events"] == before["security_events"]  # compliance stays
            assert len(after["security_events"]) == day + 1
            for s, cat in (("performance", "system_metrics"), ("usage_trends", "business_intelligence")):
                deleted_seen |= {f"{cat}/{s}/date={d.isoformat()}" for d in before[s] - after[s]}
            assert rep.deleted == sum(len(before[s] - after[s]) for s in before)
        clock.advance(days=1)
    today = clock.now().date()
    final = m.run_retention_cleanup_sync()
    for c in final.candidates:
        deleted_seen.add(f"{c.category}/{c.stream}/date={c.day}")
    assert min(_days(store, "performance")) == today - timedelta(days=30)
    assert min(_days(store, "usage_trends")) == today - timedelta(days=365)
    assert min(_days(store, "security_events")) == start
    m.close_sync()
    # every deletion has exactly one audit record with partition, record count and size
    audited = [r for r in store.read("audit_logs") if r.get("action") == "retention_delete"]
    targets = [r["target"] for r in audited]
    assert len(targets) == len(set(targets)) and set(targets) == deleted_seen
    assert all(r["details"]["records"] == 1 and r["details"]["bytes"] > 0 for r in audited)
    assert (tmp_path / "keys" / "audit.key").exists()
    from ff_utils.ff_analytics_compliance.ff_audit_chain import load_or_create_audit_key

    key, problem = load_or_create_audit_key(tmp_path / "keys" / "audit.key")
    assert problem == ""
    res = FFAuditVerifier(store.analytics_path, key).verify()
    assert res.kind == "ok", res.message


def test_retention_dry_run_lists_without_deleting(tmp_path: Path) -> None:
    clock = FFManualClock(datetime(2025, 1, 1, tzinfo=UTC))
    store = FFStreamStore(tmp_path, FFAnalyticsConfigDTO(), clock=clock, writer_id="w")
    for _ in range(40):
        store.append("performance", {"timestamp": clock.now().isoformat()})
        store.flush()
        clock.advance(days=1)
    store.close()
    audits: list[list[dict]] = []
    rm = FFRetentionManager(store, FFAnalyticsConfigDTO().privacy_config, clock=clock, audit_many=audits.append)
    rep = rm.run(dry_run=True)
    assert [c.day for c in rep.candidates] == [(date(2025, 1, 1) + timedelta(days=i)).isoformat() for i in range(10)]
    assert len(_days(store, "performance")) == 40 and audits == []
    rep = rm.run()
    assert rep.deleted == 10 and len(_days(store, "performance")) == 30
    assert [e["target"] for e in audits[0]] == [f"system_metrics/performance/date={c.day}" for c in rep.candidates]


def test_retention_rejects_bad_settings() -> None:
    from types import SimpleNamespace

    bad = SimpleNamespace(raw_data_retention_days=0, aggregated_data_retention_days=365,
                          compliance_data_retention_days=2555)
    with pytest.raises(ValueError, match="raw_data_retention_days"):
        FFRetentionManager(SimpleNamespace(analytics_path="x"), bad)


# ---------------------------------------------------------------------------------------------- compaction
def _make_partitions(base: Path, days: int = 5, writers: int = 3, per: int = 300) -> int:
    """Old partitions of ``performance`` with several part files (one with a torn tail)."""
    total = 0
    sdir = base / "analytics" / "system_metrics" / "performance"
    for d in range(days):
        day = date(2026, 1, 1) + timedelta(days=d)
        pdir = sdir / f"date={day.isoformat()}"
        pdir.mkdir(parents=True)
        for w in range(writers):
            lines = b"".join(
                orjson.dumps({"timestamp": f"{day}T00:00:00Z", "id": f"{day}-{w}-{i}", "pad": "x" * (i % 50)}) + b"\n"
                for i in range(per)
            )
            if d == 0 and w == 0:
                lines += b'{"timestamp":"torn'
            (pdir / f"part-w{w}.jsonl").write_bytes(lines)
            total += per
    return total


def _read_ids(base: Path) -> list[str]:
    store = FFStreamStore(base, FFAnalyticsConfigDTO(), writer_id="reader")
    ids = [r["id"] for r in store.read("performance", strict=True)]
    store.close()
    return ids


class _Crash(Exception):
    pass


@pytest.mark.parametrize("step", STEPS)
def test_crash_at_each_compaction_step_keeps_records_exactly_once(tmp_path: Path, step: str) -> None:
    total = _make_partitions(tmp_path, days=2)
    clock = FFManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    store = FFStreamStore(tmp_path, FFAnalyticsConfigDTO(), clock=clock, writer_id="c")

    def hook(name: str, _pdir: Path) -> None:
        if name == step:
            raise _Crash(name)

    with pytest.raises(_Crash):
        FFPartitionCompressor(store, compression_age_days=7, clock=clock, step_hook=hook).run()
    ids = _read_ids(tmp_path)
    assert len(ids) == total and len(set(ids)) == total
    rep = FFPartitionCompressor(store, compression_age_days=7, clock=clock).run()
    assert not rep.errors
    ids = _read_ids(tmp_path)
    assert len(ids) == total and len(set(ids)) == total
    for p in store.iter_partitions("performance"):
        assert sorted(os.listdir(p.path)) in ([TARGET], ["_quarantine", TARGET]), os.listdir(p.path)


def test_compression_age_and_today_respected(tmp_path: Path) -> None:
    clock = FFManualClock(datetime(2026, 1, 1, 6, tzinfo=UTC))
    store = FFStreamStore(tmp_path, FFAnalyticsConfigDTO(), clock=clock, writer_id="w")
    for _ in range(10):
        store.append("performance", {"timestamp": clock.now().isoformat()})
        store.flush()
        clock.advance(days=1)
    rep = FFPartitionCompressor(store, compression_age_days=7, clock=clock).run()
    # today is 2026-01-11: ages 1..10 -> only ages 8, 9, 10 are compacted
    assert rep.partitions_compacted == 3 and rep.records == 3
    gz = [p.day.isoformat() for p in store.iter_partitions("performance") if p.files[0].name == TARGET]
    assert gz == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert sum(1 for _ in store.read("performance")) == 10
    assert FFPartitionCompressor(store, compression_age_days=7, clock=clock).run().partitions_compacted == 0
    with pytest.raises(ValueError, match="compression_age_days"):
        FFPartitionCompressor(store, compression_age_days=-1)


def _compress_in_child(base: Path) -> int:
    """Fork a child that runs a compression pass over ``base`` and exits; returns its pid."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no pytest machinery, leave via os._exit only
        code = 0
        try:
            os.close(r)
            clock = FFManualClock(datetime(2026, 3, 1, tzinfo=UTC))
            store = FFStreamStore(base, FFAnalyticsConfigDTO(), clock=clock, writer_id="child")
            comp = FFPartitionCompressor(store, compression_age_days=7, clock=clock)
            os.write(w, b"s")  # the compression pass starts now
            comp.run()
        except BaseException:
            code = 1
        os._exit(code)
    os.close(w)
    assert os.read(r, 1) == b"s"
    os.close(r)
    return pid


def test_sigkill_during_compression_never_changes_counts(tmp_path: Path) -> None:
    """FF_TEST_COMPRESS_KILLS (default 50) real SIGKILLs at random moments of a compression pass."""
    rng = random.Random(11)
    window = None
    states: dict[str, int] = {}
    for it in range(KILLS + 1):
        base = tmp_path / f"run{it}"
        total = _make_partitions(base, days=4, writers=3, per=300)
        pid = _compress_in_child(base)
        t0 = time.perf_counter()
        if window is None:  # first run: measure how long an uninterrupted compression takes
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0
            window = time.perf_counter() - t0
        else:
            time.sleep(rng.uniform(0, window))
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        pdirs = sorted((base / "analytics" / "system_metrics" / "performance").iterdir())
        state = ",".join(
            "M" if (p / COMPACTION_MANIFEST).exists() else ("G" if (p / TARGET).exists() else "P") for p in pdirs
        )
        states[state] = states.get(state, 0) + 1
        ids = _read_ids(base)
        assert len(ids) == total, (it, state)
        assert len(set(ids)) == total, (it, state)
        clock = FFManualClock(datetime(2026, 3, 1, tzinfo=UTC))
        store = FFStreamStore(base, FFAnalyticsConfigDTO(), clock=clock, writer_id="fin")
        assert not FFPartitionCompressor(store, compression_age_days=7, clock=clock).run().errors
        ids = _read_ids(base)
        assert len(ids) == total and len(set(ids)) == total
        shutil.rmtree(base)
    # the kills landed at different points (not all before or all after the work)
    assert len(states) >= 3 or KILLS < 10, states
    print(f"\nkill states: {states} window {window:.3f}s")


def test_audit_days_compacted_and_pruned_still_verify(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from ff_utils.ff_analytics_compliance.ff_audit_chain import AUDIT_FILE, FFAuditChainWriter

    key = os.urandom(32)
    clock = FFManualClock(datetime(2026, 1, 1, 8, tzinfo=UTC))
    analytics = tmp_path / "analytics"
    w = FFAuditChainWriter(analytics, key, clock=clock, checkpoint_every=4)
    for d in range(12):
        w.append_many([{"timestamp": clock.now().isoformat(), "action": "daily", "day": d, "i": i} for i in range(3)])
        clock.advance(days=1)
    store = FFStreamStore(tmp_path, FFAnalyticsConfigDTO(), clock=clock, writer_id="c")
    rep = FFPartitionCompressor(store, compression_age_days=3, clock=clock).run(["audit_logs"])
    assert rep.partitions_compacted == 9 and not rep.errors  # ages 4..12
    res = FFAuditVerifier(analytics, key).verify()
    assert res.kind == "ok" and res.records == 36, res.message
    assert sum(1 for _ in store.read("audit_logs")) == 36
    # appends continue after compaction; tampering inside a compressed day is still detected
    w.append({"timestamp": clock.now().isoformat(), "action": "after"})
    assert FFAuditVerifier(analytics, key).verify().records == 37
    # retention prunes the oldest audit days; a signed anchor keeps the rest verifiable
    privacy = SimpleNamespace(raw_data_retention_days=1, aggregated_data_retention_days=1,
                              compliance_data_retention_days=5)
    rm = FFRetentionManager(store, privacy, clock=clock, audit_many=w.append_many, chain_writer=w)
    out = rm.run()
    assert out.deleted == 7 and not out.errors  # days 0..6 are older than 5 days
    res = FFAuditVerifier(analytics, key).verify()
    assert res.kind == "ok" and res.first_seq == 22 and res.last_seq == 37 + 7, res.message
    first_day = sorted((analytics / "compliance" / "audit_logs").iterdir())[0]
    gz = first_day / TARGET
    import gzip

    lines = gzip.decompress(gz.read_bytes()).splitlines(keepends=True)
    gz.write_bytes(gzip.compress(b"".join(lines[1:])))
    res = FFAuditVerifier(analytics, key).verify()
    assert res.kind == "deleted" and res.first_bad_seq == 22
    assert not (first_day / AUDIT_FILE).exists()
    w.close()
