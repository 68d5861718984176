"""Record DTOs written to the analytics streams (seed 002 "Metrics and Analytics DTOs").

Ids come from :func:`ff_utils.ff_analytics_core.ff_ids.ff_new_id` (unique and time-ordered, unlike the seed's
``f"sys_{int(time.time()*1000)}"``), timestamps are UTC ISO-8601 (``2026-11-22T14:52:19.123456Z``).
The default timestamp is the system clock; code with an injectable clock passes ``timestamp=`` itself.
All DTOs are ``slots=True`` dataclasses that orjson serializes natively (``ff_dumps(dto)``);
``to_dict()`` is for callers that want a plain, independent dict.
"""

from __future__ import annotations

import dataclasses
import operator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ff_class_configs.ff_analytics_configs.ff_analytics_config import AggregationPeriod, AlertSeverity
from ff_utils.ff_analytics_core.ff_clock import ff_iso, ff_utc_now
from ff_utils.ff_analytics_core.ff_ids import ff_new_id

__all__ = [
    "current_timestamp",
    "ALERT_STATUSES",
    "FFRecordBase",
    "FFSystemMetricsDTO",
    "FFUserAnalyticsDTO",
    "FFBusinessIntelligenceDTO",
    "FFAnalyticsAlertDTO",
    "FFAuditEventDTO",
    "FFPrivacyEventDTO",
    "FFSecurityEventDTO",
]

ALERT_STATUSES = ("firing", "acknowledged", "resolved")


def current_timestamp() -> str:
    """Now (system clock) as UTC ISO-8601."""
    return ff_iso(ff_utc_now())


def _copy(v: Any) -> Any:
    if isinstance(v, list):
        return [_copy(x) for x in v]
    if isinstance(v, dict):
        return {k: _copy(x) for k, x in v.items()}
    return v


_FIELD_NAMES: dict[type, tuple[tuple[str, ...], Any]] = {}


def _fields_of(cls: type) -> tuple[tuple[str, ...], Any]:
    """(field names, attrgetter of all of them) for a record class (cached)."""
    entry = _FIELD_NAMES.get(cls)
    if entry is None:
        names = tuple(f.name for f in dataclasses.fields(cls))
        getter = operator.attrgetter(*names) if len(names) > 1 else (lambda o, n=names[0]: (getattr(o, n),))
        entry = (names, getter)
        _FIELD_NAMES[cls] = entry
    return entry


def _names(cls: type) -> tuple[str, ...]:
    return _fields_of(cls)[0]


class FFRecordBase:
    """``to_dict`` / ``from_dict`` for record dataclasses (works for slots subclasses too)."""

    __slots__ = ()
    STREAM: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """A plain dict with independent copies of lists and dicts."""
        names, getter = _fields_of(type(self))
        return {k: (_copy(v) if type(v) is list or type(v) is dict else v) for k, v in zip(names, getter(self), strict=True)}

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, ignore_unknown: bool = False) -> Any:
        """Rebuild from :meth:`to_dict` output (or a JSONL line); unknown keys raise ValueError naming them.

        Missing keys take their defaults. ``ignore_unknown=True`` drops keys the DTO does not know
        (for reading records written by a newer version).
        """
        if not isinstance(data, dict):
            raise TypeError(f"data: expected a dict, got {type(data).__name__}")
        names = _names(cls)
        unknown = [k for k in data if k not in names]
        if unknown and not ignore_unknown:
            raise ValueError(f"{cls.__name__}.from_dict: unknown key(s) {', '.join(map(str, unknown))}")
        return cls(**{k: _copy(v) for k, v in data.items() if k in names})


@dataclass(slots=True)
class FFSystemMetricsDTO(FFRecordBase):
    """System performance and health metrics (one collection tick)."""

    STREAM: ClassVar[str] = "performance"

    # Metric identification
    metric_id: str = field(default_factory=lambda: ff_new_id("sys"))
    timestamp: str = field(default_factory=current_timestamp)
    collection_period_seconds: int = 60

    # Performance metrics
    response_time_ms: float = 0.0
    throughput_requests_per_second: float = 0.0
    concurrent_users: int = 0
    active_sessions: int = 0

    # Resource utilization
    cpu_usage_percent: float = 0.0
    memory_usage_mb: float = 0.0
    memory_usage_percent: float = 0.0
    disk_usage_mb: float = 0.0
    disk_usage_percent: float = 0.0
    network_io_mbps: float = 0.0

    # System health
    error_count: int = 0
    warning_count: int = 0
    success_rate_percent: float = 100.0
    uptime_seconds: int = 0

    # Component status
    component_health: dict[str, str] = field(default_factory=dict)  # component -> status
    component_response_times: dict[str, float] = field(default_factory=dict)
    component_error_rates: dict[str, float] = field(default_factory=dict)

    # Quality metrics
    data_quality_score: float = 1.0
    system_reliability_score: float = 1.0
    user_satisfaction_score: float = 0.0

    # Extras (None = not measured in this tick, e.g. no requests or the probe is unavailable)
    writer_id: str = ""
    network_bytes_sent_per_s: float | None = None
    network_bytes_recv_per_s: float | None = None
    process_rss_mb: float | None = None
    process_open_files: int | None = None
    component_health_reasons: dict[str, str] = field(default_factory=dict)  # component -> why not healthy
    p95_response_time_ms: float | None = None
    p99_response_time_ms: float | None = None
    request_count: int = 0


@dataclass(slots=True)
class FFUserAnalyticsDTO(FFRecordBase):
    """User behavior and engagement analytics (user ids pseudonymized into ``user_hash``)."""

    # User identification (anonymized)
    user_hash: str = ""
    session_id: str = ""
    timestamp: str = field(default_factory=current_timestamp)

    # Session information
    session_duration_seconds: int = 0
    pages_viewed: int = 0
    features_used: list[str] = field(default_factory=list)
    actions_performed: int = 0

    # Behavior patterns
    interaction_frequency: float = 0.0  # actions per minute
    feature_adoption_rate: float = 0.0
    return_user: bool = False
    session_quality_score: float = 0.0

    # Engagement metrics
    time_to_first_action_seconds: int = 0
    bounce_rate: float = 0.0
    conversion_events: list[str] = field(default_factory=list)
    satisfaction_rating: int | None = None

    # Usage statistics
    messages_sent: int = 0
    documents_processed: int = 0
    tools_executed: int = 0
    searches_performed: int = 0

    # Context information
    user_agent: str = ""
    platform: str = ""
    language: str = ""
    timezone: str = ""

    # Privacy-safe demographics (aggregated)
    user_segment: str = ""  # "new", "returning", "power", "casual"
    usage_pattern: str = ""  # "exploration", "productivity", "research"


@dataclass(slots=True)
class FFBusinessIntelligenceDTO(FFRecordBase):
    """Business intelligence and insights data (computed from rollups)."""

    STREAM: ClassVar[str] = "usage_trends"

    # BI identification
    insight_id: str = field(default_factory=lambda: ff_new_id("bi"))
    timestamp: str = field(default_factory=current_timestamp)
    analysis_period: str = AggregationPeriod.DAY.value

    # Usage trends
    total_users: int = 0
    active_users: int = 0
    new_users: int = 0
    returning_users: int = 0
    user_growth_rate_percent: float = 0.0

    # Feature analytics
    most_used_features: list[dict[str, Any]] = field(default_factory=list)
    feature_adoption_rates: dict[str, float] = field(default_factory=dict)
    feature_abandonment_rates: dict[str, float] = field(default_factory=dict)

    # Performance insights
    peak_usage_hours: list[int] = field(default_factory=list)
    average_session_duration_minutes: float = 0.0
    user_satisfaction_trends: list[float] = field(default_factory=list)

    # Capacity planning
    projected_growth_30_days: float = 0.0
    resource_utilization_trends: dict[str, list[float]] = field(default_factory=dict)
    scaling_recommendations: list[str] = field(default_factory=list)

    # Optimization insights
    performance_bottlenecks: list[str] = field(default_factory=list)
    cost_optimization_opportunities: list[str] = field(default_factory=list)
    user_experience_improvements: list[str] = field(default_factory=list)

    # Business metrics
    roi_indicators: dict[str, float] = field(default_factory=dict)
    cost_per_user: float = 0.0
    revenue_per_user: float = 0.0
    churn_risk_indicators: list[str] = field(default_factory=list)


@dataclass(slots=True)
class FFAnalyticsAlertDTO(FFRecordBase):
    """Alert notification for monitoring system."""

    STREAM: ClassVar[str] = "alerts"

    # Alert identification
    alert_id: str = field(default_factory=lambda: ff_new_id("alert"))
    timestamp: str = field(default_factory=current_timestamp)
    severity: str = AlertSeverity.INFO.value

    # Alert content
    alert_type: str = ""  # "performance", "error", "security", "capacity"
    title: str = ""
    message: str = ""
    affected_component: str = ""

    # Metric context
    metric_name: str = ""
    current_value: float = 0.0
    threshold_value: float = 0.0
    historical_context: dict[str, Any] = field(default_factory=dict)

    # Alert management
    acknowledged: bool = False
    resolved: bool = False
    escalated: bool = False
    assigned_to: str | None = None

    # Action recommendations
    recommended_actions: list[str] = field(default_factory=list)
    remediation_steps: list[str] = field(default_factory=list)
    documentation_links: list[str] = field(default_factory=list)

    # Resolution tracking
    resolution_time_seconds: int | None = None
    resolution_notes: str = ""
    prevented_incidents: int = 0

    # Lifecycle (extras)
    rule_id: str = ""
    status: str = "firing"  # one of ALERT_STATUSES
    acknowledged_by: str | None = None
    acknowledged_at: str | None = None
    resolved_at: str | None = None
    fingerprint: str = ""  # rule + component: one open alert per fingerprint
    flapping: bool = False
    notification_count: int = 0


@dataclass(slots=True)
class FFAuditEventDTO(FFRecordBase):
    """One audit-trail entry (who did what to which target, and how it ended)."""

    STREAM: ClassVar[str] = "audit_logs"

    event_id: str = field(default_factory=lambda: ff_new_id("audit"))
    timestamp: str = field(default_factory=current_timestamp)
    actor: str = "system"
    action: str = ""
    target: str = ""
    outcome: str = "success"
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class FFPrivacyEventDTO(FFRecordBase):
    """A privacy-relevant event (consent change, opt-out, export, erasure); users only as ``user_hash``."""

    STREAM: ClassVar[str] = "privacy_events"

    event_id: str = field(default_factory=lambda: ff_new_id("priv"))
    timestamp: str = field(default_factory=current_timestamp)
    kind: str = ""
    user_hash: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class FFSecurityEventDTO(FFRecordBase):
    """A security-relevant event (key problem, tamper detected, path rejected, ...)."""

    STREAM: ClassVar[str] = "security_events"

    event_id: str = field(default_factory=lambda: ff_new_id("sec"))
    timestamp: str = field(default_factory=current_timestamp)
    kind: str = ""
    severity: str = AlertSeverity.WARNING.value
    source: str = ""
    details: dict[str, Any] = field(default_factory=dict)
