"""Manager facade mixin for the system domain: metrics, instruments, health, continuous collection.

The work lives in engine modules: ``ff_system_probe`` (psutil sampling), ``ff_instrument_registry``
(hot-path aggregation per window), ``ff_health_checks`` (checks, collectors, scores),
``ff_collection_loop`` (drift-free ticks) and ``ff_performance_analysis`` (windowed statistics).
What a tick writes depends on the analytics level (see docs/system_metrics.md).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any

from ff_utils.ff_analytics_core.ff_clock import ff_iso
from ff_utils.ff_analytics_store.ff_stream_store import ff_validate_name
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
from ff_utils.ff_analytics_system.ff_system_probe import FFResourceSampleDTO, FFSystemProbe

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


def _level_of(config: Any) -> str:
    raw = getattr(config, "analytics_level", "standard")
    level = str(getattr(raw, "value", raw)).lower()
    if level not in LEVELS:
        raise ValueError(f"analytics_level: must be one of {', '.join(LEVELS)}, got {raw!r}")
    return level


def _noop(*_a: Any, **_k: Any) -> None:
    return None


class FFSystemFacadeMixin:
    """System metrics, instrumentation, health and the collection loop (issue 3)."""

    # provided by the manager
    config: Any
    analytics_config: Any
    base_path: Any
    clock: Any
    store: Any
    logger: Any
    _tick_hooks: list[Any]
    _periodic_jobs: dict[str, Any]

    def _init_system(self) -> None:
        """Set up the probe, the instrument registry, health registry and the collection loop."""
        ac = self.analytics_config
        self._sys_level = _level_of(ac)
        self._sys_rank = LEVELS.index(self._sys_level)
        self._sys_thresholds = thresholds_from(getattr(ac, "alerting_config", None))
        self._sys_perf_enabled = bool(getattr(ac, "enable_performance_monitoring", True))
        self._sys_track_rt = bool(getattr(ac, "track_response_times", True))
        self._sys_track_res = bool(getattr(ac, "track_resource_usage", True))
        self._sys_track_err = bool(getattr(ac, "track_error_rates", True))
        interval = getattr(ac, "collection_interval_seconds", 60)
        self._probe = FFSystemProbe(self.base_path, self.clock)
        debug_sink = functools.partial(self.store.append, "performance") if self._sys_rank >= 3 else None
        self._instruments = FFInstrumentRegistry(
            self.clock, slow_threshold_ms=self._sys_thresholds["response_time_threshold_ms"],
            debug_sink=debug_sink,
            validate_name=functools.partial(self.checked_name, source="instrument")
            if hasattr(self, "checked_name") else ff_validate_name,
        )
        self._health = FFHealthRegistry()
        self._concurrent_users = 0
        self._active_sessions = 0
        self._prev_store_counts = {k: 0 for k in _STORE_COUNTERS}
        self._collect_lock = asyncio.Lock()
        self._last_metrics: Any = None
        self._last_health: dict[str, Any] | None = None
        self._last_collected_mono: float | None = None
        self._collection_loop = FFCollectionLoop(
            self.collect_system_metrics,
            interval,
            self.clock,
            jobs=lambda: self._periodic_jobs,
            hooks=lambda: self._tick_hooks,
            on_stop=self._on_collection_stop,
        )
        self._collection_task: asyncio.Task[None] | None = None
        # Hot path: bind the registry's methods on the instance (no facade hop per call).
        if not self._sys_perf_enabled:
            self.record_request = _noop  # type: ignore[method-assign]
            self.record_metric = _noop  # type: ignore[method-assign]
        elif self._sys_rank >= 3:
            self.record_request = self._instruments.record_request_debug  # type: ignore[method-assign]
            self.record_metric = self._instruments.record_metric  # type: ignore[method-assign]
        else:
            self.record_request = self._instruments.record_request  # type: ignore[method-assign]
            self.record_metric = self._instruments.record_metric  # type: ignore[method-assign]
        add_close = getattr(self, "add_close_hook", None)
        if add_close is not None:
            add_close(self._flush_pending_window)
        self._restart_collection_after_fork = False
        add_fork = getattr(self, "add_fork_hook", None)
        if add_fork is not None:
            add_fork(self._system_after_fork)

    # ------------------------------------------------------------------ instrumentation (hot path)
    def record_request(self, component: str, duration_ms: float, success: bool = True) -> None:
        """Count one request of ``component`` (aggregated per collection window; no I/O)."""
        self._instruments.record_request(component, duration_ms, success)  # rebound in _init_system

    def time_operation(self, component: str) -> Any:
        """``with m.time_operation("db"):`` or ``async with``: records the block as one request."""
        return self._instruments.time_operation(component)

    def record_metric(
        self, name: str, value: float = 1.0, kind: str = "gauge", labels: dict[str, str] | None = None
    ) -> None:
        """Record a counter | gauge | histogram | timer | rate value (aggregated per window)."""
        self._instruments.record_metric(name, value, kind, labels)  # rebound in _init_system

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
        self._health.register_health_check(name, async_fn, timeout_s)

    def register_collector(self, name: str, fn: Callable[[], Any]) -> None:
        """Add a custom collector (returns a dict) sampled into ``resource_usage`` on each tick."""
        self._health.register_collector(name, fn)

    # ------------------------------------------------------------------ one collection
    async def collect_system_metrics(self) -> Any:
        """Sample resources, close the instrument window, run checks and collectors, write records."""
        async with self._collect_lock:
            return await self._collect_locked()

    async def _collect_locked(self) -> Any:
        from ff_class_configs.ff_analytics_configs.ff_analytics_entities_config import FFSystemMetricsDTO

        now = self.clock.now()
        raw = self._instruments.swap_window(now)
        checks = await self._health.run_checks()
        collectors, collector_errors = await self._health.run_collectors()
        sample, snap = await asyncio.to_thread(self._sample_and_summarize, raw)
        counts = {k: int(getattr(self.store.stats, k, 0)) for k in _STORE_COUNTERS}
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
        status, status_reasons = assess_overall(checks, res, ov, delta, self._sys_thresholds)

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
        evaluate = getattr(self, "evaluate_alerts", None)
        if evaluate is not None and snap.metrics:  # rules on instrument windows
            from ff_utils.ff_analytics_alerts.ff_alert_rules import ff_instrument_values

            try:
                evaluate(ff_instrument_values(snap.metrics))
            except Exception:  # an alert-rule bug must not break collection
                self.logger.exception("alert evaluation on the instrument window failed")
        self._last_metrics = m
        self._last_health = health
        self._last_collected_mono = self.clock.monotonic()
        return m

    def _sample_and_summarize(self, raw: FFRawWindowDTO) -> tuple[FFResourceSampleDTO, FFWindowSnapshotDTO]:
        """Worker-thread part of a tick: psutil reads and window statistics."""
        return self._probe.sample(), self._instruments.summarize(raw)

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
        if self._sys_rank < 1:
            return
        if self._sys_track_res:
            append("resource_usage", {
                "timestamp": m.timestamp, "writer_id": m.writer_id, **sample.to_dict(),
                "concurrent_users": m.concurrent_users, "active_sessions": m.active_sessions,
                "collectors": collectors, "collector_errors": collector_errors,
            })
        self._write_window(snap, m.timestamp)

    def _write_window(self, snap: FFWindowSnapshotDTO, ts: str) -> None:
        if self._sys_rank < 1 or not self._sys_perf_enabled:
            return
        append = self.store.append
        writer = self.store.writer_id
        head = {"timestamp": ts, "writer_id": writer, "window_start": snap.window_start,
                "window_end": snap.window_end, "window_seconds": snap.window_seconds}
        if self._sys_track_rt:
            append("performance", {**head, "kind": "window", **snap.overall})
            for row in snap.metrics:
                append("performance", {**head, "kind": "metric", **row})
            if self._sys_rank >= 2:
                for comp, stats in snap.components.items():
                    append("performance", {**head, "kind": "component", "component": comp, **stats})
        if self._sys_track_err:
            ov = snap.overall
            append("error_rates", {
                **head, "kind": "window", "request_count": ov["count"], "error_count": ov["errors"],
                "error_rate_percent": ov["error_rate_percent"],
                "components": {c: {"count": s["count"], "errors": s["errors"],
                                   "error_rate_percent": s["error_rate_percent"]}
                               for c, s in snap.components.items()},
            })

    def _flush_pending_window(self) -> None:
        """Write the open instrument window if it holds data (on stop and on close)."""
        if not self._instruments._requests and not self._instruments._metrics:
            return
        now = self.clock.now()
        snap = self._instruments.summarize(self._instruments.swap_window(now))
        self._write_window(snap, ff_iso(now))

    def _system_after_fork(self) -> None:
        """Child of ``os.fork()``: the parent reports its open window; the loop restarts here."""
        self._instruments.swap_window(self.clock.now())  # discard the parent's requests and metrics
        self._prev_store_counts = {k: 0 for k in _STORE_COUNTERS}
        self._collect_lock = asyncio.Lock()
        self._restart_collection_after_fork = self._collection_loop.after_fork()
        self._collection_task = None

    def _resume_after_fork(self) -> None:
        """First async call in a forked child: restart the collection loop the parent was running."""
        if self._restart_collection_after_fork:
            self._restart_collection_after_fork = False
            try:
                self._fork_restart_task = asyncio.get_running_loop().create_task(self.start_continuous_collection())
            except RuntimeError:
                self._restart_collection_after_fork = True

    async def _on_collection_stop(self) -> None:
        self._flush_pending_window()
        flush = getattr(self, "aflush", None)
        if flush is not None:
            await flush()
        else:
            await self.store.aflush()

    # ------------------------------------------------------------------ loop control
    async def start_continuous_collection(self) -> bool:
        """Start ticking every ``collection_interval_seconds``; idempotent (True if running)."""
        ok = await self._collection_loop.start()
        self._collection_task = self._collection_loop.task
        return ok

    async def stop_continuous_collection(self) -> bool:
        """Stop the loop cleanly and flush; idempotent."""
        ok = await self._collection_loop.stop()
        self._collection_task = None
        return ok

    async def _drain_background_jobs(self, timeout: float = 10.0) -> None:
        """Let in-flight periodic jobs and background state writes finish (bounded; on close)."""
        pending = [self._collection_loop.drain_jobs()]
        bg = getattr(self, "_privacy_bg_task", None)
        if bg is not None and not bg.done():
            pending.append(bg)
        try:
            await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), timeout)
        except TimeoutError:
            self.logger.error("background jobs did not finish within %.1fs of close; cancelled", timeout)

    async def run_collection_tick(self) -> Any:
        """One full tick now (collect, start due periodic jobs, await tick hooks), for hosts and demos
        that drive time themselves; returns the ``FFSystemMetricsDTO``, or None when the tick failed
        (logged and counted in ``collection_stats()``)."""
        ok = await self._collection_loop.run_once()
        return self._collection_loop.last_result if ok else None

    def set_collection_interval(self, seconds: float) -> None:
        """Change the tick interval (takes effect from the next tick; seconds > 0)."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds < float("inf"):
            raise ValueError(f"seconds: must be a finite number > 0, got {seconds!r}")
        self._collection_loop.interval = float(seconds)

    def collection_stats(self) -> dict[str, Any]:
        """Loop counters: ticks, failed and missed ticks, job runs, tick durations."""
        return self._collection_loop.stats()

    # ------------------------------------------------------------------ health and analysis
    async def get_system_health(self) -> dict[str, Any]:
        """Overall status from checks, resources vs alerting thresholds and store errors, with reasons.

        Uses the latest collection when it is at most two intervals old, else collects now.
        """
        fresh = self._last_collected_mono is not None and (
            self.clock.monotonic() - self._last_collected_mono <= 2 * self._collection_loop.interval
        )
        if not fresh or self._last_health is None:
            await self.collect_system_metrics()
        h = self._last_health or {}
        m = self._last_metrics
        status = h.get("status")
        reasons = list(h.get("reasons", []))
        alerts: dict[str, Any] = {}
        alert_status = getattr(self, "alert_status", None)
        if alert_status is not None:
            alerts = alert_status()
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
            "components": {n: {"status": s, "reason": h.get("component_health_reasons", {}).get(n, "")}
                           for n, s in h.get("component_health", {}).items()},
            "resources": {f: getattr(m, f, None) for f in (
                "cpu_usage_percent", "memory_usage_percent", "disk_usage_percent", "process_rss_mb")},
            "thresholds": dict(self._sys_thresholds),
            "data_quality_score": h.get("data_quality_score"),
            "system_reliability_score": h.get("system_reliability_score"),
            "store": self.store.stats.to_dict(),
            "collection": self._collection_loop.stats(),
        }

    async def analyze_performance(self, timeframe: str = "1h") -> dict[str, Any]:
        """Response-time statistics, success/error rates and resource averages/peaks of ``timeframe``
        (``"15m"``, ``"1h"``, ``"7d"`` ...), read from the stored streams off the event loop."""
        from ff_utils.ff_analytics_system.ff_performance_analysis import parse_timeframe

        parse_timeframe(timeframe)  # raise on the caller's loop, before the thread hop
        return await asyncio.to_thread(_analyze_performance, self.store, timeframe, self.clock)
