"""Health checks, custom collectors, and the scores and overall status derived from them.

Formulas (also in docs/system_metrics.md):

* ``data_quality_score = W / (W + B)`` where ``W`` is the store's ``records_written`` and
  ``B = unparseable_lines + quarantined_lines + corrupt_files + records_dropped +
  records_dropped_reserve + write_failures``; ``1.0`` while the store has seen nothing at all.
* ``system_reliability_score = S * H`` where ``S = 1 - errors / requests`` of the last collection
  window (``1.0`` with no requests) and ``H`` is the mean over the components in
  ``component_health`` (registered checks plus the built-in ``analytics_store``) of 1 (healthy),
  0.5 (degraded) or 0 (unhealthy / timeout); ``H = 1.0`` with no components.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any

from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_core.ff_names import ff_validate_name

logger = get_logger(__name__)

HEALTHY, DEGRADED, UNHEALTHY, TIMEOUT = "healthy", "degraded", "unhealthy", "timeout"
CHECK_STATUSES = (HEALTHY, DEGRADED, UNHEALTHY)
_STATUS_WEIGHT = {HEALTHY: 1.0, DEGRADED: 0.5, UNHEALTHY: 0.0, TIMEOUT: 0.0}
_RANK = {HEALTHY: 0, DEGRADED: 1, UNHEALTHY: 2}

DEFAULT_THRESHOLDS = {
    "cpu_usage_threshold_percent": 90.0,
    "memory_usage_threshold_percent": 85.0,
    "disk_usage_threshold_percent": 90.0,
    "error_rate_threshold_percent": 5.0,
    "response_time_threshold_ms": 5000.0,
}


@dataclass(slots=True)
class FFCheckResultDTO:
    """Outcome of one health check run."""

    name: str
    status: str
    reason: str
    duration_ms: float
    consecutive_failures: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _interpret(result: Any) -> tuple[str, str]:
    """Map a check's return value to ``(status, reason)``."""
    if result is None or result is True:
        return HEALTHY, ""
    if result is False:
        return UNHEALTHY, "check returned False"
    if isinstance(result, str):
        if result in CHECK_STATUSES:
            return result, ""
        return UNHEALTHY, f"check returned unknown status {result!r}"
    if isinstance(result, tuple) and len(result) == 2:
        status, reason = result
        if status in CHECK_STATUSES:
            return status, str(reason)
        return UNHEALTHY, f"check returned unknown status {status!r}"
    if isinstance(result, dict):
        status = result.get("status", HEALTHY)
        if status in CHECK_STATUSES:
            return status, str(result.get("reason", ""))
        return UNHEALTHY, f"check returned unknown status {status!r}"
    return UNHEALTHY, f"check returned an unsupported {type(result).__name__}"


class FFHealthRegistry:
    """Registered async health checks and custom collectors (seed 000 ``add_collector``)."""

    def __init__(self) -> None:
        self._checks: dict[str, tuple[Callable[[], Awaitable[Any]], float]] = {}
        self._collectors: dict[str, Callable[[], Any]] = {}
        self._failures: dict[str, int] = {}
        self.last_results: dict[str, FFCheckResultDTO] = {}

    @property
    def check_names(self) -> list[str]:
        return list(self._checks)

    def register_health_check(
        self, name: str, async_fn: Callable[[], Awaitable[Any]], timeout_s: float = 5.0
    ) -> None:
        """Add (or replace) check ``name``: ``await async_fn()`` returns None/True (healthy), False,
        a status string, ``(status, reason)`` or ``{"status": ..., "reason": ...}``."""
        ff_validate_name(name, "name")
        if not callable(async_fn):
            raise TypeError(f"async_fn: expected an async callable, got {type(async_fn).__name__}")
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 0 < timeout_s < float("inf"):
            raise ValueError(f"timeout_s: must be a finite number > 0, got {timeout_s!r}")
        self._checks[name] = (async_fn, float(timeout_s))

    def unregister_health_check(self, name: str) -> bool:
        self.last_results.pop(name, None)
        self._failures.pop(name, None)
        return self._checks.pop(name, None) is not None

    def register_collector(self, name: str, fn: Callable[[], Any]) -> None:
        """Add collector ``name``: ``fn()`` (sync, cheap; or async) returns a dict of values merged
        into each resource sample under ``collectors[name]``."""
        ff_validate_name(name, "name")
        if not callable(fn):
            raise TypeError(f"fn: expected a callable, got {type(fn).__name__}")
        self._collectors[name] = fn

    def unregister_collector(self, name: str) -> bool:
        return self._collectors.pop(name, None) is not None

    async def _run_one(self, name: str, fn: Callable[[], Awaitable[Any]], timeout: float) -> FFCheckResultDTO:
        t0 = time.perf_counter()
        try:
            res = fn()
            if inspect.isawaitable(res):
                res = await asyncio.wait_for(res, timeout)
            status, reason = _interpret(res)
        except TimeoutError:
            status, reason = TIMEOUT, f"timed out after {timeout:g}s"
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a check's bug is that component's health, not ours
            status, reason = UNHEALTHY, f"{type(exc).__name__}: {exc}"
        ms = (time.perf_counter() - t0) * 1000.0
        fails = 0 if status == HEALTHY else self._failures.get(name, 0) + 1
        self._failures[name] = fails
        return FFCheckResultDTO(name, status, reason, round(ms, 3), fails)

    async def run_checks(self) -> dict[str, FFCheckResultDTO]:
        """Run every check concurrently, each under its own timeout."""
        items = list(self._checks.items())
        if not items:
            self.last_results = {}
            return {}
        results = await asyncio.gather(*(self._run_one(n, fn, to) for n, (fn, to) in items))
        self.last_results = {r.name: r for r in results}
        return dict(self.last_results)

    async def run_collectors(self, timeout_s: float = 5.0) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """``(values, errors)``: each collector's dict, or the reason it failed (never raises)."""
        values: dict[str, dict[str, Any]] = {}
        errors: dict[str, str] = {}
        for name, fn in list(self._collectors.items()):
            try:
                res = fn()
                if inspect.isawaitable(res):
                    res = await asyncio.wait_for(res, timeout_s)
                if not isinstance(res, dict):
                    raise TypeError(f"collector returned {type(res).__name__}, expected dict")
                values[name] = res
            except asyncio.CancelledError:
                raise
            except TimeoutError:
                errors[name] = f"timed out after {timeout_s:g}s"
            except Exception as exc:
                errors[name] = f"{type(exc).__name__}: {exc}"
                logger.warning("collector %s failed: %s", name, errors[name])
        return values, errors


def data_quality_score(stats: Any) -> float:
    """``W / (W + B)`` from the store's counters (see module docstring); 1.0 when nothing was seen."""
    written = int(getattr(stats, "records_written", 0))
    bad = sum(
        int(getattr(stats, k, 0))
        for k in (
            "unparseable_lines",
            "quarantined_lines",
            "corrupt_files",
            "records_dropped",
            "records_dropped_reserve",
            "write_failures",
        )
    )
    if written + bad == 0:
        return 1.0
    return round(written / (written + bad), 6)


def system_reliability_score(requests: int, errors: int, statuses: Iterable[str]) -> float:
    """``S * H`` (see module docstring); ``statuses`` are the component health statuses."""
    s = 1.0 - errors / requests if requests > 0 else 1.0
    st = list(statuses)
    h = sum(_STATUS_WEIGHT.get(x, 0.0) for x in st) / len(st) if st else 1.0
    return round(max(0.0, min(1.0, s * h)), 6)


def thresholds_from(alerting_config: Any) -> dict[str, float]:
    """The alerting thresholds, with the documented defaults for fields a config lacks."""
    return {k: float(getattr(alerting_config, k, v)) for k, v in DEFAULT_THRESHOLDS.items()}


THRESHOLD_COMPARISON = ">"
"""How a reading is compared with its alerting threshold, here and in the built-in alert rules."""


def assess_overall(
    checks: dict[str, FFCheckResultDTO],
    resources: dict[str, Any],
    window: dict[str, Any],
    store_delta: dict[str, int],
    thresholds: dict[str, float],
) -> tuple[str, list[str]]:
    """Overall status (healthy | degraded | unhealthy) and the reasons that set it.

    A reading counts against its threshold when strictly above it (``THRESHOLD_COMPARISON``, the
    comparison of the built-in alert rules), so a threshold of 100 % never fires on 100.0 %.
    """
    reasons: list[tuple[str, str]] = []
    for r in checks.values():
        if r.status in (UNHEALTHY, TIMEOUT):
            reasons.append((UNHEALTHY, f"check {r.name} {r.status}: {r.reason}"))
        elif r.status == DEGRADED:
            reasons.append((DEGRADED, f"check {r.name} degraded: {r.reason}".rstrip(": ")))

    def over(field: str, key: str, level: str, what: str) -> None:
        v = resources.get(field)
        if v is not None and v > thresholds[key]:
            reasons.append((level, f"{what} {v:.1f}% > threshold {thresholds[key]:g}%"))

    over("cpu_usage_percent", "cpu_usage_threshold_percent", DEGRADED, "cpu usage")
    over("memory_usage_percent", "memory_usage_threshold_percent", DEGRADED, "memory usage")
    over("disk_usage_percent", "disk_usage_threshold_percent", UNHEALTHY, "disk usage")
    if window.get("count"):
        er = window.get("error_rate_percent") or 0.0
        if er > thresholds["error_rate_threshold_percent"]:
            reasons.append((DEGRADED, f"error rate {er:.2f}% > threshold "
                                      f"{thresholds['error_rate_threshold_percent']:g}%"))
        p95 = window.get("p95")
        if p95 is not None and p95 > thresholds["response_time_threshold_ms"]:
            reasons.append((DEGRADED, f"p95 response time {p95:.1f} ms > threshold "
                                      f"{thresholds['response_time_threshold_ms']:g} ms"))
    if store_delta.get("write_failures"):
        reasons.append((UNHEALTHY, f"store: {store_delta['write_failures']} failed writes since the "
                                   f"previous collection"))
    lost = store_delta.get("records_dropped", 0) + store_delta.get("records_dropped_reserve", 0)
    if lost:
        reasons.append((DEGRADED, f"store: {lost} records dropped since the previous collection"))
    bad = store_delta.get("unparseable_lines", 0) + store_delta.get("quarantined_lines", 0)
    if bad:
        reasons.append((DEGRADED, f"store: {bad} unparseable or quarantined lines seen since the "
                                  f"previous collection"))
    status = HEALTHY
    for level, _ in reasons:
        if _RANK[level] > _RANK[status]:
            status = level
    return status, [text for _, text in reasons]
