"""Configuration DTOs: analytics, privacy, alerting, storage, the root config, presets and loading.

This package imports nothing from ``ff_utils``: a host's root config module imports
``FFAnalyticsConfigDTO`` while the host's own ``ff_utils`` (which imports that root config) is not
importable yet. The record DTOs (``ff_analytics_entities_config``) use ``ff_utils`` core and are
imported from their module.
"""

from ff_class_configs.ff_analytics_configs.ff_analytics_base_config import FFConfigError
from ff_class_configs.ff_analytics_configs.ff_analytics_config import (
    LOG_LEVEL_NAMES,
    AggregationPeriod,
    AlertSeverity,
    AnalyticsLevel,
    BufferFullPolicy,
    FFAnalyticsAlertingConfigDTO,
    FFAnalyticsConfigDTO,
    FFAnalyticsPrivacyConfigDTO,
    FsyncPolicy,
    ReportFormat,
)
from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import (
    ENV_PREFIX,
    ENVIRONMENTS,
    PRESETS,
    FFAnalyticsManagerConfigDTO,
    FFAnalyticsStorageConfigDTO,
    env_var_mapping,
    load_config,
    preset_config,
)

__all__ = [
    "ENVIRONMENTS",
    "ENV_PREFIX",
    "LOG_LEVEL_NAMES",
    "PRESETS",
    "AggregationPeriod",
    "AlertSeverity",
    "AnalyticsLevel",
    "BufferFullPolicy",
    "FFAnalyticsAlertingConfigDTO",
    "FFAnalyticsConfigDTO",
    "FFAnalyticsPrivacyConfigDTO",
    "FFConfigError",
    "FFAnalyticsManagerConfigDTO",
    "FFAnalyticsStorageConfigDTO",
    "FsyncPolicy",
    "ReportFormat",
    "env_var_mapping",
    "load_config",
    "preset_config",
]
