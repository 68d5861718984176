"""Hot-path instrumentation: requests, timed operations and named metrics, aggregated per window.

``record_request`` is a few dict/list operations (no clock read, no syscall, no write): durations
are appended to the current window's per-component list. The collection loop swaps the window out
(one reference assignment, ``swap_window``) and summarizes it off the hot path (``summarize``):
count, errors, slow requests, mean, min, max, stddev and the p50/p95/p99 of the window.

Bounded memory: once a component holds ``spill_at`` durations in one window, the list is folded into
exact running sums (count, sum, sum of squares, min, max) and every ``SPILL_STRIDE``-th value goes into
a mergeable quantile sketch with that weight; the window's percentiles are then sketch estimates
(``percentile_method = "sketch"``) instead of exact (``"exact"``, linear interpolation).

Thread note: the swap is atomic, but a call racing the swap from another thread may land in the
window being summarized after its summary was taken; at most that call is lost.
"""

from __future__ import annotations

import math
import numbers
import operator
import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ff_utils.ff_analytics_core.ff_clock import FFClock, FFManualClock, ff_iso
from ff_utils.ff_analytics_core.ff_names import ff_validate_name
from ff_utils.ff_analytics_sketches.ff_quantile_sketch import MIN_VALUE as _SKETCH_MIN
from ff_utils.ff_analytics_sketches.ff_quantile_sketch import FFQuantileSketch

METRIC_KINDS = ("counter", "gauge", "histogram", "timer", "rate")
_NON_NEGATIVE_KINDS = ("counter", "rate", "histogram", "timer")
MAX_LABELS = 16
MAX_LABEL_VALUE = 256
_INF = math.inf
_INT64 = 2**63
SPILL_AT = 16384
SPILL_STRIDE = 8
PERCENTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99))


def _checked_request(duration_ms: Any, success: Any) -> tuple[float, bool]:
    """Slow path of ``record_request``: accept other real numbers and numpy bools, else raise."""
    if isinstance(duration_ms, bool) or not isinstance(duration_ms, numbers.Real):
        raise TypeError(f"duration_ms: expected a number, got {type(duration_ms).__name__}")
    if not 0.0 <= duration_ms < _INF:
        raise ValueError(f"duration_ms: must be a finite number >= 0, got {duration_ms!r}")
    if success is not True and success is not False:
        if type(success).__name__ != "bool_":  # numpy.bool_
            raise TypeError(f"success: expected bool, got {type(success).__name__}")
        success = bool(success)
    return float(duration_ms), success


def _checked_value(value: Any) -> Any:
    """Slow path of ``record_metric``'s value check (bools, huge ints, other numeric types)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"value: expected a number, got {type(value).__name__}")
    if isinstance(value, int) and not -_INT64 <= value < _INT64:
        raise ValueError(f"value: must be within the 64-bit range, got {value!r}")
    f = float(value)
    if f - f != 0.0:
        raise ValueError(f"value: must be a finite number, got {value!r}")
    return value if isinstance(value, int) else f


def _check_labels(labels: Any) -> None:
    """Name the problem of ``labels`` that made the metric key fail (the key path is not checked)."""
    if not isinstance(labels, dict):
        raise TypeError(f"labels: expected dict[str, str] or None, got {type(labels).__name__}")
    for k, v in labels.items():
        if not isinstance(k, str):
            raise TypeError(f"labels: keys must be str, got {type(k).__name__} {k!r}")
        if not isinstance(v, str):
            raise TypeError(f"labels[{k!r}]: expected str, got {type(v).__name__}")


class _Series:
    """Durations of one component (or values of one histogram/timer) in the current window."""

    __slots__ = ("values", "errors", "slow", "n", "total", "sumsq", "vmin", "vmax", "sketch", "slow_ms", "spill_at")

    def __init__(self, slow_ms: float = math.inf, spill_at: int = 4096) -> None:
        self.values: list[float] = []
        self.errors = 0
        self.slow = 0
        self.slow_ms = slow_ms  # the registry's thresholds, on the series: one slot read per call
        self.spill_at = spill_at
        self.n = 0  # spilled values only
        self.total = 0.0
        self.sumsq = 0.0
        self.vmin = math.inf
        self.vmax = -math.inf
        self.sketch: FFQuantileSketch | None = None

    def spill(self) -> None:
        """Fold the value list into running sums and a weighted sketch sample; clear it."""
        v = self.values
        if not v:
            return
        self.n += len(v)
        # C-speed folds: ``sum`` (error ~1e-12 relative per spill of finite durations) and the
        # correctly scaled ``hypot`` squared for the sum of squares (no per-value Python operation)
        self.total += sum(v)
        self.sumsq += math.hypot(*v) ** 2
        lo, hi = min(v), max(v)
        if lo < self.vmin:
            self.vmin = lo
        if hi > self.vmax:
            self.vmax = hi
        if self.sketch is None:
            self.sketch = FFQuantileSketch()
        self.sketch.add_many(v[::SPILL_STRIDE], SPILL_STRIDE)
        v.clear()


class _Scalar:
    """Counter / gauge / rate state of one metric series in the current window."""

    __slots__ = ("total", "count", "last", "vmin", "vmax")

    def __init__(self) -> None:
        self.total = 0.0
        self.count = 0
        self.last = 0.0
        self.vmin = math.inf
        self.vmax = -math.inf


@dataclass(slots=True)
class FFRawWindowDTO:
    """A window swapped out of the registry, not yet summarized."""

    start: datetime
    end: datetime
    requests: dict[str, _Series]
    metrics: dict[tuple[str, str, tuple[tuple[str, str], ...]], Any]


@dataclass(slots=True)
class FFWindowSnapshotDTO:
    """Summary of one collection window."""

    window_start: str
    window_end: str
    window_seconds: float
    overall: dict[str, Any]
    components: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)


def quantile_cont(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (DuckDB ``quantile_cont``, numpy default)."""
    n = len(sorted_values)
    pos = q * (n - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def sketch_quantile_cont(sketch: FFQuantileSketch, q: float) -> float | None:
    """Linear interpolation between the sketch's estimates of the two closest ranks (the
    ``quantile_cont`` definition), each within the sketch's relative accuracy."""
    n = sketch.count
    if not n:
        return None
    if n == 1:
        return sketch.quantile(0.0)
    pos = q * (n - 1)
    lo = math.floor(pos)
    frac = pos - lo
    v_lo = sketch.quantile(lo / (n - 1))
    if frac == 0.0 or lo >= n - 1:
        return v_lo
    v_hi = sketch.quantile(min(1.0, (lo + 1) / (n - 1)))
    return v_lo + (v_hi - v_lo) * frac  # type: ignore[operator]


def _sketch_from_sorted(values: list[float]) -> FFQuantileSketch:
    """The sketch of sorted ``values``: one ``log`` and one bisect per bucket, not per value."""
    sk = FFQuantileSketch()
    n = len(values)
    if not n:
        return sk
    inv = sk._inv_log_gamma
    gamma = sk._gamma
    i = bisect_right(values, _SKETCH_MIN)  # values <= min_value count as zero
    sk.zero_count = i
    buckets = sk.buckets
    log, ceil = math.log, math.ceil
    while i < n:
        k = ceil(log(values[i]) * inv)
        j = bisect_right(values, gamma**k, i + 1)
        # float rounding at a bucket edge: settle with the exact index formula
        while j > i + 1 and ceil(log(values[j - 1]) * inv) != k:
            j -= 1
        while j < n and ceil(log(values[j]) * inv) == k:
            j += 1
        buckets[k] = buckets.get(k, 0) + (j - i)
        i = j
    sk.count = n
    sk.total = math.fsum(values)
    sk.min = values[0]
    sk.max = values[-1]
    return sk


def summarize_series(
    parts: list[_Series],
    window_seconds: float,
    with_sketch: bool = True,
    sorted_values: list[float] | None = None,
    sketch: FFQuantileSketch | None = None,
) -> dict[str, Any]:
    """Statistics of the union of ``parts`` (one component, or all components for the overall row).

    ``sorted_values`` / ``sketch``: the parts' unspilled values already sorted and their sketch
    (the overall row reuses the components' work).
    """
    if sorted_values is None:
        values: list[float] = []
        for p in parts:
            values.extend(p.values)
        values.sort()
    else:
        values = sorted_values
    n = len(values) + sum(p.n for p in parts)
    errors = sum(p.errors for p in parts)
    slow = sum(p.slow for p in parts)
    out: dict[str, Any] = {
        "count": n,
        "errors": errors,
        "slow": slow,
        "error_rate_percent": round(errors / n * 100.0, 6) if n else None,  # no requests: no rate
        "success_rate_percent": round((n - errors) / n * 100.0, 6) if n else None,
        "throughput_per_s": round(n / window_seconds, 6) if window_seconds > 0 else None,
    }
    if not n:
        out.update(sum=0.0, sumsq=0.0, mean=None, min=None, max=None, stddev=None,
                   p50=None, p95=None, p99=None, percentile_method=None)
        if with_sketch:
            out["sketch"] = None
        return out
    total = math.fsum(values) + sum(p.total for p in parts)
    sumsq = math.fsum(map(operator.mul, values, values)) + sum(p.sumsq for p in parts)
    mins = [p.vmin for p in parts if p.n]
    maxs = [p.vmax for p in parts if p.n]
    if values:
        mins.append(values[0])
        maxs.append(values[-1])
    vmin, vmax = min(mins), max(maxs)
    mean = total / n
    var = max(0.0, sumsq / n - mean * mean)
    out.update(sum=total, sumsq=sumsq, mean=mean, min=vmin, max=vmax, stddev=math.sqrt(var))
    spilled = [p.sketch for p in parts if p.sketch is not None]
    if sketch is None:
        sketch = _sketch_from_sorted(values)
        for s in spilled:
            sketch.merge(s)
    if spilled:
        for key, q in PERCENTILES:
            out[key] = sketch_quantile_cont(sketch, q)
        out["percentile_method"] = "sketch"
    else:
        for key, q in PERCENTILES:
            out[key] = quantile_cont(values, q)
        out["percentile_method"] = "exact"
    if with_sketch:
        out["sketch"] = sketch.to_dict()
    return out


class _Timed:
    """``time_operation`` context manager: sync and async; an exception marks the call failed."""

    __slots__ = ("_reg", "_component", "_t0")

    def __init__(self, reg: FFInstrumentRegistry, component: str) -> None:
        self._reg = reg
        self._component = component
        self._t0 = 0.0

    def __enter__(self) -> _Timed:
        self._t0 = self._reg._timer()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        reg = self._reg
        ms = (reg._timer() - self._t0) * 1000.0
        record = reg.record_request_debug if reg.debug_sink is not None else reg.record_request
        record(self._component, max(0.0, ms), exc_type is None)
        return False

    async def __aenter__(self) -> _Timed:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        return self.__exit__(exc_type, exc, tb)


class FFInstrumentRegistry:
    """Per-window aggregation of requests and named metrics (seed 001 metric kinds)."""

    def __init__(
        self,
        clock: FFClock | None = None,
        *,
        slow_threshold_ms: float = math.inf,
        spill_at: int = SPILL_AT,
        debug_sink: Callable[[dict[str, Any]], Any] | None = None,
        validate_name: Callable[[Any, str], str] = ff_validate_name,
    ) -> None:
        self.clock = clock or FFClock()
        self.validate_name = validate_name  # the manager's records a security event on rejection
        # Durations use a monotonic high-resolution timer; a manual clock drives them in tests.
        self._timer: Callable[[], float] = (
            self.clock.monotonic if isinstance(self.clock, FFManualClock) else time.perf_counter
        )
        self._slow_ms = float(slow_threshold_ms)
        if not isinstance(spill_at, int) or spill_at < 16:
            raise ValueError(f"spill_at: must be an int >= 16, got {spill_at!r}")
        self._spill_at = spill_at
        self.debug_sink = debug_sink
        self._requests: dict[str, _Series] = {}
        self._metrics: dict[tuple[str, str, tuple[tuple[str, str], ...]], Any] = {}
        self._metric_kinds: dict[str, str] = {}
        self._window_start = self.clock.now()
        self.total_requests = 0  # across swapped windows (cheap: updated at swap time)
        self.total_errors = 0

    @property
    def slow_threshold_ms(self) -> float:
        """Durations above this count as slow requests (kept on each open series too)."""
        return self._slow_ms

    @slow_threshold_ms.setter
    def slow_threshold_ms(self, value: float) -> None:
        self._slow_ms = float(value)
        for s in self._requests.values():
            s.slow_ms = self._slow_ms

    # ------------------------------------------------------------------ hot path
    @property
    def is_empty(self) -> bool:
        """No request or metric recorded since the last ``swap_window``."""
        return not self._requests and not self._metrics

    def record_request(self, component: str, duration_ms: float, success: bool = True) -> None:
        """Count one request of ``component`` taking ``duration_ms`` (>= 0); ``success=False`` is an error."""
        try:
            s = self._requests[component]  # a subscript specializes; ``.get`` is a method call
        except (KeyError, TypeError):  # new or unhashable: the name check below raises naming ``component``
            s = None
        # fast path: one type check, one chained comparison (the largest float, a constant), two identity checks
        if type(duration_ms) is not float or not 0.0 <= duration_ms <= 1.7976931348623157e308 or (
            success is not True and success is not False
        ):
            duration_ms, success = _checked_request(duration_ms, success)
        if s is None:  # after the value checks: a rejected call leaves no (empty) series behind
            s = self._new_component(component)
        v = s.values
        v.append(duration_ms)
        if success is False:
            s.errors += 1
        if duration_ms > s.slow_ms:
            s.slow += 1
        if len(v) >= s.spill_at:
            s.spill()

    def record_request_debug(self, component: str, duration_ms: float, success: bool = True) -> None:
        """``record_request`` plus one per-request record to ``debug_sink`` (analytics level ``full``)."""
        self.record_request(component, duration_ms, success)
        sink = self.debug_sink
        if sink is not None:
            sink({
                "timestamp": ff_iso(self.clock.now()),
                "kind": "request",
                "component": component,
                "duration_ms": float(duration_ms),
                "success": bool(success),
            })

    def _new_component(self, component: str) -> _Series:
        self.validate_name(component, "component")
        s = self._requests[component] = _Series(self._slow_ms, self._spill_at)
        return s

    def time_operation(self, component: str) -> _Timed:
        """``with reg.time_operation("db"):`` / ``async with ...``: records the block's duration."""
        if component not in self._requests:
            self.validate_name(component, "component")
        return _Timed(self, component)

    def record_metric(
        self,
        name: str,
        value: float = 1.0,
        kind: str = "gauge",
        labels: dict[str, str] | None = None,
    ) -> None:
        """Record ``value`` for metric ``name`` of ``kind`` (counter|gauge|histogram|timer|rate)."""
        # validate before any state changes: a rejected call leaves no (empty) series behind
        if type(value) is float:
            if value - value != 0.0:  # NaN or +-inf
                raise ValueError(f"value: must be a finite number, got {value!r}")
        elif type(value) is not int or not -_INT64 <= value < _INT64:
            value = _checked_value(value)
        try:
            key = (name, kind, tuple(sorted(labels.items())) if labels else ())
            st = self._metrics.get(key)
        except (AttributeError, TypeError):  # labels not a dict, unhashable or unorderable entries
            _check_labels(labels)
            raise
        if st is None:
            if value < 0 and kind in _NON_NEGATIVE_KINDS:
                raise ValueError(f"value: a {kind} value must be >= 0, got {value!r}")
            st = self._new_metric(key, labels)
        if kind == "gauge":
            st.last = value
            st.count += 1
            st.total += value
            if value < st.vmin:
                st.vmin = value
            if value > st.vmax:
                st.vmax = value
        elif kind in ("counter", "rate"):
            if value < 0:
                raise ValueError(f"value: a {kind} only increases, got {value!r}")
            st.total += value
            st.count += 1
        else:  # histogram, timer
            if value < 0:
                raise ValueError(f"value: a {kind} value must be >= 0, got {value!r}")
            st.values.append(float(value))
            if len(st.values) >= self._spill_at:
                st.spill()

    def _new_metric(self, key: tuple[str, str, tuple[tuple[str, str], ...]], labels: Any) -> Any:
        name, kind, items = key
        self.validate_name(name, "name")
        if kind not in METRIC_KINDS:
            raise ValueError(f"kind: must be one of {', '.join(METRIC_KINDS)}, got {kind!r}")
        if labels is not None and not isinstance(labels, dict):
            raise TypeError(f"labels: expected dict[str, str] or None, got {type(labels).__name__}")
        if len(items) > MAX_LABELS:
            raise ValueError(f"labels: at most {MAX_LABELS} labels, got {len(items)}")
        for k, v in items:
            self.validate_name(k, "labels key")
            if not isinstance(v, str):
                raise TypeError(f"labels[{k!r}]: expected str, got {type(v).__name__}")
            if len(v) > MAX_LABEL_VALUE:
                raise ValueError(f"labels[{k!r}]: at most {MAX_LABEL_VALUE} characters, got {len(v)}")
        prev = self._metric_kinds.setdefault(name, kind)
        if prev != kind:
            raise ValueError(f"kind: metric {name!r} is a {prev}, not a {kind}")
        st = _Series(math.inf, self._spill_at) if kind in ("histogram", "timer") else _Scalar()
        self._metrics[key] = st
        return st

    # ------------------------------------------------------------------ window
    def swap_window(self, now: datetime | None = None) -> FFRawWindowDTO:
        """Close the current window at ``now`` and start a new one (O(1), call on the loop)."""
        now = now or self.clock.now()
        raw = FFRawWindowDTO(self._window_start, now, self._requests, self._metrics)
        self._requests = {}
        self._metrics = {}
        self._window_start = now
        return raw

    def peek_window_seconds(self) -> float:
        return max(0.0, (self.clock.now() - self._window_start).total_seconds())

    def summarize(self, raw: FFRawWindowDTO) -> FFWindowSnapshotDTO:
        """Statistics of a swapped window (CPU work: run off the hot path, e.g. in a worker thread)."""
        secs = max(0.0, (raw.end - raw.start).total_seconds())
        comps: dict[str, dict[str, Any]] = {}
        all_values: list[float] = []
        overall_sketch = FFQuantileSketch()
        for name, s in sorted(raw.requests.items()):
            vals = sorted(s.values)
            sk = _sketch_from_sorted(vals)
            if s.sketch is not None:
                sk.merge(s.sketch)
            comps[name] = summarize_series([s], secs, sorted_values=vals, sketch=sk)
            overall_sketch.merge(sk)
            all_values.extend(vals)
        all_values.sort()  # k sorted runs: timsort merges them in linear time
        overall = summarize_series(list(raw.requests.values()), secs, sorted_values=all_values,
                                   sketch=overall_sketch)
        self.total_requests += overall["count"]
        self.total_errors += overall["errors"]
        metrics: list[dict[str, Any]] = []
        for (name, kind, items), st in sorted(raw.metrics.items(), key=lambda kv: kv[0]):
            row: dict[str, Any] = {"name": name, "metric_kind": kind, "labels": dict(items)}
            if isinstance(st, _Series):
                row.update(summarize_series([st], secs))
                for k in ("errors", "slow", "error_rate_percent", "success_rate_percent", "throughput_per_s"):
                    row.pop(k, None)
            elif kind == "gauge":
                row.update(value=st.last, count=st.count, mean=st.total / st.count if st.count else None,
                           min=st.vmin if st.count else None, max=st.vmax if st.count else None)
            elif kind == "counter":
                row.update(value=st.total, count=st.count)
            else:  # rate
                row.update(value=st.total, count=st.count,
                           rate_per_s=st.total / secs if secs > 0 else None)
            metrics.append(row)
        return FFWindowSnapshotDTO(ff_iso(raw.start), ff_iso(raw.end), secs, overall, comps, metrics)
