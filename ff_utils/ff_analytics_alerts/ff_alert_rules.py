"""Alert rules: the rule DTO, its validation, the built-in rules and metric extraction from a tick."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ff_utils.ff_analytics_system.ff_health_checks import THRESHOLD_COMPARISON

__all__ = [
    "COMPARISONS",
    "COMPONENT_METRICS",
    "SEVERITIES",
    "SEVERITY_RANK",
    "FFAlertRuleDTO",
    "ff_builtin_rules",
    "ff_clear_threshold",
    "ff_instrument_values",
    "ff_metric_values",
    "ff_raise_severity",
]

SEVERITIES: tuple[str, ...] = ("info", "warning", "error", "critical")
SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
# metric names a tick provides once per component (component -> value maps of FFSystemMetricsDTO)
COMPONENT_METRICS: dict[str, str] = {
    "component_response_time_ms": "component_response_times",
    "component_error_rate_percent": "component_error_rates",
}
# system metric names a tick provides for the whole system ("" component)
SYSTEM_METRICS: tuple[str, ...] = (
    "error_rate_percent",
    "response_time_ms",
    "cpu_usage_percent",
    "memory_usage_percent",
    "disk_usage_percent",
    "throughput_requests_per_second",
    "concurrent_users",
    "active_sessions",
    "error_count",
    "warning_count",
    "success_rate_percent",
    "network_io_mbps",
    "memory_usage_mb",
    "disk_usage_mb",
    "data_quality_score",
    "system_reliability_score",
)
_ID_RE = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")
_METRIC_RE = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")


def ff_raise_severity(severity: str) -> str:
    """The next severity up (critical stays critical)."""
    rank = SEVERITY_RANK.get(severity, 1)
    return SEVERITIES[min(rank + 1, len(SEVERITIES) - 1)]


@dataclass(slots=True)
class FFAlertRuleDTO:
    """One alert rule: ``metric comparison threshold`` held for ``for_seconds``.

    ``metric`` is a system metric field (``cpu_usage_percent``, ``error_rate_percent`` ...), a
    per-component metric (``component_response_time_ms``, ``component_error_rate_percent``) or an
    instrument/metric name passed to ``evaluate_alerts``. With ``rate_window_seconds > 0`` the
    rule compares the rate of change per second over that window instead of the value.
    ``component`` empty means "any component" (one alert per component that breaches).
    ``hysteresis_percent`` None uses the config's ``alert_hysteresis_percent``.
    """

    rule_id: str
    metric: str
    threshold: float
    comparison: str = ">"
    for_seconds: float = 0.0
    rate_window_seconds: float = 0.0
    severity: str = "warning"
    labels: dict[str, str] = field(default_factory=dict)
    component: str = ""
    alert_type: str = "performance"
    title: str = ""
    description: str = ""
    recommended_actions: list[str] = field(default_factory=list)
    hysteresis_percent: float | None = None
    enabled: bool = True
    builtin: bool = False

    def validate(self) -> None:
        """Raise ``ValueError``/``TypeError`` naming the first bad field."""
        if not isinstance(self.rule_id, str) or not _ID_RE.fullmatch(self.rule_id):
            raise ValueError(f"rule_id: must match [A-Za-z0-9_.:-]{{1,128}}, got {self.rule_id!r}")
        if not isinstance(self.metric, str) or not _METRIC_RE.fullmatch(self.metric):
            raise ValueError(f"metric: must be a metric name [A-Za-z0-9_.:-]{{1,128}}, got {self.metric!r}")
        if self.comparison not in COMPARISONS:
            raise ValueError(f"comparison: must be one of {' '.join(COMPARISONS)}, got {self.comparison!r}")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, (int, float)):
            raise TypeError(f"threshold: must be a number, got {type(self.threshold).__name__}")
        if not math.isfinite(self.threshold):
            raise ValueError(f"threshold: must be finite, got {self.threshold!r}")
        for name in ("for_seconds", "rate_window_seconds"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{name}: must be a finite number >= 0, got {v!r}")
        if self.severity not in SEVERITY_RANK:
            raise ValueError(f"severity: must be one of {', '.join(SEVERITIES)}, got {self.severity!r}")
        if not isinstance(self.labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.labels.items()
        ):
            raise ValueError("labels: must be a dict of str -> str")
        if len(self.labels) > 32 or any(len(k) > 128 or len(v) > 256 for k, v in self.labels.items()):
            raise ValueError("labels: at most 32 labels, keys of at most 128 and values of at most 256 characters")
        for name, limit in (("title", 256), ("description", 4096)):
            v = getattr(self, name)
            if not isinstance(v, str):
                raise TypeError(f"{name}: expected str, got {type(v).__name__}")
            if len(v) > limit:
                raise ValueError(f"{name}: at most {limit} characters, got {len(v)}")
        if not isinstance(self.component, str) or len(self.component) > 128:
            raise ValueError(f"component: must be a string of at most 128 characters, got {self.component!r}")
        if not isinstance(self.alert_type, str) or not 1 <= len(self.alert_type) <= 64:
            raise ValueError(f"alert_type: must be a string of 1..64 characters, got {self.alert_type!r:.80}")
        if self.hysteresis_percent is not None and (
            isinstance(self.hysteresis_percent, bool)
            or not isinstance(self.hysteresis_percent, (int, float))
            or not 0 <= self.hysteresis_percent <= 100
        ):
            raise ValueError(f"hysteresis_percent: must be None or within [0, 100], got {self.hysteresis_percent!r}")
        if not isinstance(self.recommended_actions, list):
            raise ValueError("recommended_actions: must be a list of strings")
        if len(self.recommended_actions) > 32 or not all(
            isinstance(a, str) and len(a) <= 1024 for a in self.recommended_actions
        ):
            raise ValueError("recommended_actions: at most 32 strings of at most 1024 characters each")

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FFAlertRuleDTO:
        """Build and validate a rule from a mapping (unknown keys raise ``ValueError``)."""
        if not isinstance(data, Mapping):
            raise TypeError(f"rule: expected a mapping, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"rule: unknown field(s) {', '.join(unknown)}")
        for required in ("rule_id", "metric", "threshold"):
            if required not in data:
                raise ValueError(f"{required}: required")
        rule = cls(**dict(data))
        rule.validate()
        return rule


def ff_clear_threshold(rule: FFAlertRuleDTO, hysteresis_percent: float) -> Callable[[float], bool]:
    """Predicate "the condition has cleared", with the hysteresis band applied.

    For ``>``/``>=`` the value must fall below ``threshold - |threshold| * h%`` (``<`` mirrors it),
    so a value hovering at the threshold keeps an alert open instead of resolving and re-firing.
    """
    h = rule.hysteresis_percent if rule.hysteresis_percent is not None else hysteresis_percent
    t = float(rule.threshold)
    band = abs(t) * h / 100.0
    c = rule.comparison
    if c in (">", ">="):
        lim = t - band
        return (lambda v: v < lim) if band > 0 or c == ">=" else (lambda v: v <= lim)
    if c in ("<", "<="):
        lim = t + band
        return (lambda v: v > lim) if band > 0 or c == "<=" else (lambda v: v >= lim)
    if c == "==":
        return (lambda v: abs(v - t) > band) if band > 0 else (lambda v: v != t)
    return (lambda v: abs(v - t) <= band) if band > 0 else (lambda v: v == t)  # "!="


def ff_builtin_rules(alerting_config: Any) -> list[FFAlertRuleDTO]:
    """The rules the alerting config implies (seed ``_check_system_alerts`` plus response/error rate).

    A threshold configured as ``None`` or <= 0 disables its rule. Component rules use the same
    thresholds per component (``component_error_rates`` are taken as percent).
    """
    specs = [
        ("builtin.error_rate", "error_rate_percent", "error_rate_threshold_percent", 5.0, "error", "error",
         "Error rate above threshold", ["Check recent deployments and failing components"]),
        ("builtin.response_time", "response_time_ms", "response_time_threshold_ms", 5000.0, "warning",
         "performance", "Response time above threshold", ["Look for slow components and saturation"]),
        ("builtin.cpu_usage", "cpu_usage_percent", "cpu_usage_threshold_percent", 90.0, "warning",
         "performance", "CPU usage above threshold", ["Scale out or find hot code paths"]),
        ("builtin.memory_usage", "memory_usage_percent", "memory_usage_threshold_percent", 85.0, "warning",
         "performance", "Memory usage above threshold", ["Check for leaks and cache sizes"]),
        ("builtin.disk_usage", "disk_usage_percent", "disk_usage_threshold_percent", 90.0, "error",
         "capacity", "Disk usage above threshold", ["Run retention cleanup or grow the volume"]),
        ("builtin.component_response_time", "component_response_time_ms", "response_time_threshold_ms",
         5000.0, "warning", "performance", "Component response time above threshold",
         ["Inspect the slow component"]),
        ("builtin.component_error_rate", "component_error_rate_percent", "error_rate_threshold_percent",
         5.0, "error", "error", "Component error rate above threshold", ["Inspect the failing component"]),
    ]
    rules = []
    for rule_id, metric, cfg_field, default, severity, alert_type, title, actions in specs:
        threshold = getattr(alerting_config, cfg_field, default)
        if threshold is None or threshold <= 0:
            continue
        rule = FFAlertRuleDTO(
            rule_id=rule_id,
            metric=metric,
            threshold=float(threshold),
            comparison=THRESHOLD_COMPARISON,
            severity=severity,
            alert_type=alert_type,
            title=title,
            description=f"{metric} > {cfg_field} ({threshold})",
            recommended_actions=list(actions),
            builtin=True,
        )
        rule.validate()
        rules.append(rule)
    return rules


def ff_metric_values(metrics: Any) -> dict[tuple[str, str], float]:
    """``{(metric, component): value}`` of one collection tick (``""`` = the whole system).

    ``error_rate_percent`` is ``100 - success_rate_percent``; per-component maps become
    ``component_response_time_ms`` / ``component_error_rate_percent`` per component. Missing or
    non-numeric fields are skipped (no data means no evaluation, not a zero).
    """
    get = metrics.get if isinstance(metrics, Mapping) else (lambda k, d=None: getattr(metrics, k, d))
    out: dict[tuple[str, str], float] = {}
    for name in SYSTEM_METRICS:
        if name == "error_rate_percent":
            continue
        v = get(name, None)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[(name, "")] = float(v)
    sr = get("success_rate_percent", None)
    if isinstance(sr, (int, float)) and not isinstance(sr, bool):
        out[("error_rate_percent", "")] = 100.0 - float(sr)
    for metric, field_name in COMPONENT_METRICS.items():
        per = get(field_name, None)
        if isinstance(per, Mapping):
            for comp, v in per.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    out[(metric, str(comp))] = float(v)
    return out


def ff_instrument_values(rows: Any) -> dict[tuple[str, str], float]:
    """``{(metric, component): value}`` of one instrument window (``FFWindowSnapshotDTO.metrics`` rows).

    Gauges give their last ``value``, counters their window total, rates ``rate_per_s``; histograms
    and timers give the mean as ``name`` plus ``name.p95``, ``name.p99``, ``name.max`` and
    ``name.count``. The component is the row's ``component`` label ("" without one).
    """
    out: dict[tuple[str, str], float] = {}
    for row in rows or ():
        if not isinstance(row, Mapping) or not isinstance(row.get("name"), str):
            continue
        name = row["name"]
        labels = row.get("labels") or {}
        comp = str(labels.get("component", "")) if isinstance(labels, Mapping) else ""
        kind = row.get("metric_kind")
        if kind == "rate":
            pairs = [(name, row.get("rate_per_s"))]
        elif kind in ("gauge", "counter"):
            pairs = [(name, row.get("value"))]
        else:
            pairs = [(name, row.get("mean"))] + [(f"{name}.{k}", row.get(k)) for k in ("p95", "p99", "max", "count")]
        for metric, v in pairs:
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                out[(metric, comp)] = float(v)
    return out
