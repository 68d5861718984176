"""The lifecycle hub: the one place the manager's engines meet.

Each engine registers what it must do when the manager flushes, closes, forks or ticks, the periodic
jobs the collection loop runs, and the feeds between domains (an accepted user event reaches the
rollups; an erasure reaches them too). No engine holds a reference to another engine for these: the
hub calls them in a documented order.

Order guarantees:

- flush hooks run in registration order, then the store flushes (so whatever a hook emits is written
  by the same flush);
- close hooks run in reverse registration order (the engine built first, the compliance trail,
  closes last), after a final flush and before the store closes;
- shutdown hooks (async) run before that final flush, bounded by ``shutdown_timeout_seconds``;
- fork hooks run in registration order in the child, after the store took its new writer id;
- resume hooks run once, on the first async call in a forked child (``resume_if_forked``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any

from ff_utils.ff_analytics_core.ff_file_ops import ff_retry_pending_unlinks
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_core.ff_names import ff_validate_name

__all__ = ["FFLifecycleHub", "JobTable", "TickHook"]

logger = get_logger(__name__)

TickHook = Callable[[Any], Awaitable[None]]
JobTable = dict[str, tuple[float, Callable[[], Awaitable[Any]]]]


def _check_callable(fn: Any, what: str = "fn") -> None:
    if not callable(fn):
        raise TypeError(f"{what}: expected a callable, got {type(fn).__name__}")


class FFLifecycleHub:
    """Flush/close/fork/tick hooks, periodic jobs and the cross-domain feeds of one manager."""

    def __init__(self, store: Any, *, shutdown_timeout_seconds: float = 10.0) -> None:
        self.store = store
        self.shutdown_timeout_seconds = float(shutdown_timeout_seconds)
        self.flush_hooks: list[Callable[[], Any]] = []
        self.close_hooks: list[Callable[[], None]] = []
        self.shutdown_hooks: list[Callable[[], Awaitable[None]]] = []
        self.fork_hooks: list[Callable[[], None]] = []
        self.resume_hooks: list[Callable[[], None]] = []
        self.tick_hooks: list[TickHook] = []
        self.periodic_jobs: JobTable = {}
        self.user_event_observers: list[Callable[[dict[str, Any]], None]] = []
        # observer -> its batch form (an observer without one is called per record)
        self.user_event_batch_forms: dict[Callable[[dict[str, Any]], None], Callable[[list[dict[str, Any]]], None]] = {}
        self.user_erasure_observers: dict[str, Callable[[str], Any]] = {}
        self.resume_pending = False
        self.closed = False

    # ------------------------------------------------------------------ registration
    def add_flush_hook(self, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` at the start of every flush; returning False means "kept for retry"."""
        _check_callable(fn)
        self.flush_hooks.append(fn)

    def add_close_hook(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` on close, after the last flush (reverse registration order)."""
        _check_callable(fn)
        self.close_hooks.append(fn)

    def add_shutdown_hook(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Await ``fn()`` on close, before the last flush (stop loops, let background work finish)."""
        _check_callable(fn)
        self.shutdown_hooks.append(fn)

    def add_fork_hook(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` in the child after ``os.fork()``: drop the parent's buffered state, new locks."""
        _check_callable(fn)
        self.fork_hooks.append(fn)

    def add_resume_hook(self, fn: Callable[[], None]) -> None:
        """Run ``fn()`` on the first async call in a forked child (restart what the parent ran)."""
        _check_callable(fn)
        self.resume_hooks.append(fn)

    def add_tick_hook(self, fn: TickHook) -> None:
        """Await ``fn(metrics_dto)`` after each collection tick."""
        _check_callable(fn)
        self.tick_hooks.append(fn)

    def register_periodic_job(self, name: str, interval_seconds: float, fn: Callable[[], Awaitable[Any]]) -> None:
        """Have the collection loop run ``fn`` every ``interval_seconds``; a name registered again is replaced.

        ``name`` matches ``^[a-z0-9_]{1,64}$`` (it names the job's task and stats).
        """
        ff_validate_name(name, "name")
        if (
            isinstance(interval_seconds, bool)
            or not isinstance(interval_seconds, (int, float))
            or not 0 < interval_seconds < math.inf
        ):
            raise ValueError(f"interval_seconds: must be a finite number > 0, got {interval_seconds!r}")
        _check_callable(fn)
        self.periodic_jobs[name] = (float(interval_seconds), fn)

    def add_user_event_observer(
        self, fn: Callable[[dict[str, Any]], None], batch: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        """Call ``fn(record)`` once for every stored user event record (O(1), no I/O); batches of
        records call ``batch(records)`` instead when given (same effect as ``fn`` per record)."""
        _check_callable(fn)
        if batch is not None:
            _check_callable(batch)
        self.user_event_observers.append(fn)
        if batch is not None:
            self.user_event_batch_forms[fn] = batch

    def add_user_erasure_observer(self, name: str, fn: Callable[[str], Any]) -> None:
        """Call ``fn(user_hash)`` on erasure; its result is reported under ``name``."""
        _check_callable(fn)
        self.user_erasure_observers[ff_validate_name(name, "name")] = fn

    # ------------------------------------------------------------------ running
    def flush(self) -> bool:
        """Flush hooks, then the store; True when everything recorded before the call is written."""
        ok = True
        for hook in list(self.flush_hooks):
            try:
                if hook() is False:
                    ok = False
            except Exception:  # a hook bug must not lose the store's buffers
                ok = False
                logger.exception("flush hook %r failed", hook)
        ok = self.store.flush() and ok
        if ff_retry_pending_unlinks():  # temp files a fault left behind, removed once it clears
            ok = False
        return ok

    async def aflush(self) -> bool:
        """``flush()`` off the event loop (first resuming what a forked child must restart)."""
        if self.resume_pending:
            self.resume_if_forked()
        return await asyncio.to_thread(self.flush)

    async def shutdown(self) -> None:
        """Await every shutdown hook, together bounded by ``shutdown_timeout_seconds``."""
        if not self.shutdown_hooks:
            return

        async def one(fn: Callable[[], Awaitable[None]]) -> None:
            try:
                await fn()
            except Exception:
                logger.exception("shutdown hook %r failed", fn)

        try:
            await asyncio.wait_for(
                asyncio.gather(*(one(fn) for fn in list(self.shutdown_hooks))), self.shutdown_timeout_seconds
            )
        except TimeoutError:
            logger.error("background work did not finish within %.1fs of close; cancelled",
                         self.shutdown_timeout_seconds)

    def close(self) -> None:
        """Final flush, close hooks (reverse order), then the store; idempotent."""
        if self.closed:
            return
        self.flush()
        for hook in reversed(list(self.close_hooks)):
            try:
                hook()
            except Exception:
                logger.exception("close hook %r failed", hook)
        self.store.close()
        self.closed = True

    def after_fork_in_child(self) -> None:
        """Child of ``os.fork()``: every fork hook; resume hooks wait for the first async call."""
        for hook in list(self.fork_hooks):
            hook()
        self.resume_pending = bool(self.resume_hooks)

    def resume_if_forked(self) -> None:
        """Run the resume hooks once in a forked child (needs a running event loop to start tasks)."""
        if not self.resume_pending:
            return
        self.resume_pending = False
        for hook in list(self.resume_hooks):
            try:
                hook()
            except Exception:
                logger.exception("resume hook %r failed", hook)

    def publish_user_event(self, record: dict[str, Any]) -> int:
        """Feed one stored user event to every observer; returns the number of observer failures."""
        failures = 0
        for fn in self.user_event_observers:
            try:
                fn(record)
            except Exception:
                failures += 1
                logger.exception("user event observer %r failed", fn)
        return failures

    def erase_user(self, user_hash: str) -> dict[str, Any]:
        """Run every erasure observer; ``{name: result}``, or ``{name: {"error": ...}}`` for one that raised."""
        out: dict[str, Any] = {}
        for name, fn in self.user_erasure_observers.items():
            try:
                out[name] = fn(user_hash)
            except Exception as exc:
                logger.exception("erasure observer %s failed", name)
                out[name] = {"error": str(exc)}
        return out
