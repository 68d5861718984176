"""Analysis: anomaly and regression detection, trends, correlations, forecasts and capacity, learned
usage patterns, and the analysis service.
"""

from __future__ import annotations

from ff_utils.ff_analytics_analysis.ff_analysis_service import FFAnalysisService
from ff_utils.ff_analytics_analysis.ff_anomaly_detector import (
    FFAnomalyDetector,
    FFAnomalyDTO,
    FFAnomalyScanDTO,
    ff_severity_for_score,
)
from ff_utils.ff_analytics_analysis.ff_correlation_analysis import (
    FFCorrelationMatrixDTO,
    ff_correlation_matrix,
    ff_pearson,
)
from ff_utils.ff_analytics_analysis.ff_forecasting import (
    DEFAULT_HORIZON_DAYS,
    SATURATION_STATUSES,
    FFForecastDTO,
    FFSaturationDTO,
    ff_check_horizon_days,
    ff_format_duration,
    ff_holt_forecast,
    ff_linear_forecast,
    ff_resample,
    ff_time_to_saturation,
)
from ff_utils.ff_analytics_analysis.ff_metric_scales import (
    UNIT_SCALES,
    FFMetricScaleDTO,
    ff_impact_severity,
    ff_metric_scale,
    ff_metric_unit,
    ff_milder_severity,
)
from ff_utils.ff_analytics_analysis.ff_pattern_learner import (
    FFPatternDTO,
    FFPatternLearner,
    ff_pattern_recommendation,
    ff_pattern_recommendations,
)
from ff_utils.ff_analytics_analysis.ff_regression_detector import (
    FFRegressionDetector,
    FFRegressionDTO,
    ff_metric_direction,
)
from ff_utils.ff_analytics_analysis.ff_stats_series import (
    FFLinearFitDTO,
    FFSeriesSummaryDTO,
    ff_coefficient_of_variation,
    ff_epoch_iso,
    ff_linear_regression,
    ff_mean,
    ff_median,
    ff_normalize_series,
    ff_parse_window,
    ff_percentile,
    ff_stdev,
    ff_summarize,
    ff_to_epoch,
)
from ff_utils.ff_analytics_analysis.ff_trend_analysis import (
    FFTrendReportDTO,
    ff_analyze_trend,
    ff_classify_volatility,
    ff_detect_degradation,
    ff_performance_trend,
    ff_seasonal_profile,
    ff_trend_direction,
)

__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "SATURATION_STATUSES",
    "UNIT_SCALES",
    "FFAnalysisService",
    "FFAnomalyDTO",
    "FFAnomalyDetector",
    "FFAnomalyScanDTO",
    "FFCorrelationMatrixDTO",
    "FFForecastDTO",
    "FFLinearFitDTO",
    "FFMetricScaleDTO",
    "FFPatternDTO",
    "FFPatternLearner",
    "FFRegressionDTO",
    "FFRegressionDetector",
    "FFSaturationDTO",
    "FFSeriesSummaryDTO",
    "FFTrendReportDTO",
    "ff_analyze_trend",
    "ff_check_horizon_days",
    "ff_classify_volatility",
    "ff_coefficient_of_variation",
    "ff_correlation_matrix",
    "ff_detect_degradation",
    "ff_epoch_iso",
    "ff_format_duration",
    "ff_holt_forecast",
    "ff_impact_severity",
    "ff_linear_forecast",
    "ff_linear_regression",
    "ff_mean",
    "ff_median",
    "ff_metric_direction",
    "ff_metric_scale",
    "ff_metric_unit",
    "ff_milder_severity",
    "ff_normalize_series",
    "ff_parse_window",
    "ff_pattern_recommendation",
    "ff_pattern_recommendations",
    "ff_pearson",
    "ff_percentile",
    "ff_performance_trend",
    "ff_resample",
    "ff_seasonal_profile",
    "ff_severity_for_score",
    "ff_stdev",
    "ff_summarize",
    "ff_time_to_saturation",
    "ff_to_epoch",
    "ff_trend_direction",
]
