"""FFMetricsCollectionManager: the facade the chat backend embeds.

It wires the parts (stream store, clock, domain engines) and implements the protocols; the work
lives in ``ff_utils``. Each domain contributes one facade mixin (``ff_utils/ff_*_facade.py``).
``main()`` is the ``ff-metrics`` CLI.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import os
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFConfigurationManagerConfigDTO
from ff_protocols.ff_analytics_protocols import FFAnalyticsProtocol, FFMonitoringProtocol
from ff_utils.ff_analytics_alerts.ff_alert_facade import FFAlertFacadeMixin
from ff_utils.ff_analytics_analysis.ff_analysis_facade import FFAnalysisFacadeMixin
from ff_utils.ff_analytics_bi.ff_bi_facade import FFBIFacadeMixin
from ff_utils.ff_analytics_compliance.ff_compliance_facade import FFComplianceFacadeMixin
from ff_utils.ff_analytics_core.ff_clock import FFClock, ff_iso
from ff_utils.ff_analytics_core.ff_file_ops import ff_retry_pending_unlinks
from ff_utils.ff_analytics_core.ff_json_utils import ff_dumps, ff_read_json, ff_write_json
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_privacy.ff_privacy_facade import FFPrivacyFacadeMixin
from ff_utils.ff_analytics_store.ff_stream_store import (
    STREAM_CATEGORY,
    FFStreamStore,
    ff_close_at_exit,
    ff_validate_name,
)
from ff_utils.ff_analytics_system.ff_system_facade import FFSystemFacadeMixin

__all__ = ["FFMetricsCollectionManager"]

TickHook = Callable[[Any], Awaitable[None]]

_LIVE_MANAGERS: weakref.WeakSet[FFMetricsCollectionManager] = weakref.WeakSet()


def _close_managers_at_exit() -> None:
    """atexit: close every open manager (aggregates, audit queue, index deltas, then the store),
    bounded by ``ATEXIT_FLUSH_TIMEOUT_SECONDS``; the store's own exit flush follows."""
    ff_close_at_exit([m for m in list(_LIVE_MANAGERS) if not m._closed], "analytics managers")


def _reset_managers_in_child() -> None:
    """``os.fork()`` child: every live manager drops what belongs to the parent (see ``_after_fork``)."""
    for m in list(_LIVE_MANAGERS):
        try:
            m._after_fork_in_child()
        except Exception:  # never break the host's fork
            m.logger.exception("resetting the analytics manager after fork failed")


class FFMetricsCollectionManager(
    FFSystemFacadeMixin,
    FFPrivacyFacadeMixin,
    FFBIFacadeMixin,
    FFAlertFacadeMixin,
    FFComplianceFacadeMixin,
    FFAnalysisFacadeMixin,
    FFAnalyticsProtocol,
    FFMonitoringProtocol,
):
    """Metrics, user analytics, BI, alerting and compliance over a partitioned JSONL store.

    ``async with FFMetricsCollectionManager(config) as m:`` initializes the store on entry and
    flushes and closes it on exit.
    """

    def __init__(
        self,
        config: FFConfigurationManagerConfigDTO | None = None,
        *,
        clock: FFClock | None = None,
        writer_id: str | None = None,
    ) -> None:
        if config is None:
            config = FFConfigurationManagerConfigDTO()
        if not isinstance(config, FFConfigurationManagerConfigDTO):
            raise TypeError(
                f"config: expected FFConfigurationManagerConfigDTO, got {type(config).__name__}"
            )
        config.raise_if_invalid()
        if clock is not None and not isinstance(clock, FFClock):
            raise TypeError(f"clock: expected an FFClock (or FFManualClock), got {type(clock).__name__}")
        self.config = config
        self.analytics_config = config.analytics
        self.clock: FFClock = clock or FFClock()
        self.base_path = Path(config.storage.base_path)
        self.logger = get_logger("manager")
        self.store = FFStreamStore(
            self.base_path,
            self.analytics_config,
            clock=self.clock,
            writer_id=writer_id or self.analytics_config.writer_id or None,
        )
        self.analytics_path = self.store.analytics_path
        self.system_metrics_path = self.analytics_path / "system_metrics"
        self.user_analytics_path = self.analytics_path / "user_analytics"
        self.business_intelligence_path = self.analytics_path / "business_intelligence"
        self.compliance_path = self.analytics_path / "compliance"
        self.reports_path = self.analytics_path / "reports"
        self._flush_hooks: list[Callable[[], None]] = []
        self._close_hooks: list[Callable[[], None]] = []
        self._tick_hooks: list[TickHook] = []
        self._fork_hooks: list[Callable[[], None]] = []
        self._periodic_jobs: dict[str, tuple[float, Callable[[], Awaitable[Any]]]] = {}
        self._initialized = False
        self._closed = False
        self._init_system()
        self._init_privacy()
        self._init_bi()
        self._init_alert()
        self._init_compliance()
        self._init_analysis()
        _LIVE_MANAGERS.add(self)

    # ------------------------------------------------------------------ hooks for the domain mixins
    def add_flush_hook(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` (sync) at the start of every ``flush()`` and ``close()``; a hook returning
        False (something kept for retry) makes ``flush()`` return False."""
        _check_callable(fn)
        self._flush_hooks.append(fn)

    def add_close_hook(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` (sync) on ``close()`` after the last flush."""
        _check_callable(fn)
        self._close_hooks.append(fn)

    def add_fork_hook(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` (sync) in the child after ``os.fork()``, after the store took a new writer id:
        drop the parent's buffered state, reset locks and background threads."""
        _check_callable(fn)
        self._fork_hooks.append(fn)

    def _after_fork_in_child(self) -> None:
        # The store (registered first) already has a fresh writer id, empty buffers and no flusher.
        # Whatever the parent buffered (aggregates, audit entries, index deltas, notifications) is
        # the parent's to write; the child starts empty so nothing is written twice.
        for hook in list(self._fork_hooks):
            hook()

    def add_tick_hook(self, fn: TickHook) -> None:
        """Await ``fn(metrics_dto)`` after each collection tick."""
        _check_callable(fn)
        self._tick_hooks.append(fn)

    def register_periodic_job(
        self, name: str, interval_seconds: float, fn: Callable[[], Awaitable[Any]]
    ) -> None:
        """Have the collection loop run ``fn`` every ``interval_seconds`` (its own cadence).

        ``name`` matches ``^[a-z0-9_]{1,64}$`` (it names the job's task and stats); registering a name
        again replaces that job.
        """
        ff_validate_name(name, "name")
        if (
            isinstance(interval_seconds, bool)
            or not isinstance(interval_seconds, (int, float))
            or not 0 < interval_seconds < float("inf")
        ):
            raise ValueError(f"interval_seconds: must be a finite number > 0, got {interval_seconds!r}")
        _check_callable(fn)
        self._periodic_jobs[name] = (float(interval_seconds), fn)

    def audit(
        self,
        action: str,
        target: str = "",
        outcome: str = "success",
        actor: str = "system",
        **details: Any,
    ) -> None:
        """Append an administrative action to the audit log (compliance engine)."""
        impl = getattr(self, "_audit_impl", None)
        if impl is None:
            self.logger.info("audit %s %s %s %s %s", actor, action, target, outcome, details)
            return
        impl(action=action, target=target, outcome=outcome, actor=actor, **details)

    # ------------------------------------------------------------------ lifecycle
    async def initialize_analytics_system(self, start_collection: bool | None = None) -> bool:
        """Create the store tree and ``analytics_metadata.json`` atomically.

        Starts continuous collection when ``start_collection`` is true, or when it is None and
        ``enable_real_time_metrics`` is set. Returns False (logged) on an I/O failure.
        """
        if start_collection is not None and not isinstance(start_collection, bool):
            raise TypeError(f"start_collection: expected bool or None, got {type(start_collection).__name__}")
        try:
            digest, changed = await asyncio.to_thread(self._initialize_sync)
        except OSError as exc:
            self.logger.error("initialize_analytics_system failed: %s", exc)
            return False
        self._initialized = True
        self.audit("initialize", target=str(self.analytics_path), environment=self.config.environment)
        self.audit("config_loaded", target="analytics_config", environment=self.config.environment,
                   config_sha256=digest)
        if changed:
            self.audit("config_changed", target="analytics_config", changed_fields=changed[:50],
                       changed_count=len(changed), config_sha256=digest)
        if start_collection is None:
            start_collection = self.analytics_config.enable_real_time_metrics
        if start_collection:
            await self.start_continuous_collection()
        return True

    def _initialize_sync(self) -> tuple[str, list[str]]:
        """Create the tree and metadata; returns the config digest and the fields changed since the
        previous start (both recorded in the metadata, so a change is audited once)."""
        self.store.ensure_tree()
        self.reports_path.mkdir(parents=True, exist_ok=True)
        meta_path = self.analytics_path / "analytics_metadata.json"
        previous = ff_read_json(meta_path, default=None) or {}
        ac = self.analytics_config
        flat = {k: _redact(k, v) for k, v in _flatten(self.config.to_dict()).items()}
        digest = hashlib.sha256(ff_dumps(sorted(flat.items()))).hexdigest()
        old_flat = previous.get("config_fields") or {}
        changed = sorted(k for k in set(flat) | set(old_flat) if flat.get(k) != old_flat.get(k)) if old_flat else []
        metadata = {
            "analytics_system_id": previous.get("analytics_system_id")
            or hashlib.sha256(os.fsencode(self.base_path.resolve())).hexdigest()[:16],
            "initialized_at": previous.get("initialized_at") or ff_iso(self.clock.now()),
            "last_opened_at": ff_iso(self.clock.now()),
            "environment": self.config.environment,
            "analytics_level": ac.analytics_level,
            "privacy_config": ac.privacy_config.to_dict(),
            "collection_config": {
                "interval_seconds": ac.collection_interval_seconds,
                "aggregation_periods": list(ac.aggregation_periods),
                "real_time_enabled": ac.enable_real_time_metrics,
            },
            "storage": {
                "layout": "<category>/<stream>/date=YYYY-MM-DD/part-<writer>.jsonl",
                "fsync_policy": ac.fsync_policy,
                "streams": dict(STREAM_CATEGORY),
            },
        }
        metadata["config_sha256"] = digest
        metadata["config_fields"] = flat
        ff_write_json(meta_path, metadata)
        return digest, changed

    def flush(self) -> bool:
        """Emit pending aggregates and write every buffered record (durable per fsync policy).

        Returns True when everything recorded before the call is written (and synced per policy),
        False when something could not be written yet (an I/O fault: logged, counted, kept buffered
        and retried); it never raises an I/O error.
        """
        ok = True
        for hook in list(self._flush_hooks):
            try:
                if hook() is False:
                    ok = False
            except Exception:  # a hook bug must not lose the store's buffers
                ok = False
                self.logger.exception("flush hook %r failed", hook)
        ok = self.store.flush() and ok
        if ff_retry_pending_unlinks():  # temp files a fault left behind, removed once it clears
            ok = False
        return ok

    async def aflush(self) -> bool:
        """``flush()`` off the event loop; same result."""
        if getattr(self, "_restart_collection_after_fork", False):
            self._resume_after_fork()  # type: ignore[attr-defined]
        return await asyncio.to_thread(self.flush)

    async def close(self) -> None:
        """Stop collection, flush everything, run close hooks; idempotent."""
        if self._closed:
            return
        stop = getattr(self, "stop_continuous_collection", None)
        if stop is not None and getattr(self, "_collection_task", None) is not None:
            try:
                await stop()
            except Exception:
                self.logger.exception("stop_continuous_collection failed during close")
        drain = getattr(self, "_drain_background_jobs", None)
        if drain is not None:  # periodic jobs started by run_collection_tick() finish before the flush
            await drain()
        await asyncio.to_thread(self._close_sync)

    def close_sync(self) -> None:
        """Synchronous close for non-async hosts and exit handlers."""
        if not self._closed:
            self._close_sync()

    def _close_sync(self) -> None:
        if self._closed:
            return
        self.flush()
        for hook in list(self._close_hooks):
            try:
                hook()
            except Exception:
                self.logger.exception("close hook %r failed", hook)
        self.store.close()
        self._closed = True

    async def __aenter__(self) -> FFMetricsCollectionManager:
        if not self._initialized:
            await self.initialize_analytics_system(start_collection=False)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _check_callable(fn: Any, what: str = "fn") -> None:
    if not callable(fn):
        raise TypeError(f"{what}: expected a callable, got {type(fn).__name__}")


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists kept as values)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


_SENSITIVE_KEY_PARTS = ("url", "password", "recipient", "username", "key_file", "sender")


def _redact(key: str, value: Any) -> Any:
    """Config values that may carry credentials or addresses are kept only as a digest."""
    if any(p in key.rsplit(".", 1)[-1] for p in _SENSITIVE_KEY_PARTS) and value not in ("", [], None):
        return "sha256:" + hashlib.sha256(ff_dumps(value)).hexdigest()[:16]
    return value


atexit.register(_close_managers_at_exit)  # runs before the store's own exit flush (LIFO)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_managers_in_child)

