"""Abstract protocol interfaces of the analytics manager."""

from ff_protocols.ff_analytics_protocols.ff_analytics_protocol import AnalyticsProtocol, FFAnalyticsProtocol
from ff_protocols.ff_analytics_protocols.ff_monitoring_protocol import (
    FFMonitoringProtocol,
    MonitoringProtocol,
)
from ff_protocols.ff_analytics_protocols.ff_stream_store_protocol import (
    FFStreamStoreProtocol,
    StreamStoreProtocol,
)

__all__ = [
    "AnalyticsProtocol",
    "FFAnalyticsProtocol",
    "FFMonitoringProtocol",
    "FFStreamStoreProtocol",
    "MonitoringProtocol",
    "StreamStoreProtocol",
]
