"""Protocol (ABC) for monitoring, as in the seed's ``MonitoringProtocol``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class FFMonitoringProtocol(ABC):
    """Health and alert operations."""

    @abstractmethod
    async def get_system_health(self) -> dict[str, Any]:
        """Overall status derived from checks, resources and store errors, with reasons."""

    @abstractmethod
    async def get_active_alerts(self, severity: str | None = None) -> list[Any]:
        """Active (unresolved) alerts, optionally of one severity."""

    @abstractmethod
    async def acknowledge_alert(self, alert_id: str, acknowledged_by: str) -> bool:
        """Acknowledge an alert; False when it is unknown or already resolved."""

    @abstractmethod
    async def resolve_alert(self, alert_id: str, resolution_notes: str) -> bool:
        """Resolve an alert and record its resolution time."""


MonitoringProtocol = FFMonitoringProtocol
