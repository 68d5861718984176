"""Forecasts (linear and Holt double exponential smoothing) with error estimates, and
time-to-saturation ("disk full in 3.2 days at the current rate").

Error estimates:

* ``rmse_holdout``: the model is fitted on the first 80% of the (resampled) series and scored on
  the last 20% it has not seen; the honest out-of-sample error.
* ``rmse_one_step`` (Holt): root mean square of the one-step-ahead errors over the whole series.
* ``residual_std`` (linear): sqrt(SSE / (n-2)) of the full fit.

Holt assumes equally spaced points; the series is resampled to a regular step (bucket means; the
step is the median sampling interval, widened so at most ``max_points`` buckets remain) and empty
buckets are skipped. ``alpha``/``beta`` are chosen on a small grid by one-step SSE unless given.

Time to saturation fits a line to the recent window and solves ``fit(t) = capacity``; the
interval from the slope's standard error (+-2 SE) gives earliest/latest estimates. A projection
beyond ``horizon_days`` (default :data:`DEFAULT_HORIZON_DAYS`, 365) is not reported as a number of
days: ``status="beyond_horizon"``, ``days_to_saturation=None``, ``within_horizon=False`` and the
message "... not saturating within the horizon (365 days) ..." (a straight line through a week of
samples says nothing about 176,000 days from now).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ff_utils.ff_analytics_analysis.ff_stats_series import (
    ff_epoch_iso,
    ff_linear_regression,
    ff_normalize_series,
)

__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "SATURATION_STATUSES",
    "FFForecastDTO",
    "FFSaturationDTO",
    "ff_format_duration",
    "ff_holt_forecast",
    "ff_linear_forecast",
    "ff_check_horizon_days",
    "ff_resample",
    "ff_time_to_saturation",
]

DEFAULT_HORIZON_DAYS = 365.0
SATURATION_STATUSES = ("saturating", "at_capacity", "beyond_horizon", "not_growing", "insufficient_data")
_ALPHAS = (0.1, 0.2, 0.3, 0.5, 0.7, 0.9)
_BETAS = (0.01, 0.05, 0.1, 0.2, 0.4)


@dataclass(slots=True)
class FFForecastDTO:
    """Forecast points ``[(iso, value, lower, upper)]`` and how much to trust them."""

    metric: str
    method: str  # "linear" | "holt"
    points_used: int
    step_seconds: float
    horizon_seconds: float
    forecast: list[dict[str, Any]] = field(default_factory=list)
    rmse_holdout: float | None = None
    rmse_one_step: float | None = None
    residual_std: float | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


@dataclass(slots=True)
class FFSaturationDTO:
    """When a growing resource reaches its capacity at the current rate."""

    metric: str
    capacity: float
    current_value: float | None
    rate_per_day: float | None
    seconds_to_saturation: float | None  # None unless saturating (or at capacity) within the horizon
    days_to_saturation: float | None
    saturation_at: str  # ISO time, "" when not saturating within the horizon
    earliest_at: str  # with the slope + 2 SE, "" if undefined or beyond the horizon
    latest_at: str  # with the slope - 2 SE, "" if the slower rate never saturates within the horizon
    r_squared: float | None
    points_used: int
    status: str  # one of SATURATION_STATUSES
    message: str
    capacity_source: str = ""  # where the capacity number came from
    horizon_days: float = DEFAULT_HORIZON_DAYS
    within_horizon: bool = False  # saturating or at capacity within horizon_days

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


def ff_format_duration(seconds: float) -> str:
    """``3.2 days`` / ``5.0 hours`` / ``12 minutes``."""
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{max(0.0, seconds) / 60:.0f} minutes"


def ff_resample(times: list[float], values: list[float], max_points: int = 2000) -> tuple[list[float], list[float], float]:
    """Bucket means on a regular step (median interval, widened to keep <= ``max_points``)."""
    n = len(times)
    if n < 2:
        return list(times), list(values), 0.0
    span = times[-1] - times[0]
    stride = max(1, n // 2000)
    diffs = sorted(times[i + 1] - times[i] for i in range(0, n - 1, stride))
    step = diffs[len(diffs) // 2] or (span / (n - 1) if span else 1.0)
    if span / step + 1 > max_points:
        step = span / (max_points - 1)
    if step <= 0:
        return list(times), list(values), 0.0
    sums: dict[int, list[float]] = {}
    t0 = times[0]
    for t, v in zip(times, values, strict=True):
        b = int(round((t - t0) / step))
        acc = sums.get(b)
        if acc is None:
            sums[b] = [v, 1.0]
        else:
            acc[0] += v
            acc[1] += 1.0
    keys = sorted(sums)
    return [t0 + k * step for k in keys], [sums[k][0] / sums[k][1] for k in keys], step


def _holt_run(values: list[float], alpha: float, beta: float) -> tuple[float, float, float, int]:
    """Final level, trend, one-step SSE and count of scored steps."""
    level = values[0]
    trend = values[1] - values[0]
    sse = 0.0
    for y in values[1:]:
        pred = level + trend
        err = y - pred
        sse += err * err
        new_level = alpha * y + (1 - alpha) * pred
        trend = beta * (new_level - level) + (1 - beta) * trend
        level = new_level
    return level, trend, sse, len(values) - 1


def _holt_fit(values: list[float], alpha: float | None, beta: float | None) -> tuple[float, float, float, float, float]:
    alphas = (alpha,) if alpha is not None else _ALPHAS
    betas = (beta,) if beta is not None else _BETAS
    best = None
    for a in alphas:
        for b in betas:
            level, trend, sse, m = _holt_run(values, a, b)
            if best is None or sse < best[2]:
                best = (level, trend, sse, a, b, m)
    assert best is not None
    level, trend, sse, a, b, m = best
    return level, trend, math.sqrt(sse / m), a, b


def _check_common(horizon_seconds: float, steps: int) -> None:
    if isinstance(horizon_seconds, bool) or not isinstance(horizon_seconds, (int, float)) or horizon_seconds <= 0:
        raise ValueError(f"horizon_seconds: must be > 0, got {horizon_seconds!r}")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps: must be an int >= 1, got {steps!r}")


def ff_linear_forecast(series: Iterable[Any], horizon_seconds: float, *, steps: int = 24,
                       metric: str = "") -> FFForecastDTO:
    """Least-squares line extrapolated ``horizon_seconds`` past the last point in ``steps`` points."""
    _check_common(horizon_seconds, steps)
    times, values = ff_normalize_series(series)
    out = FFForecastDTO(metric, "linear", len(values), horizon_seconds / steps, float(horizon_seconds))
    if len(values) < 3 or times[-1] == times[0]:
        out.reason = f"needs >= 3 points over a time span, got {len(values)}"
        return out
    t0 = times[0]
    xs = [t - t0 for t in times]
    fit = ff_linear_regression(xs, values)
    out.residual_std = fit.residual_std
    out.parameters = {"slope_per_second": fit.slope, "slope_per_day": fit.slope * 86400.0,
                      "intercept": fit.intercept, "r_squared": fit.r_squared}
    cut = int(len(xs) * 0.8)
    if cut >= 3 and len(xs) - cut >= 1 and xs[cut - 1] > xs[0]:
        train = ff_linear_regression(xs[:cut], values[:cut])
        errs = [(values[i] - train.predict(xs[i])) ** 2 for i in range(cut, len(xs))]
        out.rmse_holdout = math.sqrt(math.fsum(errs) / len(errs))
    band = 2.0 * (out.rmse_holdout if out.rmse_holdout is not None else fit.residual_std)
    last = times[-1]
    for k in range(1, steps + 1):
        t = last + horizon_seconds * k / steps
        y = fit.predict(t - t0)
        out.forecast.append({"timestamp": ff_epoch_iso(t), "value": y, "lower": y - band, "upper": y + band})
    return out


def ff_holt_forecast(series: Iterable[Any], horizon_seconds: float, *, steps: int = 24, metric: str = "",
                     alpha: float | None = None, beta: float | None = None,
                     max_points: int = 2000) -> FFForecastDTO:
    """Holt's linear (double exponential) smoothing forecast with holdout and one-step RMSE."""
    _check_common(horizon_seconds, steps)
    for name, v in (("alpha", alpha), ("beta", beta)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1):
            raise ValueError(f"{name}: must be in (0, 1], got {v!r}")
    times, values = ff_normalize_series(series)
    rt, rv, step = ff_resample(times, values, max_points)
    out = FFForecastDTO(metric, "holt", len(rv), step, float(horizon_seconds))
    if len(rv) < 4 or step <= 0:
        out.reason = f"needs >= 4 regular points, got {len(rv)}"
        return out
    level, trend, rmse1, a, b = _holt_fit(rv, alpha, beta)
    out.rmse_one_step = rmse1
    out.parameters = {"alpha": a, "beta": b, "level": level, "trend_per_step": trend,
                      "trend_per_day": trend * 86400.0 / step}
    cut = int(len(rv) * 0.8)
    if cut >= 4 and len(rv) - cut >= 1:
        lv, tr, _, _, _ = _holt_fit(rv[:cut], a, b)
        errs = []
        for i in range(cut, len(rv)):
            h = (rt[i] - rt[cut - 1]) / step
            errs.append((rv[i] - (lv + tr * h)) ** 2)
        out.rmse_holdout = math.sqrt(math.fsum(errs) / len(errs))
    last = rt[-1]
    for k in range(1, steps + 1):
        dt = horizon_seconds * k / steps
        h = dt / step
        y = level + trend * h
        # ETS(A,A,N) h-step variance: s^2 [1 + (h-1)(a^2 + a*b*h + b^2 h(2h-1)/6)]
        hh = max(1.0, h)
        widen = 1.0 + (hh - 1.0) * (a * a + a * b * hh + b * b * hh * (2 * hh - 1) / 6.0)
        band = 2.0 * rmse1 * math.sqrt(widen)
        out.forecast.append({"timestamp": ff_epoch_iso(last + dt), "value": y, "lower": y - band, "upper": y + band})
    return out


def ff_check_horizon_days(horizon_days: Any, name: str = "horizon_days") -> float:
    """``horizon_days`` as a float (finite, > 0); else ``ValueError`` naming ``name``."""
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, (int, float)) \
            or not math.isfinite(horizon_days) or horizon_days <= 0:
        raise ValueError(f"{name}: must be a finite number of days > 0, got {horizon_days!r}")
    return float(horizon_days)


def ff_time_to_saturation(series: Iterable[Any], capacity: float, *, metric: str = "", resource: str = "",
                          capacity_source: str = "", horizon_days: float = DEFAULT_HORIZON_DAYS) -> FFSaturationDTO:
    """Seconds until the fitted line of ``series`` reaches ``capacity`` (from the last point), when that is
    within ``horizon_days``; beyond it ``status="beyond_horizon"`` and no time is given."""
    if isinstance(capacity, bool) or not isinstance(capacity, (int, float)) or not math.isfinite(capacity) or capacity <= 0:
        raise ValueError(f"capacity: must be a finite number > 0, got {capacity!r}")
    horizon = ff_check_horizon_days(horizon_days)
    times, values = ff_normalize_series(series)
    label = resource or metric or "resource"
    out = FFSaturationDTO(metric, float(capacity), values[-1] if values else None, None, None, None, "", "", "",
                          None, len(values), "insufficient_data", "", capacity_source, horizon, False)
    if len(values) < 3 or times[-1] == times[0]:
        out.message = f"{label}: needs >= 3 points over a time span to estimate a rate, got {len(values)}"
        return out
    t0 = times[0]
    fit = ff_linear_regression([t - t0 for t in times], values)
    now = times[-1]
    current = fit.predict(now - t0)
    out.current_value = current
    out.rate_per_day = fit.slope * 86400.0
    out.r_squared = fit.r_squared
    if current >= capacity or values[-1] >= capacity:
        out.status = "at_capacity"
        out.within_horizon = True
        out.seconds_to_saturation = 0.0
        out.days_to_saturation = 0.0
        out.saturation_at = ff_epoch_iso(now)
        out.message = f"{label} is at capacity ({values[-1]:.4g} of {capacity:.4g})"
        return out
    if fit.slope <= 0:
        out.status = "not_growing"
        out.message = f"{label} is not growing ({out.rate_per_day:+.4g}/day); no saturation expected"
        return out
    secs = (capacity - current) / fit.slope
    limit = horizon * 86400.0
    rate = f"({out.rate_per_day:+.4g}/day, R^2 {fit.r_squared:.2f})"
    hi = fit.slope + 2 * fit.slope_stderr
    lo = fit.slope - 2 * fit.slope_stderr
    early = (capacity - current) / hi
    late = (capacity - current) / lo if lo > 0 else math.inf
    out.earliest_at = ff_epoch_iso(now + early) if early <= limit else ""
    out.latest_at = ff_epoch_iso(now + late) if late <= limit else ""
    if secs > limit:
        out.status = "beyond_horizon"
        out.message = f"{label} not saturating within the horizon ({horizon:g} days) at the current rate {rate}"
        return out
    out.status = "saturating"
    out.within_horizon = True
    out.seconds_to_saturation = secs
    out.days_to_saturation = secs / 86400.0
    out.saturation_at = ff_epoch_iso(now + secs)
    out.message = f"{label} full in {ff_format_duration(secs)} at the current rate {rate}"
    return out
