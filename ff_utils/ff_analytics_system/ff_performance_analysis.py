"""Windowed performance analysis over the stored ``performance`` and ``resource_usage`` streams.

``analyze_performance(store, "15m" | "1h" | "7d" ...)`` reads the records whose ``timestamp`` lies in
``[now - timeframe, now]`` and returns response-time statistics, success and error rates, and
resource averages and peaks.

Response times come from one of two sources, named in ``response_times.method``:

* ``exact`` - per-request records (analytics level ``full``): percentiles are linear interpolation
  between closest ranks (``statistics.quantiles(method="inclusive")``, DuckDB ``quantile_cont``).
* ``sketch`` - the per-window records (levels ``standard`` and above): count, min, max, mean and
  stddev are exact (from per-window sums), percentiles interpolate between the merged per-window
  sketches' estimates of the two closest ranks (each within 1% relative error), i.e. they estimate
  the same ``quantile_cont`` within 1%.

``stddev`` is the population standard deviation in both cases.

A timeframe without any sample (no performance and no resource record) is said so rather than
reported as a row of ``None``: ``status="no_samples"``, ``samples=0``, ``throughput_per_s=None``,
``latest_sample_at`` (the newest sample at or before the end, ``None`` in an empty store) and
``message`` ("no samples in the last 1h; latest sample at 2026-12-05T23:55:00.000000Z").
Otherwise ``status="ok"`` and ``latest_sample_at`` is the newest sample in the timeframe.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any

from ff_utils.ff_analytics_core.ff_clock import FFClock, ff_iso
from ff_utils.ff_analytics_sketches.ff_quantile_sketch import FFQuantileSketch
from ff_utils.ff_analytics_system.ff_instrument_registry import quantile_cont, sketch_quantile_cont

_TF_RE = re.compile(r"\s*(\d+)\s*(s|m|h|d|w)\s*")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_NAMED = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}
ACCEPTED_FORMS = "<N>s, <N>m, <N>h, <N>d or <N>w with N >= 1 (e.g. '15m', '1h', '7d'), or minute|hour|day|week"
RESOURCE_FIELDS = (
    "cpu_usage_percent",
    "memory_usage_percent",
    "memory_usage_mb",
    "disk_usage_percent",
    "disk_usage_mb",
    "network_io_mbps",
    "process_rss_mb",
    "process_cpu_percent",
    "process_open_files",
)


def parse_timeframe(timeframe: str) -> timedelta:
    """``"15m"`` -> 15 minutes; anything else raises ``ValueError`` naming the accepted forms."""
    if not isinstance(timeframe, str):
        raise TypeError(f"timeframe: expected str ({ACCEPTED_FORMS}), got {type(timeframe).__name__}")
    key = timeframe.strip().lower()
    if key in _NAMED:
        return timedelta(seconds=_NAMED[key])
    m = _TF_RE.fullmatch(key)
    if not m or int(m.group(1)) < 1:
        raise ValueError(f"timeframe: {timeframe!r} is not valid; accepted forms: {ACCEPTED_FORMS}")
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


def _value_stats(values: list[float]) -> dict[str, Any]:
    n = len(values)
    if not n:
        return {"count": 0, "min": None, "max": None, "mean": None, "median": None, "stddev": None,
                "p50": None, "p95": None, "p99": None}
    values = sorted(values)
    mean = math.fsum(values) / n
    var = math.fsum((x - mean) ** 2 for x in values) / n
    p50 = quantile_cont(values, 0.5)
    return {"count": n, "min": values[0], "max": values[-1], "mean": mean, "median": p50,
            "stddev": math.sqrt(var), "p50": p50, "p95": quantile_cont(values, 0.95),
            "p99": quantile_cont(values, 0.99)}


class _WindowAcc:
    """Merges per-window rows (count, errors, sums, sketch)."""

    def __init__(self) -> None:
        self.count = 0
        self.errors = 0
        self.total = 0.0
        self.sumsq = 0.0
        self.vmin = math.inf
        self.vmax = -math.inf
        self.sketch = FFQuantileSketch()
        self.windows = 0

    def add(self, row: dict[str, Any]) -> None:
        n = int(row.get("count") or 0)
        self.windows += 1
        if not n:
            return
        self.count += n
        self.errors += int(row.get("errors") or 0)
        self.total += float(row.get("sum") or 0.0)
        self.sumsq += float(row.get("sumsq") or 0.0)
        if row.get("min") is not None:
            self.vmin = min(self.vmin, float(row["min"]))
        if row.get("max") is not None:
            self.vmax = max(self.vmax, float(row["max"]))
        sk = row.get("sketch")
        if isinstance(sk, dict):
            try:
                self.sketch.merge(FFQuantileSketch.from_dict(sk))
            except ValueError:
                pass  # a damaged sketch only costs its percentiles

    def stats(self) -> dict[str, Any]:
        n = self.count
        if not n:
            return _value_stats([])
        mean = self.total / n
        var = max(0.0, self.sumsq / n - mean * mean)
        sk = self.sketch
        p50 = sketch_quantile_cont(sk, 0.5)
        return {"count": n, "min": self.vmin, "max": self.vmax, "mean": mean, "median": p50,
                "stddev": math.sqrt(var), "p50": p50, "p95": sketch_quantile_cont(sk, 0.95),
                "p99": sketch_quantile_cont(sk, 0.99)}


def _in_range(rec: dict[str, Any], lo: str, hi: str) -> bool:
    ts = rec.get("timestamp")
    return isinstance(ts, str) and lo <= ts <= hi


SAMPLE_STREAMS = ("performance", "resource_usage")
_PERF_KINDS = ("request", "window", "component")


def latest_sample_at(store: Any, end: datetime) -> str | None:
    """The newest sample timestamp (``ff_iso`` text) at or before ``end`` in the performance and
    resource streams, ``None`` when there is none. Reads partitions newest first and stops at the
    first day holding one (one day's files per stream in the usual case)."""
    hi = ff_iso(end)
    best: str | None = None
    for stream in SAMPLE_STREAMS:
        for part in reversed(store.iter_partitions(stream)):
            if part.day > end.date():
                continue
            found: str | None = None
            for rec in store.read(stream, part.day, part.day):
                ts = rec.get("timestamp")
                if not isinstance(ts, str) or ts > hi:
                    continue
                if stream == "performance" and rec.get("kind") not in _PERF_KINDS:
                    continue
                if found is None or ts > found:
                    found = ts
            if found is not None:
                if best is None or found > best:
                    best = found
                break
    return best


def analyze_performance(
    store: Any, timeframe: str = "1h", clock: FFClock | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Statistics of the stored performance and resource records of the last ``timeframe``."""
    delta = parse_timeframe(timeframe)
    clock = clock or getattr(store, "clock", None) or FFClock()
    end = now or clock.now()
    start = end - delta
    lo, hi = ff_iso(start), ff_iso(end)

    requests: list[float] = []
    req_errors = 0
    per_comp_req: dict[str, list[float]] = {}
    per_comp_req_err: dict[str, int] = {}
    window = _WindowAcc()
    comps: dict[str, _WindowAcc] = {}
    perf_samples = 0
    newest: str | None = None
    for rec in store.read("performance", start, end):
        if not _in_range(rec, lo, hi):
            continue
        kind = rec.get("kind")
        if kind in _PERF_KINDS:
            perf_samples += 1
            ts = rec["timestamp"]
            if newest is None or ts > newest:
                newest = ts
        if kind == "request":
            d = rec.get("duration_ms")
            if isinstance(d, (int, float)):
                requests.append(float(d))
                c = str(rec.get("component", ""))
                per_comp_req.setdefault(c, []).append(float(d))
                if rec.get("success") is False:
                    req_errors += 1
                    per_comp_req_err[c] = per_comp_req_err.get(c, 0) + 1
        elif kind == "window":
            window.add(rec)
        elif kind == "component":
            comps.setdefault(str(rec.get("component", "")), _WindowAcc()).add(rec)

    if requests:
        method = "exact"
        rt = _value_stats(requests)
        count, errors = len(requests), req_errors
        components = {
            c: {**_value_stats(v), "errors": per_comp_req_err.get(c, 0),
                "error_rate_percent": per_comp_req_err.get(c, 0) / len(v) * 100.0}
            for c, v in sorted(per_comp_req.items())
        }
    else:
        method = "sketch" if window.count else None
        rt = window.stats()
        count, errors = window.count, window.errors
        components = {
            c: {**acc.stats(), "errors": acc.errors,
                "error_rate_percent": acc.errors / acc.count * 100.0 if acc.count else 0.0}
            for c, acc in sorted(comps.items())
        }
    rt["method"] = method

    resources: dict[str, dict[str, Any]] = {}
    sums: dict[str, float] = {}
    peaks: dict[str, float] = {}
    ns: dict[str, int] = {}
    samples = 0
    for rec in store.read("resource_usage", start, end):
        if not _in_range(rec, lo, hi):
            continue
        samples += 1
        ts = rec["timestamp"]
        if newest is None or ts > newest:
            newest = ts
        for f in RESOURCE_FIELDS:
            v = rec.get(f)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                sums[f] = sums.get(f, 0.0) + v
                ns[f] = ns.get(f, 0) + 1
                peaks[f] = max(peaks.get(f, -math.inf), v)
    for f in RESOURCE_FIELDS:
        if ns.get(f):
            resources[f] = {"avg": sums[f] / ns[f], "peak": peaks[f], "samples": ns[f]}

    seconds = delta.total_seconds()
    total = perf_samples + samples
    if total:
        status, message, latest = "ok", "", newest
    else:
        latest = latest_sample_at(store, end)
        status = "no_samples"
        message = (f"no samples in the last {timeframe}; "
                   + (f"latest sample at {latest}" if latest else "the store has no performance or resource samples"))
    return {
        "timeframe": timeframe,
        "start": lo,
        "end": hi,
        "status": status,
        "message": message,
        "samples": total,
        "latest_sample_at": latest,
        "response_times": rt,
        "request_count": count,
        "error_count": errors,
        "success_rate_percent": (count - errors) / count * 100.0 if count else None,
        "error_rate_percent": errors / count * 100.0 if count else None,
        "throughput_per_s": count / seconds if seconds > 0 and total else None,
        "windows": window.windows,
        "components": components,
        "resources": resources,
        "resource_samples": samples,
    }
