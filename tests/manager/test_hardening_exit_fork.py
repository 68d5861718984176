"""Exit without close() and os.fork(): nothing buffered is lost, nothing is written twice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO
from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore
from tests._store_helpers import store_config

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def test_exit_without_close_flushes_everything(tmp_path: Path) -> None:
    code = """
import sys
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore
from tests._store_helpers import store_config
s = FFStreamStore(sys.argv[1], store_config(write_batch_size=100_000, write_max_delay_seconds=3600))
for i in range(25_000):
    s.append("session_analytics", {"i": i})
# no flush(), no close(): the interpreter exits normally
"""
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = [x["i"] for x in FFStreamStore(tmp_path, store_config()).read("session_analytics")]
    assert got == list(range(25_000))


def test_fork_parent_and_four_children_exact_totals(tmp_path: Path) -> None:
    store = FFStreamStore(tmp_path, store_config(write_batch_size=64))
    per_proc = 5_000
    for i in range(100):  # buffered in the parent before the fork: the parent alone writes them
        store.append("feature_usage", {"who": "parent-pre", "i": i})
    pids = []
    for c in range(4):
        pid = os.fork()
        if pid == 0:  # child: keep using the same store object
            try:
                for i in range(per_proc):
                    store.append("feature_usage", {"who": f"child{c}", "i": i})
                store.close()
                os._exit(0)
            except BaseException:
                os._exit(1)
        pids.append(pid)
    for i in range(per_proc):
        store.append("feature_usage", {"who": "parent", "i": i})
    store.close()
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    reader = FFStreamStore(tmp_path, store_config())
    recs = [(r["who"], r["i"]) for r in reader.read("feature_usage")]
    assert len(recs) == len(set(recs)), "a record was written twice"
    assert len(recs) == 100 + 5 * per_proc
    files = reader.iter_partitions("feature_usage")[0].files
    assert len(files) == 5  # parent and every child wrote their own part file


def test_manager_exit_without_close_writes_every_event(tmp_path: Path) -> None:
    """A host process records through the manager and exits normally without flush() or close():
    user events, per-request records, audit entries, the open rollup hour, the user-index deltas and
    the open request window all reach disk (atexit, bounded by ATEXIT_FLUSH_TIMEOUT_SECONDS)."""
    code = """
import asyncio, sys
from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO
from ff_metrics_collection_manager import FFMetricsCollectionManager
cfg = FFAnalyticsManagerConfigDTO()
cfg.storage.base_path = sys.argv[1]
a = cfg.analytics
a.analytics_level = "full"
a.enable_real_time_metrics = False
a.write_batch_size = 100_000
a.write_max_delay_seconds = 3600
m = FFMetricsCollectionManager(cfg, writer_id="exit")

async def main():
    assert await m.initialize_analytics_system(start_collection=False)
    for i in range(2000):
        assert await m.record_user_analytics(f"u{i % 9}", "s", "page_view", {"i": i})
        m.record_request("api", float(i + 1))
        m.audit("host_action", target=str(i))

asyncio.run(main())
# no flush(), no close(): the interpreter exits normally
"""
    env = {k: v for k, v in ENV.items() if k != "FF_ANALYTICS_PSEUDONYM_KEY"}
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(tmp_path)
    m = FFMetricsCollectionManager(cfg, writer_id="reader")
    assert sorted(x["properties"]["i"] for x in m.store.read("behavior_patterns")) == list(range(2000))
    perf = list(m.store.read("performance"))
    assert sum(1 for x in perf if x.get("kind") == "request") == 2000
    assert [x["count"] for x in perf if x.get("kind") == "window"] == [2000]  # the open window
    targets = [x["target"] for x in m.store.read("audit_logs") if x.get("action") == "host_action"]
    assert targets == [str(i) for i in range(2000)]
    assert m.verify_audit_log_sync().ok
    assert sum(x["events"] for x in m.store.read("rollups")) == 2000
    lines = (tmp_path / "privacy_state" / "user_index.jsonl").read_bytes().splitlines()
    assert sum(int(orjson.loads(x).get("de") or 0) for x in lines if not x.startswith(b'{"_gen"')) == 2000
    m.store.close()
