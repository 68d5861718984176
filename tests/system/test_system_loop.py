"""Collection loop on a manual clock: drift-free grid, backoff, overrun, periodic jobs, hooks, stop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_system.ff_collection_loop import FFCollectionLoop

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def clock() -> FFManualClock:
    return FFManualClock(T0)


async def test_ticks_stay_on_the_grid_when_ticks_take_time(clock: FFManualClock) -> None:
    at: list[float] = []

    async def tick() -> int:
        at.append(clock.monotonic() - T0.timestamp())
        clock.advance(0.3)  # the tick itself takes 0.3 s
        return len(at)

    loop = FFCollectionLoop(tick, 5.0, clock)
    await loop.run(max_ticks=6)
    assert at == [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]
    assert loop.ticks == 6 and loop.missed_ticks == 0


async def test_overrun_skips_missed_grid_points(clock: FFManualClock) -> None:
    at: list[float] = []

    async def tick() -> None:
        at.append(clock.monotonic() - T0.timestamp())
        if len(at) == 2:
            clock.advance(12.5)  # overruns 2.5 intervals

    loop = FFCollectionLoop(tick, 5.0, clock)
    await loop.run(max_ticks=4)
    assert at == [0.0, 5.0, 20.0, 25.0]
    assert loop.missed_ticks == 2


async def test_failing_tick_is_retried_with_backoff(clock: FFManualClock) -> None:
    at: list[float] = []

    async def tick() -> None:
        at.append(clock.monotonic() - T0.timestamp())
        if len(at) in (2, 3):
            raise OSError("disk hiccup")

    loop = FFCollectionLoop(tick, 1.0, clock, max_backoff_seconds=3.0)
    await loop.run(max_ticks=3)
    # 0 ok; 1 fails -> retry after 2 s; 3 fails -> retry after min(4, 3) s; 6 ok; 7 ok
    assert at == [0.0, 1.0, 3.0, 6.0, 7.0]
    assert loop.failed_ticks == 2 and loop.ticks == 3 and "disk hiccup" in loop.last_error


async def test_periodic_jobs_run_at_their_own_cadence_and_hooks_get_results(clock: FFManualClock) -> None:
    job_times: list[float] = []
    seen: list[int] = []

    async def job() -> None:
        job_times.append(clock.monotonic() - T0.timestamp())

    async def bad_job() -> None:
        raise ValueError("job bug")

    async def hook(result: int) -> None:
        seen.append(result)

    async def bad_hook(result: int) -> None:
        raise RuntimeError("hook bug")

    n = {"i": 0}

    async def tick() -> int:
        n["i"] += 1
        return n["i"]

    jobs = {"bi": (3.0, job), "bad": (2.0, bad_job)}
    loop = FFCollectionLoop(tick, 1.0, clock, jobs=lambda: jobs, hooks=lambda: [hook, bad_hook])
    await loop.run(max_ticks=10)
    await loop.drain_jobs()
    assert len(job_times) == 3  # due at t = 3, 6, 9 of ticks at t = 0..9
    assert loop._job_due["bi"] - T0.timestamp() == 12.0
    assert loop.job_runs == {"bi": 3} and loop.job_failures == {"bad": 4}
    assert seen == list(range(1, 11)) and loop.hook_failures == 10


async def test_start_stop_idempotent_and_stop_flushes(clock: FFManualClock) -> None:
    flushed: list[int] = []
    ticks: list[int] = []

    async def tick() -> None:
        ticks.append(1)
        await asyncio.sleep(0)

    async def on_stop() -> None:
        flushed.append(len(ticks))

    loop = FFCollectionLoop(tick, 1.0, clock, on_stop=on_stop)
    assert await loop.start() and await loop.start()
    task = loop.task
    for _ in range(50):
        await asyncio.sleep(0)
        if len(ticks) >= 5:
            break
    assert loop.task is task and len(ticks) >= 5
    assert await loop.stop()
    assert task.done() and not loop.running
    assert flushed == [len(ticks)]
    assert await loop.stop()  # second stop: no error
    assert len(flushed) == 2
    assert await loop.start()
    await asyncio.sleep(0)
    await loop.stop()


async def test_stop_during_a_real_sleep_is_prompt() -> None:
    async def tick() -> None:
        return None

    loop = FFCollectionLoop(tick, 30.0)  # real clock: sleeping 30 s after the first tick
    await loop.start()
    await asyncio.sleep(0.05)
    t0 = asyncio.get_running_loop().time()
    await loop.stop()
    assert asyncio.get_running_loop().time() - t0 < 1.0
    assert loop.ticks == 1


def test_interval_validation() -> None:
    async def tick() -> None:
        return None

    with pytest.raises(ValueError, match="interval_seconds"):
        FFCollectionLoop(tick, 0)


async def test_stop_from_a_tick_hook_does_not_deadlock(clock: FFManualClock) -> None:
    loop: FFCollectionLoop

    async def tick() -> None:
        return None

    async def hook(_result: object) -> None:
        await loop.stop()

    flushed: list[int] = []

    async def on_stop() -> None:
        flushed.append(loop.ticks)

    loop = FFCollectionLoop(tick, 1.0, clock, hooks=lambda: [hook], on_stop=on_stop)
    await loop.start()
    await asyncio.wait_for(loop.task, 5.0)
    assert loop.ticks == 1 and flushed == [1]
