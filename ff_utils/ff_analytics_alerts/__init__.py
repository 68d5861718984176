"""Alerting: rules, the alert engine (raise/escalate/clear with hysteresis), the durable alert log,
channels, remediation and the alert service the manager composes.
"""

from __future__ import annotations

from ff_utils.ff_analytics_alerts.ff_alert_channels import (
    FFAlertChannels,
    FFChannelStatusDTO,
    ff_alert_text,
)
from ff_utils.ff_analytics_alerts.ff_alert_engine import (
    FFAlertEngine,
    FFAlertEngineStatsDTO,
    ff_alert_class,
)
from ff_utils.ff_analytics_alerts.ff_alert_log import (
    FFAlertLog,
    FFAlertReplayDTO,
    ff_alert_from_dict,
    ff_apply_alert_event,
)
from ff_utils.ff_analytics_alerts.ff_alert_recovery import ff_recovery_analytics
from ff_utils.ff_analytics_alerts.ff_alert_remediation import (
    FFAlertRemediation,
    FFRemediationDTO,
)
from ff_utils.ff_analytics_alerts.ff_alert_rules import (
    FFAlertRuleDTO,
    ff_builtin_rules,
    ff_clear_threshold,
    ff_instrument_values,
    ff_metric_values,
    ff_raise_severity,
)
from ff_utils.ff_analytics_alerts.ff_alert_service import FFAlertService

__all__ = [
    "FFAlertChannels",
    "FFAlertEngine",
    "FFAlertEngineStatsDTO",
    "FFAlertLog",
    "FFAlertRemediation",
    "FFAlertReplayDTO",
    "FFAlertRuleDTO",
    "FFAlertService",
    "FFChannelStatusDTO",
    "FFRemediationDTO",
    "ff_alert_class",
    "ff_alert_from_dict",
    "ff_alert_text",
    "ff_apply_alert_event",
    "ff_builtin_rules",
    "ff_clear_threshold",
    "ff_instrument_values",
    "ff_metric_values",
    "ff_raise_severity",
    "ff_recovery_analytics",
]
