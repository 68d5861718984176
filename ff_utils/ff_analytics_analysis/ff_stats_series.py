"""Series statistics over plain floats and ``(timestamp, value)`` pairs (stdlib maths only).

A *series* is an iterable of ``(timestamp, value)`` pairs where the timestamp is epoch seconds
(int/float), an aware/naive ``datetime`` (naive is taken as UTC) or an ISO-8601 string. Engines
normalize it once with :func:`ff_normalize_series` into two parallel lists ``(times, values)``
sorted by time, then work on floats. The helpers here use ``math.fsum`` and plain loops instead of
``statistics`` (whose exact ``Fraction`` arithmetic is ~50x slower on 100k points).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import repeat
from typing import Any

from ff_utils.ff_analytics_core.ff_clock import ff_iso

__all__ = [
    "FFLinearFitDTO",
    "FFSeriesSummaryDTO",
    "ff_coefficient_of_variation",
    "ff_epoch_iso",
    "ff_linear_regression",
    "ff_mean",
    "ff_median",
    "ff_normalize_series",
    "ff_parse_window",
    "ff_percentile",
    "ff_stdev",
    "ff_summarize",
    "ff_to_epoch",
]

_WINDOW_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def ff_parse_window(text: str | int | float, name: str = "window") -> float:
    """``"7d"``, ``"24h"``, ``"30m"``, ``"90s"``, ``"2w"`` or a number of seconds -> seconds (> 0)."""
    if isinstance(text, bool):
        raise TypeError(f"{name}: expected a duration like '7d' or seconds, got bool")
    if isinstance(text, (int, float)):
        seconds = float(text)
    elif isinstance(text, str):
        m = _WINDOW_RE.match(text.lower())
        if not m:
            raise ValueError(f"{name}: expected a duration like '90s', '30m', '24h', '7d' or '2w', got {text!r}")
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    else:
        raise TypeError(f"{name}: expected a duration like '7d' or seconds, got {type(text).__name__}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{name}: must be > 0, got {text!r}")
    return seconds


def ff_epoch_iso(t: float) -> str:
    """Epoch seconds -> ``ff_iso`` text (UTC, microseconds, ``Z``)."""
    return ff_iso(datetime.fromtimestamp(t, UTC))


def ff_to_epoch(ts: Any, name: str = "timestamp") -> float:
    """Epoch seconds of a number, ``datetime`` (naive = UTC) or ISO-8601 string."""
    if isinstance(ts, bool):
        raise TypeError(f"{name}: expected epoch seconds, datetime or ISO string, got bool")
    if isinstance(ts, (int, float)):
        t = float(ts)
    elif isinstance(ts, datetime):
        t = (ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)).timestamp()
    elif isinstance(ts, str):
        try:
            dt = datetime.fromisoformat(ts)
        except ValueError as exc:
            raise ValueError(f"{name}: not an ISO-8601 timestamp: {ts!r}") from exc
        t = (dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)).timestamp()
    else:
        raise TypeError(f"{name}: expected epoch seconds, datetime or ISO string, got {type(ts).__name__}")
    if not math.isfinite(t):
        raise ValueError(f"{name}: must be finite, got {ts!r}")
    return t


def ff_normalize_series(series: Iterable[Any], name: str = "series") -> tuple[list[float], list[float]]:
    """``(times, values)`` sorted by time from ``(timestamp, value)`` pairs; caller bugs raise.

    Non-numeric values raise ``TypeError``; NaN/inf values raise ``ValueError`` (naming the index).
    """
    if isinstance(series, (str, bytes)) or not isinstance(series, Iterable):
        raise TypeError(f"{name}: expected an iterable of (timestamp, value) pairs, got {type(series).__name__}")
    items = series if isinstance(series, list) else list(series)
    fast = _normalize_fast(items)
    if fast is not None:
        return fast
    return _normalize_slow(items, name)


_NUM_TYPES = frozenset({int, float})
_PAIR_TYPES = frozenset({tuple, list})


def _normalize_fast(items: list[Any]) -> tuple[list[float], list[float]] | None:
    """C-level path for pairs of plain finite numbers; None when anything needs the checked path."""
    if not items:
        return [], []
    if not set(map(type, items)) <= _PAIR_TYPES or set(map(len, items)) != {2}:
        return None
    ts = list(map(operator.itemgetter(0), items))
    vs = list(map(operator.itemgetter(1), items))
    if not set(map(type, ts)) <= _NUM_TYPES or not set(map(type, vs)) <= _NUM_TYPES:
        return None
    times = list(map(float, ts))
    values = list(map(float, vs))
    if not all(map(math.isfinite, values)) or not all(map(math.isfinite, times)):
        return None
    if not all(map(operator.le, times, times[1:])):
        order = sorted(range(len(times)), key=times.__getitem__)
        times = list(map(times.__getitem__, order))
        values = list(map(values.__getitem__, order))
    return times, values


def _normalize_slow(items: list[Any], name: str) -> tuple[list[float], list[float]]:
    times: list[float] = []
    values: list[float] = []
    tappend = times.append
    vappend = values.append
    for i, item in enumerate(items):
        try:
            ts, v = item
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name}[{i}]: expected a (timestamp, value) pair, got {item!r}") from exc
        t = ff_to_epoch(ts, f"{name}[{i}].timestamp")
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"{name}[{i}].value: expected a number, got {type(v).__name__}")
        v = float(v)
        if not math.isfinite(v):
            raise ValueError(f"{name}[{i}].value: must be finite, got {v!r}")
        tappend(t)
        vappend(v)
    if not all(map(operator.le, times, times[1:])):
        order = sorted(range(len(times)), key=times.__getitem__)
        times = [times[i] for i in order]
        values = [values[i] for i in order]
    return times, values


def ff_mean(values: Sequence[float]) -> float:
    """Arithmetic mean (``ValueError`` on an empty sequence)."""
    if not values:
        raise ValueError("values: mean of an empty sequence")
    return math.fsum(values) / len(values)


def ff_stdev(values: Sequence[float], sample: bool = True) -> float:
    """Standard deviation (sample by default; 0.0 for fewer than two values)."""
    n = len(values)
    if n < 2:
        return 0.0
    m = math.fsum(values) / n
    ss = math.fsum((x - m) * (x - m) for x in values)
    return math.sqrt(ss / (n - 1 if sample else n))


def ff_percentile(values: Sequence[float], q: float, *, presorted: bool = False) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between closest ranks."""
    if not values:
        raise ValueError("values: percentile of an empty sequence")
    if not isinstance(q, (int, float)) or isinstance(q, bool) or not 0 <= q <= 100:
        raise ValueError(f"q: must be a number in [0, 100], got {q!r}")
    s = values if presorted else sorted(values)
    pos = (len(s) - 1) * (q / 100.0)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    frac = pos - lo
    return s[lo] + (s[hi] - s[lo]) * frac


def ff_median(values: Sequence[float]) -> float:
    """Median (50th percentile)."""
    return ff_percentile(values, 50.0)


def ff_coefficient_of_variation(values: Sequence[float]) -> float | None:
    """Sample stdev / |mean|; ``None`` when the mean is 0 or there are fewer than two values."""
    if len(values) < 2:
        return None
    m = ff_mean(values)
    if m == 0:
        return None
    return ff_stdev(values) / abs(m)


@dataclass(slots=True)
class FFLinearFitDTO:
    """Least-squares line ``y = slope * x + intercept`` with its goodness of fit."""

    slope: float
    intercept: float
    r_squared: float
    n: int
    slope_stderr: float  # standard error of the slope (0.0 when n < 3)
    residual_std: float  # sqrt(SSE / (n - 2)) (0.0 when n < 3)
    x_mean: float

    def predict(self, x: float) -> float:
        return self.slope * x + self.intercept


def ff_linear_regression(xs: Sequence[float], ys: Sequence[float]) -> FFLinearFitDTO:
    """Ordinary least squares of ``ys`` on ``xs`` (needs >= 2 points with distinct x).

    ``r_squared`` is 1.0 for a constant ``ys`` fitted exactly (no variance to explain) and the
    usual ``1 - SSE/SST`` otherwise. For numerical stability x is centred before summing.
    """
    n = len(xs)
    if n != len(ys):
        raise ValueError(f"xs/ys: lengths differ ({n} != {len(ys)})")
    if n < 2:
        raise ValueError(f"xs: linear regression needs at least 2 points, got {n}")
    xm = math.fsum(xs) / n
    ym = math.fsum(ys) / n
    dx = list(map(operator.sub, xs, repeat(xm, n)))
    dy = list(map(operator.sub, ys, repeat(ym, n)))
    sxx = math.fsum(map(operator.mul, dx, dx))
    sxy = math.fsum(map(operator.mul, dx, dy))
    syy = math.fsum(map(operator.mul, dy, dy))
    if sxx == 0:
        raise ValueError("xs: all x values are equal; the slope is undefined")
    slope = sxy / sxx
    intercept = ym - slope * xm
    sse = max(0.0, syy - slope * sxy)
    r2 = 1.0 if syy == 0 else max(0.0, min(1.0, 1.0 - sse / syy))
    if n > 2:
        resid_std = math.sqrt(sse / (n - 2))
        se = resid_std / math.sqrt(sxx)
    else:
        resid_std = 0.0
        se = 0.0
    return FFLinearFitDTO(slope, intercept, r2, n, se, resid_std, xm)


@dataclass(slots=True)
class FFSeriesSummaryDTO:
    """Descriptive statistics of a list of values."""

    count: int
    mean: float
    stdev: float
    min: float
    max: float
    p50: float
    p95: float
    p99: float
    cv: float | None  # None when the mean is 0 or count < 2

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


def ff_summarize(values: Sequence[float]) -> FFSeriesSummaryDTO:
    """Count, mean, stdev, min/max, p50/p95/p99 and CV of ``values`` (non-empty)."""
    if not values:
        raise ValueError("values: cannot summarize an empty sequence")
    s = sorted(values)
    m = math.fsum(s) / len(s)
    sd = ff_stdev(s)
    return FFSeriesSummaryDTO(
        count=len(s),
        mean=m,
        stdev=sd,
        min=s[0],
        max=s[-1],
        p50=ff_percentile(s, 50, presorted=True),
        p95=ff_percentile(s, 95, presorted=True),
        p99=ff_percentile(s, 99, presorted=True),
        cv=(sd / abs(m)) if (len(s) >= 2 and m != 0) else None,
    )
