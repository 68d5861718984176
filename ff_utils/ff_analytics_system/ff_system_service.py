"""The system engine of the manager: metrics, instruments, health, continuous collection.

The work lives in engine modules: ``ff_system_probe`` (psutil sampling), ``ff_instrument_registry``
(hot-path aggregation per window), ``ff_health_checks`` (checks, collectors, scores),
``ff_collection_loop`` (drift-free ticks) and ``ff_performance_analysis`` (windowed statistics).
What a tick writes depends on the analytics level (see docs/system_metrics.md and
:class:`FFTickPlanDTO`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ff_class_configs.ff_analytics_configs.ff_analytics_config import FFAnalyticsConfigDTO
from ff_class_configs.ff_analytics_configs.ff_analytics_entities_config import FFSystemMetricsDTO
from ff_utils.ff_analytics_core.ff_clock import FFClock, ff_iso
from ff_utils.ff_analytics_core.ff_lifecycle_hub import FFLifecycleHub
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_core.ff_names import ff_validate_name
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore
from ff_utils.ff_analytics_system.ff_collection_loop import FFCollectionLoop
from ff_utils.ff_analytics_system.ff_health_checks import (
    DEGRADED,
    HEALTHY,
    UNHEALTHY,
    FFHealthRegistry,
    assess_overall,
    data_quality_score,
    system_reliability_score,
    thresholds_from,
)
from ff_utils.ff_analytics_system.ff_instrument_registry import (
    FFInstrumentRegistry,
    FFRawWindowDTO,
    FFWindowSnapshotDTO,
)
from ff_utils.ff_analytics_system.ff_performance_analysis import analyze_performance as _analyze_performance
from ff_utils.ff_analytics_system.ff_performance_analysis import parse_timeframe
from ff_utils.ff_analytics_system.ff_system_probe import FFResourceSampleDTO, FFSystemProbe

__all__ = ["LEVELS", "FFSystemService", "FFTickPlanDTO"]

logger = get_logger(__name__)

LEVELS = ("minimal", "standard", "detailed", "full")
_STORE_COUNTERS = (
    "records_written",
    "records_dropped",
    "records_dropped_reserve",
    "write_failures",
    "unparseable_lines",
    "quarantined_lines",
    "corrupt_files",
)


@dataclass(frozen=True, slots=True)
class FFTickPlanDTO:
    """What a collection tick writes, from the analytics level and the ``track_*`` switches."""

    level: str
    rank: int  # index in LEVELS: 0 minimal .. 3 full
    performance: bool  # enable_performance_monitoring: instruments record at all
    response_times: bool  # track_response_times: ``performance`` window/metric records
    resources: bool  # track_resource_usage: ``resource_usage`` records
    error_rates: bool  # track_error_rates: ``error_rates`` records

    @classmethod
    def from_config(cls, config: FFAnalyticsConfigDTO) -> FFTickPlanDTO:
        raw = config.analytics_level
        level = str(getattr(raw, "value", raw)).lower()
        if level not in LEVELS:
            raise ValueError(f"analytics_level: must be one of {', '.join(LEVELS)}, got {raw!r}")
        return cls(level, LEVELS.index(level), bool(config.enable_performance_monitoring),
                   bool(config.track_response_times), bool(config.track_resource_usage),
                   bool(config.track_error_rates))

    @property
    def writes_resources(self) -> bool:
        """A tick appends a ``resource_usage`` record."""
        return self.rank >= 1 and self.resources

    @property
    def writes_requests(self) -> bool:
        """A tick appends the instrument window's ``performance`` records."""
        return self.rank >= 1 and self.performance and self.response_times


def _ignore_request(component: str, duration_ms: float, success: bool = True) -> None:
    """``record_request`` with ``enable_performance_monitoring=False``: nothing is recorded."""


def _ignore_metric(name: str, value: float = 1.0, kind: str = "gauge", labels: dict[str, str] | None = None) -> None:
    """``record_metric`` with ``enable_performance_monitoring=False``: nothing is recorded."""


class FFSystemService:
    """System metrics, instrumentation, health and the collection loop (issue 3).

    ``request_recorder`` / ``metric_recorder`` are the hot-path callables for the configured level
    (the registry's own methods, or no-ops when performance monitoring is off); the manager's
    ``record_request``/``record_metric`` call them directly.
    """

    def __init__(
        self,
        store: FFStreamStore,
        clock: FFClock,
        config: FFAnalyticsConfigDTO,
        hub: FFLifecycleHub,
        *,
        base_path: Path,
        validate_name: Callable[[Any, str], str] = ff_validate_name,
        evaluate_window: Callable[[list[dict[str, Any]]], Any] | None = None,
        alert_status: Callable[[], dict[str, Any]] | None = None,
        check_metrics: Callable[[Any], None] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.hub = hub
        self.plan = FFTickPlanDTO.from_config(config)
        self.thresholds = thresholds_from(config.alerting_config)
        self._evaluate_window = evaluate_window
        self._alert_status = alert_status
        self._check_metrics = check_metrics
        self.probe = FFSystemProbe(Path(base_path), clock)
        debug_sink = functools.partial(store.append, "performance") if self.plan.rank >= 3 else None
        self.instruments = FFInstrumentRegistry(
            clock, slow_threshold_ms=self.thresholds["response_time_threshold_ms"],
            debug_sink=debug_sink, validate_name=validate_name,
        )
        if not self.plan.performance:
            self.request_recorder: Callable[..., None] = _ignore_request
            self.metric_recorder: Callable[..., None] = _ignore_metric
        elif self.plan.rank >= 3:
            self.request_recorder = self.instruments.record_request_debug
            self.metric_recorder = self.instruments.record_metric
        else:
            self.request_recorder = self.instruments.record_request
            self.metric_recorder = self.instruments.record_metric
        self.health = FFHealthRegistry()
        self._concurrent_users = 0
        self._active_sessions = 0
        self._prev_store_counts = {k: 0 for k in _STORE_COUNTERS}
        self._collect_lock = asyncio.Lock()
        self._last_metrics: Any = None
        self._last_health: dict[str, Any] | None = None
        self._last_collected_mono: float | None = None
        self.collection_loop = FFCollectionLoop(
            self.collect_system_metrics,
            config.collection_interval_seconds,
            clock,
            jobs=lambda: hub.periodic_jobs,
            hooks=lambda: hub.tick_hooks,
            on_stop=self._on_collection_stop,
        )
        self._restart_after_fork = False
        self._fork_restart_task: asyncio.Task[Any] | None = None
        hub.add_close_hook(self.flush_pending_window)
        hub.add_fork_hook(self._after_fork)
        hub.add_resume_hook(self._resume_after_fork)
        hub.add_shutdown_hook(self._shutdown)

    @property
    def collection_task(self) -> asyncio.Task[None] | None:
        """The running collection loop's task, or None."""
        return self.collection_loop.task if self.collection_loop.running else None

    # ------------------------------------------------------------------ instrumentation (hot path)
    def time_operation(self, component: str) -> Any:
        """``with m.time_operation("db"):`` or ``async with``: records the block as one request."""
        return self.instruments.time_operation(component)

    def set_active_counts(self, concurrent_users: int, active_sessions: int) -> None:
        """The host reports its current concurrent users and active sessions."""
        for name, v in (("concurrent_users", concurrent_users), ("active_sessions", active_sessions)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise TypeError(f"{name}: expected int, got {type(v).__name__}")
            if v < 0:
                raise ValueError(f"{name}: must be >= 0, got {v}")
        self._concurrent_users = concurrent_users
        self._active_sessions = active_sessions

    # ------------------------------------------------------------------ health registry
    def register_health_check(
        self, name: str, async_fn: Callable[[], Awaitable[Any]], timeout_s: float = 5.0
    ) -> None:
        """Add a health check; its result becomes ``component_health[name]`` on each collection."""
        self.health.register_health_check(name, async_fn, timeout_s)

    def register_collector(self, name: str, fn: Callable[[], Any]) -> None:
        """Add a custom collector (returns a dict) sampled into ``resource_usage`` on each tick."""
        self.health.register_collector(name, fn)

    # ------------------------------------------------------------------ one collection
    async def collect_system_metrics(self) -> Any:
        """Sample resources, close the instrument window, run checks and collectors, write records."""
        async with self._collect_lock:
            return await self._collect_locked()

    async def _collect_locked(self) -> Any:
        now = self.clock.now()
        raw = self.instruments.swap_window(now)
        checks = await self.health.run_checks()
        collectors, collector_errors = await self.health.run_collectors()
        sample, snap = await asyncio.to_thread(self._sample_and_summarize, raw)
        counts = {k: int(getattr(self.store.stats, k)) for k in _STORE_COUNTERS}
        delta = {k: counts[k] - self._prev_store_counts.get(k, 0) for k in _STORE_COUNTERS}
        self._prev_store_counts = counts
        ov = snap.overall
        res = sample.to_dict()

        component_health = {n: r.status for n, r in checks.items()}
        reasons = {n: r.reason for n, r in checks.items() if r.reason}
        store_status, store_reason = self._store_component(delta)
        component_health["analytics_store"] = store_status
        if store_reason:
            reasons["analytics_store"] = store_reason
        dq = data_quality_score(self.store.stats)
        rel = system_reliability_score(ov["count"], ov["errors"], component_health.values())
        status, status_reasons = assess_overall(checks, res, ov, delta, self.thresholds)

        m = FFSystemMetricsDTO()
        m.timestamp = ff_iso(now)
        m.writer_id = self.store.writer_id
        m.collection_period_seconds = int(round(snap.window_seconds))
        m.request_count = ov["count"]
        m.response_time_ms = float(ov["mean"] or 0.0)
        m.p95_response_time_ms = ov["p95"]
        m.p99_response_time_ms = ov["p99"]
        m.throughput_requests_per_second = float(ov["throughput_per_s"] or 0.0)
        m.error_count = ov["errors"]
        m.warning_count = ov["slow"]
        m.success_rate_percent = float(ov["success_rate_percent"]) if ov["count"] else 100.0
        m.concurrent_users = self._concurrent_users
        m.active_sessions = self._active_sessions
        for f in ("cpu_usage_percent", "memory_usage_mb", "memory_usage_percent", "disk_usage_mb",
                  "disk_usage_percent", "network_io_mbps", "network_bytes_sent_per_s",
                  "network_bytes_recv_per_s", "process_rss_mb"):
            v = res.get(f)
            if v is not None:
                setattr(m, f, float(v))
        if sample.process_open_files is not None:
            m.process_open_files = int(sample.process_open_files)
        m.uptime_seconds = int(sample.uptime_seconds)
        m.component_health = component_health
        m.component_health_reasons = reasons
        m.component_response_times = {c: float(s["mean"]) for c, s in snap.components.items() if s["count"]}
        m.component_error_rates = {c: float(s["error_rate_percent"]) for c, s in snap.components.items()
                                   if s["count"]}
        m.data_quality_score = dq
        m.system_reliability_score = rel
        sat = [r for r in snap.metrics if r["name"] == "user_satisfaction_score" and r.get("mean") is not None]
        if sat:
            m.user_satisfaction_score = float(sat[0]["mean"])

        health = {
            "timestamp": m.timestamp,
            "writer_id": m.writer_id,
            "status": status,
            "reasons": status_reasons,
            "checks": {n: r.to_dict() for n, r in checks.items()},
            "component_health": component_health,
            "component_health_reasons": reasons,
            "data_quality_score": dq,
            "system_reliability_score": rel,
            "store_delta": delta,
        }
        self._write_tick(m, health, sample, snap, collectors, collector_errors)
        if self._evaluate_window is not None and snap.metrics:  # rules on instrument windows
            try:
                self._evaluate_window(snap.metrics)
            except Exception:  # an alert-rule bug must not break collection
                logger.exception("alert evaluation on the instrument window failed")
        if self._check_metrics is not None:  # the system rules, once per collection (seed 002)
            try:
                self._check_metrics(m)
            except Exception:  # an alert-rule bug must not break collection
                logger.exception("alert evaluation on the collected metrics failed")
        self._last_metrics = m
        self._last_health = health
        self._last_collected_mono = self.clock.monotonic()
        return m

    def _sample_and_summarize(self, raw: FFRawWindowDTO) -> tuple[FFResourceSampleDTO, FFWindowSnapshotDTO]:
        """Worker-thread part of a tick: psutil reads and window statistics."""
        return self.probe.sample(), self.instruments.summarize(raw)

    @staticmethod
    def _store_component(delta: dict[str, int]) -> tuple[str, str]:
        if delta.get("write_failures"):
            return UNHEALTHY, f"{delta['write_failures']} failed writes since the previous collection"
        lost = delta.get("records_dropped", 0) + delta.get("records_dropped_reserve", 0)
        if lost:
            return DEGRADED, f"{lost} records dropped since the previous collection"
        return HEALTHY, ""

    def _write_tick(
        self,
        m: Any,
        health: dict[str, Any],
        sample: FFResourceSampleDTO,
        snap: FFWindowSnapshotDTO,
        collectors: dict[str, Any],
        collector_errors: dict[str, str],
    ) -> None:
        """Append this tick's records, gated by the analytics level and the track_* switches."""
        append = self.store.append
        append("health_checks", health)
        if self.plan.rank < 1:
            return
        if self.plan.resources:
            append("resource_usage", {
                "timestamp": m.timestamp, "writer_id": m.writer_id, **sample.to_dict(),
                "concurrent_users": m.concurrent_users, "active_sessions": m.active_sessions,
                "collectors": collectors, "collector_errors": collector_errors,
            })
        self._write_window(snap, m.timestamp)

    def _write_window(self, snap: FFWindowSnapshotDTO, ts: str) -> None:
        if self.plan.rank < 1 or not self.plan.performance:
            return
        append = self.store.append
        writer = self.store.writer_id
        head = {"timestamp": ts, "writer_id": writer, "window_start": snap.window_start,
                "window_end": snap.window_end, "window_seconds": snap.window_seconds}
        if self.plan.response_times:
            append("performance", {**head, "kind": "window", **snap.overall})
            for row in snap.metrics:
                append("performance", {**head, "kind": "metric", **row})
            if self.plan.rank >= 2:
                for comp, stats in snap.components.items():
                    append("performance", {**head, "kind": "component", "component": comp, **stats})
        if self.plan.error_rates:
            ov = snap.overall
            append("error_rates", {
                **head, "kind": "window", "request_count": ov["count"], "error_count": ov["errors"],
                "error_rate_percent": ov["error_rate_percent"],
                "components": {c: {"count": s["count"], "errors": s["errors"],
                                   "error_rate_percent": s["error_rate_percent"]}
                               for c, s in snap.components.items()},
            })

    def flush_pending_window(self) -> None:
        """Write the open instrument window if it holds data (on stop and on close)."""
        if self.instruments.is_empty:
            return
        now = self.clock.now()
        snap = self.instruments.summarize(self.instruments.swap_window(now))
        self._write_window(snap, ff_iso(now))

    def _after_fork(self) -> None:
        """Child of ``os.fork()``: the parent reports its open window; the loop restarts here."""
        self.instruments.swap_window(self.clock.now())  # discard the parent's requests and metrics
        self._prev_store_counts = {k: 0 for k in _STORE_COUNTERS}
        self._collect_lock = asyncio.Lock()
        self._restart_after_fork = self.collection_loop.after_fork()

    def _resume_after_fork(self) -> None:
        """First async call in a forked child: restart the collection loop the parent was running."""
        if self._restart_after_fork:
            self._restart_after_fork = False
            try:
                self._fork_restart_task = asyncio.get_running_loop().create_task(self.start_continuous_collection())
            except RuntimeError:  # no loop yet: try again on the next async call
                self._restart_after_fork = True
                self.hub.resume_pending = True

    async def _on_collection_stop(self) -> None:
        self.flush_pending_window()
        await self.hub.aflush()

    # ------------------------------------------------------------------ loop control
    async def start_continuous_collection(self) -> bool:
        """Start ticking every ``collection_interval_seconds``; idempotent (True if running)."""
        return await self.collection_loop.start()

    async def stop_continuous_collection(self) -> bool:
        """Stop the loop cleanly and flush; idempotent."""
        return await self.collection_loop.stop()

    async def _shutdown(self) -> None:
        """Shutdown hook: stop the loop (it flushes), then let in-flight periodic jobs finish."""
        if self.collection_loop.running:
            try:
                await self.stop_continuous_collection()
            except Exception:
                logger.exception("stop_continuous_collection failed during close")
        await self.collection_loop.drain_jobs()

    async def run_collection_tick(self) -> Any:
        """One full tick now (collect, start due periodic jobs, await tick hooks), for hosts and demos
        that drive time themselves; returns the ``FFSystemMetricsDTO``, or None when the tick failed
        (logged and counted in ``collection_stats()``)."""
        ok = await self.collection_loop.run_once()
        return self.collection_loop.last_result if ok else None

    def set_collection_interval(self, seconds: float) -> None:
        """Change the tick interval (takes effect from the next tick; seconds > 0)."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < float("inf"):
            raise ValueError(f"seconds: must be a finite number > 0, got {seconds!r}")
        self.collection_loop.interval = float(seconds)

    def collection_stats(self) -> dict[str, Any]:
        """Loop counters: ticks, failed and missed ticks, job runs, tick durations."""
        return self.collection_loop.stats()

    # ------------------------------------------------------------------ health and analysis
    async def get_system_health(self) -> dict[str, Any]:
        """Overall status from checks, resources vs alerting thresholds and store errors, with reasons.

        Uses the latest collection when it is at most two intervals old, else collects now.
        """
        fresh = self._last_collected_mono is not None and (
            self.clock.monotonic() - self._last_collected_mono <= 2 * self.collection_loop.interval
        )
        if not fresh or self._last_health is None:
            await self.collect_system_metrics()
        h = self._last_health or {}
        m = self._last_metrics
        status = h.get("status")
        reasons = list(h.get("reasons", []))
        alerts: dict[str, Any] = {}
        if self._alert_status is not None:
            alerts = self._alert_status()
            failing = [c for c in alerts.get("channels", []) if not c.get("healthy", True)]
            for c in failing:
                reasons.append(f"alert channel {c.get('channel')} {c.get('target')} failing: {c.get('last_error')}")
            if failing and status == "healthy":
                status = "degraded"
        dropped = self.store.stats.records_dropped
        if dropped:
            reasons.append(f"store dropped {dropped} records so far (by stream: {dict(self.store.dropped_by_stream)})")
            if status == "healthy":
                status = "degraded"
        return {
            "status": status,
            "reasons": reasons,
            "alerts": alerts,
            "checked_at": h.get("timestamp"),
            "writer_id": h.get("writer_id") or self.store.writer_id,
            "components": {n: {"status": s, "reason": h.get("component_health_reasons", {}).get(n, "")}
                           for n, s in h.get("component_health", {}).items()},
            "resources": {f: getattr(m, f, None) for f in (
                "cpu_usage_percent", "memory_usage_percent", "disk_usage_percent", "process_rss_mb")},
            "thresholds": dict(self.thresholds),
            "data_quality_score": h.get("data_quality_score"),
            "system_reliability_score": h.get("system_reliability_score"),
            "store": self.store.stats.to_dict(),
            "collection": self.collection_loop.stats(),
        }

    async def analyze_performance(self, timeframe: str = "1h") -> dict[str, Any]:
        """Response-time statistics, success/error rates and resource averages/peaks of ``timeframe``
        (``"15m"``, ``"1h"``, ``"7d"`` ...), read from the stored streams off the event loop."""
        parse_timeframe(timeframe)  # raise on the caller's loop, before the thread hop
        return await asyncio.to_thread(_analyze_performance, self.store, timeframe, self.clock)
