"""Analytics, privacy, alerting and storage-tuning configuration (seed 002 "Analytics Configuration DTO").

Every field of the seed is here with the seed's default, plus what the stream store, the privacy
pipeline, the alerting engine and the analysis engines need. All DTOs are plain (mutable) dataclasses
that refuse to be constructed invalid: ``__post_init__`` raises one :class:`FFConfigError` naming every
bad field (nested sections by path); :meth:`validate` reports the problems of an object mutated after
construction as ``"field.path: why"``. See ``docs/configuration.md``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from enum import Enum, StrEnum

from ff_class_configs.ff_analytics_configs.ff_analytics_base_config import (
    FFConfigBase,
    FFConfigError,
    FFFieldCheck,
)

__all__ = [
    "AnalyticsLevel",
    "AggregationPeriod",
    "AlertSeverity",
    "FsyncPolicy",
    "BufferFullPolicy",
    "ReportFormat",
    "FFConfigError",
    "FFAnalyticsPrivacyConfigDTO",
    "FFAnalyticsAlertingConfigDTO",
    "FFAnalyticsConfigDTO",
    "LOG_LEVEL_NAMES",
]


class AnalyticsLevel(StrEnum):
    """Analytics collection levels."""

    MINIMAL = "minimal"  # basic system health only
    STANDARD = "standard"  # standard metrics and user analytics
    DETAILED = "detailed"  # comprehensive analytics with BI
    FULL = "full"  # all metrics including detailed debugging


class AggregationPeriod(StrEnum):
    """Data aggregation time periods."""

    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class AlertSeverity(StrEnum):
    """Alert severity levels."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class FsyncPolicy(StrEnum):
    """When the stream store calls ``fsync``."""

    ALWAYS = "always"  # every append is written and fsynced before it returns (slowest, no loss window)
    BATCH = "batch"  # group commit: one write() + fsync per batch (size, max delay, flush(), close)
    NEVER = "never"  # one write() per batch, no fsync: the OS decides (loses the tail on power loss)


class BufferFullPolicy(StrEnum):
    """What ``append`` does when a stream's buffer holds ``max_buffered_records`` (e.g. disk full)."""

    DROP = "drop"  # drop the record and count it (never blocks the host)
    BLOCK = "block"  # wait up to block_timeout_seconds for room, then drop and count


class ReportFormat(StrEnum):
    """Output formats of generated reports."""

    JSON = "json"
    CSV = "csv"


LOG_LEVEL_NAMES = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_ENV_VAR_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WRITER_RE = re.compile(r"[A-Za-z0-9_.\-]{1,128}")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+")
_URL_RE = re.compile(r"https?://[^\s/?#]+\S*", re.IGNORECASE)


CATEGORY_STREAMS: dict[str, tuple[str, ...]] = {
    "system_metrics": ("performance", "health_checks", "resource_usage", "error_rates", "alerts"),
    "user_analytics": ("behavior_patterns", "feature_usage", "session_analytics", "engagement_metrics"),
    "business_intelligence": (
        "usage_trends",
        "optimization_insights",
        "capacity_planning",
        "roi_analytics",
        "rollups",
    ),
    "compliance": ("audit_logs", "privacy_events", "security_events"),
}
"""The store's streams by category (directory layout ``<category>/<stream>/date=.../``)."""
STREAM_NAMES: tuple[str, ...] = tuple(s for streams in CATEGORY_STREAMS.values() for s in streams)


USER_EVENT_STREAMS = ("session_analytics", "feature_usage", "engagement_metrics", "behavior_patterns")
_CUSTOM_EVENT_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")


def _values(enum: type[Enum]) -> list[str]:
    return [m.value for m in enum]


@dataclass
class FFAnalyticsPrivacyConfigDTO(FFConfigBase):
    """Privacy configuration for analytics collection."""

    # Data anonymization
    anonymize_user_data: bool = True
    hash_user_identifiers: bool = True
    exclude_sensitive_content: bool = True

    # Data retention (days). raw: system_metrics + user_analytics streams; aggregated:
    # business_intelligence streams (rollups, reports); compliance: compliance streams.
    raw_data_retention_days: int = 30
    aggregated_data_retention_days: int = 365
    compliance_data_retention_days: int = 2555  # 7 years

    # Privacy controls
    allow_user_opt_out: bool = True
    require_explicit_consent: bool = False
    honor_do_not_track: bool = True

    # Data sharing
    enable_external_analytics: bool = False
    allowed_external_services: list[str] = field(default_factory=list)
    data_export_restrictions: list[str] = field(default_factory=list)

    # Pseudonymization keys (kept outside the analytics tree)
    key_file: str = ""  # "" = <base_path>/keys/pseudonym.key
    key_env_var: str = "FF_ANALYTICS_PSEUDONYM_KEY"  # env var holding the key; wins over key_file
    audit_key_file: str = ""  # "" = <base_path>/keys/audit.key
    # Raw user ids are stored only if this is True AND anonymize_user_data/hash_user_identifiers are False.
    store_raw_identifiers: bool = False

    # Privacy-safe user segments (sessions in the lookback window)
    user_segment_power_min_sessions: int = 20
    user_segment_casual_max_sessions: int = 3

    def _check(self, c: FFFieldCheck) -> None:
        for name in ("raw_data_retention_days", "aggregated_data_retention_days", "compliance_data_retention_days"):
            c.at_least(name, 1)
        if c.ok("raw_data_retention_days", "aggregated_data_retention_days"):
            if self.raw_data_retention_days > self.aggregated_data_retention_days:
                c.err(
                    "raw_data_retention_days",
                    f"({self.raw_data_retention_days}) must not exceed aggregated_data_retention_days "
                    f"({self.aggregated_data_retention_days}): rollups are rebuilt from raw data",
                )
        if c.ok("aggregated_data_retention_days", "compliance_data_retention_days"):
            if self.aggregated_data_retention_days > self.compliance_data_retention_days:
                c.err(
                    "aggregated_data_retention_days",
                    f"({self.aggregated_data_retention_days}) must not exceed compliance_data_retention_days "
                    f"({self.compliance_data_retention_days})",
                )
        if c.ok("key_env_var") and not _ENV_VAR_RE.fullmatch(self.key_env_var):
            c.err("key_env_var", f"must be an environment variable name, got {self.key_env_var!r}")
        for name in ("key_file", "audit_key_file"):
            if c.ok(name) and "\x00" in c.get(name):
                c.err(name, "must not contain NUL")
        if c.ok("store_raw_identifiers", "anonymize_user_data", "hash_user_identifiers") and self.store_raw_identifiers:
            if self.anonymize_user_data:
                c.err("store_raw_identifiers", "true requires anonymize_user_data=false")
            elif self.hash_user_identifiers:
                c.err("store_raw_identifiers", "true requires hash_user_identifiers=false")
        for name in ("allowed_external_services", "data_export_restrictions"):
            if c.ok(name):
                for i, v in enumerate(c.get(name)):
                    if not v.strip():
                        c.err(f"{name}[{i}]", "must not be empty")
        c.at_least("user_segment_casual_max_sessions", 0)
        c.at_least("user_segment_power_min_sessions", 1)
        if c.ok("user_segment_power_min_sessions", "user_segment_casual_max_sessions"):
            if self.user_segment_power_min_sessions <= self.user_segment_casual_max_sessions:
                c.err(
                    "user_segment_power_min_sessions",
                    f"({self.user_segment_power_min_sessions}) must be greater than "
                    f"user_segment_casual_max_sessions ({self.user_segment_casual_max_sessions})",
                )


@dataclass
class FFAnalyticsAlertingConfigDTO(FFConfigBase):
    """Alerting configuration for monitoring."""

    # Alert thresholds
    error_rate_threshold_percent: float = 5.0
    response_time_threshold_ms: float = 5000.0
    memory_usage_threshold_percent: float = 85.0
    disk_usage_threshold_percent: float = 90.0

    # Alert frequency
    alert_cooldown_minutes: int = 15
    max_alerts_per_hour: int = 10
    escalation_delay_minutes: int = 30

    # Alert channels
    enable_email_alerts: bool = False
    enable_webhook_alerts: bool = False
    enable_log_alerts: bool = True

    # Alert targets
    email_recipients: list[str] = field(default_factory=list)
    webhook_urls: list[str] = field(default_factory=list)
    alert_log_level: str = "WARNING"

    # Extra thresholds and rule behaviour
    cpu_usage_threshold_percent: float = 90.0
    alert_hysteresis_percent: float = 5.0  # resolve only when the value is this % back inside the threshold

    # Channel settings
    webhook_timeout_seconds: float = 5.0
    webhook_max_retries: int = 3
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_sender: str = "ff-analytics@localhost"
    smtp_timeout_seconds: float = 10.0
    smtp_use_starttls: bool = False

    webhook_retry_backoff_seconds: float = 0.5  # first retry delay, doubled per retry
    smtp_username: str = ""  # "" = no SMTP login
    smtp_password_env: str = ""  # name of the env var holding the SMTP password (never the password)

    # Flapping detection: >= flap_threshold_changes state changes in the last flap_window_evaluations
    flap_window_evaluations: int = 10
    flap_threshold_changes: int = 4

    @property
    def alert_log_level_number(self) -> int:
        """``alert_log_level`` as a :mod:`logging` level number (WARNING if unknown)."""
        level = logging.getLevelName(str(self.alert_log_level).upper())
        return level if isinstance(level, int) else logging.WARNING

    def _check(self, c: FFFieldCheck) -> None:
        for name in (
            "error_rate_threshold_percent",
            "memory_usage_threshold_percent",
            "disk_usage_threshold_percent",
            "cpu_usage_threshold_percent",
        ):
            c.between(name, 0.0, 100.0, lo_open=True)
        c.positive("response_time_threshold_ms")
        c.at_least("alert_cooldown_minutes", 0)
        c.at_least("max_alerts_per_hour", 1)
        c.at_least("escalation_delay_minutes", 0)
        if c.ok("alert_log_level") and self.alert_log_level.upper() not in LOG_LEVEL_NAMES:
            c.err(
                "alert_log_level",
                f"unknown logging level {self.alert_log_level!r}; expected one of {', '.join(LOG_LEVEL_NAMES)}",
            )
        if c.ok("email_recipients"):
            for i, addr in enumerate(self.email_recipients):
                if not _EMAIL_RE.fullmatch(addr):
                    c.err(f"email_recipients[{i}]", f"not an email address (local@domain): {addr!r}")
            if c.ok("enable_email_alerts") and self.enable_email_alerts and not self.email_recipients:
                c.err("email_recipients", "must not be empty when enable_email_alerts is true")
        if c.ok("webhook_urls"):
            for i, url in enumerate(self.webhook_urls):
                if not _URL_RE.fullmatch(url):
                    c.err(f"webhook_urls[{i}]", f"must be an http:// or https:// URL with a host, got {url!r}")
            if c.ok("enable_webhook_alerts") and self.enable_webhook_alerts and not self.webhook_urls:
                c.err("webhook_urls", "must not be empty when enable_webhook_alerts is true")
        c.between("alert_hysteresis_percent", 0.0, 99.0)
        c.positive("webhook_timeout_seconds")
        c.at_least("webhook_max_retries", 0)
        c.at_least("webhook_retry_backoff_seconds", 0)
        if c.ok("smtp_password_env") and self.smtp_password_env and not _ENV_VAR_RE.fullmatch(self.smtp_password_env):
            c.err("smtp_password_env", f"must be empty or an environment variable name, got {self.smtp_password_env!r}")
        if c.ok("smtp_host") and not self.smtp_host.strip():
            c.err("smtp_host", "must not be empty")
        c.between("smtp_port", 1, 65535)
        if c.ok("smtp_sender") and not _EMAIL_RE.fullmatch(self.smtp_sender):
            c.err("smtp_sender", f"not an email address (local@domain): {self.smtp_sender!r}")
        c.positive("smtp_timeout_seconds")
        c.at_least("flap_window_evaluations", 2)
        c.at_least("flap_threshold_changes", 1)
        if c.ok("flap_window_evaluations", "flap_threshold_changes"):
            if self.flap_threshold_changes > self.flap_window_evaluations:
                c.err(
                    "flap_threshold_changes",
                    f"({self.flap_threshold_changes}) must not exceed flap_window_evaluations "
                    f"({self.flap_window_evaluations})",
                )


@dataclass
class FFAnalyticsConfigDTO(FFConfigBase):
    """Configuration for analytics and monitoring system."""

    # Collection settings
    analytics_level: str = AnalyticsLevel.STANDARD.value
    collection_interval_seconds: int = 60
    enable_real_time_metrics: bool = True

    # Data aggregation
    aggregation_periods: list[str] = field(
        default_factory=lambda: [AggregationPeriod.HOUR.value, AggregationPeriod.DAY.value, AggregationPeriod.WEEK.value]
    )
    aggregation_delay_minutes: int = 5

    # Performance monitoring
    enable_performance_monitoring: bool = True
    track_response_times: bool = True
    track_resource_usage: bool = True
    track_error_rates: bool = True

    # User analytics
    enable_user_analytics: bool = True
    track_user_behavior: bool = True
    track_feature_usage: bool = True
    track_session_quality: bool = True
    custom_event_streams: list[str] = field(default_factory=list)
    """``"event_name=stream"`` pairs: the user stream a free-form event goes to (else behavior_patterns)."""

    # Business intelligence
    enable_business_intelligence: bool = True
    generate_usage_reports: bool = True
    enable_trend_analysis: bool = True
    enable_predictive_analytics: bool = False

    # Privacy and compliance
    privacy_config: FFAnalyticsPrivacyConfigDTO = field(default_factory=FFAnalyticsPrivacyConfigDTO)
    alerting_config: FFAnalyticsAlertingConfigDTO = field(default_factory=FFAnalyticsAlertingConfigDTO)

    # Storage optimization
    enable_data_compression: bool = True
    compression_age_days: int = 7
    enable_data_sampling: bool = False
    sampling_rate: float = 1.0

    # Reporting
    generate_daily_reports: bool = True
    generate_weekly_reports: bool = True
    generate_monthly_reports: bool = True
    report_output_formats: list[str] = field(default_factory=lambda: ["json", "csv"])

    # Stream store (durability and back-pressure)
    fsync_policy: str = FsyncPolicy.BATCH.value
    write_batch_size: int = 1000
    write_max_delay_seconds: float = 1.0
    max_buffered_records: int = 100_000
    buffer_full_policy: str = BufferFullPolicy.DROP.value
    # per-stream exceptions to buffer_full_policy (compliance events wait for room by default)
    buffer_full_block_streams: list[str] = field(default_factory=lambda: ["privacy_events", "security_events"])
    buffer_full_drop_streams: list[str] = field(default_factory=list)
    block_timeout_seconds: float = 0.05
    free_space_reserve_mb: int = 64
    writer_id: str = ""  # "" = derived from host, pid and start time

    # Maintenance and compliance
    cleanup_interval_seconds: int = 3600
    min_cell_size: int = 5  # k-anonymity: aggregates over fewer users are suppressed in reports
    audit_checkpoint_every: int = 1000

    # Business metrics inputs (None = not configured; the derived figures stay empty)
    infrastructure_cost_per_day_usd: float | None = None
    revenue_per_active_user_usd: float | None = None
    cost_per_event_usd: float | None = None

    # Analysis engines
    pattern_min_occurrences: int = 3
    pattern_confidence_threshold: float = 0.6
    pattern_history_size: int = 10_000
    anomaly_z_threshold: float = 3.0
    regression_threshold_percent: float = 20.0
    consent_refresh_seconds: float = 2.0
    enable_analysis_jobs: bool = False  # opt in: periodic anomaly scan, capacity forecast, pattern learning

    # Rollup sketches
    rollup_relative_accuracy: float = 0.01  # quantile sketch relative error of rollup percentiles
    distinct_exact_limit: int = 1 << 20  # distinct-user counts are exact up to this many keys, then HLL
    # Where the store lives when the manager is given a host's root config or this config alone:
    # "" = the analytics manager root config's storage.base_path, else "analytics_data" (see
    # docs/configuration.md, "Embedded in a host's configuration").
    store_base_path: str = ""

    def _check(self, c: FFFieldCheck) -> None:
        c.choice("analytics_level", _values(AnalyticsLevel))
        c.positive("collection_interval_seconds")
        c.each_choice("aggregation_periods", _values(AggregationPeriod))
        c.at_least("aggregation_delay_minutes", 0)
        c.at_least("compression_age_days", 1)
        c.between("sampling_rate", 0.0, 1.0)
        c.each_choice("report_output_formats", _values(ReportFormat))
        if c.ok("report_output_formats") and not self.report_output_formats:
            wants = [
                n
                for n in ("generate_daily_reports", "generate_weekly_reports", "generate_monthly_reports")
                if getattr(self, n) is True
            ]
            if wants:
                c.err("report_output_formats", f"must not be empty while {', '.join(wants)} is true")
        c.choice("fsync_policy", _values(FsyncPolicy))
        c.at_least("write_batch_size", 1)
        c.at_least("write_max_delay_seconds", 0)
        c.at_least("max_buffered_records", 1)
        if c.ok("max_buffered_records", "write_batch_size") and self.max_buffered_records < self.write_batch_size:
            c.err(
                "max_buffered_records",
                f"({self.max_buffered_records}) must be >= write_batch_size ({self.write_batch_size})",
            )
        c.choice("buffer_full_policy", _values(BufferFullPolicy))
        c.each_choice("buffer_full_block_streams", STREAM_NAMES)
        c.each_choice("buffer_full_drop_streams", STREAM_NAMES)
        if c.ok("buffer_full_block_streams", "buffer_full_drop_streams"):
            both = sorted(set(self.buffer_full_block_streams) & set(self.buffer_full_drop_streams))
            if both:
                c.err("buffer_full_drop_streams", f"{both} also listed in buffer_full_block_streams")
        c.at_least("block_timeout_seconds", 0)
        c.at_least("free_space_reserve_mb", 0)
        if c.ok("writer_id") and self.writer_id and not _WRITER_RE.fullmatch(self.writer_id):
            c.err("writer_id", f"must be empty or match ^[A-Za-z0-9_.-]{{1,128}}$, got {self.writer_id!r}")
        c.positive("cleanup_interval_seconds")
        c.at_least("min_cell_size", 1)
        c.at_least("audit_checkpoint_every", 1)
        for name in ("infrastructure_cost_per_day_usd", "revenue_per_active_user_usd", "cost_per_event_usd"):
            c.at_least(name, 0)
        c.at_least("pattern_min_occurrences", 1)
        c.between("pattern_confidence_threshold", 0.0, 1.0)
        c.at_least("pattern_history_size", 1)
        c.positive("anomaly_z_threshold")
        c.positive("regression_threshold_percent")
        c.at_least("consent_refresh_seconds", 0)
        if c.ok("rollup_relative_accuracy") and not 0.0 < self.rollup_relative_accuracy < 1.0:
            c.err("rollup_relative_accuracy", f"must be in (0, 1), got {self.rollup_relative_accuracy!r}")
        c.at_least("distinct_exact_limit", 0)
        if c.ok("custom_event_streams"):
            for pair in self.custom_event_streams:
                name, sep, stream = pair.partition("=")
                if not sep or not _CUSTOM_EVENT_RE.fullmatch(name) or stream not in USER_EVENT_STREAMS:
                    c.err("custom_event_streams", f"{pair[:80]!r}: expected 'event_name=stream' with event_name "
                          f"matching ^[a-z][a-z0-9_]{{0,63}}$ and stream one of {list(USER_EVENT_STREAMS)}")
                    break
        if c.ok("store_base_path") and "\x00" in self.store_base_path:
            c.err("store_base_path", "must not contain NUL")

    @property
    def analytics_level_enum(self) -> AnalyticsLevel:
        """``analytics_level`` as the enum (raises ValueError on an unknown level)."""
        return AnalyticsLevel(self.analytics_level)
