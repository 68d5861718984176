"""Exposition: what leaves the store for people and other tools: Prometheus text, exports, the
dashboard and the operator snapshot.
"""

from __future__ import annotations

from ff_utils.ff_analytics_exposition.ff_dashboard_data import (
    FFDashboardDataDTO,
    FFPanelDTO,
    FFSeriesDTO,
    ff_downsample,
    ff_gather_dashboard_data,
    ff_health_summary,
    ff_merge_alerts,
)
from ff_utils.ff_analytics_exposition.ff_dashboard_render import ff_render_dashboard
from ff_utils.ff_analytics_exposition.ff_export_writer import (
    FFExportResultDTO,
    ff_day_bounds,
    ff_decode_csv_cell,
    ff_encode_csv_cell,
    ff_export_stream,
    ff_export_to_path,
    ff_iter_stream_range,
    ff_parse_time_bound,
    ff_read_export,
)
from ff_utils.ff_analytics_exposition.ff_operator_snapshot import ff_operator_snapshot
from ff_utils.ff_analytics_exposition.ff_prometheus_exposition import (
    FFPromFamilyDTO,
    FFPromSampleDTO,
    ff_families_from_snapshot,
    ff_render_exposition,
    ff_sanitize_label_name,
    ff_sanitize_metric_name,
    ff_validate_label_name,
    ff_validate_metric_name,
    ff_write_textfile,
)
from ff_utils.ff_analytics_exposition.ff_prometheus_scrape import (
    FFFamiliesCollector,
    ff_make_metrics_asgi_app,
    ff_metrics_registry,
    ff_start_metrics_server,
)
from ff_utils.ff_analytics_exposition.ff_stream_schema import (
    ff_duckdb_columns,
    ff_polars_schema,
    ff_stream_schema,
)

__all__ = [
    "FFDashboardDataDTO",
    "FFExportResultDTO",
    "FFFamiliesCollector",
    "FFPanelDTO",
    "FFPromFamilyDTO",
    "FFPromSampleDTO",
    "FFSeriesDTO",
    "ff_day_bounds",
    "ff_decode_csv_cell",
    "ff_downsample",
    "ff_duckdb_columns",
    "ff_encode_csv_cell",
    "ff_export_stream",
    "ff_export_to_path",
    "ff_families_from_snapshot",
    "ff_gather_dashboard_data",
    "ff_health_summary",
    "ff_iter_stream_range",
    "ff_make_metrics_asgi_app",
    "ff_merge_alerts",
    "ff_metrics_registry",
    "ff_operator_snapshot",
    "ff_parse_time_bound",
    "ff_polars_schema",
    "ff_read_export",
    "ff_render_dashboard",
    "ff_render_exposition",
    "ff_sanitize_label_name",
    "ff_sanitize_metric_name",
    "ff_start_metrics_server",
    "ff_stream_schema",
    "ff_validate_label_name",
    "ff_validate_metric_name",
    "ff_write_textfile",
]
