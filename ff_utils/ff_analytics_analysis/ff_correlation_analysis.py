"""Pearson correlation matrix across metric series over a window; strongly correlated pairs.

Series are aligned on a common time grid first: every value falls into a bucket of
``bucket_seconds`` (default: the coarsest median sampling interval among the series, at least 1 s)
and each bucket holds the mean of its values. A pair is correlated over the buckets where both
series have data; fewer than ``min_overlap`` shared buckets, or a constant series, gives ``None``
(undefined) instead of a number.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ff_utils.ff_analytics_analysis.ff_stats_series import ff_normalize_series

__all__ = ["FFCorrelationMatrixDTO", "ff_correlation_matrix", "ff_pearson"]


def ff_pearson(xs: list[float], ys: list[float]) -> float | None:
    """Pearson's r, or ``None`` when undefined (fewer than 2 points or a constant side)."""
    n = len(xs)
    if n != len(ys):
        raise ValueError(f"xs/ys: lengths differ ({n} != {len(ys)})")
    if n < 2:
        return None
    mx = math.fsum(xs) / n
    my = math.fsum(ys) / n
    sxx = sxy = syy = 0.0
    for x, y in zip(xs, ys, strict=True):
        dx = x - mx
        dy = y - my
        sxx += dx * dx
        syy += dy * dy
        sxy += dx * dy
    if sxx == 0 or syy == 0:
        return None
    return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))


@dataclass(slots=True)
class FFCorrelationMatrixDTO:
    """Names, the symmetric matrix (``None`` = undefined) and the strong pairs by |r|."""

    names: list[str]
    matrix: list[list[float | None]]
    overlap: list[list[int]]  # shared buckets per pair
    bucket_seconds: float
    strong_threshold: float
    strong_pairs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}


def _bucketize(times: list[float], values: list[float], bucket: float) -> dict[int, float]:
    acc: dict[int, list[float]] = {}
    for t, v in zip(times, values, strict=True):
        b = int(t // bucket)
        a = acc.get(b)
        if a is None:
            acc[b] = [v, 1.0]
        else:
            a[0] += v
            a[1] += 1.0
    return {b: s / c for b, (s, c) in acc.items()}


def ff_correlation_matrix(
    series_by_name: Mapping[str, Iterable[Any]],
    *,
    bucket_seconds: float | None = None,
    min_overlap: int = 10,
    strong_threshold: float = 0.7,
) -> FFCorrelationMatrixDTO:
    """Pearson matrix of the named series after aligning them on ``bucket_seconds`` buckets."""
    if not isinstance(series_by_name, Mapping):
        raise TypeError(f"series_by_name: expected a mapping name -> series, got {type(series_by_name).__name__}")
    if bucket_seconds is not None and (isinstance(bucket_seconds, bool) or not isinstance(bucket_seconds, (int, float))
                                       or bucket_seconds <= 0):
        raise ValueError(f"bucket_seconds: must be > 0, got {bucket_seconds!r}")
    if not isinstance(min_overlap, int) or min_overlap < 2:
        raise ValueError(f"min_overlap: must be an int >= 2, got {min_overlap!r}")
    if not isinstance(strong_threshold, (int, float)) or not 0 < strong_threshold <= 1:
        raise ValueError(f"strong_threshold: must be in (0, 1], got {strong_threshold!r}")
    names = sorted(series_by_name)
    norm = {name: ff_normalize_series(series_by_name[name], f"series_by_name[{name!r}]") for name in names}
    if bucket_seconds is None:
        steps = []
        for t, _ in norm.values():
            if len(t) >= 2:
                d = sorted(t[i + 1] - t[i] for i in range(0, len(t) - 1, max(1, len(t) // 1000)))
                steps.append(d[len(d) // 2])
        bucket_seconds = max([1.0, *steps])
    buckets = {name: _bucketize(t, v, bucket_seconds) for name, (t, v) in norm.items()}
    k = len(names)
    matrix: list[list[float | None]] = [[None] * k for _ in range(k)]
    overlap = [[0] * k for _ in range(k)]
    pairs = []
    for i in range(k):
        bi = buckets[names[i]]
        overlap[i][i] = len(bi)
        matrix[i][i] = 1.0 if len(bi) >= min_overlap and len(set(bi.values())) > 1 else None
        for j in range(i + 1, k):
            bj = buckets[names[j]]
            shared = sorted(bi.keys() & bj.keys())
            overlap[i][j] = overlap[j][i] = len(shared)
            if len(shared) < min_overlap:
                continue
            r = ff_pearson([bi[b] for b in shared], [bj[b] for b in shared])
            matrix[i][j] = matrix[j][i] = r
            if r is not None and abs(r) >= strong_threshold:
                pairs.append({"a": names[i], "b": names[j], "r": r, "n": len(shared),
                              "relation": "positive" if r > 0 else "negative"})
    pairs.sort(key=lambda p: -abs(p["r"]))
    return FFCorrelationMatrixDTO(names, matrix, overlap, float(bucket_seconds), float(strong_threshold), pairs)
