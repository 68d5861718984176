"""An HTTP ``/metrics`` endpoint with the textfile's families (optional extra ``prometheus``).

``FFFamiliesCollector(families_fn)`` is a prometheus_client custom collector: each scrape calls
``families_fn()`` (a list of ``FFPromFamilyDTO``, e.g. ``ff_families_from_snapshot(...)``) and yields
the same names, types, labels and values ``ff_render_exposition`` writes to the textfile.
``ff_make_metrics_asgi_app`` wraps it in ``prometheus_client.make_asgi_app`` for the host's FastAPI
app (``app.mount("/metrics", ff_make_metrics_asgi_app(fn))``); ``ff_start_metrics_server`` serves it
on ``127.0.0.1`` by default (``ff-metrics serve-metrics``).

prometheus_client is imported only here and only when used: the library imports without it, and a
missing package raises ``ImportError`` naming the extra.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ff_utils.ff_analytics_exposition.ff_prometheus_exposition import FFPromFamilyDTO

__all__ = ["FFFamiliesCollector", "ff_make_metrics_asgi_app", "ff_metrics_registry", "ff_start_metrics_server"]

EXTRA_HINT = "pip install 'ff-analytics-manager[prometheus]'"


def _prometheus() -> Any:
    try:
        import prometheus_client
        from prometheus_client import core
    except ImportError as exc:  # pragma: no cover - exercised by the missing-extra test via a stub
        raise ImportError(f"the /metrics endpoint needs prometheus_client: {EXTRA_HINT}") from exc
    return prometheus_client, core


class FFFamiliesCollector:
    """A prometheus_client collector yielding ``families_fn()`` at every scrape."""

    def __init__(self, families_fn: Callable[[], list[FFPromFamilyDTO]]) -> None:
        _prometheus()
        self.families_fn = families_fn

    def describe(self) -> list[Any]:
        return []  # families are dynamic (metric names come from the data): no up-front description

    def collect(self) -> Iterator[Any]:
        _pc, core = _prometheus()
        for fam in self.families_fn():
            if not fam.samples:
                continue
            name = fam.name
            typ = fam.type if fam.type in ("counter", "gauge", "summary", "histogram") else "unknown"
            metric = core.Metric(name, fam.help, typ)
            for s in fam.samples:
                metric.add_sample(fam.name + s.suffix, dict(s.labels), s.value)
            yield metric


def ff_metrics_registry(families_fn: Callable[[], list[FFPromFamilyDTO]]) -> Any:
    """A fresh ``CollectorRegistry`` holding only the FF collector (no process/platform collectors)."""
    pc, _core = _prometheus()
    reg = pc.CollectorRegistry(auto_describe=False)
    reg.register(FFFamiliesCollector(families_fn))
    return reg


def ff_make_metrics_asgi_app(families_fn: Callable[[], list[FFPromFamilyDTO]]) -> Any:
    """An ASGI app serving the families (mount it at ``/metrics`` in the host app)."""
    pc, _core = _prometheus()
    return pc.make_asgi_app(registry=ff_metrics_registry(families_fn))


def ff_start_metrics_server(families_fn: Callable[[], list[FFPromFamilyDTO]], port: int,
                            host: str = "127.0.0.1") -> tuple[Any, Any]:
    """Serve ``/metrics`` on ``host:port`` in a daemon thread; returns ``(server, thread)``."""
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ValueError(f"port: must be an int in 0..65535, got {port!r}")
    pc, _core = _prometheus()
    return pc.start_http_server(port, addr=host, registry=ff_metrics_registry(families_fn))
