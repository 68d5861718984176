"""Business intelligence: hourly rollups (accumulate, index, rebuild, erase), the BI engine, small-cell
suppression, reports, and the BI service.
"""

from __future__ import annotations

from ff_utils.ff_analytics_bi.ff_bi_engine import (
    FFBIEngine,
    FFBIResult,
)
from ff_utils.ff_analytics_bi.ff_bi_service import FFBIService
from ff_utils.ff_analytics_bi.ff_bi_small_cells import (
    ff_suppressed_cells,
    ff_validate_min_cell_size,
)
from ff_utils.ff_analytics_bi.ff_rollup_accumulator import (
    FFRollupAccumulator,
    FFRollupAggregate,
)
from ff_utils.ff_analytics_bi.ff_rollup_index import (
    FFHourUsers,
    FFRollupIndex,
    FFUserBits,
    ff_pack_byte_mask,
)
from ff_utils.ff_analytics_bi.ff_store_merge import ff_merge_store_rollups

__all__ = [
    "FFBIEngine",
    "FFBIResult",
    "FFBIService",
    "FFHourUsers",
    "FFRollupAccumulator",
    "FFRollupAggregate",
    "FFRollupIndex",
    "FFUserBits",
    "ff_merge_store_rollups",
    "ff_pack_byte_mask",
    "ff_suppressed_cells",
    "ff_validate_min_cell_size",
]
