"""Recovery analytics from the alert log (seed 004 HealingAnalytics).

MTTR and the resolution-time distribution of resolved alerts, per-rule and per-remediation success
rates, the MTTR trend over two comparable windows, and recommendations derived from those numbers.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from ff_utils.ff_analytics_core.ff_clock import ff_iso, ff_parse_iso

__all__ = ["RESOLUTION_BUCKETS", "ff_recovery_analytics"]

# (label, upper bound in seconds) of the resolution-time distribution
RESOLUTION_BUCKETS: tuple[tuple[str, float], ...] = (
    ("<1m", 60.0), ("1-5m", 300.0), ("5-15m", 900.0), ("15-60m", 3600.0), ("1-4h", 14400.0),
    ("4-24h", 86400.0), (">24h", float("inf")),
)
TREND_MIN_SAMPLES = 3
TREND_TOLERANCE = 0.10


def _get(a: Any, k: str, d: Any = None) -> Any:
    return a.get(k, d) if isinstance(a, dict) else getattr(a, k, d)


def _pct(sorted_vals: list[float], q: float) -> float:
    if not sorted_vals:
        return 0.0
    i = min(len(sorted_vals) - 1, max(0, int(round(q * (len(sorted_vals) - 1)))))
    return sorted_vals[i]


def ff_recovery_analytics(
    alerts: Iterable[Any],
    remediation_runs: Iterable[dict[str, Any]],
    *,
    now: datetime,
    window_days: float = 7.0,
) -> dict[str, Any]:
    """Recovery report over the alerts that fired in ``[now - window_days, now]``.

    The trend compares the MTTR of that window with the one before it (same length); it is
    ``improving``/``degrading`` when MTTR moved by more than 10 %, ``stable`` otherwise, and
    empty (with ``trend_reason``) when either window has fewer than 3 resolved alerts.
    """
    if window_days <= 0:
        raise ValueError(f"window_days: must be > 0, got {window_days!r}")
    start = now - timedelta(days=window_days)
    prev_start = start - timedelta(days=window_days)
    cur: list[Any] = []
    prev_times: list[float] = []
    for a in alerts:
        try:
            fired = ff_parse_iso(_get(a, "timestamp"))
        except (TypeError, ValueError):
            continue
        if start <= fired <= now:
            cur.append(a)
        elif prev_start <= fired < start:
            rt = _get(a, "resolution_time_seconds")
            if _get(a, "status") == "resolved" and isinstance(rt, (int, float)):
                prev_times.append(float(rt))
    times = sorted(
        float(_get(a, "resolution_time_seconds")) for a in cur
        if _get(a, "status") == "resolved" and isinstance(_get(a, "resolution_time_seconds"), (int, float))
    )
    mttr = statistics.fmean(times) if times else None
    dist: dict[str, int] = {label: 0 for label, _ in RESOLUTION_BUCKETS}
    for v in times:
        for label, hi in RESOLUTION_BUCKETS:
            if v < hi:
                dist[label] += 1
                break
    per_rule: dict[str, dict[str, Any]] = {}
    for a in cur:
        rid = _get(a, "rule_id") or "(none)"
        r = per_rule.setdefault(rid, {"fired": 0, "resolved": 0, "acknowledged": 0, "escalated": 0,
                                      "flapping": 0, "_times": []})
        r["fired"] += 1
        if _get(a, "status") == "resolved":
            r["resolved"] += 1
            rt = _get(a, "resolution_time_seconds")
            if isinstance(rt, (int, float)):
                r["_times"].append(float(rt))
        if _get(a, "acknowledged"):
            r["acknowledged"] += 1
        if _get(a, "escalated"):
            r["escalated"] += 1
        if _get(a, "flapping"):
            r["flapping"] += 1
    for r in per_rule.values():
        ts = r.pop("_times")
        r["resolution_rate"] = round(r["resolved"] / r["fired"], 4) if r["fired"] else None
        r["mttr_seconds"] = round(statistics.fmean(ts), 3) if ts else None
    per_rem: dict[str, dict[str, Any]] = {}
    start_iso, now_iso = ff_iso(start), ff_iso(now)
    resolved_ids = {_get(a, "alert_id") for a in cur if _get(a, "status") == "resolved"}
    for run in remediation_runs:
        ts = str(run.get("timestamp", ""))
        if not (start_iso <= ts <= now_iso):
            continue
        name = str(run.get("remediation", ""))
        r = per_rem.setdefault(name, {"rule_id": run.get("rule_id", ""), "runs": 0, "succeeded": 0,
                                      "failed": 0, "alert_resolved_after": 0})
        r["runs"] += 1
        if run.get("outcome") == "success":
            r["succeeded"] += 1
        else:
            r["failed"] += 1
        if run.get("alert_id") in resolved_ids:
            r["alert_resolved_after"] += 1
    for r in per_rem.values():
        r["success_rate"] = round(r["succeeded"] / r["runs"], 4) if r["runs"] else None
    trend, trend_reason, prev_mttr = "", "", None
    if len(times) < TREND_MIN_SAMPLES or len(prev_times) < TREND_MIN_SAMPLES:
        trend_reason = (f"need >= {TREND_MIN_SAMPLES} resolved alerts in both windows "
                        f"(current {len(times)}, previous {len(prev_times)})")
    else:
        prev_mttr = statistics.fmean(prev_times)
        change = (mttr - prev_mttr) / prev_mttr if prev_mttr > 0 else (0.0 if mttr == 0 else 1.0)
        trend = "improving" if change < -TREND_TOLERANCE else "degrading" if change > TREND_TOLERANCE else "stable"
        trend_reason = f"MTTR {prev_mttr:.1f}s -> {mttr:.1f}s ({change * 100:+.1f}%)"
    report = {
        "window_start": start_iso,
        "window_end": now_iso,
        "alerts_fired": len(cur),
        "alerts_resolved": len(times),
        "alerts_open": sum(1 for a in cur if _get(a, "status") != "resolved"),
        "mttr_seconds": round(mttr, 3) if mttr is not None else None,
        "median_resolution_seconds": round(statistics.median(times), 3) if times else None,
        "p90_resolution_seconds": round(_pct(times, 0.9), 3) if times else None,
        "max_resolution_seconds": times[-1] if times else None,
        "resolution_time_distribution": dist,
        "per_rule": dict(sorted(per_rule.items())),
        "per_remediation": dict(sorted(per_rem.items())),
        "previous_mttr_seconds": round(prev_mttr, 3) if prev_mttr is not None else None,
        "trend": trend,
        "trend_reason": trend_reason,
    }
    report["recommendations"] = _recommendations(report)
    return report


def _recommendations(r: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if r["alerts_fired"] == 0:
        return out
    for rid, s in r["per_rule"].items():
        if s["fired"] >= 3 and s["resolution_rate"] is not None and s["resolution_rate"] < 0.5:
            out.append(f"rule {rid}: only {s['resolved']} of {s['fired']} alerts resolved; "
                       "review the runbook or the threshold")
        if s["flapping"]:
            out.append(f"rule {rid}: {s['flapping']} flapping alert(s); raise for_seconds or the hysteresis")
        if s["fired"] >= 3 and s["escalated"] / s["fired"] > 0.5:
            out.append(f"rule {rid}: {s['escalated']} of {s['fired']} alerts escalated unacknowledged; "
                       "check on-call routing")
    for name, s in r["per_remediation"].items():
        if s["runs"] >= 2 and s["success_rate"] is not None and s["success_rate"] < 0.5:
            out.append(f"remediation {name}: {s['succeeded']} of {s['runs']} runs succeeded; fix or disable it")
    if r["trend"] == "degrading":
        out.append(f"MTTR is degrading ({r['trend_reason']}); review recent incidents")
    mttr, p90 = r["mttr_seconds"], r["p90_resolution_seconds"]
    if mttr and p90 and p90 > 3 * mttr and r["alerts_resolved"] >= 5:
        out.append(f"long resolution tail (p90 {p90:.0f}s vs MTTR {mttr:.0f}s); automate the slow cases")
    return out
