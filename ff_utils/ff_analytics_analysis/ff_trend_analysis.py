"""Trend, volatility, seasonality and degradation of one metric series (seeds 001 and 004).

* **Trend**: least-squares line over time -> direction (``increasing`` / ``decreasing`` / ``flat``),
  slope per second/hour/day, R^2 and a strength class from R^2 (``strong`` >= 0.7, ``moderate``
  >= 0.3, else ``weak``). A trend is ``flat`` when R^2 < 0.1 or the fitted change over the whole
  span is under 1% of the mean level.
* **Volatility**: coefficient of variation -> ``low`` (< 0.1), ``medium`` (< 0.3), ``high``.
* **Performance trend** (seed 004): mean of the last third vs the earlier two thirds, direction
  aware (see :func:`ff_utils.ff_analytics_analysis.ff_regression_detector.ff_metric_direction`): ``improving`` /
  ``stable`` / ``degrading`` at +-5% (``stable_band_percent``).
* **Degradation** (seed 001): first third vs last third; detected above 10% in the worse
  direction; severity ``error`` above 25%, ``warning`` above 10%.
* **Seasonality**: hour-of-day and day-of-week means, peak hour/day and the share of variance the
  hour-of-day profile explains.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ff_utils.ff_analytics_analysis.ff_regression_detector import (
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    UNKNOWN,
    ff_metric_direction,
)
from ff_utils.ff_analytics_analysis.ff_stats_series import (
    ff_coefficient_of_variation,
    ff_epoch_iso,
    ff_linear_regression,
    ff_mean,
    ff_normalize_series,
    ff_stdev,
)

__all__ = [
    "FFTrendReportDTO",
    "ff_analyze_trend",
    "ff_classify_volatility",
    "ff_detect_degradation",
    "ff_performance_trend",
    "ff_seasonal_profile",
    "ff_trend_direction",
]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def ff_classify_volatility(cv: float | None) -> str:
    """``low`` (< 0.1), ``medium`` (< 0.3) or ``high``; ``unknown`` when CV is undefined."""
    if cv is None:
        return "unknown"
    if cv < 0.1:
        return "low"
    if cv < 0.3:
        return "medium"
    return "high"


def ff_trend_direction(times: list[float], values: list[float]) -> dict[str, Any]:
    """Direction, slope (per s/h/day), intercept at the first point, R^2 and strength."""
    if len(values) < 2 or times[-1] == times[0]:
        return {"direction": "unknown", "reason": f"needs >= 2 points over a time span, got {len(values)}"}
    t0 = times[0]
    fit = ff_linear_regression([t - t0 for t in times], values)
    span = times[-1] - t0
    mean = ff_mean(values)
    change = fit.slope * span
    flat = fit.r_squared < 0.1 or abs(change) < 0.01 * abs(mean) or fit.slope == 0
    direction = "flat" if flat else ("increasing" if fit.slope > 0 else "decreasing")
    strength = "strong" if fit.r_squared >= 0.7 else "moderate" if fit.r_squared >= 0.3 else "weak"
    return {
        "direction": direction,
        "slope_per_second": fit.slope,
        "slope_per_hour": fit.slope * 3600.0,
        "slope_per_day": fit.slope * 86400.0,
        "intercept": fit.intercept,
        "r_squared": fit.r_squared,
        "strength": strength,
        "change_over_span": change,
        "change_percent_over_span": (change / abs(mean) * 100.0) if mean else None,
        "span_seconds": span,
    }


def _verdict(change_pct: float, direction: str, band: float) -> str:
    if direction == LOWER_IS_BETTER:
        return "degrading" if change_pct > band else "improving" if change_pct < -band else "stable"
    if direction == HIGHER_IS_BETTER:
        return "improving" if change_pct > band else "degrading" if change_pct < -band else "stable"
    return "rising" if change_pct > band else "falling" if change_pct < -band else "stable"


def ff_performance_trend(values: list[float], metric: str = "", *, direction: str | None = None,
                         stable_band_percent: float = 5.0) -> dict[str, Any]:
    """Recent third vs the earlier two thirds: improving / stable / degrading at +-band%."""
    direction = direction or ff_metric_direction(metric)
    n = len(values)
    if n < 6:
        return {"trend": "unknown", "reason": f"needs >= 6 points, got {n}"}
    cut = n - n // 3
    hist = ff_mean(values[:cut])
    recent = ff_mean(values[cut:])
    if hist == 0:
        return {"trend": "unknown", "reason": "historical mean is 0; relative change undefined",
                "historical_mean": hist, "recent_mean": recent}
    pct = (recent - hist) / abs(hist) * 100.0
    return {"trend": _verdict(pct, direction, stable_band_percent), "change_percent": pct,
            "historical_mean": hist, "recent_mean": recent, "direction": direction,
            "band_percent": stable_band_percent}


def ff_detect_degradation(values: list[float], metric: str = "", *, direction: str | None = None,
                          threshold_percent: float = 10.0) -> dict[str, Any]:
    """First third (baseline) vs last third (recent); ``degradation_percent`` > 0 means worse."""
    direction = direction or ff_metric_direction(metric)
    n = len(values)
    if n < 20:
        return {"degradation_detected": False, "reason": f"needs >= 20 points, got {n}"}
    third = n // 3
    base = ff_mean(values[:third])
    recent = ff_mean(values[-third:])
    if base == 0:
        return {"degradation_detected": False, "reason": "baseline mean is 0; relative change undefined",
                "baseline_average": base, "recent_average": recent}
    raw = (recent - base) / abs(base) * 100.0
    if direction == UNKNOWN:
        return {"degradation_detected": False, "reason": f"direction of {metric!r} unknown",
                "change_percent": raw, "baseline_average": base, "recent_average": recent}
    worse = raw if direction == LOWER_IS_BETTER else -raw
    detected = worse > threshold_percent
    return {
        "degradation_detected": detected,
        "degradation_percent": worse,
        "baseline_average": base,
        "recent_average": recent,
        "severity": "error" if worse > 25 else "warning" if detected else "",
        "direction": direction,
    }



def ff_seasonal_profile(times: list[float], values: list[float]) -> dict[str, Any]:
    """Hour-of-day and day-of-week means, peaks, and the variance share of the hourly profile."""
    if len(values) < 2:
        return {"hourly_means": {}, "weekday_means": {}, "peak_hour": None, "peak_day": None,
                "hourly_strength": None}
    hours: dict[int, list[float]] = {}
    days: dict[int, list[float]] = {}
    hidx = []
    for t, v in zip(times, values, strict=True):
        dt = datetime.fromtimestamp(t, UTC)
        hours.setdefault(dt.hour, []).append(v)
        days.setdefault(dt.weekday(), []).append(v)
        hidx.append(dt.hour)
    hourly = {h: ff_mean(v) for h, v in sorted(hours.items())}
    daily = {WEEKDAYS[d]: ff_mean(v) for d, v in sorted(days.items())}
    sd = ff_stdev(values, sample=False)
    strength = None
    if sd > 0 and (times[-1] - times[0]) >= 86400.0:
        resid = [v - hourly[h] for v, h in zip(values, hidx, strict=True)]
        strength = max(0.0, 1.0 - (ff_stdev(resid, sample=False) / sd) ** 2)
    return {
        "hourly_means": hourly,
        "weekday_means": daily,
        "peak_hour": max(hourly, key=hourly.__getitem__),
        "peak_day": max(daily, key=daily.__getitem__) if len(daily) > 1 else None,
        "hourly_strength": strength,
    }


@dataclass(slots=True)
class FFTrendReportDTO:
    """Everything the trend analysis computed for one metric."""

    metric: str
    points: int
    start: str
    end: str
    summary: dict[str, Any] = field(default_factory=dict)
    trend: dict[str, Any] = field(default_factory=dict)
    volatility: dict[str, Any] = field(default_factory=dict)
    performance_trend: dict[str, Any] = field(default_factory=dict)
    degradation: dict[str, Any] = field(default_factory=dict)
    seasonality: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


def ff_analyze_trend(series: Iterable[Any], metric: str = "", *, direction: str | None = None,
                     stable_band_percent: float = 5.0, degradation_threshold_percent: float = 10.0,
                     seasonality: bool = True) -> FFTrendReportDTO:
    """Trend + volatility + performance trend + degradation (+ seasonality) of ``series``."""
    if not isinstance(stable_band_percent, (int, float)) or stable_band_percent < 0:
        raise ValueError(f"stable_band_percent: must be >= 0, got {stable_band_percent!r}")
    if not isinstance(degradation_threshold_percent, (int, float)) or degradation_threshold_percent <= 0:
        raise ValueError(f"degradation_threshold_percent: must be > 0, got {degradation_threshold_percent!r}")
    times, values = ff_normalize_series(series)
    rep = FFTrendReportDTO(metric, len(values), ff_epoch_iso(times[0]) if times else "",
                           ff_epoch_iso(times[-1]) if times else "")
    if not values:
        rep.trend = {"direction": "unknown", "reason": "no data in the window"}
        return rep
    mean = ff_mean(values)
    sd = ff_stdev(values)
    cv = ff_coefficient_of_variation(values)
    rep.summary = {"mean": mean, "stdev": sd, "min": min(values), "max": max(values), "last": values[-1]}
    rep.trend = ff_trend_direction(times, values)
    rep.volatility = {"stdev": sd, "coefficient_of_variation": cv, "class": ff_classify_volatility(cv)}
    if cv is None:
        rep.volatility["reason"] = "mean is 0 or fewer than 2 points; CV undefined"
    rep.performance_trend = ff_performance_trend(values, metric, direction=direction,
                                                 stable_band_percent=stable_band_percent)
    rep.degradation = ff_detect_degradation(values, metric, direction=direction,
                                            threshold_percent=degradation_threshold_percent)
    if seasonality:
        rep.seasonality = ff_seasonal_profile(times, values)
    return rep
