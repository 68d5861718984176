"""The alerting engine of the manager: rules, alert lifecycle, channels, remediation, history.

Rules are evaluated on every collection (``collect_system_metrics`` calls
``check_system_alerts``, as seed 002's ``_check_system_alerts``; a loop tick is one collection, so
once per tick) and on instrument windows (``evaluate_alerts``); other domains raise alerts with ``raise_alert``. The engine lives in
``ff_alert_engine``, its state is the event log of the ``alerts`` stream (``ff_alert_log``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from ff_class_configs.ff_analytics_configs.ff_analytics_config import FFAnalyticsConfigDTO
from ff_utils.ff_analytics_alerts.ff_alert_channels import FFAlertChannels
from ff_utils.ff_analytics_alerts.ff_alert_engine import FFAlertEngine
from ff_utils.ff_analytics_alerts.ff_alert_log import (
    FFAlertLog,
    FFAlertReplayDTO,
    ff_alert_from_dict,
    ff_apply_alert_event,
)
from ff_utils.ff_analytics_alerts.ff_alert_recovery import ff_recovery_analytics
from ff_utils.ff_analytics_alerts.ff_alert_remediation import FFAlertRemediation
from ff_utils.ff_analytics_alerts.ff_alert_rules import (
    SEVERITY_RANK,
    FFAlertRuleDTO,
    ff_builtin_rules,
    ff_instrument_values,
    ff_metric_values,
)
from ff_utils.ff_analytics_core.ff_clock import FFClock
from ff_utils.ff_analytics_core.ff_lifecycle_hub import FFLifecycleHub
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore

logger = get_logger(__name__)
_STATUSES = ("firing", "acknowledged", "resolved")
STORE_DROP_RULE = "builtin.store_drops"


class FFAlertService:
    """Rules, alerts, channels and remediation over the ``alerts`` event log (replayed on start)."""

    def __init__(
        self,
        store: FFStreamStore,
        clock: FFClock,
        config: FFAnalyticsConfigDTO,
        hub: FFLifecycleHub,
        *,
        audit: Callable[..., None],
    ) -> None:
        cfg = config.alerting_config
        self.store = store
        self.clock = clock
        self._audit = audit
        self.channels = FFAlertChannels(cfg, clock)
        self.log = FFAlertLog(store)
        self.engine = FFAlertEngine(cfg, clock, sink=self.log.write, notifier=self.channels.deliver)
        self.remediation = FFAlertRemediation(clock, sink=self.log.write)
        self.engine.on_fire(self.remediation.on_fire)
        for rule in ff_builtin_rules(cfg):
            self.engine.add_rule(rule)
        try:
            self._replay = self.log.replay()
        except OSError as exc:  # an unreadable log must not stop the host; state starts empty
            logger.error("alert log replay failed: %s", exc)
            self._replay = FFAlertReplayDTO()
        r = self._replay
        self.engine.restore(r.alerts, r.last_notified, r.budget, r.fired_t)
        self._store_counts = (0, 0)  # the store counts from zero
        hub.add_close_hook(self.channels.close)
        hub.add_fork_hook(self._after_fork)

    def _after_fork(self) -> None:
        """Child of ``os.fork()``: the parent delivers its queued notifications; fresh worker here.
        Alert state is kept (what a restart would replay from the log)."""
        self.channels.after_fork()
        self._store_counts = (0, 0)

    # ------------------------------------------------------------------ evaluation
    def check_system_alerts(self, metrics: Any) -> None:
        """Evaluate the rules against one collection's ``FFSystemMetricsDTO`` (O(rules)), then the
        store's drop counters; the system service calls it at the end of every collection."""
        self.engine.evaluate(ff_metric_values(metrics))
        self._check_store()

    def _check_store(self) -> None:
        """Raise ``builtin.store_drops`` while the store drops records or fails writes; clear it after."""
        st = self.store.stats
        counts = (int(st.records_dropped), int(st.write_failures))
        prev = self._store_counts
        self._store_counts = counts
        dropped, failures = counts[0] - prev[0], counts[1] - prev[1]
        if dropped > 0 or failures > 0:
            self.engine.raise_alert(
                STORE_DROP_RULE, title="Analytics store is dropping records", severity="error",
                alert_type="error", component="analytics_store", metric_name="records_dropped",
                current_value=float(dropped), threshold_value=0.0,
                message=f"{dropped} record(s) dropped and {failures} write failure(s) since the last tick"
                        f" (last error: {st.last_error or 'none'})",
                recommended_actions=["Check free disk space and permissions of the analytics volume"],
            )
        else:
            self.engine.clear_alert(STORE_DROP_RULE, "analytics_store")

    def evaluate_window(self, rows: list[dict[str, Any]]) -> int:
        """Evaluate the rules on one instrument window's metric rows (the system engine's feed)."""
        return self.engine.evaluate(ff_instrument_values(rows))

    def evaluate_alerts(self, values: Mapping[Any, float]) -> int:
        """Evaluate rules on instrument-window values: ``{name: v}`` or ``{(name, component): v}``."""
        if not isinstance(values, Mapping):
            raise TypeError(f"values: expected a mapping, got {type(values).__name__}")
        clean: dict[Any, float] = {}
        for k, v in values.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise TypeError(f"values[{k!r}]: expected a number, got {type(v).__name__}")
            if not math.isfinite(v):  # NaN compares false: it would look like "condition cleared"
                raise ValueError(f"values[{k!r}]: must be a finite number, got {v!r}")
            if not isinstance(k, (str, tuple)) or (
                isinstance(k, tuple) and (len(k) != 2 or not all(isinstance(x, str) for x in k))
            ):
                raise TypeError(f"values: keys must be a metric name or (metric, component), got {k!r:.80}")
            clean[k] = float(v)
        return self.engine.evaluate(clean)

    def add_alert_rule(self, rule: FFAlertRuleDTO | Mapping[str, Any] | None = None, **fields: Any) -> FFAlertRuleDTO:
        """Add (or replace) a rule from a DTO, a mapping or keyword fields; ValueError names the field."""
        if rule is None:
            rule = FFAlertRuleDTO.from_dict(fields)
        elif isinstance(rule, Mapping):
            rule = FFAlertRuleDTO.from_dict({**rule, **fields})
        elif fields:
            raise TypeError("add_alert_rule: pass either a rule or keyword fields, not both")
        return self.engine.add_rule(rule)

    def remove_alert_rule(self, rule_id: str) -> bool:
        """Remove a rule by id; False when there is none (``ValueError`` for a non-str/empty id)."""
        return self.engine.remove_rule(rule_id)

    def list_alert_rules(self) -> list[FFAlertRuleDTO]:
        return sorted(self.engine.rules.values(), key=lambda r: r.rule_id)

    def raise_alert(
        self,
        rule_id: str,
        title: str,
        message: str = "",
        *,
        severity: str = "warning",
        alert_type: str = "anomaly",
        component: str = "",
        metric_name: str = "",
        current_value: float = 0.0,
        threshold_value: float = 0.0,
        labels: Mapping[str, str] | None = None,
        recommended_actions: Iterable[str] = (),
    ) -> Any:
        """Fire an alert for another domain (anomaly, store drops ...) with dedup/cooldown/budget."""
        return self.engine.raise_alert(
            rule_id, title=title, message=message, severity=severity, alert_type=alert_type,
            component=component, metric_name=metric_name, current_value=current_value,
            threshold_value=threshold_value, labels=labels, recommended_actions=recommended_actions,
        )

    def clear_alert(self, rule_id: str, component: str = "") -> bool:
        """Auto-resolve the alert a domain raised once its condition is gone."""
        return self.engine.clear_alert(rule_id, component)

    # ------------------------------------------------------------------ MonitoringProtocol
    async def get_active_alerts(self, severity: str | None = None) -> list:
        """Unresolved alerts (firing or acknowledged), most severe first."""
        return self.engine.active_alerts(severity)

    async def acknowledge_alert(self, alert_id: str, acknowledged_by: str) -> bool:
        ok = self.engine.acknowledge(alert_id, acknowledged_by)
        self._audit("alert_acknowledge", target=alert_id, outcome="success" if ok else "not_found",
                   actor=acknowledged_by if isinstance(acknowledged_by, str) else "unknown")
        return ok

    async def resolve_alert(self, alert_id: str, resolution_notes: str) -> bool:
        ok = self.engine.resolve(alert_id, resolution_notes)
        self._audit("alert_resolve", target=alert_id, outcome="success" if ok else "not_found")
        return ok

    def get_alert(self, alert_id: str) -> Any:
        if not isinstance(alert_id, str) or not alert_id:
            raise ValueError(f"alert_id: must be a non-empty string, got {alert_id!r:.80}")
        return self.engine.alerts.get(alert_id)

    async def get_alert_history(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        rule_id: str | None = None,
        severity: str | None = None,
        status: str | None = None,
        component: str | None = None,
        limit: int = 1000,
    ) -> list:
        """Alerts (last state) that had events in ``[start, end]``, newest first, read from the log."""
        if severity is not None and severity not in SEVERITY_RANK:
            raise ValueError(f"severity: must be one of {', '.join(SEVERITY_RANK)}, got {severity!r}")
        if status is not None and status not in _STATUSES:
            raise ValueError(f"status: must be one of {', '.join(_STATUSES)}, got {status!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit: must be an int >= 1, got {limit!r}")
        for name, v in (("start", start), ("end", end)):
            if v is not None and not isinstance(v, datetime):
                raise TypeError(f"{name}: expected datetime or None, got {type(v).__name__}")
        for name, v in (("rule_id", rule_id), ("component", component)):
            if v is not None and not isinstance(v, str):
                raise TypeError(f"{name}: expected str or None, got {type(v).__name__}")
        await self.store.aflush()
        snaps = await asyncio.to_thread(self.log.alert_snapshots, start, end)
        out = []
        for data in snaps.values():
            if rule_id is not None and data.get("rule_id") != rule_id:
                continue
            if severity is not None and data.get("severity") != severity:
                continue
            if status is not None and data.get("status") != status:
                continue
            if component is not None and data.get("affected_component") != component:
                continue
            out.append(ff_alert_from_dict(data))
        out.sort(key=lambda a: a.timestamp, reverse=True)
        return out[:limit]

    async def get_recovery_analytics(self, window_days: float = 7.0) -> dict[str, Any]:
        """MTTR, resolution distribution, success rates, trend and recommendations from the log."""
        if isinstance(window_days, bool) or not isinstance(window_days, (int, float)) or not 0 < window_days < math.inf:
            raise ValueError(f"window_days: must be a finite number > 0, got {window_days!r}")
        await self.store.aflush()
        now = self.clock.now()

        def build() -> dict[str, Any]:
            events = self.log.sorted_events()
            snaps: dict[str, dict[str, Any]] = {}
            runs = []
            for rec in events:
                if rec.get("event") == "remediation":
                    runs.append(rec)
                else:
                    ff_apply_alert_event(snaps, rec)
            return ff_recovery_analytics(snaps.values(), runs, now=now, window_days=float(window_days))

        return await asyncio.to_thread(build)

    # ------------------------------------------------------------------ remediation + channels
    def register_remediation(
        self,
        rule: str | FFAlertRuleDTO,
        action: Callable[[Any], Any],
        failure_threshold: int = 3,
        cooldown_s: float = 300.0,
        name: str | None = None,
    ) -> Any:
        """Run ``action(alert)`` once ``rule`` fired ``failure_threshold`` times, at most every ``cooldown_s``."""
        rule_id = rule.rule_id if isinstance(rule, FFAlertRuleDTO) else rule
        rem = self.remediation.register(rule_id, action, failure_threshold, cooldown_s, name)
        r = self._replay
        self.remediation.restore(rem, r.remediation_runs, r.fire_times_by_rule)
        return rem

    async def wait_alert_work(self, timeout: float = 10.0) -> bool:
        """Wait for remediation runs and queued channel deliveries (tests, shutdown)."""
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 <= timeout < math.inf:
            raise ValueError(f"timeout: must be a finite number >= 0, got {timeout!r}")
        await self.remediation.drain()
        return await asyncio.to_thread(self.channels.wait_idle, timeout)

    def alert_channel_status(self) -> list[dict[str, Any]]:
        """Per channel target: delivered/failed/retries, last error, healthy (used by health)."""
        return self.channels.channel_status()

    def alert_status(self) -> dict[str, Any]:
        """Engine counters, budget, channels and remediations (health / CLI)."""
        e = self.engine
        return {
            "rules": len(e.rules),
            "active_alerts": e.active_count,
            "stats": {n: getattr(e.stats, n) for n in e.stats.__slots__},
            "budget": e.budget_state(),
            "channels": self.channels.channel_status(),
            "remediations": self.remediation.status(),
            "log_events_dropped": self.log.dropped,
        }

