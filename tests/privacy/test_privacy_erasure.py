"""Erasure and export over 40 partitions (plain and .gz), byte-identity of others, SIGKILL safety."""

from __future__ import annotations

import gzip
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson

from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_privacy.ff_user_erasure import FFUserDataEraser
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore

ROOT = Path(__file__).resolve().parents[2]
VICTIM = "v" * 31 + "1"  # a pseudonym (32 hex-like chars)
OTHERS = [f"{i:032x}" for i in range(1, 9)]
STREAMS = ("session_analytics", "feature_usage", "engagement_metrics", "behavior_patterns")


def _cfg() -> Any:
    return SimpleNamespace(
        fsync_policy="never",
        write_batch_size=100_000,
        write_max_delay_seconds=60.0,
        max_buffered_records=1_000_000,
        buffer_full_policy="drop",
        block_timeout_seconds=0.05,
        free_space_reserve_mb=0,
    )


def build_store(base: Path, days: int = 40, per_day: int = 30, compress_every: int = 3) -> FFStreamStore:
    """``days`` partitions per stream; the victim has events in every one; every 3rd day gzipped."""
    clock = FFManualClock(datetime(2026, 1, 1, 12, tzinfo=UTC))
    store = FFStreamStore(base, _cfg(), clock=clock, writer_id="w1")
    for d in range(days):
        for i in range(per_day):
            user = VICTIM if i % 5 == 0 else OTHERS[i % len(OTHERS)]
            stream = STREAMS[(d + i) % len(STREAMS)]
            store.append(stream, {"timestamp": f"day{d}", "user_hash": user, "event_type": "page_view", "i": i})
        store.append("rollups", {"timestamp": f"day{d}", "record_type": "raw_users", "users_raw": [VICTIM, OTHERS[0]]})
        store.flush()
        clock.advance(days=1)
    store.close()
    for stream in STREAMS:
        for n, part in enumerate(store.iter_partitions(stream)):
            if compress_every and n % compress_every == 0:
                for f in part.files:
                    gz = f.with_name(f.name + ".gz")
                    gz.write_bytes(gzip.compress(f.read_bytes(), mtime=0))
                    f.unlink()
    return FFStreamStore(base, _cfg(), clock=clock, writer_id="w2")


def snapshot(store: FFStreamStore) -> dict[str, list[bytes]]:
    """Decompressed lines of every partition file of the user streams."""
    out: dict[str, list[bytes]] = {}
    for stream in (*STREAMS, "rollups"):
        for part in store.iter_partitions(stream):
            for f in part.files:
                data = gzip.decompress(f.read_bytes()) if f.name.endswith(".gz") else f.read_bytes()
                out[str(f)] = data.splitlines(keepends=True)
    return out


def test_erase_40_partitions_others_byte_identical(tmp_path: Path) -> None:
    store = build_store(tmp_path)
    before = snapshot(store)
    n_parts = sum(len(store.iter_partitions(s)) for s in STREAMS)
    assert n_parts >= 40 * 4 - 4
    victim_files = [f for f, lines in before.items() if any(VICTIM.encode() in x for x in lines)]
    assert any(f.endswith(".gz") for f in victim_files) and any(f.endswith(".jsonl") for f in victim_files)
    victim_records = sum(1 for lines in before.values() for x in lines if b'"user_hash":"%s"' % VICTIM.encode() in x)
    assert victim_records == 40 * 6

    eraser = FFUserDataEraser(store)
    exported = eraser.export(frozenset({VICTIM}))
    assert sum(len(v) for s, v in exported["records"].items() if s != "mentions") == victim_records  # recall 100%
    assert all(r["user_hash"] == VICTIM for s, v in exported["records"].items() if s != "mentions" for r in v)

    res = eraser.erase(frozenset({VICTIM}))
    assert res["records_removed_total"] == victim_records and not res["errors"]
    assert res["mentions_stripped"] == 40
    after = snapshot(store)
    assert set(after) == set(before)  # every file still there (each still has other users)
    for f, lines in before.items():
        kept = [x for x in lines if VICTIM.encode() not in x]
        if f.endswith(".jsonl") and "rollups" not in f:
            assert after[f] == kept, f  # other users' lines byte-identical, same order
        elif "rollups" not in f:
            assert after[f] == kept, f
    for lines in after.values():
        assert not any(VICTIM.encode() in x for x in lines)
    rollup = [orjson.loads(x) for f, ls in after.items() if "rollups" in f for x in ls]
    assert rollup and all(r["users_raw"] == [OTHERS[0]] for r in rollup)
    # the store reader sees the same: zero victim records, all other records
    again = FFUserDataEraser(store).export(frozenset({VICTIM}))
    assert again["counts"] == {}
    assert FFUserDataEraser(store).erase(frozenset({VICTIM}))["records_removed_total"] == 0  # idempotent


def test_erase_cleans_quarantine_and_torn_tail(tmp_path: Path) -> None:
    store = build_store(tmp_path, days=2, compress_every=0)
    part = store.iter_partitions("session_analytics")[0]
    q = part.path / "_quarantine"
    q.mkdir()
    (q / "part-x.jsonl.1.torn").write_bytes(b'{"user_hash":"' + VICTIM.encode() + b'","tr')
    (q / "part-y.jsonl.1.torn").write_bytes(b'{"user_hash":"' + OTHERS[1].encode() + b'","tr')
    f = part.files[0]
    with open(f, "ab") as fh:
        fh.write(b'{"user_hash":"' + VICTIM.encode() + b'","torn')
    res = FFUserDataEraser(store).erase(frozenset({VICTIM}))
    assert res["quarantine_files_cleaned"] == 1
    assert not (q / "part-x.jsonl.1.torn").exists() and (q / "part-y.jsonl.1.torn").exists()
    assert VICTIM.encode() not in f.read_bytes()


_CHILD = r"""
import sys, time
from pathlib import Path
from types import SimpleNamespace
sys.path.insert(0, sys.argv[1])
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore
from ff_utils.ff_analytics_privacy.ff_user_erasure import FFUserDataEraser
cfg = SimpleNamespace(fsync_policy="never", write_batch_size=1000, write_max_delay_seconds=1.0,
                      max_buffered_records=100000, buffer_full_policy="drop", block_timeout_seconds=0.05,
                      free_space_reserve_mb=0)
store = FFStreamStore(Path(sys.argv[2]), cfg, writer_id="eraser")
sys.stdout.write("go\n"); sys.stdout.flush()
FFUserDataEraser(store).erase(frozenset({sys.argv[3]}))
sys.stdout.write("done\n"); sys.stdout.flush()
"""


def test_sigkill_during_erasure_leaves_each_file_old_or_new(tmp_path: Path) -> None:
    iterations = int(os.environ.get("FF_TEST_CRASH_ITERATIONS", "4"))
    rng = random.Random(7)
    partial_runs = 0
    for it in range(iterations):
        base = tmp_path / f"run{it}"
        store = build_store(base, days=40, per_day=400)
        before = snapshot(store)
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(ROOT), str(base), VICTIM],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "go"
        time.sleep(rng.uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        after = snapshot(store)
        old = new = 0
        for f, lines in before.items():
            got = after.get(f)
            if "rollups" in f:
                continue
            if got == lines:
                old += 1
            else:
                assert got == [x for x in lines if VICTIM.encode() not in x], f"half-written {f}"
                new += 1
        if old and new:
            partial_runs += 1
        # a rerun completes the erasure
        res = FFUserDataEraser(FFStreamStore(base, _cfg(), writer_id="rerun")).erase(frozenset({VICTIM}))
        assert not res["errors"]
        assert not any(VICTIM.encode() in x for ls in snapshot(store).values() for x in ls)
    sys.stdout.write(f"\nSIGKILL runs with a mix of old and new files: {partial_runs}/{iterations}\n")


def test_corrupt_gz_is_reported_and_the_rest_erased(tmp_path: Path) -> None:
    store = build_store(tmp_path, days=6, per_day=20, compress_every=2)
    gz = [f for s in STREAMS for p in store.iter_partitions(s) for f in p.files if f.name.endswith(".gz")]
    bad = gz[0]
    bad.write_bytes(bad.read_bytes()[:20])  # truncated gzip
    eraser = FFUserDataEraser(store)
    exp = eraser.export(frozenset({VICTIM}))
    assert any(str(bad) in e for e in exp["unreadable_files"])
    res = eraser.erase(frozenset({VICTIM}))
    assert any(str(bad) in e for e in res["errors"]) and res["records_removed_total"] > 0
    for f, lines in snapshot_readable(store, skip=bad).items():
        assert not any(VICTIM.encode() in x for x in lines), f


def snapshot_readable(store: FFStreamStore, skip: Path) -> dict[str, list[bytes]]:
    out = {}
    for stream in STREAMS:
        for part in store.iter_partitions(stream):
            for f in part.files:
                if f != skip:
                    data = gzip.decompress(f.read_bytes()) if f.name.endswith(".gz") else f.read_bytes()
                    out[str(f)] = data.splitlines()
    return out


_WRITER = r"""
import sys
from pathlib import Path
from types import SimpleNamespace
sys.path.insert(0, sys.argv[1])
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore
cfg = SimpleNamespace(fsync_policy="never", write_batch_size=100, write_max_delay_seconds=0.01,
                      max_buffered_records=100000, buffer_full_policy="block", block_timeout_seconds=5,
                      free_space_reserve_mb=0)
store = FFStreamStore(Path(sys.argv[2]), cfg, writer_id="live")
n = int(sys.argv[4])
for i in range(n):
    store.append("session_analytics", {"timestamp": "t", "user_hash": "%032x" % 7, "seq": i})
    if i % 10 == 0:
        store.append("session_analytics", {"timestamp": "t", "user_hash": sys.argv[3], "seq": i})
    if i % 200 == 0:
        store.flush()
    if i == 2000:
        sys.stdout.write("ready\n"); sys.stdout.flush()
store.close()
"""


def test_erasure_with_a_live_writer_loses_no_other_records(tmp_path: Path) -> None:
    n = 40_000
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(ROOT), str(tmp_path), VICTIM, str(n)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    store = FFStreamStore(tmp_path, _cfg(), writer_id="eraser")
    removed = 0
    for _ in range(5):
        removed += FFUserDataEraser(store).erase(frozenset({VICTIM}))["records_removed_total"]
        time.sleep(0.02)
    child.wait(timeout=60)
    assert child.returncode == 0
    assert removed > 0
    recs = list(store.read("session_analytics"))
    odd = [r for r in recs if "user_hash" not in r]
    assert not odd, odd[:3]
    seqs = sorted(r["seq"] for r in recs if r["user_hash"] != VICTIM)
    assert seqs == list(range(n))  # nothing lost, nothing duplicated by the concurrent rewrites
    FFUserDataEraser(store).erase(frozenset({VICTIM}))
    assert not [r for r in store.read("session_analytics") if r["user_hash"] == VICTIM]
