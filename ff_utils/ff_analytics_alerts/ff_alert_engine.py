"""The alert engine: rule evaluation and the alert lifecycle.

firing -> acknowledged -> resolved, auto-resolve with hysteresis, one active alert per rule and
component, cooldown between repeat notifications, an hourly notification budget with one digest,
escalation of unacknowledged alerts, flap detection. Every state change is handed to ``sink`` as
an event record (the ``alerts`` stream is the source of truth, see ``ff_alert_log``). All time
comes from the injected clock; one evaluation is O(rules that watch the given metrics).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ff_utils.ff_analytics_alerts.ff_alert_rules import (
    COMPARISONS,
    SEVERITY_RANK,
    FFAlertRuleDTO,
    ff_clear_threshold,
    ff_raise_severity,
)
from ff_utils.ff_analytics_core.ff_clock import FFClock, ff_iso, ff_parse_iso
from ff_utils.ff_analytics_core.ff_ids import ff_new_id
from ff_utils.ff_analytics_core.ff_logging import get_logger

__all__ = ["FFAlertEngine", "FFAlertEngineStatsDTO", "ff_alert_class"]

logger = get_logger(__name__)
HOUR = 3600.0
MAX_MESSAGE = 4096  # alert message and resolution notes (characters)
STATUS_FIRING = "firing"
STATUS_ACKNOWLEDGED = "acknowledged"
STATUS_RESOLVED = "resolved"


def ff_alert_class() -> type:
    """``FFAnalyticsAlertDTO`` (imported lazily: the entities module is owned elsewhere)."""
    from ff_class_configs.ff_analytics_configs.ff_analytics_entities_config import FFAnalyticsAlertDTO

    return FFAnalyticsAlertDTO


@dataclass(slots=True)
class FFAlertEngineStatsDTO:
    """Counters of the engine (exposed in health and the bench)."""

    evaluations: int = 0
    alerts_fired: int = 0
    alerts_reopened: int = 0
    alerts_resolved: int = 0
    notifications_sent: int = 0
    notifications_held: int = 0
    suppressed_by_cooldown: int = 0
    escalations: int = 0
    digests_sent: int = 0
    flapping_detected: int = 0


@dataclass(slots=True)
class _Series:
    """Evaluation state of one (rule, component)."""

    rule_id: str
    component: str
    rule: FFAlertRuleDTO | None = None
    cmp: Callable[[float, float], bool] | None = None
    clear: Callable[[float], bool] | None = None
    pending_since: float | None = None
    breached: bool = False
    evals: int = 0
    transitions: deque = field(default_factory=deque)
    points: deque | None = None
    alert: Any = None
    fired_t: float = 0.0
    last_notify: float | None = None
    last_auto_resolved: Any = None
    resolved_eval: int = -(10**9)
    resolved_t: float = 0.0


class FFAlertEngine:
    """Rules, series state and alerts in memory; events out through ``sink(record)``."""

    def __init__(
        self,
        alerting_config: Any,
        clock: FFClock,
        *,
        sink: Callable[[dict[str, Any]], None] | None = None,
        notifier: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        cfg = alerting_config
        self.clock = clock
        self.cooldown_s = max(0.0, float(getattr(cfg, "alert_cooldown_minutes", 15)) * 60.0)
        self.max_per_hour = int(getattr(cfg, "max_alerts_per_hour", 10))
        self.escalation_s = float(getattr(cfg, "escalation_delay_minutes", 30)) * 60.0
        self.hysteresis = float(getattr(cfg, "alert_hysteresis_percent", 5.0))
        self.flap_window = max(2, int(getattr(cfg, "flap_window_evaluations", 10)))
        self.flap_changes = max(2, int(getattr(cfg, "flap_threshold_changes", 4)))
        self._sink = sink
        self._notifier = notifier
        self.rules: dict[str, FFAlertRuleDTO] = {}
        self._by_metric: dict[str, list[FFAlertRuleDTO]] = {}
        self._series: dict[tuple[str, str], _Series] = {}
        self.alerts: dict[str, Any] = {}  # every alert known (replayed + this run), by id
        self._active: dict[str, _Series] = {}
        self._escalate: list[tuple[float, str]] = []
        self._window_start: float | None = None
        self._budget_used = 0
        self._held = 0
        self._held_by_rule: dict[str, int] = {}
        self._fire_listeners: list[Callable[[Any], None]] = []
        self.stats = FFAlertEngineStatsDTO()
        self._alert_cls = ff_alert_class()

    # ------------------------------------------------------------------ rules
    def add_rule(self, rule: FFAlertRuleDTO) -> FFAlertRuleDTO:
        """Add or replace a rule (validated); existing series of the same id pick it up."""
        if not isinstance(rule, FFAlertRuleDTO):
            raise TypeError(f"rule: expected FFAlertRuleDTO, got {type(rule).__name__}")
        rule.validate()
        self.remove_rule(rule.rule_id)
        self.rules[rule.rule_id] = rule
        if rule.enabled:
            self._by_metric.setdefault(rule.metric, []).append(rule)
        for s in self._series.values():
            if s.rule_id == rule.rule_id:
                self._bind(s, rule)
        return rule

    def remove_rule(self, rule_id: str) -> bool:
        _check_str(rule_id, "rule_id")
        rule = self.rules.pop(rule_id, None)
        if rule is None:
            return False
        lst = self._by_metric.get(rule.metric)
        if lst is not None:
            lst[:] = [r for r in lst if r.rule_id != rule_id]
            if not lst:
                del self._by_metric[rule.metric]
        return True

    def on_fire(self, fn: Callable[[Any], None]) -> None:
        """Call ``fn(alert)`` whenever an alert fires or re-opens (remediation)."""
        self._fire_listeners.append(fn)

    def _bind(self, s: _Series, rule: FFAlertRuleDTO) -> None:
        s.rule = rule
        s.cmp = COMPARISONS[rule.comparison]
        s.clear = ff_clear_threshold(rule, self.hysteresis)
        if rule.rate_window_seconds > 0 and s.points is None:
            s.points = deque()
        s.transitions = deque(s.transitions, maxlen=self.flap_changes)

    def _get_series(self, rule: FFAlertRuleDTO, component: str) -> _Series:
        key = (rule.rule_id, component)
        s = self._series.get(key)
        if s is None:
            s = self._series[key] = _Series(rule.rule_id, component)
            self._bind(s, rule)
        elif s.rule is not rule:
            self._bind(s, rule)
        return s

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, values: Mapping[Any, float], now: float | None = None) -> int:
        """Evaluate the rules that watch ``values`` (``{(metric, component): v}`` or ``{metric: v}``).

        Returns the number of rule evaluations. Also runs escalation and the budget digest.
        """
        t = self.clock.time() if now is None else now
        self.tick(t)
        by_metric = self._by_metric
        n = 0
        for key, v in values.items():
            if isinstance(key, tuple):
                metric, comp = key
            else:
                metric, comp = key, ""
            rules = by_metric.get(metric)
            if not rules:
                continue
            for rule in rules:
                if rule.component and rule.component != comp:
                    continue
                s = self._series.get((rule.rule_id, comp))
                if s is None or s.rule is not rule:
                    s = self._get_series(rule, comp)
                self._step(s, v, t)
                n += 1
        self.stats.evaluations += n
        return n

    def _step(self, s: _Series, v: float, t: float) -> None:
        rule = s.rule
        pts = s.points
        if pts is not None:
            pts.append((t, v))
            cutoff = t - rule.rate_window_seconds
            while len(pts) > 2 and pts[1][0] <= cutoff:
                pts.popleft()
            t0, v0 = pts[0]
            if t <= t0:
                return
            v = (v - v0) / (t - t0)
        if v != v:  # NaN: no evaluation
            return
        s.evals += 1
        breach = s.cmp(v, rule.threshold)
        if breach is not s.breached:
            s.transitions.append(s.evals)
            s.breached = breach
        alert = s.alert
        if alert is None:
            if not breach:
                s.pending_since = None
                return
            if s.pending_since is None:
                s.pending_since = t
            if t - s.pending_since >= rule.for_seconds:
                self._fire(s, v, t)
            return
        alert.current_value = v
        tr = s.transitions
        flapping = len(tr) >= self.flap_changes and tr[0] > s.evals - self.flap_window
        if flapping is not alert.flapping:
            self._set_flapping(s, alert, flapping, t)
        if breach:
            if (
                alert.status == STATUS_FIRING
                and (s.last_notify is None or t - s.last_notify >= self.cooldown_s)
                and not flapping
            ):
                self._notify_and_log(s, alert, "repeat", t)
        else:
            s.pending_since = None
            if not flapping and s.clear(v):
                self._resolve(s, alert, t, "auto-resolved: condition cleared", "system", auto=True)

    def tick(self, now: float | None = None) -> None:
        """Time-driven work: escalations due and the budget digest. O(due items)."""
        t = self.clock.time() if now is None else now
        self._roll_budget(t)
        heap = self._escalate
        while heap and heap[0][0] <= t:
            _, alert_id = heapq.heappop(heap)
            s = self._active.get(alert_id)
            if s is None:
                continue
            alert = s.alert
            if alert.status != STATUS_FIRING or alert.escalated:
                continue  # acknowledged alerts never escalate
            alert.escalated = True
            alert.severity = ff_raise_severity(alert.severity)
            self.stats.escalations += 1
            self._notify_and_log(s, alert, "escalated", t, bypass_cooldown=True)

    # ------------------------------------------------------------------ lifecycle
    def _fire(self, s: _Series, v: float, t: float, message: str = "") -> None:
        rule = s.rule
        prev = s.last_auto_resolved
        tr = s.transitions
        flapping = len(tr) >= self.flap_changes and tr[0] > s.evals - self.flap_window
        if prev is not None and s.evals - s.resolved_eval < self.flap_window and t - s.resolved_t <= self.cooldown_s:
            alert = prev  # back within the flap window (and the cooldown): re-open, not a new alert
            alert.status = STATUS_FIRING
            alert.resolved = False
            alert.resolved_at = None
            alert.resolution_time_seconds = None
            alert.resolution_notes = ""
            alert.current_value = v
            event = "reopened"
            self.stats.alerts_reopened += 1
        else:
            alert = self._new_alert(rule, s.component, v, t)
            if message:
                alert.message = message
            s.fired_t = t
            event = "fired"
            self.stats.alerts_fired += 1
        s.last_auto_resolved = None
        s.alert = alert
        self.alerts[alert.alert_id] = alert
        self._active[alert.alert_id] = s
        if self.escalation_s > 0 and not alert.escalated and alert.status == STATUS_FIRING:
            heapq.heappush(self._escalate, (t + self.escalation_s, alert.alert_id))
        if flapping and not alert.flapping:
            alert.flapping = True
            self.stats.flapping_detected += 1
        self._notify_and_log(s, alert, event, t)
        for fn in self._fire_listeners:
            try:
                fn(alert)
            except Exception:
                logger.exception("alert fire listener failed for %s", alert.alert_id)

    def _new_alert(self, rule: FFAlertRuleDTO, component: str, v: float, t: float) -> Any:
        where = f" on {component}" if component else ""
        what = f"rate of {rule.metric}" if rule.rate_window_seconds > 0 else rule.metric
        return self._alert_cls(
            alert_id=ff_new_id("alert"),
            timestamp=_iso_t(t),
            severity=rule.severity,
            alert_type=rule.alert_type,
            title=rule.title or f"{rule.metric} {rule.comparison} {rule.threshold:g}",
            message=f"{what}{where} is {v:.6g} ({rule.comparison} {rule.threshold:g})",
            affected_component=component or rule.component or "system",
            metric_name=rule.metric,
            current_value=v,
            threshold_value=float(rule.threshold),
            historical_context={"labels": dict(rule.labels), "first_value": v, "for_seconds": rule.for_seconds,
                                "rate_window_seconds": rule.rate_window_seconds},
            recommended_actions=list(rule.recommended_actions),
            rule_id=rule.rule_id,
            status=STATUS_FIRING,
            fingerprint=f"{rule.rule_id}|{component}",
        )

    def _set_flapping(self, s: _Series, alert: Any, flapping: bool, t: float) -> None:
        alert.flapping = flapping
        if flapping:
            self.stats.flapping_detected += 1
        self._log("flapping" if flapping else "flap_ended", s, alert, t, "")

    def acknowledge(self, alert_id: str, by: str, now: float | None = None) -> bool:
        """firing -> acknowledged; False when unknown or resolved (re-acknowledging keeps the first)."""
        _check_str(alert_id, "alert_id")
        _check_str(by, "acknowledged_by")
        _check_text(by, "acknowledged_by", 128)
        alert = self.alerts.get(alert_id)
        if alert is None or alert.status == STATUS_RESOLVED:
            return False
        if alert.status == STATUS_ACKNOWLEDGED:
            return True
        t = self.clock.time() if now is None else now
        alert.status = STATUS_ACKNOWLEDGED
        alert.acknowledged = True
        alert.acknowledged_by = by
        alert.acknowledged_at = _iso_t(t)
        alert.assigned_to = alert.assigned_to or by
        s = self._active.get(alert_id)
        self._log("acknowledged", s, alert, t, "")
        return True

    def resolve(self, alert_id: str, notes: str, now: float | None = None, by: str = "operator") -> bool:
        """-> resolved with ``resolution_time_seconds``; False when unknown or already resolved."""
        _check_str(alert_id, "alert_id")
        _check_text(notes, "resolution_notes", MAX_MESSAGE)
        alert = self.alerts.get(alert_id)
        if alert is None or alert.status == STATUS_RESOLVED:
            return False
        s = self._active.get(alert_id)
        t = self.clock.time() if now is None else now
        self._resolve(s, alert, t, notes, by, auto=False)
        return True

    def _resolve(self, s: _Series | None, alert: Any, t: float, notes: str, by: str, *, auto: bool) -> None:
        fired = s.fired_t if s is not None and s.fired_t else ff_parse_iso(alert.timestamp).timestamp()
        alert.status = STATUS_RESOLVED
        alert.resolved = True
        alert.resolved_at = _iso_t(t)
        alert.resolution_time_seconds = max(0, int(round(t - fired)))
        alert.resolution_notes = notes
        self._active.pop(alert.alert_id, None)
        self.stats.alerts_resolved += 1
        if s is not None:
            s.alert = None
            s.pending_since = None
            s.last_auto_resolved = alert if auto else None
            s.resolved_eval = s.evals
            s.resolved_t = t
        self._log("resolved", s, alert, t, "", resolved_by=by, auto=auto)

    def raise_alert(
        self,
        rule_id: str,
        *,
        title: str,
        message: str = "",
        severity: str = "warning",
        alert_type: str = "anomaly",
        component: str = "",
        metric_name: str = "",
        current_value: float = 0.0,
        threshold_value: float = 0.0,
        labels: Mapping[str, str] | None = None,
        recommended_actions: Iterable[str] = (),
        now: float | None = None,
    ) -> Any:
        """Fire (or refresh) an alert from another domain; same dedup, cooldown and budget."""
        _check_text(message, "message", MAX_MESSAGE)
        for name, v in (("current_value", current_value), ("threshold_value", threshold_value)):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError(f"{name}: expected a number, got {type(v).__name__}")
            if not math.isfinite(v):
                raise ValueError(f"{name}: must be a finite number, got {v!r}")
        if labels is not None and not isinstance(labels, Mapping):
            raise TypeError(f"labels: expected a mapping of str -> str, got {type(labels).__name__}")
        if isinstance(recommended_actions, (str, bytes)) or not isinstance(recommended_actions, Iterable):
            raise TypeError(f"recommended_actions: expected an iterable of str, got {type(recommended_actions).__name__}")
        rule = FFAlertRuleDTO(
            rule_id=rule_id, metric=metric_name or "external", threshold=float(threshold_value),
            severity=severity, alert_type=alert_type, title=title, labels=dict(labels or {}),
            recommended_actions=list(recommended_actions), component=component,
        )
        rule.validate()
        t = self.clock.time() if now is None else now
        self.tick(t)
        key = (rule_id, component)
        s = self._series.get(key)
        if s is None:
            s = self._series[key] = _Series(rule_id, component)
        if rule_id not in self.rules:
            self._bind(s, rule)
        if s.alert is not None:
            s.alert.current_value = float(current_value)
            if s.alert.status == STATUS_FIRING and (s.last_notify is None or t - s.last_notify >= self.cooldown_s):
                self._notify_and_log(s, s.alert, "repeat", t)
            return s.alert
        s.evals += 1
        self._fire(s, float(current_value), t, message)
        return s.alert

    def clear_alert(self, rule_id: str, component: str = "", now: float | None = None) -> bool:
        """Auto-resolve the active alert of ``(rule_id, component)``; False when none is active."""
        _check_str(rule_id, "rule_id")
        _check_text(component, "component", 128)
        s = self._series.get((rule_id, component))
        if s is None or s.alert is None:
            return False
        t = self.clock.time() if now is None else now
        self._resolve(s, s.alert, t, "auto-resolved: cleared by its source", "system", auto=True)
        return True

    # ------------------------------------------------------------------ notifications
    def _notify_and_log(self, s: _Series, alert: Any, event: str, t: float, *, bypass_cooldown: bool = False) -> None:
        outcome = self._notify(s, alert, event, t, bypass_cooldown)
        self._log(event, s, alert, t, outcome)

    def _notify(self, s: _Series, alert: Any, event: str, t: float, bypass_cooldown: bool) -> str:
        if not bypass_cooldown and s.last_notify is not None and t - s.last_notify < self.cooldown_s:
            self.stats.suppressed_by_cooldown += 1
            return "cooldown"
        s.last_notify = t
        self._roll_budget(t)
        if self._budget_used >= self.max_per_hour:
            self._held += 1
            self._held_by_rule[s.rule_id] = self._held_by_rule.get(s.rule_id, 0) + 1
            self.stats.notifications_held += 1
            return "held"
        self._budget_used += 1
        alert.notification_count += 1
        self.stats.notifications_sent += 1
        self._send({"kind": "alert", "event": event, "alert": alert})
        return "sent"

    def _roll_budget(self, t: float) -> None:
        start = self._window_start
        if start is None:
            self._window_start = t
            return
        if t - start < HOUR:
            return
        if self._held:
            self._send_digest(start, t)
        self._window_start = t
        self._budget_used = 0

    def _send_digest(self, start: float, t: float) -> None:
        held, by_rule = self._held, dict(sorted(self._held_by_rule.items(), key=lambda kv: -kv[1]))
        self._held = 0
        self._held_by_rule = {}
        self.stats.digests_sent += 1
        digest = {
            "kind": "digest",
            "held_back": held,
            "held_back_by_rule": by_rule,
            "suppressed_by_cooldown_total": self.stats.suppressed_by_cooldown,
            "window_start": _iso_t(start),
            "window_end": _iso_t(t),
            "max_alerts_per_hour": self.max_per_hour,
            "message": f"{held} alert notification(s) held back by the budget of "
                       f"{self.max_per_hour}/hour between {_iso_t(start)} and {_iso_t(t)}",
        }
        self._send(digest)
        if self._sink is not None:
            rec = {"timestamp": _iso_t(t), "event": "digest", "alert_id": "", **digest}
            rec["budget"] = [t, 0, 0]
            self._sink(rec)

    def flush_digest(self, now: float | None = None) -> int:
        """Send the pending digest now (e.g. on close); returns how many it reported."""
        held = self._held
        if held:
            t = self.clock.time() if now is None else now
            self._send_digest(self._window_start or t, t)
        return held

    def _send(self, payload: dict[str, Any]) -> None:
        if self._notifier is None:
            return
        try:
            self._notifier(payload)
        except Exception:  # a channel bug must never break evaluation
            logger.exception("alert notifier failed")

    # ------------------------------------------------------------------ log + restore
    def _log(self, event: str, s: _Series | None, alert: Any, t: float, outcome: str, **extra: Any) -> None:
        if self._sink is None:
            return
        rec = {
            "timestamp": _iso_t(t),
            "event": event,
            "alert_id": alert.alert_id,
            "rule_id": alert.rule_id,
            "component": s.component if s is not None else _series_component(alert),
            "notify": outcome,
            "last_notify_t": s.last_notify if s is not None else None,
            "fired_t": s.fired_t if s is not None else None,
            "notification_count": alert.notification_count,
            "budget": [self._window_start, self._budget_used, self._held],
        }
        if event != "repeat":  # repeats are compact: the snapshot did not change but for the counters
            rec["alert"] = alert
        if extra:
            rec.update(extra)
        try:
            self._sink(rec)
        except Exception:
            logger.exception("alert log sink failed for %s", alert.alert_id)

    def restore(self, alerts: Iterable[Any], last_notified: Mapping[tuple[str, str], float],
                budget: tuple[float | None, int, int] | None, fired_t: Mapping[str, float]) -> None:
        """Load the state rebuilt from the alert log (see ``FFAlertLog.replay``)."""
        for alert in alerts:
            self.alerts[alert.alert_id] = alert
            if alert.status == STATUS_RESOLVED:
                continue
            comp = _series_component(alert)
            key = (alert.rule_id, comp)
            s = self._series.get(key) or _Series(alert.rule_id, comp)
            self._series[key] = s
            rule = self.rules.get(alert.rule_id)
            if rule is not None:
                self._bind(s, rule)
            s.alert = alert
            s.breached = True
            s.fired_t = fired_t.get(alert.alert_id) or ff_parse_iso(alert.timestamp).timestamp()
            self._active[alert.alert_id] = s
            if self.escalation_s > 0 and alert.status == STATUS_FIRING and not alert.escalated:
                heapq.heappush(self._escalate, (s.fired_t + self.escalation_s, alert.alert_id))
        for (rule_id, comp), t in last_notified.items():
            s = self._series.get((rule_id, comp))
            if s is None:
                s = self._series[(rule_id, comp)] = _Series(rule_id, comp)
                if rule_id in self.rules:
                    self._bind(s, self.rules[rule_id])
            s.last_notify = t
        if budget is not None and budget[0] is not None:
            self._window_start, self._budget_used, self._held = float(budget[0]), int(budget[1]), int(budget[2])

    @property
    def active_count(self) -> int:
        """Alerts not yet resolved (firing or acknowledged)."""
        return len(self._active)

    def active_alerts(self, severity: str | None = None) -> list[Any]:
        """Unresolved alerts, most severe first, then oldest first."""
        if severity is not None and severity not in SEVERITY_RANK:
            raise ValueError(f"severity: must be one of {', '.join(SEVERITY_RANK)}, got {severity!r}")
        out = [s.alert for s in self._active.values() if severity is None or s.alert.severity == severity]
        out.sort(key=lambda a: (-SEVERITY_RANK.get(a.severity, 0), a.timestamp))
        return out

    def budget_state(self) -> dict[str, Any]:
        return {"window_start": _iso_t(self._window_start) if self._window_start is not None else None,
                "used": self._budget_used, "held": self._held, "max_per_hour": self.max_per_hour}


def _series_component(alert: Any) -> str:
    fp = getattr(alert, "fingerprint", "") or ""
    return fp.split("|", 1)[1] if "|" in fp else ""


def _iso_t(t: float) -> str:
    from datetime import UTC, datetime

    return ff_iso(datetime.fromtimestamp(t, UTC))


def _check_str(v: Any, name: str) -> None:
    if not isinstance(v, str) or not v:
        raise ValueError(f"{name}: must be a non-empty string, got {v!r:.80}")


def _check_text(v: Any, name: str, limit: int) -> None:
    if not isinstance(v, str):
        raise TypeError(f"{name}: expected str, got {type(v).__name__}")
    if len(v) > limit:
        raise ValueError(f"{name}: at most {limit} characters, got {len(v)}")
