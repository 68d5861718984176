"""Core: the injectable clock, ids, JSON encoding, durable file operations, the JSONL reader, names,
logging and the lifecycle hub every service registers with.
"""

from __future__ import annotations

from ff_utils.ff_analytics_core.ff_clock import (
    FFClock,
    FFManualClock,
    ff_iso,
    ff_parse_iso,
    ff_utc_now,
)
from ff_utils.ff_analytics_core.ff_file_ops import (
    ff_atomic_write,
    ff_ensure_directory,
    ff_fsync_dir,
    ff_is_temp_name,
    ff_mkstemp,
    ff_publish_new_file,
    ff_repair_torn_tail,
    ff_retry_pending_unlinks,
    ff_sweep_stale_temps,
    ff_temp_dir_for,
    ff_temp_name,
    ff_temp_path,
    ff_unlink_temp,
    ff_write_all,
)
from ff_utils.ff_analytics_core.ff_ids import (
    ff_id_timestamp_ms,
    ff_new_id,
)
from ff_utils.ff_analytics_core.ff_json_utils import (
    ff_append_jsonl,
    ff_dumps,
    ff_dumps_line,
    ff_json_default,
    ff_line_safe,
    ff_loads,
    ff_read_json,
    ff_read_jsonl,
    ff_write_json,
)
from ff_utils.ff_analytics_core.ff_jsonl_reader import (
    FFStoreCorruptionError,
    ff_iter_jsonl_chunks,
    ff_iter_jsonl_lines,
)
from ff_utils.ff_analytics_core.ff_lifecycle_hub import FFLifecycleHub
from ff_utils.ff_analytics_core.ff_names import ff_validate_name

__all__ = [
    "FFClock",
    "FFLifecycleHub",
    "FFManualClock",
    "FFStoreCorruptionError",
    "ff_append_jsonl",
    "ff_atomic_write",
    "ff_dumps",
    "ff_dumps_line",
    "ff_ensure_directory",
    "ff_fsync_dir",
    "ff_id_timestamp_ms",
    "ff_is_temp_name",
    "ff_iso",
    "ff_iter_jsonl_chunks",
    "ff_iter_jsonl_lines",
    "ff_json_default",
    "ff_line_safe",
    "ff_loads",
    "ff_mkstemp",
    "ff_new_id",
    "ff_parse_iso",
    "ff_publish_new_file",
    "ff_read_json",
    "ff_read_jsonl",
    "ff_repair_torn_tail",
    "ff_retry_pending_unlinks",
    "ff_sweep_stale_temps",
    "ff_temp_dir_for",
    "ff_temp_name",
    "ff_temp_path",
    "ff_unlink_temp",
    "ff_utc_now",
    "ff_validate_name",
    "ff_write_all",
    "ff_write_json",
]
