"""ff_new_id: unique and time-ordered in a tight loop, across threads and across processes."""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import threading
import time

import pytest

from ff_utils.ff_analytics_core.ff_ids import ff_id_timestamp_ms, ff_new_id

ID_RE = re.compile(r"[a-z]+_[0-9a-f]{30}")
N_TIGHT = int(os.environ.get("FF_TEST_ID_COUNT", "100000"))


def test_tight_loop_ids_unique_and_sorted() -> None:
    ids = [ff_new_id("sys") for _ in range(N_TIGHT)]
    assert len(set(ids)) == N_TIGHT
    assert ids == sorted(ids)
    assert all(ID_RE.fullmatch(i) for i in ids[:: max(1, N_TIGHT // 1000)])
    assert len({len(i) for i in ids}) == 1  # fixed width
    # many share a millisecond (the seed's f"sys_{ms}" would have collided there)
    ms = [ff_id_timestamp_ms(i) for i in ids]
    assert len(set(ms)) < N_TIGHT


def test_embedded_timestamp_is_now() -> None:
    before = time.time_ns() // 1_000_000
    i = ff_new_id("alert")
    after = time.time_ns() // 1_000_000
    assert before <= ff_id_timestamp_ms(i) <= after + 1
    assert i.startswith("alert_")


def test_ids_sort_across_milliseconds() -> None:
    a = ff_new_id("bi")
    time.sleep(0.005)
    b = ff_new_id("bi")
    assert a < b and ff_id_timestamp_ms(a) < ff_id_timestamp_ms(b)


def test_threads_make_unique_ids() -> None:
    out: list[list[str]] = [[] for _ in range(8)]

    def work(k: int) -> None:
        out[k] = [ff_new_id("thr") for _ in range(5000)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [i for chunk in out for i in chunk]
    assert len(flat) == len(set(flat)) == 40_000
    for chunk in out:  # each thread sees its own ids increasing
        assert chunk == sorted(chunk)


def _child(q: mp.Queue, n: int) -> None:  # type: ignore[type-arg]
    q.put([ff_new_id("proc") for _ in range(n)])


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_ids_from_several_processes_unique(method: str) -> None:
    if method not in mp.get_all_start_methods():
        pytest.skip(f"start method {method} unavailable")
    ctx = mp.get_context(method)
    ff_new_id("proc")  # parent state exists before the fork: children must not reuse it
    q = ctx.Queue()
    n, procs = 20_000, 4
    ps = [ctx.Process(target=_child, args=(q, n)) for _ in range(procs)]
    for p in ps:
        p.start()
    chunks = [q.get(timeout=60) for _ in ps]
    for p in ps:
        p.join(timeout=30)
        assert p.exitcode == 0
    flat = [i for c in chunks for i in c]
    assert len(set(flat)) == n * procs
    assert all(c == sorted(c) for c in chunks)
    nodes = {c[0][-12:] for c in chunks}
    assert len(nodes) == procs  # each process drew its own node bits


@pytest.mark.parametrize("bad", ["", "9lives", "has space", "a_b", "x" * 33, None, 5, "../x"])
def test_bad_prefix_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match="prefix"):
        ff_new_id(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["nounderscore", "sys_zz", "sys_" + "g" * 30, 7])
def test_id_timestamp_rejects_foreign_ids(bad: object) -> None:
    with pytest.raises(ValueError, match="id_"):
        ff_id_timestamp_ms(bad)  # type: ignore[arg-type]
