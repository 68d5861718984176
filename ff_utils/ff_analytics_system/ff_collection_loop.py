"""The continuous collection loop: drift-free ticks, backoff on failure, periodic jobs, tick hooks.

Ticks are scheduled on a fixed grid ``t0 + k * interval`` of the clock's ``monotonic()``, so the
time a tick takes never shifts the next one; a tick that overruns skips the grid points it missed
(counted in ``missed_ticks``). A tick that raises is logged and counted, and the loop retries after
``min(interval * 2**failures, max_backoff_seconds)``. Periodic jobs run as their own tasks at their
own cadence (never two runs of one job at once); tick hooks are awaited with each tick's result.
``stop()`` lets a running tick finish (up to ``stop_timeout_seconds``), cancels the sleep and the
jobs, then awaits ``on_stop`` (the flush). With ``FFManualClock`` the sleep advances the clock, so a
test drives the loop deterministically (``run(max_ticks=n)`` or ``run_once()``).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ff_utils.ff_analytics_core.ff_clock import FFClock
from ff_utils.ff_analytics_core.ff_logging import get_logger

logger = get_logger(__name__)

JobTable = dict[str, tuple[float, Callable[[], Awaitable[Any]]]]


class FFCollectionLoop:
    """Runs ``tick_fn`` every ``interval_seconds`` on the clock's grid."""

    def __init__(
        self,
        tick_fn: Callable[[], Awaitable[Any]],
        interval_seconds: float,
        clock: FFClock | None = None,
        *,
        jobs: Callable[[], JobTable] | None = None,
        hooks: Callable[[], list[Callable[[Any], Awaitable[None]]]] | None = None,
        on_stop: Callable[[], Awaitable[None]] | None = None,
        max_backoff_seconds: float = 60.0,
        stop_timeout_seconds: float = 10.0,
    ) -> None:
        if isinstance(interval_seconds, bool) or not isinstance(interval_seconds, (int, float)) \
                or not interval_seconds > 0:
            raise ValueError(f"interval_seconds: must be a number > 0, got {interval_seconds!r}")
        self.tick_fn = tick_fn
        self.interval = float(interval_seconds)
        self.clock = clock or FFClock()
        self._jobs = jobs or (lambda: {})
        self._hooks = hooks or (lambda: [])
        self.on_stop = on_stop
        self.max_backoff = float(max_backoff_seconds)
        self.stop_timeout = float(stop_timeout_seconds)
        self.task: asyncio.Task[None] | None = None
        self._stopping = False
        self._sleeping = False
        self._finish_on_exit = False
        self._job_tasks: dict[str, asyncio.Task[Any]] = {}
        self._job_due: dict[str, float] = {}
        self.ticks = 0
        self.failed_ticks = 0
        self.missed_ticks = 0
        self.consecutive_failures = 0
        self.job_runs: dict[str, int] = {}
        self.job_failures: dict[str, int] = {}
        self.hook_failures = 0
        self.last_error = ""
        self.last_tick_ms = 0.0
        self.max_tick_ms = 0.0
        self.total_tick_ms = 0.0
        self.last_result: Any = None

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    # ------------------------------------------------------------------ one tick
    async def run_once(self) -> bool:
        """One tick: ``tick_fn``, then due periodic jobs, then hooks. False when the tick raised."""
        t0 = time.perf_counter()
        try:
            result = await self.tick_fn()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.failed_ticks += 1
            self.consecutive_failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.exception("collection tick failed (%d in a row)", self.consecutive_failures)
            return False
        finally:
            ms = (time.perf_counter() - t0) * 1000.0
            self.last_tick_ms = ms
            self.total_tick_ms += ms
            self.max_tick_ms = max(self.max_tick_ms, ms)
        self.ticks += 1
        self.consecutive_failures = 0
        self.last_result = result
        self._start_due_jobs()
        for hook in list(self._hooks()):
            try:
                await hook(result)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.hook_failures += 1
                logger.exception("tick hook %r failed", hook)
        return True

    def _start_due_jobs(self) -> None:
        now = self.clock.monotonic()
        table = self._jobs()
        for name, (interval, fn) in list(table.items()):
            due = self._job_due.setdefault(name, now + interval)
            if now < due:
                continue
            # next due on the job's own grid; missed runs are not replayed
            self._job_due[name] = due + interval * (math.floor((now - due) / interval) + 1)
            running = self._job_tasks.get(name)
            if running is not None and not running.done():
                logger.warning("periodic job %s still running; skipping this run", name)
                continue
            self._job_tasks[name] = asyncio.create_task(self._run_job(name, fn), name=f"ff-job-{name}")
        for name in list(self._job_due):
            if name not in table:
                del self._job_due[name]

    async def _run_job(self, name: str, fn: Callable[[], Awaitable[Any]]) -> None:
        try:
            await fn()
            self.job_runs[name] = self.job_runs.get(name, 0) + 1
        except asyncio.CancelledError:
            raise
        except Exception:
            self.job_failures[name] = self.job_failures.get(name, 0) + 1
            logger.exception("periodic job %s failed", name)

    async def drain_jobs(self) -> None:
        """Wait for the periodic job runs in flight."""
        tasks = [t for t in self._job_tasks.values() if not t.done()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------ the loop
    async def run(self, max_ticks: int | None = None) -> None:
        """Tick until stopped (or ``max_ticks`` successful ticks), sleeping on the clock's grid."""
        clock = self.clock
        next_at = clock.monotonic()
        done = 0
        while not self._stopping:
            ok = await self.run_once()
            if ok:
                done += 1
                if max_ticks is not None and done >= max_ticks:
                    return
                next_at += self.interval
                now = clock.monotonic()
                if next_at <= now:  # overran: keep the phase, skip the grid points we missed
                    skipped = math.floor((now - next_at) / self.interval) + 1
                    self.missed_ticks += skipped
                    next_at += skipped * self.interval
            else:
                delay = min(self.interval * (2 ** min(self.consecutive_failures, 30)), self.max_backoff)
                next_at = clock.monotonic() + delay
            if self._stopping:
                return
            self._sleeping = True
            try:
                await clock.sleep(max(0.0, next_at - clock.monotonic()))
            finally:
                self._sleeping = False

    async def start(self) -> bool:
        """Start the loop task; True (idempotent) when it is already running."""
        if self.running:
            return True
        self._stopping = False
        self.task = asyncio.create_task(self._guarded_run(), name="ff-collection-loop")
        return True

    async def _guarded_run(self) -> None:
        try:
            await self.run()
        except asyncio.CancelledError:
            pass
        if self._finish_on_exit:
            self._finish_on_exit = False
            await self._finish()

    async def stop(self) -> bool:
        """Stop ticking (a running tick finishes), cancel jobs, await ``on_stop``; idempotent."""
        task = self.task
        self._stopping = True
        if task is not None and task is asyncio.current_task():
            # called from a tick hook or the tick itself: the loop exits after this tick and
            # finishes (jobs cancelled, on_stop awaited) from _guarded_run; no self-await
            self._finish_on_exit = True
            return True
        if task is not None and not task.done():
            if self._sleeping:
                task.cancel()
            try:
                await asyncio.wait_for(asyncio.shield(task), self.stop_timeout)
            except TimeoutError:
                logger.error("collection tick did not finish within %.1fs; cancelling", self.stop_timeout)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            except asyncio.CancelledError:
                if not task.done():
                    raise
        self.task = None
        await self._finish()
        return True

    async def _finish(self) -> None:
        """Cancel the periodic job runs in flight, then await ``on_stop`` (the flush)."""
        me = asyncio.current_task()  # a job that stops the loop does not cancel itself
        jobs = [t for t in self._job_tasks.values() if not t.done() and t is not me]
        for t in jobs:
            t.cancel()
        if jobs:
            await asyncio.gather(*jobs, return_exceptions=True)
        self._job_tasks.clear()
        if self.on_stop is not None:
            try:
                await self.on_stop()
            except Exception:
                logger.exception("flush on stop failed")

    def after_fork(self) -> bool:
        """Child of ``os.fork()``: forget the parent's loop task and job runs (cancelled, in case the
        child keeps running the parent's event loop); True when the loop was running."""
        was_running = self.running
        for t in [self.task, *self._job_tasks.values()]:
            if t is not None and not t.done():
                try:
                    t.cancel()
                except RuntimeError:  # the parent's loop is closed
                    pass
        self.task = None
        self._job_tasks = {}
        self._stopping = self._sleeping = self._finish_on_exit = False
        return was_running

    def stats(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "interval_seconds": self.interval,
            "ticks": self.ticks,
            "failed_ticks": self.failed_ticks,
            "missed_ticks": self.missed_ticks,
            "hook_failures": self.hook_failures,
            "job_runs": dict(self.job_runs),
            "job_failures": dict(self.job_failures),
            "last_tick_ms": round(self.last_tick_ms, 3),
            "max_tick_ms": round(self.max_tick_ms, 3),
            "mean_tick_ms": round(self.total_tick_ms / max(1, self.ticks + self.failed_ticks), 3),
            "last_error": self.last_error,
        }
