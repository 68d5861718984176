"""The store: day-partitioned JSONL streams with atomic, buffered appends, compression and compaction,
retention, the audit file layout and store metadata.
"""

from __future__ import annotations

from ff_utils.ff_analytics_store.ff_partition_compressor import (
    FFCompactionResultDTO,
    FFCompressionReportDTO,
    FFPartitionCompressor,
)
from ff_utils.ff_analytics_store.ff_partition_swap import (
    ff_exchange_paths,
    ff_recover_legacy_manifest,
    ff_recover_swaps,
    ff_replace_partition,
)
from ff_utils.ff_analytics_store.ff_record_defaults import ff_fill_record_defaults
from ff_utils.ff_analytics_store.ff_retention_manager import (
    FFRetentionCandidateDTO,
    FFRetentionManager,
    FFRetentionReportDTO,
)
from ff_utils.ff_analytics_store.ff_store_metadata import (
    ff_flatten_config,
    ff_write_store_metadata,
)
from ff_utils.ff_analytics_store.ff_stream_store import (
    FFPartitionDTO,
    FFStoreStatsDTO,
    FFStreamStore,
    ff_close_at_exit,
    ff_default_writer_id,
)

__all__ = [
    "FFCompactionResultDTO",
    "FFCompressionReportDTO",
    "FFPartitionCompressor",
    "FFPartitionDTO",
    "FFRetentionCandidateDTO",
    "FFRetentionManager",
    "FFRetentionReportDTO",
    "FFStoreStatsDTO",
    "FFStreamStore",
    "ff_close_at_exit",
    "ff_default_writer_id",
    "ff_exchange_paths",
    "ff_fill_record_defaults",
    "ff_flatten_config",
    "ff_recover_legacy_manifest",
    "ff_recover_swaps",
    "ff_replace_partition",
    "ff_write_store_metadata",
]
