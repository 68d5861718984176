"""A mergeable relative-error quantile sketch (DDSketch style) for durations and latencies.

Guarantee: for non-negative values, ``quantile(q)`` returns a value within a relative error of
``relative_accuracy`` (default 1%) of the exact lower q-quantile ``x[floor(q * (n - 1))]`` of the
values added, whatever their distribution, and merging two sketches of one accuracy gives exactly
the sketch of the combined values (bucket counts add). Merging sketches of different accuracies (a
changed ``rollup_relative_accuracy``) re-buckets the finer into the coarser one; the result's
``error_bound`` is then ``(1 + e_fine) * (1 + a_coarse) - 1`` (each value's bucket representative is
re-bucketed once), its ``relative_accuracy`` the coarser one. Values below ``min_value`` (default
1e-9) count as zero.
Memory: one bucket per distinct ``ceil(log_gamma(x))``, i.e. ~ log(max/min) / (2 * accuracy).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

DEFAULT_RELATIVE_ACCURACY = 0.01
MIN_VALUE = 1e-9


class FFQuantileSketch:
    """Log-bucketed counts: ``index = ceil(log(x) / log(gamma))``, ``gamma = (1 + a) / (1 - a)``."""

    __slots__ = ("relative_accuracy", "error_bound", "_gamma", "_inv_log_gamma", "buckets", "zero_count", "count",
                 "total", "min", "max")

    def __init__(self, relative_accuracy: float = DEFAULT_RELATIVE_ACCURACY) -> None:
        if isinstance(relative_accuracy, bool) or not isinstance(relative_accuracy, (int, float)):
            raise TypeError("relative_accuracy: expected a float")
        if not 0.0 < relative_accuracy < 1.0:
            raise ValueError(f"relative_accuracy: must be in (0, 1), got {relative_accuracy!r}")
        self.relative_accuracy = float(relative_accuracy)
        self.error_bound = self.relative_accuracy  # larger only after merging a sketch of another accuracy
        self._gamma = (1.0 + self.relative_accuracy) / (1.0 - self.relative_accuracy)
        self._inv_log_gamma = 1.0 / math.log(self._gamma)
        self.buckets: dict[int, int] = {}
        self.zero_count = 0
        self.count = 0
        self.total = 0.0
        self.min = math.inf
        self.max = -math.inf

    # ------------------------------------------------------------------ update
    def add(self, value: float, weight: int = 1) -> None:
        """Add ``value`` (>= 0) ``weight`` times. Negative or NaN values raise ``ValueError``."""
        if not value >= 0.0:  # also rejects NaN
            raise ValueError(f"value: must be a non-negative number, got {value!r}")
        if value > MIN_VALUE:
            k = math.ceil(math.log(value) * self._inv_log_gamma)
            b = self.buckets
            b[k] = b.get(k, 0) + weight
        else:
            self.zero_count += weight
        self.count += weight
        self.total += value * weight
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value

    def add_many(self, values: list[float], weight: int = 1) -> None:
        """``add(v, weight)`` for every ``v`` of ``values``, with the bucket indexes computed in C
        (``map``/``Counter``); the same buckets as one ``add`` each. A bad value raises as ``add``."""
        if not values:
            return
        lo, hi = min(values), max(values)
        s = math.fsum(values)
        if not lo >= 0.0 or s != s:  # negative or NaN somewhere: the single path names it
            for v in values:
                self.add(v, weight)
            return
        pos = [x for x in values if x > MIN_VALUE] if lo <= MIN_VALUE else values
        b = self.buckets
        get = b.get
        for k, c in Counter(map(math.ceil, map(self._inv_log_gamma.__mul__, map(math.log, pos)))).items():
            b[k] = get(k, 0) + c * weight
        self.zero_count += (len(values) - len(pos)) * weight
        self.count += len(values) * weight
        # weight 1: the same left-to-right float additions as one ``add`` per value
        self.total = sum(values, self.total) if weight == 1 else self.total + s * weight
        if lo < self.min:
            self.min = lo
        if hi > self.max:
            self.max = hi

    def merge(self, other: FFQuantileSketch) -> FFQuantileSketch:
        """Add ``other``'s counts into this sketch; returns self. Of different accuracies, the finer
        is re-bucketed into the coarser (see the module docstring for the bound)."""
        if not isinstance(other, FFQuantileSketch):
            raise TypeError(f"other: expected FFQuantileSketch, got {type(other).__name__}")
        src, other_bound = other.buckets, other.error_bound
        if other.relative_accuracy > self.relative_accuracy:
            self._rebucket(other.relative_accuracy)
        elif other.relative_accuracy < self.relative_accuracy:
            src = other._buckets_at(self._inv_log_gamma)
            other_bound = (1.0 + other_bound) * (1.0 + self.relative_accuracy) - 1.0
        self.error_bound = max(self.error_bound, other_bound)
        b = self.buckets
        for k, c in src.items():
            b[k] = b.get(k, 0) + c
        self.zero_count += other.zero_count
        self.count += other.count
        self.total += other.total
        if other.min < self.min:
            self.min = other.min
        if other.max > self.max:
            self.max = other.max
        return self

    def _buckets_at(self, inv_log_gamma: float) -> dict[int, int]:
        """These counts re-bucketed by their representative values (``quantile``'s estimate) into
        the buckets of another ``gamma`` (``inv_log_gamma = 1 / log(gamma)``)."""
        g = self._gamma
        out: dict[int, int] = {}
        for k, c in self.buckets.items():
            j = math.ceil(math.log(2.0 * g**k / (g + 1.0)) * inv_log_gamma)
            out[j] = out.get(j, 0) + c
        return out

    def _rebucket(self, relative_accuracy: float) -> None:
        """Become a sketch of the coarser ``relative_accuracy``, counts re-bucketed."""
        coarse = FFQuantileSketch(relative_accuracy)
        self.buckets = self._buckets_at(coarse._inv_log_gamma)
        self.error_bound = (1.0 + self.error_bound) * (1.0 + coarse.relative_accuracy) - 1.0
        self.relative_accuracy, self._gamma, self._inv_log_gamma = (
            coarse.relative_accuracy, coarse._gamma, coarse._inv_log_gamma)

    def copy(self) -> FFQuantileSketch:
        s = FFQuantileSketch(self.relative_accuracy)
        return s.merge(self)

    # ------------------------------------------------------------------ queries
    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def quantile(self, q: float) -> float | None:
        """Estimate of the lower q-quantile (``None`` when empty); ``q`` in [0, 1] else ``ValueError``."""
        if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0.0 <= q <= 1.0:
            raise ValueError(f"q: must be a number in [0, 1], got {q!r}")
        if not self.count:
            return None
        rank = q * (self.count - 1)
        if rank < self.zero_count:
            return 0.0 if self.min > MIN_VALUE or self.min == math.inf else max(self.min, 0.0)
        seen = self.zero_count
        for k in sorted(self.buckets):
            seen += self.buckets[k]
            if seen > rank:
                est = 2.0 * self._gamma**k / (self._gamma + 1.0)
                return min(max(est, self.min), self.max)
        return self.max

    # ------------------------------------------------------------------ (de)serialization
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: bucket indexes as string keys (JSON object keys)."""
        out = {
            "a": self.relative_accuracy,
            "b": {str(k): c for k, c in self.buckets.items()},
            "z": self.zero_count,
            "n": self.count,
            "s": self.total,
            "min": self.min if self.count else None,
            "max": self.max if self.count else None,
        }
        if self.error_bound != self.relative_accuracy:  # only after a merge across accuracies
            out["e"] = self.error_bound
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FFQuantileSketch:
        if not isinstance(data, dict):
            raise TypeError(f"data: expected dict, got {type(data).__name__}")
        try:
            s = cls(float(data.get("a", DEFAULT_RELATIVE_ACCURACY)))
            b = data.get("b") or {}
            if type(b) is not dict or not set(map(type, b.values())) <= {int} or (b and min(b.values()) < 0):
                raise ValueError("b: expected an object of bucket index -> count")
            s.buckets = dict(zip(map(int, b), b.values(), strict=True))
            lim = math.ceil(710.0 * s._inv_log_gamma) + 1  # indexes of floats in (MIN_VALUE, max float]
            if s.buckets and (min(s.buckets) < -lim or max(s.buckets) > lim):
                raise ValueError("b: a bucket index outside the float range")
            for name, default in (("z", 0), ("n", 0)):
                if type(data.get(name, default)) is not int or data.get(name, default) < 0:
                    raise ValueError(f"{name}: expected an int >= 0")
            s.zero_count = data.get("z", 0)
            s.count = data.get("n", 0)
            s.total = float(data.get("s", 0.0))
            if "e" in data:
                e = data["e"]
                if isinstance(e, bool) or not isinstance(e, (int, float)) or not s.relative_accuracy <= e < 1.0:
                    raise ValueError(f"e: must be a number in [a, 1), got {e!r}")
                s.error_bound = float(e)
            if s.count:
                s.min = float(data["min"])
                s.max = float(data["max"])
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"data: not a serialized FFQuantileSketch ({exc})") from exc
        return s

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FFQuantileSketch):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"FFQuantileSketch(n={self.count}, buckets={len(self.buckets)}, a={self.relative_accuracy})"
