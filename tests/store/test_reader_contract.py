"""The reader contract: an outside engine (DuckDB) reading the documented globs agrees with the
library and with the records written in every state compaction and erasure can be killed in.

Each case forks a child that runs the maintenance and SIGKILLs itself at one step; the parent then
counts with DuckDB over ``date=*/*.jsonl*`` (and ``date=*/*``), with the library, and against what
was written; then a normal run recovers and everything is counted again.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from ff_class_configs.ff_analytics_configs.ff_analytics_config import FFAnalyticsConfigDTO
from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_privacy.ff_user_erasure import FFUserDataEraser
from ff_utils.ff_analytics_store.ff_partition_compressor import STEPS, FFPartitionCompressor
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore

duckdb = pytest.importorskip("duckdb")

GLOBS = ("date=*/*.jsonl*", "date=*/*")


def _duck_count(sdir: Path, glob: str, where: str = "") -> int:
    pattern = str(sdir / glob).replace("'", "''")
    sql = (f"SELECT count(*) FROM read_json('{pattern}', format='newline_delimited', hive_partitioning=true, "
           f"union_by_name=true, ignore_errors=true) {where}")
    return int(duckdb.sql(sql).fetchall()[0][0])


def _lib(base: Path, stream: str) -> list[dict]:
    store = FFStreamStore(base, FFAnalyticsConfigDTO(), writer_id="reader")
    try:
        return list(store.read(stream, strict=True))
    finally:
        store.close()


def _run_killed(fn: Callable[[], None]) -> int:
    """Run ``fn`` in a forked child; returns the signal that ended it (0 when it ran to the end)."""
    pid = os.fork()
    if pid == 0:  # child: leave only via os._exit or the kill
        try:
            fn()
            os._exit(0)
        except BaseException:
            os._exit(3)
    _pid, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return os.WTERMSIG(status)
    assert os.WEXITSTATUS(status) == 0, "child failed before reaching its kill point"
    return 0


def _kill_self(*_a: object) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _performance_partitions(base: Path, days: int = 3, writers: int = 3, per: int = 63) -> int:
    sdir = base / "analytics" / "system_metrics" / "performance"
    total = 0
    for d in range(days):
        day = date(2026, 1, 1) + timedelta(days=d)
        pdir = sdir / f"date={day.isoformat()}"
        pdir.mkdir(parents=True)
        for w in range(writers):
            (pdir / f"part-w{w}.jsonl").write_bytes(b"".join(
                orjson.dumps({"timestamp": f"{day}T01:00:00Z", "id": f"{day}-{w}-{i}"}) + b"\n" for i in range(per)))
            total += per
    return total


def _assert_counts(sdir: Path, base: Path, stream: str, expected: int, label: str) -> None:
    lib = _lib(base, stream)
    assert len(lib) == expected, f"{label}: library read {len(lib)} of {expected}"
    for g in GLOBS:
        n = _duck_count(sdir, g)
        assert n == expected, f"{label}: DuckDB over {g} counted {n}, library {len(lib)}, written {expected}"


@pytest.mark.parametrize("step", ("before_swap", *STEPS))
def test_compaction_killed_at_every_step_outside_reader_counts_exactly(tmp_path: Path, step: str) -> None:
    total = _performance_partitions(tmp_path)
    sdir = tmp_path / "analytics" / "system_metrics" / "performance"
    clock = FFManualClock(datetime(2026, 3, 1, tzinfo=UTC))

    def child() -> None:
        import ff_utils.ff_analytics_store.ff_partition_compressor as pc

        store = FFStreamStore(tmp_path, FFAnalyticsConfigDTO(), clock=clock, writer_id="c")
        if step == "before_swap":  # killed while the gzip member is being written into the stage
            real = pc.ff_replace_partition

            def replace(pdir: Path, *a: object, **kw: object) -> str:
                kw["verify"] = _kill_self
                return real(pdir, *a, **kw)

            pc.ff_replace_partition = replace  # only in the forked child
            FFPartitionCompressor(store, compression_age_days=7, clock=clock).run()
        else:
            def hook(name: str, _p: Path) -> None:
                if name == step:
                    _kill_self()

            FFPartitionCompressor(store, compression_age_days=7, clock=clock, step_hook=hook).run()

    assert _run_killed(child) == signal.SIGKILL
    _assert_counts(sdir, tmp_path, "performance", total, f"killed at {step}")
    store = FFStreamStore(tmp_path, FFAnalyticsConfigDTO(), clock=clock, writer_id="r")
    rep = FFPartitionCompressor(store, compression_age_days=7, clock=clock).run()
    store.close()
    assert not rep.errors
    _assert_counts(sdir, tmp_path, "performance", total, f"recovered after {step}")
    assert sorted(os.listdir(sdir)) == ["date=2026-01-01", "date=2026-01-02", "date=2026-01-03"]
    for p in sdir.iterdir():
        assert os.listdir(p) == ["compacted.jsonl.gz"]


def _user_partitions(base: Path, days: int = 3, writers: int = 2, users: int = 5, per: int = 20) -> dict[str, int]:
    sdir = base / "analytics" / "user_analytics" / "feature_usage"
    counts: dict[str, int] = {}
    for d in range(days):
        day = date(2026, 2, 1) + timedelta(days=d)
        pdir = sdir / f"date={day.isoformat()}"
        pdir.mkdir(parents=True)
        for w in range(writers):
            lines = bytearray()
            for i in range(per):
                u = f"u{(i + w + d) % users:016x}"
                counts[u] = counts.get(u, 0) + 1
                lines += orjson.dumps({"timestamp": f"{day}T02:00:00Z", "user_hash": u, "i": i}) + b"\n"
            (pdir / f"part-w{w}.jsonl").write_bytes(bytes(lines))
    return counts


def _erase_kill_points() -> list[tuple[str, int]]:
    # the erasure rewrites 6 files (3 days x 2 writers): kill before and after each os.replace
    return [(when, k) for k in range(1, 7) for when in ("before", "after")]


@pytest.mark.parametrize(("when", "k"), _erase_kill_points())
def test_erasure_killed_at_every_file_outside_reader_counts_exactly(tmp_path: Path, when: str, k: int) -> None:
    counts = _user_partitions(tmp_path)
    victim = "u0000000000000000"
    others = sum(v for u, v in counts.items() if u != victim)
    sdir = tmp_path / "analytics" / "user_analytics" / "feature_usage"
    files_before = {p: sum(1 for line in p.read_bytes().splitlines() if victim.encode() in line)
                    for p in sdir.glob("date=*/*.jsonl")}

    def child() -> None:
        real_replace = os.replace
        seen = {"n": 0}

        def replace(src: object, dst: object, *a: object, **kw: object) -> None:
            seen["n"] += 1
            if seen["n"] == k and when == "before":
                _kill_self()
            real_replace(src, dst, *a, **kw)
            if seen["n"] == k and when == "after":
                _kill_self()

        os.replace = replace  # only in the forked child
        store = FFStreamStore(tmp_path, FFAnalyticsConfigDTO(), writer_id="e")
        FFUserDataEraser(store).erase(frozenset({victim}), ["feature_usage"])

    assert _run_killed(child) == signal.SIGKILL
    lib = _lib(tmp_path, "feature_usage")
    victim_left = sum(1 for r in lib if r["user_hash"] == victim)
    assert len(lib) - victim_left == others  # nobody else's record lost or doubled
    # the victim's records are gone file by file: each file is old or new, never half-written
    per_file_left = {p: sum(1 for line in p.read_bytes().splitlines() if victim.encode() in line)
                     for p in sdir.glob("date=*/*.jsonl")}
    assert set(per_file_left) == set(files_before)
    assert all(per_file_left[p] in (0, files_before[p]) for p in files_before)
    assert victim_left == sum(per_file_left.values())
    expected = others + victim_left
    rewritten = k if when == "after" else k - 1
    assert sum(1 for p in files_before if per_file_left[p] == 0 and files_before[p]) == rewritten
    for g in GLOBS:
        assert _duck_count(sdir, g) == expected == len(lib), g
    # a second erasure finishes the job
    store = FFStreamStore(tmp_path, FFAnalyticsConfigDTO(), writer_id="e2")
    FFUserDataEraser(store).erase(frozenset({victim}), ["feature_usage"])
    store.close()
    for g in GLOBS:
        assert _duck_count(sdir, g) == others == len(_lib(tmp_path, "feature_usage")), g
    assert _duck_count(sdir, GLOBS[0], f"WHERE user_hash = '{victim}'") == 0
