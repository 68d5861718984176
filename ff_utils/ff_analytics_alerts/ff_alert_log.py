"""Alert state as an event log in the ``alerts`` stream (system_metrics/alerts), and its replay.

Every lifecycle change (fired, reopened, repeat, escalated, flapping, flap_ended, acknowledged,
resolved), every budget digest and every remediation run is one JSONL record. On start the log is
replayed: the last snapshot of each alert wins, so an acknowledgement survives a restart, and the
last notification time per rule and component plus the budget window come back, so a restart does
not notify again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ff_utils.ff_analytics_alerts.ff_alert_engine import ff_alert_class
from ff_utils.ff_analytics_core.ff_clock import ff_parse_iso
from ff_utils.ff_analytics_core.ff_logging import get_logger

__all__ = ["ALERT_STREAM", "FFAlertLog", "FFAlertReplayDTO", "ff_alert_from_dict", "ff_apply_alert_event"]

logger = get_logger(__name__)
ALERT_STREAM = "alerts"
FIRE_EVENTS = frozenset({"fired", "reopened"})


def ff_alert_from_dict(data: dict[str, Any]) -> Any:
    """An ``FFAnalyticsAlertDTO`` from a logged snapshot (unknown keys ignored)."""
    return ff_alert_class().from_dict(data, ignore_unknown=True)


@dataclass
class FFAlertReplayDTO:
    """What replaying the alert log yields."""

    alerts: list[Any] = field(default_factory=list)
    last_notified: dict[tuple[str, str], float] = field(default_factory=dict)
    fired_t: dict[str, float] = field(default_factory=dict)
    budget: tuple[float | None, int, int] | None = None
    remediation_runs: list[dict[str, Any]] = field(default_factory=list)
    fire_times_by_rule: dict[str, list[float]] = field(default_factory=dict)
    events: int = 0
    unusable_events: int = 0


class FFAlertLog:
    """Append alert events to the store and rebuild state from them."""

    def __init__(self, store: Any, stream: str = ALERT_STREAM) -> None:
        self.store = store
        self.stream = stream
        self.dropped = 0

    def write(self, record: dict[str, Any]) -> None:
        """Buffer one event (O(1), no syscall); a drop is counted, never raised."""
        try:
            ok = self.store.append(self.stream, record)
        except Exception:
            logger.exception("alert log append failed")
            ok = False
        if not ok:
            self.dropped += 1

    def events(self, start: datetime | None = None, end: datetime | None = None) -> Iterator[dict[str, Any]]:
        """Logged events with ``start <= timestamp <= end`` (store order: day, then writer file)."""
        lo = start.timestamp() if start is not None else None
        hi = end.timestamp() if end is not None else None
        for rec in self.store.read(self.stream, start, end):
            if not isinstance(rec, dict) or "event" not in rec:
                continue
            if lo is not None or hi is not None:
                try:
                    ts = ff_parse_iso(rec["timestamp"]).timestamp()
                except (KeyError, TypeError, ValueError):
                    continue
                if (lo is not None and ts < lo) or (hi is not None and ts > hi):
                    continue
            yield rec

    def sorted_events(self, start: datetime | None = None, end: datetime | None = None) -> list[dict[str, Any]]:
        evs = list(self.events(start, end))
        evs.sort(key=lambda r: str(r.get("timestamp", "")))  # stable: same-instant order is kept
        return evs

    def alert_snapshots(self, start: datetime | None = None, end: datetime | None = None) -> dict[str, dict[str, Any]]:
        """The last snapshot of each alert seen in the window, as dicts (compact events applied)."""
        snaps: dict[str, dict[str, Any]] = {}
        for rec in self.sorted_events(start, end):
            ff_apply_alert_event(snaps, rec)
        return snaps

    def replay(self) -> FFAlertReplayDTO:
        """Rebuild engine state from the whole log."""
        out = FFAlertReplayDTO()
        snaps: dict[str, dict[str, Any]] = {}
        for rec in self.sorted_events():
            out.events += 1
            ev = rec.get("event")
            if ev == "remediation":
                out.remediation_runs.append(rec)
                continue
            if ev == "digest":
                b = rec.get("budget")
                if isinstance(b, list) and len(b) == 3:
                    out.budget = (b[0], b[1], b[2])
                continue
            if not ff_apply_alert_event(snaps, rec):
                out.unusable_events += 1
                continue
            key = (str(rec.get("rule_id") or ""), str(rec.get("component") or ""))
            lt = rec.get("last_notify_t")
            if isinstance(lt, (int, float)):
                out.last_notified[key] = max(out.last_notified.get(key, lt), lt)
            ft = rec.get("fired_t")
            if isinstance(ft, (int, float)) and ft:
                out.fired_t[rec["alert_id"]] = ft
            b = rec.get("budget")
            if isinstance(b, list) and len(b) == 3:
                out.budget = (b[0], b[1], b[2])
            if ev in FIRE_EVENTS:
                try:
                    out.fire_times_by_rule.setdefault(key[0], []).append(ff_parse_iso(rec["timestamp"]).timestamp())
                except (KeyError, TypeError, ValueError):
                    pass
        for data in snaps.values():
            try:
                out.alerts.append(ff_alert_from_dict(data))
            except (TypeError, ValueError):
                out.unusable_events += 1
        return out


def ff_apply_alert_event(snaps: dict[str, dict[str, Any]], rec: dict[str, Any]) -> bool:
    """Fold one event into the snapshots; False when it cannot be used."""
    alert_id = rec.get("alert_id")
    if not alert_id or not isinstance(alert_id, str):
        return False
    snap = rec.get("alert")
    if isinstance(snap, dict):
        snaps[alert_id] = dict(snap)
        return True
    cur = snaps.get(alert_id)
    if cur is None:
        return False  # a compact event whose snapshot is outside the window
    nc = rec.get("notification_count")
    if isinstance(nc, int):
        cur["notification_count"] = nc
    return True
