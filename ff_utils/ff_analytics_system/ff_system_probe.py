"""Resource sampling with psutil: CPU, memory, disk of the store's volume, network rate, process.

Every call is non-blocking in the psutil sense: ``cpu_percent(interval=None)`` is primed at
construction and afterwards reports the utilisation since the previous sample, and the network rate
is the byte delta since the previous sample divided by the elapsed clock time. One ``sample()``
reads a handful of ``/proc`` files (well under a millisecond); the collection loop runs it in a
worker thread so a slow volume can never stall the event loop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import psutil

from ff_utils.ff_analytics_core.ff_clock import FFClock
from ff_utils.ff_analytics_core.ff_logging import get_logger

logger = get_logger(__name__)

_MB = 1024.0 * 1024.0


@dataclass(slots=True)
class FFResourceSampleDTO:
    """One resource sample; fields are ``None`` when the source is unavailable (see ``errors``)."""

    cpu_usage_percent: float | None = None
    memory_usage_mb: float | None = None
    memory_usage_percent: float | None = None
    disk_usage_mb: float | None = None
    disk_usage_percent: float | None = None
    disk_path: str = ""
    network_bytes_sent_per_s: float | None = None
    network_bytes_recv_per_s: float | None = None
    network_io_mbps: float | None = None
    process_rss_mb: float | None = None
    process_cpu_percent: float | None = None
    process_open_files: int | None = None
    uptime_seconds: float = 0.0
    errors: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _existing_ancestor(path: Path) -> Path:
    """``path`` or its nearest existing parent (the store may not be created yet)."""
    p = path.resolve()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


class FFSystemProbe:
    """Samples host and process resources; keeps the previous network counters for rates."""

    def __init__(self, base_path: str | os.PathLike[str], clock: FFClock | None = None) -> None:
        self.base_path = Path(base_path)
        self.clock = clock or FFClock()
        self._started = self.clock.monotonic()
        self._process = psutil.Process()
        self._prev_net: tuple[int, int, float] | None = None
        # Prime the interval=None counters so the first real sample has a reference point.
        try:
            psutil.cpu_percent(interval=None)
            self._process.cpu_percent(interval=None)
        except (psutil.Error, OSError) as exc:  # pragma: no cover - exotic platforms
            logger.warning("cpu_percent priming failed: %s", exc)
        self._prime_net()

    def _prime_net(self) -> None:
        try:
            n = psutil.net_io_counters()
        except (psutil.Error, OSError, RuntimeError):
            n = None
        if n is not None:
            self._prev_net = (n.bytes_sent, n.bytes_recv, self.clock.monotonic())

    @property
    def uptime_seconds(self) -> float:
        return max(0.0, self.clock.monotonic() - self._started)

    def sample(self) -> FFResourceSampleDTO:
        """Read every source once; a failing source leaves its fields ``None`` and names the error."""
        s = FFResourceSampleDTO(uptime_seconds=round(self.uptime_seconds, 3))
        err = s.errors
        try:
            s.cpu_usage_percent = float(psutil.cpu_percent(interval=None))
        except (psutil.Error, OSError) as exc:
            err["cpu"] = f"{type(exc).__name__}: {exc}"
        try:
            vm = psutil.virtual_memory()
            s.memory_usage_mb = round(vm.used / _MB, 3)
            s.memory_usage_percent = float(vm.percent)
        except (psutil.Error, OSError) as exc:
            err["memory"] = f"{type(exc).__name__}: {exc}"
        try:
            target = _existing_ancestor(self.base_path)
            du = psutil.disk_usage(str(target))
            s.disk_path = str(target)
            s.disk_usage_mb = round(du.used / _MB, 3)
            s.disk_usage_percent = round(du.used / du.total * 100.0, 3) if du.total else None
        except (psutil.Error, OSError) as exc:
            err["disk"] = f"{type(exc).__name__}: {exc}"
        self._sample_net(s)
        try:
            with self._process.oneshot():
                s.process_rss_mb = round(self._process.memory_info().rss / _MB, 3)
                s.process_cpu_percent = float(self._process.cpu_percent(interval=None))
                s.process_open_files = self._open_files()
        except (psutil.Error, OSError) as exc:
            err["process"] = f"{type(exc).__name__}: {exc}"
        return s

    def _open_files(self) -> int:
        num_fds = getattr(self._process, "num_fds", None)  # POSIX: cheap count of descriptors
        if num_fds is not None:
            return int(num_fds())
        return len(self._process.open_files())  # pragma: no cover - Windows

    def _sample_net(self, s: FFResourceSampleDTO) -> None:
        try:
            n = psutil.net_io_counters()
        except (psutil.Error, OSError, RuntimeError) as exc:
            s.errors["network"] = f"{type(exc).__name__}: {exc}"
            return
        if n is None:
            s.errors["network"] = "no network counters on this host"
            return
        now = self.clock.monotonic()
        prev = self._prev_net
        self._prev_net = (n.bytes_sent, n.bytes_recv, now)
        if prev is None:
            s.errors["network"] = "first sample: no previous counters for a rate"
            return
        dt = now - prev[2]
        if dt <= 0:
            s.errors["network"] = "no time elapsed since the previous sample"
            return
        sent = max(0, n.bytes_sent - prev[0]) / dt  # counters can wrap or reset: clamp
        recv = max(0, n.bytes_recv - prev[1]) / dt
        s.network_bytes_sent_per_s = round(sent, 3)
        s.network_bytes_recv_per_s = round(recv, 3)
        s.network_io_mbps = round((sent + recv) / _MB, 6)
