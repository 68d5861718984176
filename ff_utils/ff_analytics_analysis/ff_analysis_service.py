"""The analysis engine of the manager: ``analyze``, anomalies, patterns, capacity.

The engines are pure functions/classes over ``(timestamp, value)`` series
(``ff_stats_series``, ``ff_anomaly_detector``, ``ff_regression_detector``, ``ff_trend_analysis``,
``ff_forecasting``, ``ff_correlation_analysis``, ``ff_pattern_learner``); this mixin reads the
series from the stored streams, runs the engines off the event loop (one ``asyncio.to_thread`` per
call) and writes results back (``behavior_patterns``, ``capacity_planning``).

Metric catalogue (name -> stream and field), see :data:`METRIC_SOURCES`; any other name is looked
up as a numeric field of ``resource_usage`` and ``performance`` window records, or as a
``performance`` ``kind="metric"`` row with that ``name`` (its ``mean``).

Alerts: given ``raise_alert`` (the alert engine's), anomalies newer than
``alert_lookback_seconds`` are raised with ``alert_type="anomaly"``, ``rule_id="anomaly_<metric>"``
(the alert engine dedups and cools down per rule); without it nothing is raised and the count of
skipped alerts is returned instead.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from ff_class_configs.ff_analytics_configs.ff_analytics_config import FFAnalyticsConfigDTO
from ff_utils.ff_analytics_analysis.ff_anomaly_detector import FFAnomalyDetector
from ff_utils.ff_analytics_analysis.ff_correlation_analysis import ff_correlation_matrix
from ff_utils.ff_analytics_analysis.ff_forecasting import (
    DEFAULT_HORIZON_DAYS,
    ff_check_horizon_days,
    ff_holt_forecast,
    ff_linear_forecast,
    ff_time_to_saturation,
)
from ff_utils.ff_analytics_analysis.ff_pattern_learner import (
    LEARNED_PATTERN_RECORD_TYPE,
    FFPatternLearner,
    ff_pattern_recommendation,
    ff_pattern_recommendations,
)
from ff_utils.ff_analytics_analysis.ff_regression_detector import FFRegressionDetector
from ff_utils.ff_analytics_analysis.ff_stats_series import ff_parse_window, ff_summarize, ff_to_epoch
from ff_utils.ff_analytics_analysis.ff_trend_analysis import ff_analyze_trend
from ff_utils.ff_analytics_core.ff_clock import FFClock, ff_iso
from ff_utils.ff_analytics_core.ff_lifecycle_hub import FFLifecycleHub
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_core.ff_names import ff_validate_name
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore

__all__ = ["ANALYSIS_KINDS", "DEFAULT_METRICS", "METRIC_SOURCES", "FFAnalysisService"]

logger = get_logger(__name__)

# metric -> (stream, field, record filter "kind" or None)
METRIC_SOURCES: dict[str, tuple[str, str, str | None]] = {
    "cpu_usage_percent": ("resource_usage", "cpu_usage_percent", None),
    "memory_usage_percent": ("resource_usage", "memory_usage_percent", None),
    "memory_usage_mb": ("resource_usage", "memory_usage_mb", None),
    "disk_usage_percent": ("resource_usage", "disk_usage_percent", None),
    "disk_usage_mb": ("resource_usage", "disk_usage_mb", None),
    "network_io_mbps": ("resource_usage", "network_io_mbps", None),
    "process_rss_mb": ("resource_usage", "process_rss_mb", None),
    "process_cpu_percent": ("resource_usage", "process_cpu_percent", None),
    "concurrent_users": ("resource_usage", "concurrent_users", None),
    "active_sessions": ("resource_usage", "active_sessions", None),
    "response_time_ms": ("performance", "mean", "window"),
    "p95_response_time_ms": ("performance", "p95", "window"),
    "p99_response_time_ms": ("performance", "p99", "window"),
    "success_rate_percent": ("performance", "success_rate_percent", "window"),
    "error_rate_percent": ("performance", "error_rate_percent", "window"),
    "throughput_per_s": ("performance", "throughput_per_s", "window"),
    "request_count": ("performance", "count", "window"),
}
DEFAULT_METRICS = (
    "cpu_usage_percent", "memory_usage_percent", "disk_usage_percent", "response_time_ms",
    "p95_response_time_ms", "success_rate_percent", "error_rate_percent", "throughput_per_s",
)
ANALYSIS_KINDS = ("anomalies", "regression", "trend", "forecast", "capacity", "correlation")
USER_EVENT_STREAMS = ("session_analytics", "feature_usage", "engagement_metrics", "behavior_patterns")
PATTERN_RECORD = LEARNED_PATTERN_RECORD_TYPE
PATTERN_STREAM = "behavior_patterns"  # where learned patterns go (issue 8); see docs/analysis.md
CAPACITY_STREAM = "capacity_planning"
# resource -> (percent metric, absolute metric)
CAPACITY_RESOURCES = {"disk": ("disk_usage_percent", "disk_usage_mb"),
                      "memory": ("memory_usage_percent", "memory_usage_mb")}
_SEV_RANK = {"critical": 0, "error": 1, "warning": 2, "info": 3}
MIN_POINTS = 10


def _check_metric(m: Any, name: str = "metric") -> str:
    """A metric name as stored (the instrument name rule, ``ff_validate_name``); else ``ValueError``."""
    if not isinstance(m, str) or not m:
        raise ValueError(f"{name}: expected a non-empty metric name, got {m!r:.80}")
    return ff_validate_name(m, name)


def _check_flag(v: Any, name: str) -> None:
    if type(v) is not bool:
        raise TypeError(f"{name}: expected bool, got {type(v).__name__}")


def _num(v: Any) -> float | None:
    if type(v) is float or type(v) is int:
        f = float(v)
        return f if math.isfinite(f) else None
    return None


class FFAnalysisService:
    """Anomalies, regressions, trends, forecasts, capacity and behaviour patterns over stored series.

    ``raise_alert`` / ``clear_alert`` are the alert engine's; without them anomalies are only
    counted (``analysis_stats["alerts_skipped"]``).
    """

    def __init__(
        self,
        store: FFStreamStore,
        clock: FFClock,
        config: FFAnalyticsConfigDTO,
        hub: FFLifecycleHub,
        *,
        raise_alert: Callable[..., Any] | None = None,
        clear_alert: Callable[..., Any] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.hub = hub
        self._raise_alert = raise_alert
        self._clear_alert = clear_alert
        self._analysis_z = float(config.anomaly_z_threshold)
        self._analysis_regression_pct = float(config.regression_threshold_percent)
        self._pattern_min_occ = int(config.pattern_min_occurrences)
        self._pattern_conf = float(config.pattern_confidence_threshold)
        self._pattern_history = int(config.pattern_history_size)
        self.alert_lookback_seconds = max(300.0, 2.0 * float(config.collection_interval_seconds))
        self.analysis_stats = {"analyses": 0, "anomalies_found": 0, "alerts_raised": 0, "alerts_skipped": 0,
                               "patterns_written": 0, "capacity_records_written": 0, "read_errors": 0}
        if config.enable_analysis_jobs:
            self.schedule_analysis_jobs()

    def schedule_analysis_jobs(
        self,
        *,
        anomaly_interval_seconds: float | None = 300.0,
        anomaly_window: str = "24h",
        capacity_interval_seconds: float | None = 3600.0,
        capacity_window: str = "7d",
        pattern_interval_seconds: float | None = 86400.0,
        pattern_window: str = "7d",
    ) -> list[str]:
        """Opt in: have the collection loop scan for anomalies (raising alerts), forecast capacity
        and learn patterns at these cadences (``None`` skips a job). Returns the job names.

        Not registered automatically: the jobs raise alerts and append records, which a host must
        choose. Enabled from ``__init__`` when the analytics config has ``enable_analysis_jobs``.
        """
        for name, w in (("anomaly_window", anomaly_window), ("capacity_window", capacity_window),
                        ("pattern_window", pattern_window)):
            ff_parse_window(w, name)
        for name, iv in (("anomaly_interval_seconds", anomaly_interval_seconds),
                         ("capacity_interval_seconds", capacity_interval_seconds),
                         ("pattern_interval_seconds", pattern_interval_seconds)):
            if iv is not None and (isinstance(iv, bool) or not isinstance(iv, (int, float))
                                   or not 0 < iv < math.inf):
                raise ValueError(f"{name}: must be a finite number > 0 or None, got {iv!r}")
        names = []

        async def anomalies() -> None:
            await self.detect_anomalies(None, anomaly_window, raise_alerts=True)

        async def capacity() -> None:
            await self.forecast_capacity(capacity_window)

        async def patterns() -> None:
            await self.learn_patterns(pattern_window)

        for name, interval, fn in (("analysis_anomalies", anomaly_interval_seconds, anomalies),
                                   ("analysis_capacity", capacity_interval_seconds, capacity),
                                   ("analysis_patterns", pattern_interval_seconds, patterns)):
            if interval is not None:
                self.hub.register_periodic_job(name, interval, fn)
                names.append(name)
        return names

    # ------------------------------------------------------------------ reading series
    def _analysis_window(self, window: Any, end: Any = None) -> tuple[datetime, datetime, float]:
        seconds = ff_parse_window(window, "window")
        if end is None:
            end_dt = self.clock.now()
        else:
            end_dt = datetime.fromtimestamp(ff_to_epoch(end, "end"), UTC)
        return end_dt - timedelta(seconds=seconds), end_dt, seconds

    def read_metric_series(
        self, metrics: Iterable[str], start: datetime, end: datetime
    ) -> dict[str, list[tuple[float, float]]]:
        """``{metric: [(epoch, value), ...]}`` from the stored streams in ``[start, end]`` (sync)."""
        if isinstance(metrics, (str, bytes)) or not isinstance(metrics, Iterable):
            raise TypeError(f"metrics: expected an iterable of metric names, got {type(metrics).__name__}")
        for name, v in (("start", start), ("end", end)):
            if not isinstance(v, datetime):
                raise TypeError(f"{name}: expected datetime, got {type(v).__name__}")
        wanted = list(dict.fromkeys(metrics))
        for m in wanted:
            _check_metric(m)
        out: dict[str, list[tuple[float, float]]] = {m: [] for m in wanted}
        t_lo, t_hi = start.timestamp(), end.timestamp()
        by_stream: dict[str, list[str]] = {"resource_usage": [], "performance": []}
        for m in wanted:
            src = METRIC_SOURCES.get(m)
            if src:
                by_stream[src[0]].append(m)
            else:  # unknown names: look in both streams
                by_stream["resource_usage"].append(m)
                by_stream["performance"].append(m)
        for stream, names in by_stream.items():
            if not names:
                continue
            try:
                records = self.store.read(stream, start, end)
                for rec in records:
                    ts = rec.get("timestamp")
                    if not isinstance(ts, str):
                        continue
                    try:
                        t = ff_to_epoch(ts)
                    except ValueError:
                        continue
                    if t < t_lo or t > t_hi:
                        continue
                    kind = rec.get("kind")
                    for m in names:
                        src = METRIC_SOURCES.get(m)
                        if src is not None and src[2] is None:
                            v = _num(rec.get(src[1]))
                        elif src is not None:  # a performance window field
                            if kind == src[2]:
                                v = _num(rec.get(src[1]))
                            elif kind is None:
                                v = _num(rec.get(m))  # legacy FFSystemMetricsDTO records
                            else:
                                continue
                        elif kind == "metric":  # instrument rows: {"name": m, "mean": ...}
                            v = _num(rec.get("mean")) if rec.get("name") == m else None
                        else:
                            v = _num(rec.get(m))
                        if v is not None:
                            out[m].append((t, v))
            except OSError as exc:  # contained: analysis reports what it could read
                self.analysis_stats["read_errors"] += 1
                logger.warning("analysis: reading %s failed: %s", stream, exc)
        for series in out.values():
            series.sort(key=lambda p: p[0])
        return out

    def _flush_for_analysis(self) -> None:
        try:
            self.store.flush()
        except OSError as exc:
            logger.warning("analysis: flush before reading failed: %s", exc)

    # ------------------------------------------------------------------ analyze
    async def analyze(self, metric: str | None = None, window: str | float = "7d", **kwargs: Any) -> dict[str, Any]:
        """Findings (with the numbers behind them) for one metric or the default set over ``window``.

        Keyword options: ``kinds`` (subset of :data:`ANALYSIS_KINDS`), ``detection_window``
        (regression; default window/7 clamped to [1h, 1d]), ``horizon`` (forecast; default
        window/7 clamped to [1h, 7d]), ``capacity_horizon_days`` (capacity: saturation further
        away is "not saturating within the horizon"; default 365), ``raise_alerts`` (default
        False), ``end``.
        """
        raise_alerts = kwargs.pop("raise_alerts", False)
        _check_flag(raise_alerts, "raise_alerts")
        pending: list[tuple[str, list[Any], float]] = []
        res = await asyncio.to_thread(self.analyze_sync, metric, window, alert_sink=pending if raise_alerts else None,
                                      **kwargs)
        res["alerts_raised"] = self._raise_pending(pending)  # on the loop thread: the alert engine is not locked
        return res

    def analyze_sync(
        self,
        metric: str | None = None,
        window: str | float = "7d",
        *,
        kinds: Iterable[str] | None = None,
        detection_window: str | float | None = None,
        horizon: str | float | None = None,
        raise_alerts: bool = False,
        end: Any = None,
        alert_sink: list[tuple[str, list[Any], float]] | None = None,
        capacity_horizon_days: float = DEFAULT_HORIZON_DAYS,
    ) -> dict[str, Any]:
        """Synchronous :meth:`analyze` (reads files; call it off the event loop).

        With ``raise_alerts`` the alerts are raised from the calling thread; ``alert_sink``
        collects ``(metric, anomalies, now)`` instead so that an async caller can raise them on
        the event loop thread.
        """
        if metric is not None:
            _check_metric(metric)
        if isinstance(kinds, (str, bytes)) or (kinds is not None and not isinstance(kinds, Iterable)):
            raise TypeError(f"kinds: expected an iterable of kind names or None, got {type(kinds).__name__}")
        _check_flag(raise_alerts, "raise_alerts")
        cap_horizon = ff_check_horizon_days(capacity_horizon_days, "capacity_horizon_days")
        kinds_set = set(ANALYSIS_KINDS if kinds is None else kinds)
        bad = kinds_set - set(ANALYSIS_KINDS)
        if bad:
            raise ValueError(f"kinds: unknown {sorted(bad)} (known: {', '.join(ANALYSIS_KINDS)})")
        start, end_dt, seconds = self._analysis_window(window, end)
        det = ff_parse_window(detection_window, "detection_window") if detection_window is not None \
            else min(86400.0, max(3600.0, seconds / 7))
        hor = ff_parse_window(horizon, "horizon") if horizon is not None else min(7 * 86400.0, max(3600.0, seconds / 7))
        if det >= seconds:
            raise ValueError(f"detection_window: must be shorter than window ({det:g}s >= {seconds:g}s)")
        self._flush_for_analysis()
        names = [metric] if metric else list(DEFAULT_METRICS)
        read = self.read_metric_series(names, start, end_dt)
        # capacity: every resource for the default set, only the named metric's resource otherwise
        cap_resources = {r: ms for r, ms in CAPACITY_RESOURCES.items() if metric is None or metric in ms}
        if "capacity" in kinds_set and cap_resources:
            extra = [m for ms in cap_resources.values() for m in ms if m not in read]
            if extra:
                read.update(self.read_metric_series(extra, start, end_dt))
        findings: list[dict[str, Any]] = []
        per_metric: dict[str, Any] = {}
        detector = FFAnomalyDetector(z_threshold=self._analysis_z)
        reg = FFRegressionDetector(baseline_window_seconds=seconds - det, detection_window_seconds=det,
                                   threshold_percent=self._analysis_regression_pct)
        for m in names:
            series = read.get(m, [])
            res: dict[str, Any] = {"points": len(series)}
            per_metric[m] = res
            if len(series) < MIN_POINTS:
                res["reason"] = f"only {len(series)} samples in the window; need at least {MIN_POINTS}"
                if metric:
                    findings.append({"kind": "data", "metric": m, "severity": "info",
                                     "message": f"{m}: {res['reason']}", "numbers": {"points": len(series)}})
                continue
            res["summary"] = ff_summarize([v for _, v in series]).to_dict()
            if "anomalies" in kinds_set:
                scan = detector.scan(series, m)
                res["anomalies"] = scan.to_dict()
                findings.extend(self._anomaly_findings(scan))
                self.analysis_stats["anomalies_found"] += len(scan.anomalies)
                if alert_sink is not None:
                    alert_sink.append((m, scan.anomalies, end_dt.timestamp()))
                elif raise_alerts:
                    self._raise_pending([(m, scan.anomalies, end_dt.timestamp())])
            if "regression" in kinds_set:
                r = reg.detect(series, m, end=end_dt.timestamp())
                res["regression"] = r.to_dict()
                if r.regression:
                    findings.append({
                        "kind": "regression", "metric": m, "severity": r.severity,
                        "message": (f"{m} regressed {_pct(r.change_percent)} ({r.statistic} {r.baseline_value:.4g} -> "
                                    f"{r.current_value:.4g}, {r.effect:+.4g}; threshold {r.threshold_percent:g}% "
                                    f"and {r.min_effect:.4g})"),
                        "numbers": {k: getattr(r, k) for k in ("baseline_value", "current_value", "change_percent",
                                                               "threshold_percent", "effect", "min_effect", "impact",
                                                               "t_statistic", "baseline_samples",
                                                               "detection_samples")},
                    })
            if "trend" in kinds_set:
                tr = ff_analyze_trend(series, m)
                res["trend"] = tr.to_dict()
                findings.extend(_trend_findings(m, tr.to_dict()))
            if "forecast" in kinds_set:
                lin = ff_linear_forecast(series, hor, metric=m, steps=12)
                holt = ff_holt_forecast(series, hor, metric=m, steps=12)
                res["forecast"] = {"linear": lin.to_dict(), "holt": holt.to_dict()}
        capacity: list[dict[str, Any]] | None = None
        if "capacity" in kinds_set and cap_resources:
            cap = self._capacity_from_series(read, cap_resources, horizon_days=cap_horizon)
            capacity = cap
            for c in cap:
                if c["status"] in ("saturating", "at_capacity"):
                    days = c.get("days_to_saturation")
                    sev = "critical" if days is not None and days < 1 else "error" if days is not None and days < 7 \
                        else "warning" if days is not None and days < 30 else "info"
                    findings.append({"kind": "capacity", "metric": c["metric"], "severity": sev,
                                     "message": c["message"],
                                     "numbers": {k: c.get(k) for k in ("capacity", "current_value", "rate_per_day",
                                                                       "days_to_saturation", "saturation_at",
                                                                       "r_squared", "horizon_days")}})
        correlation = None
        if "correlation" in kinds_set:
            multi = {m: s for m, s in read.items() if len(s) >= MIN_POINTS and m in names}
            if len(multi) >= 2:
                cm = ff_correlation_matrix(multi)
                correlation = cm.to_dict()
                for p in cm.strong_pairs:
                    findings.append({"kind": "correlation", "metric": f"{p['a']}~{p['b']}", "severity": "info",
                                     "message": f"{p['a']} and {p['b']} move together (r {p['r']:+.2f} over {p['n']} "
                                                f"buckets)", "numbers": p})
        findings.sort(key=lambda f: (_SEV_RANK.get(f["severity"], 9), f["kind"], f["metric"]))
        self.analysis_stats["analyses"] += 1
        return {
            "window": ff_iso(start) + "/" + ff_iso(end_dt), "start": ff_iso(start), "end": ff_iso(end_dt),
            "window_seconds": seconds, "detection_window_seconds": det, "horizon_seconds": hor,
            "capacity_horizon_days": cap_horizon,
            "metrics": per_metric, "capacity": capacity, "correlation": correlation, "findings": findings,
        }

    @staticmethod
    def _anomaly_findings(scan: Any) -> list[dict[str, Any]]:
        out = []
        for a in scan.anomalies:
            if a.kind == "trend_change":
                msg = (f"{a.metric}: trend change at {a.timestamp} (slope "
                       f"{a.details['slope_before_per_hour']:+.4g}/h -> {a.details['slope_after_per_hour']:+.4g}/h, "
                       f"{a.details['change_per_day']:+.4g}/day; t {a.score:.1f})")
            else:
                msg = (f"{a.metric}: {a.kind} {a.value:.4g} at {a.timestamp} (expected {a.expected_value:.4g}, "
                       f"z {a.details.get('z', a.score):+.1f}, bar {a.threshold:.2f}, {a.baseline} baseline)")
            out.append({"kind": "anomaly", "metric": a.metric, "severity": a.severity, "message": msg,
                        "numbers": {"value": a.value, "expected_value": a.expected_value, "score": a.score,
                                    "threshold": a.threshold, "timestamp": a.timestamp, "points": a.points}})
        return out

    def _raise_pending(self, pending: list[tuple[str, list[Any], float]]) -> int:
        """Raise each metric's recent anomalies; auto-clear the metric's alert when it has none."""
        n = 0
        clear = self._clear_alert
        for metric, anomalies, now in pending:
            raised = self._raise_anomaly_alerts(anomalies, now)
            n += raised
            if not raised and clear is not None and not self._recent(anomalies, now):
                try:
                    clear(f"anomaly_{metric}")
                except (TypeError, ValueError) as exc:
                    logger.warning("analysis: clear_alert(anomaly_%s) failed: %s", metric, exc)
        return n

    def _recent(self, anomalies: list[Any], now: float) -> list[Any]:
        return [a for a in anomalies if ff_to_epoch(a.end or a.timestamp) >= now - self.alert_lookback_seconds]

    def _raise_anomaly_alerts(self, anomalies: list[Any], now: float) -> int:
        """Raise anomalies newer than ``alert_lookback_seconds`` through ``raise_alert`` if given
        (``raise_alert(rule_id=..., title=..., ...)`` by keyword); else only count them (``alerts_skipped``)."""
        recent = self._recent(anomalies, now)
        if not recent:
            return 0
        raise_alert = self._raise_alert
        if raise_alert is None:
            self.analysis_stats["alerts_skipped"] += len(recent)
            return 0
        n = 0
        for a in recent:
            bar = a.expected_value + (a.value - a.expected_value) * (a.threshold / a.score) if a.score else a.expected_value
            rule_id = f"anomaly_{a.metric}"
            kw: dict[str, Any] = {
                "rule_id": rule_id,
                "title": f"Anomaly in {a.metric}: {a.kind}",
                "message": (f"{a.metric} {a.value:.4g} vs expected {a.expected_value:.4g} "
                            f"(score {a.score:.1f}, bar {a.threshold:.2f}, {a.baseline} baseline) at {a.timestamp}"),
                "severity": a.severity, "alert_type": "anomaly", "metric_name": a.metric,
                "current_value": float(a.value), "threshold_value": float(bar),
            }
            try:
                raise_alert(**kw)
                n += 1
            except (TypeError, ValueError) as exc:
                logger.warning("analysis: raise_alert rejected anomaly of %s: %s", a.metric, exc)
        self.analysis_stats["alerts_raised"] += n
        return n

    # ------------------------------------------------------------------ anomalies
    async def detect_anomalies(self, metric: str | None = None, window: str | float = "24h", *,
                               raise_alerts: bool = True) -> list[dict[str, Any]]:
        """Anomalies of one metric (or the default set) over ``window``; recent ones raise alerts."""
        res = await self.analyze(metric, window, kinds=("anomalies",), raise_alerts=raise_alerts)
        out: list[dict[str, Any]] = []
        for r in res["metrics"].values():
            if isinstance(r, dict) and "anomalies" in r:
                out.extend(r["anomalies"]["anomalies"])
        return out

    # ------------------------------------------------------------------ patterns
    async def learn_patterns(self, window: str | float = "7d", *, write: bool = True) -> dict[str, Any]:
        """Learn behaviour patterns from the user event streams; write them to ``behavior_patterns``."""
        return await asyncio.to_thread(self.learn_patterns_sync, window, write=write)

    def learn_patterns_sync(self, window: str | float = "7d", *, write: bool = True) -> dict[str, Any]:
        _check_flag(write, "write")
        start, end_dt, _ = self._analysis_window(window)
        self._flush_for_analysis()
        learner = FFPatternLearner(min_occurrences=self._pattern_min_occ, confidence_threshold=self._pattern_conf,
                                   max_history_size=self._pattern_history)
        t_lo, t_hi = start.timestamp(), end_dt.timestamp()
        events: list[dict[str, Any]] = []
        for stream in USER_EVENT_STREAMS:
            try:
                for rec in self.store.read(stream, start, end_dt):
                    if rec.get("record_type") == PATTERN_RECORD or not rec.get("event_type"):
                        continue
                    ts = rec.get("timestamp")
                    try:
                        t = ff_to_epoch(ts) if isinstance(ts, str) else None
                    except ValueError:
                        t = None
                    if t is not None and t_lo <= t <= t_hi:
                        events.append({"event_type": rec["event_type"], "timestamp": t,
                                       "session_id": rec.get("session_id") or "", "user_hash": rec.get("user_hash") or ""})
            except OSError as exc:
                self.analysis_stats["read_errors"] += 1
                logger.warning("analysis: reading %s failed: %s", stream, exc)
        events.sort(key=lambda e: e["timestamp"])
        learner.record_events(events, strict=False)
        patterns = learner.learn_patterns()
        recs = ff_pattern_recommendations(patterns)
        written = 0
        if write and patterns:
            now = ff_iso(self.clock.now())
            records = [{"timestamp": now, "record_type": PATTERN_RECORD, "window_start": ff_iso(start),
                        "window_end": ff_iso(end_dt), **p.to_dict(),
                        "ux_recommendation": ff_pattern_recommendation(p)} for p in patterns]
            written = self.store.append_many(PATTERN_STREAM, records)
            self.analysis_stats["patterns_written"] += written
        return {"events_read": len(events), "events_used": learner.history_size,
                "events_evicted": learner.events_evicted, "patterns": [p.to_dict() for p in patterns],
                "recommendations": recs, "written": written,
                "parameters": {"min_occurrences": learner.min_occurrences,
                               "confidence_threshold": learner.confidence_threshold,
                               "history_size": learner.max_history_size}}

    # ------------------------------------------------------------------ capacity
    async def forecast_capacity(self, window: str | float = "7d", *, write: bool = True,
                                horizon_days: float = DEFAULT_HORIZON_DAYS) -> list[dict[str, Any]]:
        """Time to saturation of disk and memory (within ``horizon_days``); written to ``capacity_planning``."""
        return await asyncio.to_thread(self.forecast_capacity_sync, window, write=write, horizon_days=horizon_days)

    def forecast_capacity_sync(self, window: str | float = "7d", *, write: bool = True,
                               horizon_days: float = DEFAULT_HORIZON_DAYS) -> list[dict[str, Any]]:
        _check_flag(write, "write")
        horizon = ff_check_horizon_days(horizon_days)
        start, end_dt, _ = self._analysis_window(window)
        self._flush_for_analysis()
        names = [m for pair in CAPACITY_RESOURCES.values() for m in pair]
        results = self._capacity_from_series(self.read_metric_series(names, start, end_dt), horizon_days=horizon)
        if write and results:
            now = ff_iso(self.clock.now())
            recs = [{"timestamp": now, "record_type": "capacity_forecast", "window_start": ff_iso(start),
                     "window_end": ff_iso(end_dt), **r} for r in results]
            n = self.store.append_many(CAPACITY_STREAM, recs)
            self.analysis_stats["capacity_records_written"] += n
        return results

    def _capacity_from_series(
        self, read: dict[str, list[tuple[float, float]]], resources: dict[str, tuple[str, str]] | None = None, *,
        horizon_days: float = DEFAULT_HORIZON_DAYS,
    ) -> list[dict[str, Any]]:
        out = []
        for resource, (pct_m, abs_m) in (resources or CAPACITY_RESOURCES).items():
            pct = read.get(pct_m, [])
            if len(pct) >= 3:
                sat = ff_time_to_saturation(pct, 100.0, metric=pct_m, resource=resource,
                                            capacity_source="100% of the volume/RAM", horizon_days=horizon_days)
                out.append(self._capacity_record(resource, sat.to_dict(), pct))
            absolute = read.get(abs_m, [])
            cap = _capacity_from_ratio(absolute, pct)
            if len(absolute) >= 3 and cap is not None:
                sat = ff_time_to_saturation(absolute, cap, metric=abs_m, resource=resource,
                                            capacity_source=f"{abs_m} / ({pct_m} / 100), median of paired samples",
                                            horizon_days=horizon_days)
                out.append(self._capacity_record(resource, sat.to_dict(), absolute))
        return out

    @staticmethod
    def _capacity_record(resource: str, sat: dict[str, Any], series: list[tuple[float, float]]) -> dict[str, Any]:
        rec = {"resource": resource, **sat}
        rate = sat.get("rate_per_day")
        rec["projected_growth_30_days"] = rate * 30 if rate is not None else None
        days = sat.get("days_to_saturation")
        scaling: list[str] = []
        if sat["status"] == "at_capacity":
            scaling.append(f"{resource}: at capacity now - free space or add capacity immediately")
        elif days is not None and days < 7:
            scaling.append(f"{resource}: {sat['message']} - add capacity or tighten retention before "
                           f"{sat['saturation_at'][:10]}")
        elif days is not None and days < 30:
            scaling.append(f"{resource}: {sat['message']} - plan an increase within {int(days)} days")
        rec["scaling_recommendations"] = scaling
        if not scaling:
            rec["scaling_reason"] = ("no action: " + sat["message"]) if sat["message"] else ""
        fc = ff_holt_forecast(series, 86400.0, steps=4, metric=sat["metric"])
        rec["forecast_24h_holt"] = fc.forecast[-1]["value"] if fc.forecast else None
        rec["forecast_rmse_holdout"] = fc.rmse_holdout
        return rec


def _capacity_from_ratio(absolute: list[tuple[float, float]], pct: list[tuple[float, float]]) -> float | None:
    """Total capacity from samples carrying both the absolute and the percent value (same time)."""
    by_t = {t: v for t, v in pct if v > 0}
    ratios = sorted(a / (by_t[t] / 100.0) for t, a in absolute if t in by_t)
    if not ratios:
        return None
    return ratios[len(ratios) // 2]


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v:+.1f}%"


def _trend_findings(metric: str, tr: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    deg = tr.get("degradation", {})
    if deg.get("degradation_detected"):
        out.append({"kind": "degradation", "metric": metric, "severity": deg.get("severity") or "warning",
                    "message": (f"{metric} degraded {deg['degradation_percent']:.1f}% (first third avg "
                                f"{deg['baseline_average']:.4g} -> last third {deg['recent_average']:.4g})"),
                    "numbers": deg})
    t = tr.get("trend", {})
    vol = tr.get("volatility", {})
    perf = tr.get("performance_trend", {})
    if t.get("direction") in ("increasing", "decreasing"):
        out.append({"kind": "trend", "metric": metric, "severity": "info",
                    "message": (f"{metric} {t['direction']} {t['slope_per_day']:+.4g}/day (R^2 {t['r_squared']:.2f}, "
                                f"{t['strength']}); {perf.get('trend', 'unknown')}; volatility {vol.get('class')}"),
                    "numbers": {"slope_per_day": t["slope_per_day"], "r_squared": t["r_squared"],
                                "cv": vol.get("coefficient_of_variation"), "trend": perf.get("trend"),
                                "change_percent": perf.get("change_percent")}})
    return out
