"""Gather the dashboard's panels (and the operator snapshot) by reading the store's streams.

Readers only: nothing here writes. Every panel is either data computed from the store or an
explicit ``reason`` why there is none. Field names follow ``FFSystemMetricsDTO`` /
``FFUserAnalyticsDTO`` / ``FFAnalyticsAlertDTO`` and the hourly rollup records; missing fields are
tolerated (a record without a value contributes nothing to that series).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ff_utils.ff_analytics_core.ff_clock import FFClock, ff_iso, ff_parse_iso
from ff_utils.ff_analytics_core.ff_logging import get_logger

logger = get_logger(__name__)

SYSTEM_STREAMS = ("resource_usage", "performance", "health_checks", "error_rates")
USER_STREAMS = ("session_analytics", "feature_usage", "engagement_metrics", "behavior_patterns")
BI_STREAMS = ("usage_trends", "optimization_insights", "capacity_planning", "roi_analytics")
INSIGHT_KEYS = (
    "performance_bottlenecks",
    "scaling_recommendations",
    "cost_optimization_opportunities",
    "user_experience_improvements",
    "churn_risk_indicators",
    "recommendations",
    "insights",
)
HEALTH_ORDER = {"healthy": 0, "ok": 0, "up": 0, "degraded": 1, "warning": 1, "unknown": 1,
                "unhealthy": 2, "critical": 2, "down": 2, "error": 2, "failed": 2}
DEFAULT_MAX_POINTS = 240
MAX_ALERTS_SHOWN = 40


@dataclass(slots=True)
class FFSeriesDTO:
    """One named series: ``x`` is epoch seconds (time axes) or a category label."""

    name: str
    points: list[tuple[Any, float]] = field(default_factory=list)


@dataclass(slots=True)
class FFPanelDTO:
    """One dashboard panel. ``reason`` is non-empty exactly when the panel has no data."""

    key: str
    title: str
    kind: str  # line | bar | timeline | status
    unit: str = ""
    series: list[FFSeriesDTO] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    source: str = ""

    @property
    def has_data(self) -> bool:
        return not self.reason


@dataclass(slots=True)
class FFDashboardDataDTO:
    generated_at: str
    analytics_path: str
    start: str
    end: str
    panels: list[FFPanelDTO]
    records_read: dict[str, int] = field(default_factory=dict)
    unparseable_lines: int = 0

    def panel(self, key: str) -> FFPanelDTO:
        for p in self.panels:
            if p.key == key:
                return p
        raise KeyError(key)


# ---------------------------------------------------------------------------------------- helpers
def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    f = float(v)
    return None if math.isnan(f) or math.isinf(f) else f


def _epoch(ts: Any) -> float | None:
    if not isinstance(ts, str) or not ts:
        return None
    try:
        return ff_parse_iso(ts[:-1] + "+00:00" if ts.endswith("Z") else ts).timestamp()
    except ValueError:
        return None


ff_number = _num
ff_epoch_seconds = _epoch


def _quantile(sorted_vals: list[float], q: float) -> float:
    """Nearest-rank-with-interpolation quantile of a sorted, non-empty list."""
    if len(sorted_vals) == 1:
        return sorted_vals[0]
    pos = q * (len(sorted_vals) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (pos - lo)


def ff_downsample(points: list[tuple[float, float]], max_points: int, how: str = "mean") -> list[tuple[float, float]]:
    """Reduce ``(t, y)`` points to at most ``max_points`` equal-width time buckets.

    ``how="mean"`` averages a bucket; ``how="max"`` keeps its peak (latency and error spikes must
    not be averaged away).
    """
    if max_points < 2:
        raise ValueError(f"max_points: must be >= 2, got {max_points}")
    if how not in ("mean", "max"):
        raise ValueError(f"how: must be 'mean' or 'max', got {how!r}")
    if len(points) <= max_points:
        return sorted(points)
    pts = sorted(points)
    t0, t1 = pts[0][0], pts[-1][0]
    width = (t1 - t0) / max_points or 1.0
    buckets: dict[int, list[float]] = {}
    for t, y in pts:
        b = min(int((t - t0) / width), max_points - 1)
        acc = buckets.get(b)
        if acc is None:
            buckets[b] = [t, y, 1.0, y]
        else:
            acc[0] += t
            acc[1] += y
            acc[2] += 1
            if y > acc[3]:
                acc[3] = y
    if how == "max":
        return [(acc[0] / acc[2], acc[3]) for _, acc in sorted(buckets.items())]
    return [(acc[0] / acc[2], acc[1] / acc[2]) for _, acc in sorted(buckets.items())]


class _Reader:
    """Counts records per stream; narrows reads to the day range."""

    def __init__(self, store: Any, start: datetime | None, end: datetime | None) -> None:
        self.store = store
        self.start = start
        self.end = end
        self.counts: dict[str, int] = {}

    def read(self, stream: str) -> Iterator[dict]:
        n = 0
        lo = self.start.timestamp() if self.start else None
        hi = self.end.timestamp() if self.end else None
        try:
            pad = timedelta(days=1)  # neighbouring partitions: see ff_export_writer.NEIGHBOUR_PARTITION_DAYS
            for rec in self.store.read(stream, self.start - pad if self.start else None,
                                       self.end + pad if self.end else None):
                if not isinstance(rec, dict):
                    continue
                if lo is not None or hi is not None:
                    t = _epoch(rec.get("timestamp"))
                    if t is not None and ((lo is not None and t < lo) or (hi is not None and t > hi)):
                        continue
                n += 1
                yield rec
        except OSError as exc:  # contained: a panel shows the reason instead
            logger.error("reading %s failed: %s", stream, exc)
        finally:
            self.counts[stream] = self.counts.get(stream, 0) + n


# ---------------------------------------------------------------------------------------- panels
def _system_samples(r: _Reader) -> tuple[list[dict], str]:
    """System metric samples: resource_usage, else performance, else health_checks."""
    for stream in ("resource_usage", "performance", "health_checks"):
        recs = [x for x in r.read(stream) if any(k in x for k in ("cpu_usage_percent", "memory_usage_percent", "disk_usage_percent"))]
        if recs:
            return recs, stream
    return [], ""


def _resources_panel(samples: list[dict], source: str, max_points: int) -> FFPanelDTO:
    p = FFPanelDTO("resources", "CPU / memory / disk", "line", "%", source=source)
    for label, key in (("cpu", "cpu_usage_percent"), ("memory", "memory_usage_percent"), ("disk", "disk_usage_percent")):
        pts = [(t, v) for x in samples if (t := _epoch(x.get("timestamp"))) is not None and (v := _num(x.get(key))) is not None]
        if pts:
            p.series.append(FFSeriesDTO(label, ff_downsample(pts, max_points)))
            p.summary[f"{label}_latest"] = round(max(pts)[1], 2)
            p.summary[f"{label}_max"] = round(max(v for _, v in pts), 2)
    # numeric percent gauges of registered collectors (e.g. a volume the host watches), by name
    coll: dict[str, list[tuple[float, float]]] = {}
    for x in samples:
        cs = x.get("collectors")
        t = _epoch(x.get("timestamp"))
        if not isinstance(cs, dict) or t is None:
            continue
        for cname, vals in cs.items():
            if isinstance(vals, dict):
                for k, v in vals.items():
                    if k.endswith("_percent") and (n := _num(v)) is not None:
                        coll.setdefault(f"{cname}.{k}", []).append((t, n))
    for name in sorted(coll)[:4]:
        p.series.append(FFSeriesDTO(name, ff_downsample(coll[name], max_points)))
        p.summary[f"{name}_latest"] = round(max(coll[name])[1], 2)
    if not p.series:
        p.reason = "no system metric samples with cpu/memory/disk usage in resource_usage, performance or health_checks"
    return p


def _response_panel(r: _Reader, samples: list[dict], rollups: list[dict], max_points: int) -> FFPanelDTO:
    p = FFPanelDTO("response", "Response time p50 / p95", "line", "ms")
    # 1) samples that already carry percentiles (FFSystemMetricsDTO-like ticks)
    windows: list[dict] = []
    perf: list[dict] = []
    for x in r.read("performance"):  # keep only what a series needs (metric/component rows are skipped)
        if x.get("kind") == "window":
            if _num(x.get("p95")) is not None:
                windows.append({"timestamp": x.get("timestamp"), "p50": x.get("p50"), "p95": x.get("p95"),
                                "count": x.get("count")})
        elif "response_time_ms" in x or "p95_response_time_ms" in x or "duration_ms" in x:
            perf.append(x)
    sampled = [x for x in (perf or samples) if "p95_response_time_ms" in x]
    if windows:
        # instrument windows of the collection ticks (one row per writer and window)
        for label, key in (("p50", "p50"), ("p95", "p95")):
            pts = [(t, v) for x in windows if (t := _epoch(x.get("timestamp"))) is not None and (v := _num(x.get(key))) is not None]
            if pts:
                p.series.append(FFSeriesDTO(label, ff_downsample(pts, max_points, "max")))
        p.source = "performance (collection windows)"
        p.summary["requests"] = int(sum(_num(x.get("count")) or 0 for x in windows))
    elif sampled:
        for label, keys in (("p50", ("p50_response_time_ms", "response_time_ms")), ("p95", ("p95_response_time_ms",))):
            pts = []
            for x in sampled:
                t = _epoch(x.get("timestamp"))
                v = next((n for k in keys if (n := _num(x.get(k))) is not None), None)
                if t is not None and v is not None:
                    pts.append((t, v))
            if pts:
                p.series.append(FFSeriesDTO(label, ff_downsample(pts, max_points, "max")))
        p.source = "performance (per-sample percentiles)"
    elif perf:
        # 2) per-request records: hourly p50/p95 of response_time_ms (or duration_ms)
        hours: dict[int, list[float]] = {}
        for x in perf:
            t = _epoch(x.get("timestamp"))
            v = _num(x.get("response_time_ms"))
            if v is None:
                v = _num(x.get("duration_ms"))
            if t is not None and v is not None:
                hours.setdefault(int(t // 3600), []).append(v)
        for label, q in (("p50", 0.5), ("p95", 0.95)):
            pts = [(h * 3600.0, _quantile(sorted(vs), q)) for h, vs in sorted(hours.items())]
            if pts:
                p.series.append(FFSeriesDTO(label, ff_downsample(pts, max_points, "max")))
        p.source = "performance (hourly percentiles of request records)"
    if not p.series and rollups:
        from ff_utils.ff_analytics_sketches.ff_quantile_sketch import FFQuantileSketch

        by_hour: dict[str, FFQuantileSketch] = {}
        for rec in rollups:
            rt = (rec.get("system") or {}).get("response_time_ms")
            if rt:
                sk = FFQuantileSketch.from_dict(rt)
                cur = by_hour.get(rec["hour"])
                by_hour[rec["hour"]] = sk if cur is None else cur.merge(sk)
        for label, q in (("p50", 0.5), ("p95", 0.95)):
            pts = []
            for h, sk in sorted(by_hour.items()):
                v = sk.quantile(q)
                t = _epoch(h + ":00:00+00:00")
                if v is not None and t is not None:
                    pts.append((t, v))
            if pts:
                p.series.append(FFSeriesDTO(label, ff_downsample(pts, max_points, "max")))
        p.source = "rollups (hourly response-time sketches)"
    if p.series:
        for s in p.series:
            p.summary[f"{s.name}_max"] = round(max(v for _, v in s.points), 1)
    else:
        p.reason = "no response times in performance records or rollups"
    return p


def _error_panel(r: _Reader, samples: list[dict], max_points: int) -> FFPanelDTO:
    p = FFPanelDTO("errors", "Error rate", "line", "%")
    pts: list[tuple[float, float]] = []
    for x in r.read("error_rates"):
        if x.get("kind") == "window" and not x.get("request_count"):
            continue  # an empty window has no error rate (not 0 %)
        t = _epoch(x.get("timestamp"))
        v = _num(x.get("error_rate_percent"))
        if v is None and (s := _num(x.get("success_rate_percent"))) is not None:
            v = 100.0 - s
        if v is None and (e := _num(x.get("errors", x.get("error_count")))) is not None:
            total = _num(x.get("requests", x.get("total_requests", x.get("total"))))
            v = e / total * 100.0 if total else None
        if t is not None and v is not None:
            pts.append((t, v))
    p.source = "error_rates"
    if not pts:
        for x in samples:
            t = _epoch(x.get("timestamp"))
            s = _num(x.get("success_rate_percent"))
            if t is not None and s is not None:
                pts.append((t, 100.0 - s))
        p.source = "system samples (100 - success_rate_percent)"
    if pts:
        p.series.append(FFSeriesDTO("error rate", ff_downsample(pts, max_points, "max")))
        p.summary["max"] = round(max(v for _, v in pts), 2)
        p.summary["latest"] = round(max(pts)[1], 2)
    else:
        p.reason = "no error_rates records and no success_rate_percent in system samples"
    return p


def _user_days_from_rollups(rollups: list[dict]) -> tuple[dict[str, set[int]], list[int], dict[str, set[int]], int, bool]:
    """Per-day user keys, hour-of-day event counts, per-feature user keys, total events."""
    days: dict[str, set[int]] = {}
    hod = [0] * 24
    feats: dict[str, set[int]] = {}
    events = 0
    exact = True
    for rec in rollups:
        users = rec.get("users")
        hour = rec.get("hour")
        if not isinstance(users, list) or not isinstance(hour, str) or len(hour) < 13:
            exact = exact and isinstance(users, list)
            continue
        days.setdefault(hour[:10], set()).update(users)
        n = int(rec.get("events") or 0)
        events += n
        try:
            hod[int(hour[11:13])] += n
        except ValueError:
            continue
        for f, idx in (rec.get("feature_users") or {}).items():
            s = feats.setdefault(f, set())
            s.update(users[i] for i in idx if 0 <= i < len(users))
    return days, hod, feats, events, exact


def _user_days_from_raw(r: _Reader) -> tuple[dict[str, set[str]], list[int], dict[str, set[str]], int]:
    days: dict[str, set[str]] = {}
    hod = [0] * 24
    feats: dict[str, set[str]] = {}
    events = 0
    for stream in USER_STREAMS:
        for x in r.read(stream):
            ts = x.get("timestamp")
            if not isinstance(ts, str) or len(ts) < 13:
                continue
            events += 1
            try:
                hod[int(ts[11:13])] += 1
            except ValueError:
                pass
            uh = x.get("user_hash") or ""
            if uh:
                days.setdefault(ts[:10], set()).add(uh)
            fl = x.get("features_used") or ([x["feature"]] if isinstance(x.get("feature"), str) else [])
            for f in fl if isinstance(fl, list) else ():
                if isinstance(f, str) and uh:
                    feats.setdefault(f, set()).add(uh)
    return days, hod, feats, events


def _user_panels(r: _Reader, rollups: list[dict]) -> list[FFPanelDTO]:
    days: dict[str, set[Any]]
    feats: dict[str, set[Any]]
    user_rollups = [x for x in rollups if x.get("events")]
    if user_rollups:
        days, hod, feats, events, _exact = _user_days_from_rollups(user_rollups)
        source = "rollups (hourly, merged across writers)"
    else:
        days, hod, feats, events = _user_days_from_raw(r)
        source = "raw user streams"
    users_p = FFPanelDTO("users", "Active and new users per day", "bar", "users", source=source)
    feat_p = FFPanelDTO("features", "Feature adoption", "bar", "% of users", source=source)
    peak_p = FFPanelDTO("peak_hours", "Peak hours (UTC)", "bar", "events", source=source)
    if not days:
        reason = "no user analytics events (rollups and user streams are empty)"
        users_p.reason = feat_p.reason = peak_p.reason = reason
        return [users_p, feat_p, peak_p]
    seen: set[Any] = set()
    active_pts: list[tuple[Any, float]] = []
    new_pts: list[tuple[Any, float]] = []
    for d in sorted(days):
        us = days[d]
        new_pts.append((d, float(len(us - seen))))
        active_pts.append((d, float(len(us))))
        seen |= us
    users_p.series = [FFSeriesDTO("active", active_pts), FFSeriesDTO("new", new_pts)]
    users_p.summary = {
        "total_users": len(seen),
        "days": len(days),
        "active_users_last_day": int(active_pts[-1][1]),
        "new_users_last_day": int(new_pts[-1][1]),
        "last_day": active_pts[-1][0],
    }
    if feats:
        total = len(seen)
        rates = sorted(((f, len(u) / total * 100.0) for f, u in feats.items()), key=lambda kv: (-kv[1], kv[0]))
        feat_p.series = [FFSeriesDTO("adoption", [(f, round(v, 2)) for f, v in rates[:20]])]
        feat_p.summary = {"features": len(feats), "users": total}
    else:
        feat_p.reason = "no feature usage (no features_used in user events)"
    if events:
        peak_p.series = [FFSeriesDTO("events", [(f"{h:02d}", float(c)) for h, c in enumerate(hod)])]
        top = sorted(range(24), key=lambda h: (-hod[h], h))[:3]
        peak_p.summary = {"peak_hours_utc": top, "events": events}
    else:
        peak_p.reason = "no timestamped user events"
    return [users_p, feat_p, peak_p]


def ff_merge_alerts(records: Iterable[dict]) -> list[dict[str, Any]]:
    """Fold alert records into one row per ``alert_id``.

    Two shapes are understood: lifecycle events carrying an ``alert`` snapshot (the alert engine's
    log: the latest snapshot decides acknowledge/resolve times, so a reopen clears them) and flat
    ``FFAnalyticsAlertDTO``-like records with ``acknowledged``/``resolved`` flags or ``*_at`` times.
    """
    recs = [x for x in records if isinstance(x, dict)]
    recs.sort(key=lambda x: str(x.get("timestamp", "")))
    by_id: dict[str, dict[str, Any]] = {}
    for x in recs:
        aid = x.get("alert_id")
        if not isinstance(aid, str) or not aid:
            continue
        t = _epoch(x.get("timestamp"))
        snap = x.get("alert") if isinstance(x.get("alert"), dict) else None
        src = snap if snap is not None else x
        a = by_id.get(aid)
        if a is None:
            a = by_id[aid] = {"alert_id": aid, "raised": None, "acknowledged": None, "resolved": None,
                              "severity": "", "title": "", "metric_name": "", "current_value": None}
        for cand in (t, _epoch(src.get("timestamp")), _epoch(src.get("first_fired_at"))):
            if cand is not None and (a["raised"] is None or cand < a["raised"]):
                a["raised"] = cand
        for k in ("severity", "title", "metric_name", "alert_type", "affected_component", "status"):
            if src.get(k):
                a[k] = src[k]
        if (v := _num(src.get("current_value"))) is not None:
            a["current_value"] = v
        if snap is not None:
            a["acknowledged"] = _epoch(snap.get("acknowledged_at"))
            a["resolved"] = _epoch(snap.get("resolved_at"))
            continue
        for state in ("acknowledged", "resolved"):
            at = _epoch(x.get(f"{state}_at"))
            if at is None and (x.get(state) is True or x.get("status") == state or x.get("event") == state):
                at = t
            if at is not None and (a[state] is None or at < a[state]):
                a[state] = at
        rts = _num(x.get("resolution_time_seconds"))
        if a["resolved"] is None and rts is not None and a["raised"] is not None and x.get("resolved"):
            a["resolved"] = a["raised"] + rts
    rows = [a for a in by_id.values() if a["raised"] is not None]
    rows.sort(key=lambda a: a["raised"])
    for a in rows:
        a["ack_seconds"] = round(a["acknowledged"] - a["raised"], 1) if a["acknowledged"] is not None else None
        a["resolve_seconds"] = round(a["resolved"] - a["raised"], 1) if a["resolved"] is not None else None
    return rows


def _alerts_panel(r: _Reader, now: float) -> FFPanelDTO:
    p = FFPanelDTO("alerts", "Alert timeline", "timeline", source="alerts")
    rows = ff_merge_alerts(r.read("alerts"))
    if not rows:
        p.reason = "no alerts recorded in the alerts stream"
        return p
    p.rows = rows[-MAX_ALERTS_SHOWN:]
    p.summary = {
        "alerts": len(rows),
        "open": sum(1 for a in rows if a["resolved"] is None),
        "acknowledged": sum(1 for a in rows if a["acknowledged"] is not None),
        "shown": len(p.rows),
        "now": now,
    }
    acks = [a["ack_seconds"] for a in rows if a["ack_seconds"] is not None]
    res = [a["resolve_seconds"] for a in rows if a["resolve_seconds"] is not None]
    if acks:
        p.summary["mean_ack_seconds"] = round(sum(acks) / len(acks), 1)
    if res:
        p.summary["mean_resolve_seconds"] = round(sum(res) / len(res), 1)
    return p


def _health_status(comp: dict[str, Any]) -> str:
    worst = max((HEALTH_ORDER.get(str(s).lower(), 1) for s in comp.values()), default=None)
    return {None: "", 0: "healthy", 1: "degraded", 2: "unhealthy"}[worst]


def ff_health_summary(check: dict[str, Any]) -> dict[str, Any]:
    """One recorded health check as shown to an operator: overall status (recorded, else the worst
    component), ``checked_at``, ``writer_id``, component statuses and reasons, the first 10 reasons."""
    comp = check.get("component_health") if isinstance(check.get("component_health"), dict) else {}
    creasons = check.get("component_health_reasons")
    reasons = check.get("reasons")
    return {
        "overall_status": check.get("overall_status") or check.get("status") or _health_status(comp),
        "checked_at": check.get("timestamp", ""),
        "writer_id": str(check.get("writer_id") or ""),
        "component_health": {str(k): str(v) for k, v in comp.items()},
        "component_reasons": {str(k): str(v) for k, v in creasons.items()} if isinstance(creasons, dict) else {},
        "reasons": [str(x) for x in reasons[:10]] if isinstance(reasons, list) else [],
    }


def _health_panel(r: _Reader, max_points: int) -> FFPanelDTO:
    p = FFPanelDTO("health", "Health summary", "status", "components", source="health_checks")
    checks = [x for x in r.read("health_checks") if isinstance(x.get("component_health"), dict)]
    if not checks:
        checks = [x for x in r.read("resource_usage") if isinstance(x.get("component_health"), dict) and x["component_health"]]
        p.source = "resource_usage (component_health)"
    if not checks:
        p.reason = "no health checks with component_health recorded"
        return p
    healthy_pts = []
    unhealthy_pts = []
    for x in checks:
        t = _epoch(x.get("timestamp"))
        comp = x["component_health"]
        if t is None or not comp:
            continue
        ok = sum(1 for s in comp.values() if HEALTH_ORDER.get(str(s).lower(), 1) == 0)
        healthy_pts.append((t, float(ok)))
        unhealthy_pts.append((t, float(len(comp) - ok)))
    if healthy_pts:
        p.series = [FFSeriesDTO("healthy", ff_downsample(healthy_pts, max_points)),
                    FFSeriesDTO("not healthy", ff_downsample(unhealthy_pts, max_points))]
    # newest check; on a tie (writers checking at the same instant) the greatest writer_id, the
    # order the operator snapshot uses to pick the latest resource sample
    latest = max(checks, key=lambda x: (_epoch(x.get("timestamp")) or 0.0, str(x.get("writer_id") or "")))
    h = ff_health_summary(latest)
    p.rows = [{"component": k, "status": v} for k, v in sorted(h["component_health"].items())]
    if isinstance(latest.get("component_health_reasons"), dict):
        for row in p.rows:
            row["reason"] = h["component_reasons"].get(row["component"], "")
    p.summary = {"overall_status": h["overall_status"], "checked_at": h["checked_at"], "checks": len(checks)}
    if h["writer_id"]:
        p.summary["writer_id"] = h["writer_id"]
    p.items = h["reasons"]
    for k in ("success_rate_percent", "system_reliability_score", "data_quality_score"):
        if (v := _num(latest.get(k))) is not None:
            p.summary[k] = v
    if not p.series:
        p.reason = "health checks carry no timestamps"
    return p


def _bi_panel(r: _Reader, max_points: int) -> FFPanelDTO:
    """The latest BI run: its records in every BI stream (same ``insight_id``) merged."""
    p = FFPanelDTO("bi", "Latest BI insights", "line_index", "")
    recs: list[tuple[float, int, str, dict[str, Any]]] = []
    active_pts: list[tuple[float, float]] = []
    for stream in BI_STREAMS:
        for x in r.read(stream):
            t = _epoch(x.get("timestamp"))
            if t is None:
                continue
            recs.append((t, len(recs), stream, x))
            if stream == "usage_trends" and (v := _num(x.get("active_users"))) is not None:
                active_pts.append((t, v))
    if not recs:
        p.reason = "no BI records yet (run `ff-metrics bi` or the demo)"
        return p
    anchor = max((x for x in recs if x[2] == "usage_trends"), default=max(recs))  # latest, ties: last written
    iid = anchor[3].get("insight_id")
    group = [x for x in recs if (iid and x[3].get("insight_id") == iid) or x is anchor]
    merged: dict[str, Any] = {}
    for _t, _i, _s, x in group:
        for k, v in x.items():
            if v not in (None, [], {}, "") or k not in merged:
                merged[k] = v
    p.source = ", ".join(sorted({g[2] for g in group}))
    for k in INSIGHT_KEYS:
        v = merged.get(k)
        if isinstance(v, list):
            p.items += [f"{k.replace('_', ' ')}: {item}" for item in v[:6]]
    reasons = merged.get("reasons")
    if isinstance(reasons, dict):
        p.items += [f"not computed: {k.replace('_', ' ')}: {v}" for k, v in sorted(reasons.items()) if v]
    ps, pe = str(merged.get("period_start") or ""), str(merged.get("period_end") or "")
    p.summary["period"] = f"{merged.get('analysis_period', '')} {ps[:16]} \u2192 {pe[:16]}".strip()
    for k in ("active_users", "new_users", "returning_users", "user_growth_rate_percent",
              "average_session_duration_minutes", "projected_growth_30_days"):
        if merged.get(k) is not None:
            p.summary[k] = merged[k]
    p.summary["generated_at"] = merged.get("timestamp", "")
    sat = merged.get("user_satisfaction_trends")
    trends = merged.get("resource_utilization_trends")
    if isinstance(sat, list) and any(_num(v) is not None for v in sat):
        p.series = [FFSeriesDTO("average satisfaction (0-10) per interval",
                                [(float(i), v) for i, x in enumerate(sat) if (v := _num(x)) is not None])]
        p.unit = "rating"
    elif isinstance(trends, dict) and trends:
        for name, vals in sorted(trends.items()):
            pts = [(float(i), v) for i, x in enumerate(vals or []) if (v := _num(x)) is not None]
            if pts:
                p.series.append(FFSeriesDTO(name, pts))
        p.unit = "%"
    elif len({t for t, _ in active_pts}) >= 2:
        p.series = [FFSeriesDTO("active users per BI run", ff_downsample(active_pts, max_points))]
        p.kind, p.unit = "line", "users"
    if not p.series:
        p.reason = "the latest BI run has no series to chart (its insights are listed below)"
    return p


def ff_gather_dashboard_data(
    store: Any,
    clock: FFClock | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    days: int | None = None,
    max_points: int = DEFAULT_MAX_POINTS,
) -> FFDashboardDataDTO:
    """Read the store and compute every panel (``days`` limits the range to the last N days)."""
    if days is not None and (not isinstance(days, int) or days <= 0):
        raise ValueError(f"days: must be a positive int, got {days!r}")
    if not isinstance(max_points, int) or max_points < 2:
        raise ValueError(f"max_points: must be an int >= 2, got {max_points!r}")
    clock = clock or FFClock()
    now = clock.now()
    if days is not None and start is None:
        end = end or now
        start = end - timedelta(days=days)
    r = _Reader(store, start, end)
    samples, source = _system_samples(r)
    rollups = [x for x in r.read("rollups") if x.get("record_type") == "hourly_rollup"]
    panels = [_resources_panel(samples, source, max_points), _response_panel(r, samples, rollups, max_points),
              _error_panel(r, samples, max_points)]
    panels += _user_panels(r, rollups)
    panels.append(_alerts_panel(r, now.timestamp()))
    panels.append(_health_panel(r, max_points))
    panels.append(_bi_panel(r, max_points))
    stats = getattr(store, "stats", None)
    return FFDashboardDataDTO(
        generated_at=ff_iso(now),
        analytics_path=str(getattr(store, "analytics_path", "")),
        start=ff_iso(start) if start else "",
        end=ff_iso(end) if end else "",
        panels=panels,
        records_read=dict(r.counts),
        unparseable_lines=int(getattr(stats, "unparseable_lines", 0) or 0),
    )
