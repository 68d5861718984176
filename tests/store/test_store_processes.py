"""Store under several processes and SIGKILL crashes (real subprocesses)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import orjson

from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore
from tests._store_helpers import store_config

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _collect(stream, acks: list[int]) -> None:
    for line in stream:
        acks.append(int(line))


def test_eight_processes_same_stream_and_day(tmp_path: Path) -> None:
    n, procs = 20_000, 8
    ps = [
        subprocess.Popen([sys.executable, "-m", "tests._store_child", "concurrent", str(tmp_path), f"w{k}", str(n)], cwd=ROOT, env=ENV)
        for k in range(procs)
    ]
    assert [p.wait(timeout=120) for p in ps] == [0] * procs
    store = FFStreamStore(tmp_path, store_config())
    parts = store.iter_partitions("performance")
    assert len(parts) == 1 and len(parts[0].files) == procs  # one part file per writer
    seen: dict[str, list[int]] = defaultdict(list)
    for rec in store.read("performance"):
        seen[rec["w"]].append(rec["i"])
    assert sum(len(v) for v in seen.values()) == n * procs == 160_000
    assert store.stats.unparseable_lines == 0
    for w in range(procs):
        assert seen[f"w{w}"] == list(range(n)), f"writer w{w} out of order or incomplete"


def test_sigkill_at_random_moments_keeps_every_durable_record(tmp_path: Path) -> None:
    iterations = int(os.environ.get("FF_TEST_CRASH_ITERATIONS", "50"))
    rnd = random.Random(1234)
    acked_max: list[int] = []
    start = 0
    for it in range(iterations):
        p = subprocess.Popen(
            [sys.executable, "-m", "tests._store_child", "crash", str(tmp_path), str(start), str(it)],
            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, text=True,
        )
        acks: list[int] = []
        reader = threading.Thread(target=_collect, args=(p.stdout, acks), daemon=True)
        reader.start()
        time.sleep(0.25 + rnd.random() * 0.35)  # past interpreter start-up, into the write loop
        p.send_signal(signal.SIGKILL)
        p.wait()
        reader.join(5)
        if acks:
            acked_max.append(acks[-1])
        start += 10_000_000  # seq ranges never overlap between iterations
    # the next writer (same writer id) repairs the torn tail and appends cleanly
    clock = FFManualClock(datetime(2026, 5, 5, 12, tzinfo=UTC))
    s = FFStreamStore(tmp_path, store_config(), clock=clock, writer_id="crashy")
    s.append("performance", {"seq": -1, "pad": ""})
    s.close()
    reader_store = FFStreamStore(tmp_path, store_config())
    seqs = [r["seq"] for r in reader_store.read("performance")]
    assert reader_store.stats.unparseable_lines == 0
    assert len(seqs) == len(set(seqs)), "a record was duplicated"
    present = set(seqs)
    assert seqs[-1] == -1
    # every record acknowledged durable is present (acks are cumulative: all seqs up to the ack)
    for it, top in enumerate(acked_max):
        lo = (top // 10_000_000) * 10_000_000
        missing = [q for q in range(lo, top + 1) if q not in present]
        assert not missing, f"iteration {it}: {len(missing)} acknowledged records missing"
    assert len(acked_max) >= iterations // 2, "too few iterations reached the write loop"
    # every line of the part file parses: torn tails went to quarantine only
    (part,) = reader_store.iter_partitions("performance")
    data = part.files[0].read_bytes()
    assert data.endswith(b"\n")
    for line in data.splitlines():
        orjson.loads(line)
