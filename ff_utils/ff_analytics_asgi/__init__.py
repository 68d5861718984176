"""ASGI bridge for FastAPI/Starlette or any ASGI app: request middleware and a health endpoint.  Pure
ASGI, no framework import: ``app.add_middleware(FFAnalyticsMiddleware, manager=analytics)`` and
``app.mount("/health", FFHealthEndpoint(analytics))`` (or ``await ff_health_report(analytics)``).
"""

from __future__ import annotations

from ff_utils.ff_analytics_asgi.ff_asgi_components import (
    FFComponentNamer,
    ff_component_from_template,
    ff_method_bucket,
)
from ff_utils.ff_analytics_asgi.ff_asgi_health import (
    FFHealthEndpoint,
    ff_health_report,
)
from ff_utils.ff_analytics_asgi.ff_asgi_middleware import FFAnalyticsMiddleware

__all__ = [
    "FFAnalyticsMiddleware",
    "FFComponentNamer",
    "FFHealthEndpoint",
    "ff_component_from_template",
    "ff_health_report",
    "ff_method_bucket",
]
