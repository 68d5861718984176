"""Child-process workloads for the store's multi-process and crash tests (run with -m)."""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime

from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore
from tests._store_helpers import store_config


def concurrent(base: str, writer: str, n: int) -> None:
    clock = FFManualClock(datetime(2026, 5, 5, 12, tzinfo=UTC))
    s = FFStreamStore(base, store_config(write_batch_size=500, fsync_policy="never"), clock=clock)
    for i in range(n):
        s.append("performance", {"w": writer, "i": i})
    s.close()


def crash(base: str, start_seq: int, seed: int) -> None:
    """Write mixed-size records forever; print each seq once it is durable (flush returned True)."""
    rnd = random.Random(seed)
    clock = FFManualClock(datetime(2026, 5, 5, 12, tzinfo=UTC))
    s = FFStreamStore(base, store_config(write_batch_size=8, fsync_policy="batch"), clock=clock, writer_id="crashy")
    seq = start_seq
    out = sys.stdout
    while True:
        batch = []
        for _ in range(rnd.randint(1, 6)):
            size = rnd.choice([100, 1000, 10_000, 100_000, 256_000])
            s.append("performance", {"seq": seq, "pad": "x" * size})
            batch.append(seq)
            seq += 1
        if s.flush():
            out.write(f"{batch[-1]}\n")
            out.flush()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "concurrent":
        concurrent(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif mode == "crash":
        crash(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
