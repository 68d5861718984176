"""Performance regression detection (seed 000 ``RegressionDetector``), direction-aware.

A *baseline window* (default the 7 days before the detection window) is compared with a
*detection window* (default the last hour of the series) per metric. The relative change of the
window statistic (mean by default) is a **regression** when it moves in the *worse* direction by
more than ``threshold_percent`` (default 20%, config ``regression_threshold_percent``):

* lower is better: latency / response time / duration, error counts and rates, CPU, memory, disk
* higher is better: success rate, throughput, availability, uptime, satisfaction, hit rate

A metric whose direction cannot be inferred from its name is reported as ``changed`` (never as a
regression) unless the caller passes ``direction``.

A relative change is not enough on its own: the absolute change ``current - baseline`` must also
reach the metric's *minimum effect* (``ff_metric_scales``: 1 percent point for ``*_percent``, 10 ms
or 5% of the baseline for ``*_ms``, ...). An error rate going 0.01% -> 0.05% is +400% but 0.04
percent points: not a regression. Severity is the milder of the relative one (threshold x1.5
``error``, x2.5 ``critical``) and the impact one (``|effect| / min_effect``: x3 ``error``, x10
``critical``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ff_utils.ff_analytics_analysis.ff_metric_scales import (
    ff_impact_severity,
    ff_metric_scale,
    ff_milder_severity,
)
from ff_utils.ff_analytics_analysis.ff_stats_series import (
    ff_epoch_iso,
    ff_mean,
    ff_normalize_series,
    ff_percentile,
    ff_stdev,
    ff_to_epoch,
)

__all__ = [
    "DIRECTIONS",
    "FFRegressionDTO",
    "FFRegressionDetector",
    "ff_metric_direction",
]

LOWER_IS_BETTER = "lower_is_better"
HIGHER_IS_BETTER = "higher_is_better"
UNKNOWN = "unknown"
DIRECTIONS = (LOWER_IS_BETTER, HIGHER_IS_BETTER, UNKNOWN)
_HIGHER_HINTS = ("success", "throughput", "availability", "uptime", "satisfaction", "hit_rate", "reliability",
                 "quality", "requests_per_second", "rps", "conversion", "engagement")
_LOWER_HINTS = ("latency", "response_time", "duration", "_ms", "error", "fail", "cpu", "memory", "disk",
                "queue", "timeout", "wait", "p95", "p99", "load")
_STATISTICS = ("mean", "median", "p95", "p99")


def ff_metric_direction(metric: str) -> str:
    """``lower_is_better`` / ``higher_is_better`` inferred from the metric name, else ``unknown``."""
    if not isinstance(metric, str):
        raise TypeError(f"metric: expected str, got {type(metric).__name__}")
    name = metric.lower()
    if any(h in name for h in _HIGHER_HINTS):
        return HIGHER_IS_BETTER
    if any(h in name for h in _LOWER_HINTS):
        return LOWER_IS_BETTER
    return UNKNOWN


@dataclass(slots=True)
class FFRegressionDTO:
    """Baseline vs detection window of one metric, and the verdict."""

    metric: str
    direction: str
    statistic: str
    baseline_value: float | None
    current_value: float | None
    change_percent: float | None  # (current - baseline) / |baseline| * 100; None if baseline is 0
    threshold_percent: float
    regression: bool
    improvement: bool
    changed: bool  # |change| > threshold whatever the direction
    severity: str  # "" when no regression, else "warning" | "error" | "critical"
    baseline_samples: int
    detection_samples: int
    baseline_start: str
    baseline_end: str
    detection_start: str
    detection_end: str
    t_statistic: float | None  # Welch's t of the means (None with < 2 samples in a window)
    reason: str = ""  # why no verdict could be given (or why a large relative change does not count), else ""
    effect: float | None = None  # current - baseline, in the metric's units
    min_effect: float = 0.0  # the smallest |effect| that counts (0.0: any)
    impact: float | None = None  # |effect| / min_effect (None when min_effect is 0)
    unit: str = ""  # the metric's unit (ff_metric_scales)

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


def _stat(values: list[float], statistic: str) -> float:
    if statistic == "mean":
        return ff_mean(values)
    if statistic == "median":
        return ff_percentile(values, 50)
    return ff_percentile(values, 95 if statistic == "p95" else 99)


class FFRegressionDetector:
    """Compares a baseline window with a detection window (seconds) per metric."""

    def __init__(
        self,
        *,
        baseline_window_seconds: float = 7 * 86400.0,
        detection_window_seconds: float = 3600.0,
        threshold_percent: float = 20.0,
        statistic: str = "mean",
        min_samples: int = 5,
    ) -> None:
        for name, v in (("baseline_window_seconds", baseline_window_seconds),
                        ("detection_window_seconds", detection_window_seconds),
                        ("threshold_percent", threshold_percent)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise ValueError(f"{name}: must be a number > 0, got {v!r}")
        if statistic not in _STATISTICS:
            raise ValueError(f"statistic: must be one of {', '.join(_STATISTICS)}, got {statistic!r}")
        if not isinstance(min_samples, int) or isinstance(min_samples, bool) or min_samples < 1:
            raise ValueError(f"min_samples: must be an int >= 1, got {min_samples!r}")
        self.baseline_window_seconds = float(baseline_window_seconds)
        self.detection_window_seconds = float(detection_window_seconds)
        self.threshold_percent = float(threshold_percent)
        self.statistic = statistic
        self.min_samples = min_samples

    def detect(
        self,
        series: Iterable[Any],
        metric: str,
        *,
        direction: str | None = None,
        end: Any = None,
        min_effect: float | None = None,
    ) -> FFRegressionDTO:
        """Verdict for ``series``; the detection window ends at ``end`` (default: the last point).

        ``min_effect`` (in the metric's units) overrides the one inferred from the name and the baseline.
        """
        if min_effect is not None and (isinstance(min_effect, bool) or not isinstance(min_effect, (int, float))
                                       or not math.isfinite(min_effect) or min_effect < 0):
            raise ValueError(f"min_effect: must be a finite number >= 0 or None, got {min_effect!r}")
        if direction is None:
            direction = ff_metric_direction(metric)
        elif direction not in DIRECTIONS:
            raise ValueError(f"direction: must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
        times, values = ff_normalize_series(series)
        t_end = ff_to_epoch(end, "end") if end is not None else (times[-1] if times else 0.0)
        d_start = t_end - self.detection_window_seconds
        b_start = d_start - self.baseline_window_seconds
        base = [v for t, v in zip(times, values, strict=True) if b_start <= t < d_start]
        cur = [v for t, v in zip(times, values, strict=True) if d_start <= t <= t_end]
        out = FFRegressionDTO(
            metric=metric, direction=direction, statistic=self.statistic, baseline_value=None,
            current_value=None, change_percent=None, threshold_percent=self.threshold_percent,
            regression=False, improvement=False, changed=False, severity="",
            baseline_samples=len(base), detection_samples=len(cur), baseline_start=ff_epoch_iso(b_start),
            baseline_end=ff_epoch_iso(d_start), detection_start=ff_epoch_iso(d_start), detection_end=ff_epoch_iso(t_end),
            t_statistic=None,
        )
        if len(base) < self.min_samples or len(cur) < self.min_samples:
            out.reason = (f"need >= {self.min_samples} samples per window; baseline has {len(base)}, "
                          f"detection has {len(cur)}")
            return out
        b = _stat(base, self.statistic)
        c = _stat(cur, self.statistic)
        out.baseline_value = b
        out.current_value = c
        if len(base) >= 2 and len(cur) >= 2:
            se = math.sqrt(ff_stdev(base) ** 2 / len(base) + ff_stdev(cur) ** 2 / len(cur))
            out.t_statistic = (ff_mean(cur) - ff_mean(base)) / se if se > 0 else None
        scale = ff_metric_scale(metric)
        effect = c - b
        floor = float(min_effect) if min_effect is not None else scale.min_effect(b)
        out.effect = effect
        out.min_effect = floor
        out.impact = abs(effect) / floor if floor > 0 else None
        out.unit = scale.unit
        practical = abs(effect) >= floor if floor > 0 else effect != 0
        impact_sev = ff_impact_severity(effect, floor)
        unit = f" {scale.label}" if scale.label else ""
        if b == 0:
            if c == 0:
                return out
            if not practical:
                out.reason = (f"baseline is 0 and the change ({effect:+.4g}{unit}) is below the minimum effect "
                              f"({floor:.4g}{unit})")
                return out
            out.changed = True
            out.reason = ("baseline is 0: the relative change is undefined; a move of at least the minimum effect "
                          f"({floor:.4g}{unit}) counts")
            worse = (c > 0) if direction == LOWER_IS_BETTER else (c < 0) if direction == HIGHER_IS_BETTER else None
            if worse is not None:
                out.regression = worse
                out.improvement = not worse
                # no relative size: the impact decides; without a unit scale, no claim beyond a warning
                out.severity = (impact_sev or "warning") if worse else ""
            return out
        change = (c - b) / abs(b) * 100.0
        out.change_percent = change
        out.changed = abs(change) > self.threshold_percent and practical
        if abs(change) > self.threshold_percent and not practical:
            out.reason = (f"{change:+.1f}% is beyond the threshold but {effect:+.4g}{unit} is below the minimum "
                          f"effect ({floor:.4g}{unit})")
        if not out.changed or direction == UNKNOWN:
            return out
        worse = change > 0 if direction == LOWER_IS_BETTER else change < 0
        out.regression = worse
        out.improvement = not worse
        if worse:
            ratio = abs(change) / self.threshold_percent
            relative_sev = "critical" if ratio >= 2.5 else "error" if ratio >= 1.5 else "warning"
            out.severity = ff_milder_severity(relative_sev, impact_sev)
        return out

    def detect_many(
        self, series_by_metric: dict[str, Iterable[Any]], *, end: Any = None
    ) -> list[FFRegressionDTO]:
        """One verdict per metric (direction inferred from each name)."""
        if not isinstance(series_by_metric, dict):
            raise TypeError(f"series_by_metric: expected dict, got {type(series_by_metric).__name__}")
        return [self.detect(s, m, end=end) for m, s in series_by_metric.items()]
