"""A manager used across ``os.fork()`` (pre-fork servers such as gunicorn): parent and 4 children.

The parent has state in every buffer when it forks (store batches and a running flusher thread,
an open rollup hour, user-index deltas, queued audit entries, an open request window). Each child
takes a fresh writer identity and starts empty; the parent alone writes what it had. After all
five processes recorded concurrently and closed, every total is exact and no id is duplicated:
user events, per-request records, audit entries (one chain, unique sequence numbers, verified),
hourly rollups and the persisted user index.

``FF_TEST_FORK_EVENTS`` sizes the workload per process (default 300).
"""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from collections import Counter
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

EVENTS = int(os.environ.get("FF_TEST_FORK_EVENTS", "300"))
PRE = 40
CHILDREN = 4
START = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEFAULT_KEY_ENV_VAR, raising=False)


def _config(base: Path) -> FFAnalyticsManagerConfigDTO:
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(base)
    a = cfg.analytics
    a.analytics_level = "full"
    a.enable_real_time_metrics = False
    a.fsync_policy = "batch"
    a.write_batch_size = 64  # the background flusher is busy when the fork happens
    a.write_max_delay_seconds = 0.05
    a.free_space_reserve_mb = 0
    return cfg


async def _record(m: FFMetricsCollectionManager, who: str, n: int) -> None:
    for i in range(n):
        ok = await m.record_user_analytics(
            f"user-{i % 7}", f"{who}-s{i % 3}", "feature_usage", {"who": who, "i": i, "features": ["search"]}
        )
        assert ok is True
        m.record_request("chat_api", duration_ms=float(i + 1), success=True)
        m.audit("host_action", target=f"{who}:{i}")
        if i % 50 == 0:
            await asyncio.sleep(0)  # let the audit worker and flusher interleave


def _fork(fn: Any, *args: Any) -> int:
    """Run ``fn(*args)`` in a forked child that exits 0, or 1 with the traceback on stderr."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            fn(*args)
        except BaseException:
            traceback.print_exc(file=sys.stderr)
            code = 1
        finally:
            os._exit(code)
    return pid


def test_manager_parent_and_four_children_exact_totals(tmp_path: Path) -> None:
    clock = FFManualClock(START)
    m = FFMetricsCollectionManager(_config(tmp_path), clock=clock)
    parent_writer = m.store.writer_id

    async def before_fork() -> None:
        assert await m.initialize_analytics_system(start_collection=False)
        await _record(m, "parent-pre", PRE)  # buffered everywhere, not flushed

    asyncio.run(before_fork())
    assert m.store.buffered_records > 0 and m.bi.accumulator._buckets  # state the children must not write

    def child(name: str) -> None:  # keeps using the same manager object
        assert m.store.writer_id != parent_writer
        assert m.store.buffered_records == 0 and not m.bi.accumulator._buckets

        async def child_work() -> None:
            await _record(m, name, EVENTS)
            await m.close()

        asyncio.run(child_work())

    pids = [_fork(child, f"child{c}") for c in range(CHILDREN)]

    async def parent_work() -> None:
        await _record(m, "parent", EVENTS)
        await m.close()

    asyncio.run(parent_work())
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "a child failed (traceback on stderr)"

    total = PRE + (CHILDREN + 1) * EVENTS
    reader = FFMetricsCollectionManager(_config(tmp_path), clock=FFManualClock(START), writer_id="reader")
    # user events: exact, no duplicate, five writers (the parent's pre-fork events written once)
    events = Counter((r["properties"]["who"], r["properties"]["i"]) for s in USER_STREAMS for r in reader.store.read(s))
    assert max(events.values()) == 1, "a user event was written twice"
    assert sum(events.values()) == total
    assert sum(1 for who, _ in events if who == "parent-pre") == PRE
    writers = {f.name for p in reader.store.iter_partitions("feature_usage") for f in p.files}
    assert len(writers) == CHILDREN + 1
    # per-request records (analytics level full)
    reqs = [r for r in reader.store.read("performance") if r.get("kind") == "request"]
    assert len(reqs) == total
    # audit: every entry once, one chain with unique sequence numbers, verified
    audit = [r for r in reader.store.read("audit_logs")]
    targets = Counter(r["target"] for r in audit if r.get("action") == "host_action")
    assert max(targets.values()) == 1 and sum(targets.values()) == total
    seqs = [r["seq"] for r in audit]
    assert len(seqs) == len(set(seqs)) and sorted(seqs) == list(range(1, len(seqs) + 1))
    res = reader.verify_audit_log_sync()
    assert res.ok and res.kind == "ok", res
    # hourly rollups: the parent's open hour emitted once, by the parent
    rollups = list(reader.store.read("rollups"))
    assert sum(r["events"] for r in rollups) == total
    # user index: the parent's unflushed deltas persisted once
    index_lines = (tmp_path / "privacy_state" / "user_index.jsonl").read_bytes().splitlines()
    deltas = [orjson.loads(x) for x in index_lines if x and not x.startswith(b'{"_gen"')]
    assert sum(int(d.get("de") or 0) for d in deltas) == total
    reader.store.close()


def test_child_restarts_the_collection_loop_the_parent_was_running(tmp_path: Path) -> None:
    """Forked while the parent's collection loop runs (asyncio does not carry a running loop into a
    child): the child runs its own event loop, and its first async call restarts collection there,
    ticking under the child's own writer id."""
    r, w = os.pipe()
    m = FFMetricsCollectionManager(_config(tmp_path))
    m.set_collection_interval(0.05)

    async def child_main() -> None:
        assert m.system.collection_task is None
        await m.aflush()  # the first async call restarts the collection loop in this event loop
        await asyncio.sleep(0.3)
        stats = m.collection_stats()
        os.write(w, orjson.dumps({"running": stats["running"], "ticks": stats["ticks"],
                                  "writer": m.store.writer_id}))
        await m.close()

    async def parent() -> None:
        await m.initialize_analytics_system(start_collection=True)
        await asyncio.sleep(0.12)
        pid = _fork(lambda: (os.close(r), asyncio.run(child_main())))
        os.close(w)
        _, status = await asyncio.to_thread(os.waitpid, pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, "the child failed (traceback on stderr)"
        await m.close()

    asyncio.run(parent())
    child = orjson.loads(os.read(r, 4096))
    os.close(r)
    assert child["running"] is True and child["ticks"] >= 2
    health_writers = {rec["writer_id"] for rec in m.store.read("health_checks")}
    assert child["writer"] in health_writers and len(health_writers) == 2
