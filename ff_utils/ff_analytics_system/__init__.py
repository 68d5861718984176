"""System metrics: the psutil probe, request/operation instruments, health checks, performance
analysis, the collection loop and the system service.
"""

from __future__ import annotations

from ff_utils.ff_analytics_system.ff_collection_loop import FFCollectionLoop
from ff_utils.ff_analytics_system.ff_health_checks import (
    FFCheckResultDTO,
    FFHealthRegistry,
)
from ff_utils.ff_analytics_system.ff_instrument_registry import (
    FFInstrumentRegistry,
    FFRawWindowDTO,
    FFWindowSnapshotDTO,
)
from ff_utils.ff_analytics_system.ff_system_probe import (
    FFResourceSampleDTO,
    FFSystemProbe,
)
from ff_utils.ff_analytics_system.ff_system_service import (
    FFSystemService,
    FFTickPlanDTO,
)

__all__ = [
    "FFCheckResultDTO",
    "FFCollectionLoop",
    "FFHealthRegistry",
    "FFInstrumentRegistry",
    "FFRawWindowDTO",
    "FFResourceSampleDTO",
    "FFSystemProbe",
    "FFSystemService",
    "FFTickPlanDTO",
    "FFWindowSnapshotDTO",
]
