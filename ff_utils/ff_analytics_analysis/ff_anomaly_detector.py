"""Anomaly detection over a metric series: seasonal baseline + rolling z-score + trend changes.

Algorithm (one pass after two sorts, ~40k points in well under 100 ms):

1. **Seasonal baseline.** When the series spans at least two days (``seasonal="auto"``) the median
   of every time-of-day bucket (5 min .. 1 h, chosen so each bucket holds >= 8 samples) is the
   expected shape; with two weeks or more an hour-of-week profile (day-of-week x hour) is tried
   too. A profile is used only if it explains at least ``min_seasonal_strength`` of the variance
   (``1 - var(residual) / var(value)``), so a regular daily peak becomes part of the expectation
   instead of an anomaly. Medians keep a spike out of its own baseline.
2. **Rolling z-score.** Residuals (value - profile) are centred on their median and scored against
   the mean and standard deviation of the previous ``window_points`` residuals. A flagged point
   enters the window clipped to ``mean +- k*sd`` so one spike does not blind the next ``window``
   points; after three same-side flags in a row the raw values go in (a level shift is adopted).
3. **Adaptive threshold.** ``k = max(z_threshold, Phi^-1(1 - budget / 2n))``: the bar rises with the
   number of points scanned so that pure Gaussian noise yields about ``false_alarm_budget``
   false alarms per scan; the scale adapts to local volatility through the rolling window, with a soft
   floor ``sd = sqrt(var + floor^2)``, ``floor = max(0.25 * robust, noise_floor(metric, level))``:
   a quarter of the series' robust scale (MAD; the mean absolute deviation when more than half the
   residuals are identical) and the metric's noise floor (``ff_metric_scales``: e.g. 0.5 percent
   points, 1 ms or 0.5% of the level). A zero-variance baseline therefore gives a bounded z.
4. **Trend changes.** The de-seasonalized, spike-clipped residuals are cut into segments; adjacent
   segments whose slopes differ by ``trend_t_threshold`` standard errors (the residual deviation
   behind each standard error floored at ``floor``) *and* whose slope change accumulates to more
   than ``k`` residual deviations over one segment *and* projects to at least the metric's minimum
   effect over a day are reported.

Consecutive flagged points merge into one anomaly that reports its most extreme point; a run whose
deviation is below the metric's minimum effect is dropped. Severity is the milder of the score's
(against the bar) and the impact's (deviation / minimum effect: ``error`` from 3x, ``critical`` from 10x).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import repeat
from statistics import NormalDist
from typing import Any

from ff_utils.ff_analytics_analysis.ff_metric_scales import (
    FFMetricScaleDTO,
    ff_impact_severity,
    ff_metric_scale,
    ff_milder_severity,
)
from ff_utils.ff_analytics_analysis.ff_stats_series import (
    ff_epoch_iso,
    ff_linear_regression,
    ff_normalize_series,
)

__all__ = [
    "FFAnomalyDTO",
    "FFAnomalyDetector",
    "FFAnomalyScanDTO",
    "ff_severity_for_score",
]

DAY = 86400.0
WEEK = 7 * DAY
TREND_EFFECT_SECONDS = DAY  # a slope change must move the value by the minimum effect over this long
_BUCKET_CHOICES = (300.0, 900.0, 1800.0, 3600.0)
_MIN_PER_BUCKET = 8
_SEASONAL_MODES = ("auto", "none", "day", "week")


def ff_severity_for_score(score: float, threshold: float) -> str:
    """``critical`` at >= 2x the threshold, ``error`` at >= 1.5x, else ``warning``."""
    if score >= 2.0 * threshold:
        return "critical"
    if score >= 1.5 * threshold:
        return "error"
    return "warning"


@dataclass(slots=True)
class FFAnomalyDTO:
    """One anomaly: the value seen, the value expected, how far off (score) and how bad."""

    metric: str
    kind: str  # "spike" | "dip" | "trend_change"
    timestamp: str  # the most extreme point (outliers) or the change point (trend changes)
    value: float
    expected_value: float
    score: float  # |z| for outliers, |t| of the slope difference for trend changes
    threshold: float
    severity: str  # "warning" | "error" | "critical"
    baseline: str  # "rolling" | "time_of_day" | "time_of_week"
    start: str = ""
    end: str = ""
    points: int = 1
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


@dataclass(slots=True)
class FFAnomalyScanDTO:
    """The result of one scan: the anomalies and the parameters that produced them."""

    metric: str
    points: int
    start: str
    end: str
    baseline: str
    bucket_seconds: float | None
    seasonal_strength: float | None
    z_threshold: float  # the adaptive k actually used
    window_points: int
    robust_scale: float  # MAD-based sd of the residuals (mean absolute deviation based when the MAD is 0)
    anomalies: list[FFAnomalyDTO] = field(default_factory=list)
    reason: str = ""  # why nothing could be scanned (too few points), else ""
    unit: str = ""  # the metric's unit (ff_metric_scales), "" when not scanned
    level: float | None = None  # the median of the values (the baseline level)
    scale_floor: float = 0.0  # the floor under the rolling sd: max(0.25 * robust_scale, noise floor)
    min_effect: float = 0.0  # the smallest deviation (and daily slope change) reported

    def to_dict(self) -> dict[str, Any]:
        out = {f: getattr(self, f) for f in self.__slots__ if f != "anomalies"}
        out["anomalies"] = [a.to_dict() for a in self.anomalies]
        return out


def _median_sorted(s: list[float]) -> float:
    n = len(s)
    mid = n // 2
    return s[mid] if n % 2 else 0.5 * (s[mid - 1] + s[mid])


def _variance(values: list[float]) -> float:
    """Population variance (shifted by the first value for numerical stability; C-level loops)."""
    n = len(values)
    if n < 2:
        return 0.0
    c = values[0]
    d = list(map(operator.sub, values, repeat(c, n)))
    m = math.fsum(d) / n
    return max(0.0, math.fsum(map(operator.mul, d, d)) / n - m * m)


class FFAnomalyDetector:
    """Seasonal, adaptive rolling z-score anomaly detector (stateless; one ``scan`` per series)."""

    def __init__(
        self,
        *,
        z_threshold: float = 3.0,
        window_points: int = 120,
        false_alarm_budget: float = 0.2,
        seasonal: str = "auto",
        min_seasonal_strength: float = 0.2,
        min_points: int = 20,
        trend_changes: bool = True,
        trend_t_threshold: float = 6.0,
        trend_segments: int = 8,
    ) -> None:
        if not isinstance(z_threshold, (int, float)) or isinstance(z_threshold, bool) or z_threshold <= 0:
            raise ValueError(f"z_threshold: must be > 0, got {z_threshold!r}")
        if not isinstance(window_points, int) or isinstance(window_points, bool) or window_points < 10:
            raise ValueError(f"window_points: must be an int >= 10, got {window_points!r}")
        if not isinstance(false_alarm_budget, (int, float)) or not 0 <= false_alarm_budget < 1_000:
            raise ValueError(f"false_alarm_budget: must be in [0, 1000), got {false_alarm_budget!r}")
        if seasonal not in _SEASONAL_MODES:
            raise ValueError(f"seasonal: must be one of {', '.join(_SEASONAL_MODES)}, got {seasonal!r}")
        if not 0 <= min_seasonal_strength <= 1:
            raise ValueError(f"min_seasonal_strength: must be in [0, 1], got {min_seasonal_strength!r}")
        if not isinstance(min_points, int) or min_points < 10:
            raise ValueError(f"min_points: must be an int >= 10, got {min_points!r}")
        if trend_t_threshold <= 0:
            raise ValueError(f"trend_t_threshold: must be > 0, got {trend_t_threshold!r}")
        if not isinstance(trend_segments, int) or trend_segments < 2:
            raise ValueError(f"trend_segments: must be an int >= 2, got {trend_segments!r}")
        self.z_threshold = float(z_threshold)
        self.window_points = window_points
        self.false_alarm_budget = float(false_alarm_budget)
        self.seasonal = seasonal
        self.min_seasonal_strength = float(min_seasonal_strength)
        self.min_points = min_points
        self.trend_changes = trend_changes
        self.trend_t_threshold = float(trend_t_threshold)
        self.trend_segments = trend_segments

    # ------------------------------------------------------------------ public
    def adaptive_threshold(self, n: int) -> float:
        """The z bar for a scan of ``n`` points (see module docstring, step 3)."""
        if self.false_alarm_budget <= 0 or n <= 0:
            return self.z_threshold
        p = min(0.5, self.false_alarm_budget / (2.0 * n))
        return max(self.z_threshold, NormalDist().inv_cdf(1.0 - p))

    def scan(self, series: Iterable[Any], metric: str = "", *, scale: FFMetricScaleDTO | None = None) -> FFAnomalyScanDTO:
        """Anomalies of ``series`` (``(timestamp, value)`` pairs); ``scale`` overrides the noise floor and
        minimum effect inferred from ``metric``'s name (``ff_metric_scales``)."""
        times, values = ff_normalize_series(series)
        return self.scan_arrays(times, values, metric, scale=scale)

    def scan_arrays(self, times: list[float], values: list[float], metric: str = "", *,
                    scale: FFMetricScaleDTO | None = None) -> FFAnomalyScanDTO:
        """Like :meth:`scan` for already normalized, time-sorted parallel lists."""
        if scale is None:
            scale = ff_metric_scale(metric)
        elif not isinstance(scale, FFMetricScaleDTO):
            raise TypeError(f"scale: expected FFMetricScaleDTO or None, got {type(scale).__name__}")
        n = len(values)
        if n != len(times):
            raise ValueError(f"times/values: lengths differ ({len(times)} != {n})")
        k = self.adaptive_threshold(n)
        if n < self.min_points:
            return FFAnomalyScanDTO(
                metric, n, ff_epoch_iso(times[0]) if n else "", ff_epoch_iso(times[-1]) if n else "", "none", None, None, k,
                self.window_points, 0.0, [], reason=f"only {n} points; need at least {self.min_points}",
            )
        baseline, bucket, period, strength, profile, idx = self._seasonal(times, values)
        if profile is not None:
            resid = list(map(operator.sub, values, map(profile.__getitem__, idx)))
        else:
            resid = values
        # robust centre and scale; a systematic subsample of <= ~10k points estimates both well
        step = max(1, n // 10_000)
        center = _median_sorted(sorted(resid[::step]))
        level = center if profile is None else _median_sorted(sorted(values[::step]))
        r0 = list(map(operator.sub, resid, repeat(center, n)))
        sub = list(map(abs, r0[::step]))
        robust = 1.4826 * _median_sorted(sorted(sub))
        if robust == 0.0:  # more than half the residuals identical: the mean absolute deviation stands in
            robust = 1.2533 * math.fsum(sub) / len(sub)
        # the last term only keeps the division defined for a constant series (all residuals 0)
        floor = max(0.25 * robust, scale.noise_floor(level), 1e-9 * max(1.0, abs(center)))
        min_effect = scale.min_effect(level)
        flags, zs, mus, clean = self._rolling(r0, k, floor)
        anomalies = self._group(metric, times, values, flags, zs, mus, profile, idx, center, k, baseline, min_effect)
        if self.trend_changes:
            anomalies.extend(self._trend_changes(metric, times, values, clean, profile, idx, center, k, floor, baseline,
                                                 min_effect))
        anomalies.sort(key=lambda a: a.timestamp)
        return FFAnomalyScanDTO(
            metric, n, ff_epoch_iso(times[0]), ff_epoch_iso(times[-1]), baseline, bucket, strength, k, self.window_points,
            robust, anomalies, unit=scale.unit, level=level, scale_floor=floor, min_effect=min_effect,
        )

    # ------------------------------------------------------------------ seasonal profile
    def _seasonal(
        self, times: list[float], values: list[float]
    ) -> tuple[str, float | None, float | None, float | None, list[float] | None, list[int]]:
        span = times[-1] - times[0]
        n = len(times)
        if self.seasonal == "none" or span < 2 * DAY:
            return "rolling", None, None, None, None, []
        step = max(1, n // 2000)
        diffs = sorted(map(operator.sub, times[1::step], times[0:-1:step]))
        dt = max(_median_sorted(diffs), 1e-6)
        var_v = _variance(values)
        if var_v == 0:
            return "rolling", None, None, 0.0, None, []
        candidates: list[tuple[str, float, float]] = []
        if self.seasonal in ("auto", "day"):
            for b in _BUCKET_CHOICES:
                if b >= dt and (span / DAY) * (b / dt) >= _MIN_PER_BUCKET:
                    candidates.append(("time_of_day", DAY, b))
                    break
        if self.seasonal in ("auto", "week") and span >= 2 * WEEK and (span / WEEK) * (3600.0 / dt) >= _MIN_PER_BUCKET:
            candidates.append(("time_of_week", WEEK, 3600.0))
        best: tuple[str, float | None, float | None, float | None, list[float] | None, list[int]] = (
            "rolling", None, None, None, None, [],
        )
        best_strength = -1.0
        seen_strength: float | None = None
        overall: float | None = None
        for name, period, b in candidates:
            if name == "time_of_week" and best_strength >= 0 and 1.0 - best_strength <= 0.05:
                break  # the daily profile leaves too little variance for a weekly one to win by 0.05
            nb = int(period // b)
            idx = list(map(int, map(operator.floordiv, map(operator.mod, times, repeat(period, n)), repeat(b, n))))
            buckets: list[list[float]] = [[] for _ in range(nb)]
            appends = [bv.append for bv in buckets]
            for v, i in zip(values, idx, strict=True):
                appends[i](v)
            profile = []
            for bv in buckets:
                if bv:
                    bv.sort()
                    profile.append(_median_sorted(bv))
                else:
                    if overall is None:
                        overall = _median_sorted(sorted(values))
                    profile.append(overall)
            resid = list(map(operator.sub, values, map(profile.__getitem__, idx)))
            strength = max(0.0, 1.0 - _variance(resid) / var_v)
            seen_strength = strength if seen_strength is None else max(seen_strength, strength)
            forced = self.seasonal != "auto"
            # a finer (weekly) profile must beat the daily one clearly to be worth its noise
            margin = 0.05 if best_strength >= 0 else 0.0
            if (forced or strength >= self.min_seasonal_strength) and strength > best_strength + margin:
                best = (name, b, period, strength, profile, idx)
                best_strength = strength
        if best[4] is None:
            # report how seasonal the series was even when no profile was strong enough to use
            return "rolling", None, None, seen_strength, None, []
        return best

    # ------------------------------------------------------------------ rolling z
    def _rolling(
        self, r0: list[float], k: float, floor: float
    ) -> tuple[list[int], list[float], list[float], list[float]]:
        """Flag indices, their z and rolling means; and the clipped residuals (for trend changes).

        One streaming pass with running sums over the previous ``w`` stored (clipped) residuals;
        the sums are recomputed from the window every ``w`` points so rounding drift cannot
        accumulate over long series. A flagged point is stored clipped to ``mu +- k*sd`` unless
        it is the third or later same-side flag in a row (a level shift is then adopted).
        """
        w = self.window_points
        n = len(r0)
        flags: list[int] = []
        zs: list[float] = []
        mus: list[float] = []
        clean = list(r0)
        sqrt = math.sqrt
        floor2 = floor * floor
        last_flag = -2
        last_sign = 0
        run_len = 0
        s1 = 0.0
        s2 = 0.0
        min_fill = 10
        for i in range(n):  # warm-up: growing window (and the steady loop's block starts)
            if i >= w:
                break
            r = r0[i]
            if i >= min_fill:
                mu = s1 / i
                var = s2 / i - mu * mu
                sd = sqrt((var if var > 0 else -var) + floor2)
                z = (r - mu) / sd
                if z > k or z < -k:
                    sign = 1 if z > 0 else -1
                    run_len = run_len + 1 if (last_flag == i - 1 and sign == last_sign) else 1
                    last_flag, last_sign = i, sign
                    flags.append(i)
                    zs.append(z)
                    mus.append(mu)
                    if run_len < 3:
                        r = mu + sign * k * sd
                        clean[i] = r
            s1 += r
            s2 += r * r
        inv = 1.0 / w
        for block in range(w, n, w):
            window = clean[block - w : block]
            s1 = sum(window)
            s2 = sum(map(operator.mul, window, window))
            for i in range(block, min(block + w, n)):
                r = r0[i]
                mu = s1 * inv
                var = s2 * inv - mu * mu
                sd = sqrt((var if var > 0 else -var) + floor2)
                z = (r - mu) / sd
                if z > k or z < -k:
                    sign = 1 if z > 0 else -1
                    run_len = run_len + 1 if (last_flag == i - 1 and sign == last_sign) else 1
                    last_flag, last_sign = i, sign
                    flags.append(i)
                    zs.append(z)
                    mus.append(mu)
                    if run_len < 3:
                        r = mu + sign * k * sd
                        clean[i] = r
                old = clean[i - w]
                s1 += r - old
                s2 += r * r - old * old
        return flags, zs, mus, clean

    def _group(
        self,
        metric: str,
        times: list[float],
        values: list[float],
        flags: list[int],
        zs: list[float],
        mus: list[float],
        profile: list[float] | None,
        idx: list[int],
        center: float,
        k: float,
        baseline: str,
        min_effect: float,
    ) -> list[FFAnomalyDTO]:
        out: list[FFAnomalyDTO] = []
        j = 0
        m = len(flags)
        while j < m:
            start = j
            sign = zs[j] > 0
            while j + 1 < m and flags[j + 1] <= flags[j] + 2 and (zs[j + 1] > 0) == sign:
                j += 1
            best = max(range(start, j + 1), key=lambda q: abs(zs[q]))
            i = flags[best]
            expected = mus[best] + center + (profile[idx[i]] if profile is not None else 0.0)
            score = abs(zs[best])
            deviation = values[i] - expected
            j += 1
            if abs(deviation) < min_effect:
                continue  # statistically unusual, practically nothing
            out.append(
                FFAnomalyDTO(
                    metric=metric,
                    kind="spike" if zs[best] > 0 else "dip",
                    timestamp=ff_epoch_iso(times[i]),
                    value=values[i],
                    expected_value=expected,
                    score=round(score, 4),
                    threshold=round(k, 4),
                    severity=ff_milder_severity(ff_severity_for_score(score, k), ff_impact_severity(deviation, min_effect)),
                    baseline=baseline,
                    start=ff_epoch_iso(times[flags[start]]),
                    end=ff_epoch_iso(times[flags[j - 1]]),
                    points=j - start,
                    details={"z": round(zs[best], 4), "deviation": deviation, "min_effect": min_effect,
                             "impact": abs(deviation) / min_effect if min_effect > 0 else None},
                )
            )
        return out

    # ------------------------------------------------------------------ trend changes
    def _trend_changes(
        self,
        metric: str,
        times: list[float],
        values: list[float],
        clean: list[float],
        profile: list[float] | None,
        idx: list[int],
        center: float,
        k: float,
        floor: float,
        baseline: str,
        min_effect: float,
    ) -> list[FFAnomalyDTO]:
        n = len(times)
        segs = self.trend_segments
        size = n // segs
        if size < 10:
            segs = max(2, n // 10)
            size = n // segs
        if size < 5:
            return []
        fits = []
        for s in range(segs):
            lo = s * size
            hi = n if s == segs - 1 else lo + size
            xs = times[lo:hi]
            if xs[-1] == xs[0]:
                return []
            xm = math.fsum(xs) / len(xs)
            sxx = math.fsum((x - xm) * (x - xm) for x in xs)
            fit = ff_linear_regression(xs, clean[lo:hi])
            # the slope's standard error with the residual deviation floored at the scale floor:
            # a perfectly straight (quantized, noiseless) segment does not make any bend "significant"
            fits.append((lo, hi, fit, max(fit.residual_std, floor) / math.sqrt(sxx)))
        out: list[FFAnomalyDTO] = []
        for (lo1, _hi1, f1, se1), (lo2, hi2, f2, se2) in zip(fits, fits[1:], strict=False):
            diff = f2.slope - f1.slope
            se = math.sqrt(se1 * se1 + se2 * se2)
            noise = max(f1.residual_std, f2.residual_std, floor)
            dur = times[hi2 - 1] - times[lo2]
            t = abs(diff) / se
            per_day = abs(diff) * TREND_EFFECT_SECONDS
            if t < self.trend_t_threshold or abs(diff) * dur < k * noise or per_day < min_effect:
                continue
            end_i = hi2 - 1
            seasonal_part = profile[idx[end_i]] if profile is not None else 0.0
            observed = f2.predict(times[end_i]) + center + seasonal_part
            expected = f1.predict(times[end_i]) + center + seasonal_part
            score = t
            out.append(
                FFAnomalyDTO(
                    metric=metric,
                    kind="trend_change",
                    timestamp=ff_epoch_iso(times[lo2]),
                    value=observed,
                    expected_value=expected,
                    score=round(score, 4),
                    threshold=self.trend_t_threshold,
                    severity=ff_milder_severity(ff_severity_for_score(score, self.trend_t_threshold),
                                                ff_impact_severity(per_day, min_effect)),
                    baseline=baseline,
                    start=ff_epoch_iso(times[lo1]),
                    end=ff_epoch_iso(times[end_i]),
                    points=hi2 - lo1,
                    details={
                        "slope_before_per_hour": f1.slope * 3600.0,
                        "slope_after_per_hour": f2.slope * 3600.0,
                        "change_over_segment": diff * dur,
                        "change_per_day": diff * TREND_EFFECT_SECONDS,
                        "min_effect": min_effect,
                        "impact": per_day / min_effect if min_effect > 0 else None,
                    },
                )
            )
        return out
