"""The operator snapshot: latest metrics, last health check, active alerts, users and stream sizes.

One flat dict for ``ff-metrics status`` and the Prometheus textfile, computed from the store (and,
when the caller passes them, the manager's live health and active alerts). Read-only.
"""

from __future__ import annotations

import os
from typing import Any

from ff_utils.ff_analytics_core.ff_clock import FFClock, ff_iso
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_exposition.ff_dashboard_data import (
    FFDashboardDataDTO,
    ff_gather_dashboard_data,
    ff_health_summary,
)
from ff_utils.ff_analytics_exposition.ff_dashboard_data import ff_epoch_seconds as _epoch
from ff_utils.ff_analytics_exposition.ff_dashboard_data import ff_number as _num
from ff_utils.ff_analytics_store.ff_stream_store import STREAM_CATEGORY

logger = get_logger(__name__)


def _latest_stream_files(store: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for stream in STREAM_CATEGORY:
        parts = store.iter_partitions(stream)
        size = 0
        for part in parts:
            for f in part.files:
                try:
                    size += os.stat(f).st_size
                except OSError:
                    continue
        if parts:
            out[stream] = {"partitions": len(parts), "bytes": size,
                           "first_day": parts[0].day.isoformat(), "last_day": parts[-1].day.isoformat()}
    return out



def _order(rec: dict[str, Any]) -> tuple[str, str]:
    """Newest first by ``timestamp``; writers ticking at the same instant are ordered by ``writer_id``."""
    return str(rec.get("timestamp", "")), str(rec.get("writer_id") or "")


def _latest_record(store: Any, stream: str, keep: Any) -> dict[str, Any] | None:
    """The record greatest by ``(timestamp, writer_id)`` among those ``keep`` accepts, newest partition first."""
    from ff_utils.ff_analytics_core.ff_json_utils import ff_read_jsonl

    for part in reversed(store.iter_partitions(stream)):
        best: dict[str, Any] | None = None
        for f in part.files:
            try:
                for rec in ff_read_jsonl(f):
                    if isinstance(rec, dict) and keep(rec) and (best is None or _order(rec) >= _order(best)):
                        best = rec
            except OSError as exc:
                logger.error("reading %s failed: %s", f, exc)
        if best is not None:
            return best
    return None


def ff_operator_snapshot(store: Any, clock: FFClock | None = None, *, data: FFDashboardDataDTO | None = None,
                         active_alerts: list[Any] | None = None, health: dict[str, Any] | None = None) -> dict[str, Any]:
    """A flat summary for ``status`` and the Prometheus file (latest sample, health, alerts, users)."""
    clock = clock or FFClock()
    data = data or ff_gather_dashboard_data(store, clock)
    now = clock.now()
    snap: dict[str, Any] = {"generated_at": ff_iso(now), "generated_epoch": now.timestamp()}
    latest: dict[str, Any] = {}
    res = _latest_record(store, "resource_usage", lambda x: True)
    if res is not None:
        latest.update({k: v for k, v in res.items() if _num(v) is not None})
        latest["timestamp"] = res.get("timestamp")
        if res.get("writer_id"):
            latest["writer_id"] = str(res["writer_id"])
    win = _latest_record(store, "performance", lambda x: x.get("kind") == "window" and bool(x.get("count")))
    if win is not None:  # the latest collection window with requests (system service records)
        for src, dst in (("mean", "response_time_ms"), ("p50", "p50_response_time_ms"), ("p95", "p95_response_time_ms"),
                         ("p99", "p99_response_time_ms"), ("throughput_per_s", "throughput_requests_per_second"),
                         ("success_rate_percent", "success_rate_percent"), ("error_rate_percent", "error_rate_percent")):
            if (v := _num(win.get(src))) is not None:
                latest[dst] = v
        latest["response_window_at"] = win.get("timestamp")
    else:  # FFSystemMetricsDTO-like samples that carry the response times themselves
        smp = _latest_record(store, "performance", lambda x: "p95_response_time_ms" in x or "response_time_ms" in x)
        for k in ("response_time_ms", "p50_response_time_ms", "p95_response_time_ms", "p99_response_time_ms",
                  "success_rate_percent"):
            if smp is not None and (v := _num(smp.get(k))) is not None:
                latest.setdefault(k, v)
    snap["latest_metrics"] = latest
    if (t := _epoch(latest.get("timestamp"))) is not None:
        snap["latest_metrics_epoch"] = t
    # One truth: the health shown is the check of the newest sample's own tick (same timestamp and
    # writer), so a reason such as "cpu usage 97.0% > threshold 90%" never sits beside another
    # writer's or another tick's cpu figure. Without that check, the newest check, with a note.
    hp = data.panel("health")
    check = None
    if res is not None:
        at, writer = str(res.get("timestamp", "")), str(res.get("writer_id") or "")
        check = _latest_record(store, "health_checks", lambda x: isinstance(x.get("component_health"), dict) and str(
            x.get("timestamp", "")) == at and str(x.get("writer_id") or "") == writer)
    if check is not None:
        h = ff_health_summary(check)
        snap["component_health"] = h["component_health"]
        snap["health_reasons"] = h["reasons"]
        snap["health_checked_at"] = h["checked_at"]
        snap["overall_status"] = h["overall_status"]
    else:
        snap["component_health"] = {r["component"]: r["status"] for r in hp.rows}
        snap["health_reasons"] = list(hp.items)
        snap["health_checked_at"] = hp.summary.get("checked_at", "")
        snap["overall_status"] = hp.summary.get("overall_status", "")
        same = (str(snap["health_checked_at"]) == str(res.get("timestamp", "")) and str(
            hp.summary.get("writer_id") or "") == str(res.get("writer_id") or "")) if res is not None else True
        if snap["health_checked_at"] and not same:
            snap["health_note"] = (f"the last health check ({snap['health_checked_at']}) is not of the latest "
                                   f"sample ({res.get('timestamp')}, {res.get('writer_id') or 'no writer id'})")
    if health:  # a live check of this process (get_system_health) wins over the last recorded one
        comps = health.get("components")
        if isinstance(comps, dict) and comps:
            snap["component_health"] = {str(k): str(v.get("status") if isinstance(v, dict) else v) for k, v in comps.items()}
        elif isinstance(health.get("component_health"), dict):
            snap["component_health"] = {str(k): str(v) for k, v in health["component_health"].items()}
        snap["overall_status"] = health.get("overall_status") or health.get("status") or snap["overall_status"]
        if isinstance(health.get("reasons"), list):
            snap["health_reasons"] = [str(x) for x in health["reasons"]]
        snap["health_checked_at"] = health.get("checked_at") or snap["health_checked_at"]
        snap.pop("health_note", None)
        if isinstance(health.get("resources"), dict) and health.get("checked_at"):
            # the live check's own sample (written to the store as that tick's resource record)
            latest.update({k: v for k, v in health["resources"].items() if _num(v) is not None})
            latest["timestamp"] = health["checked_at"]
            latest["writer_id"] = str(health.get("writer_id") or latest.get("writer_id") or "")
            snap["latest_metrics_epoch"] = _epoch(health["checked_at"]) or snap.get("latest_metrics_epoch")
    if active_alerts is not None:
        sev: dict[str, int] = {}
        for a in active_alerts:
            s = a.get("severity") if isinstance(a, dict) else getattr(a, "severity", "")
            sev[str(s or "info")] = sev.get(str(s or "info"), 0) + 1
        snap["active_alerts_by_severity"] = sev
        snap["active_alerts_source"] = "manager"
    else:
        ap = data.panel("alerts")
        sev = {}
        for a in ap.rows:
            if a["resolved"] is None:
                sev[a.get("severity") or "info"] = sev.get(a.get("severity") or "info", 0) + 1
        snap["active_alerts_by_severity"] = sev
        snap["active_alerts_source"] = "alerts stream"
    up = data.panel("users")
    snap["users"] = {k: up.summary[k] for k in ("active_users_last_day", "new_users_last_day", "total_users", "last_day") if k in up.summary}
    snap["streams"] = _latest_stream_files(store)
    snap["series"] = {s.name: [v for _, v in s.points] for key in ("resources", "response", "errors")
                      for s in data.panel(key).series}
    return snap
