"""Protocol (ABC) for analytics collection, as in the seed's ``AnalyticsProtocol``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class FFAnalyticsProtocol(ABC):
    """Analytics operations the host relies on."""

    @abstractmethod
    async def initialize_analytics_system(self) -> bool:
        """Create the store tree and metadata; True on success."""

    @abstractmethod
    async def collect_system_metrics(self) -> Any:
        """Collect one ``FFSystemMetricsDTO`` sample from real sources."""

    @abstractmethod
    async def record_user_analytics(
        self, user_id: str, session_id: str, event_type: str, event_data: dict[str, Any]
    ) -> bool:
        """Record one pseudonymized user event under the privacy controls."""

    @abstractmethod
    async def generate_business_intelligence(self, period: str = "day") -> Any:
        """Build an ``FFBusinessIntelligenceDTO`` for the period from rollups."""

    @abstractmethod
    async def start_continuous_collection(self) -> bool:
        """Start the background collection loop (idempotent)."""

    @abstractmethod
    async def stop_continuous_collection(self) -> bool:
        """Stop the background collection loop and flush (idempotent)."""


AnalyticsProtocol = FFAnalyticsProtocol
