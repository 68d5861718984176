"""FFMetricsCollectionManager: what the chat backend embeds.

The manager composes one engine per domain, each an attribute built from what it needs (store,
clock, analytics config, the lifecycle hub, and the few callables it uses of another engine):

    compliance  audit trail, privacy/security events, verification, retention, compression
    alerts      rules, alert lifecycle, channels, remediation
    system      probe, instruments, health, collection loop
    privacy     pseudonymized user events, consent, access, erasure
    bi          hourly rollups, business intelligence, rebuild, reports
    analysis    anomalies, regressions, trends, forecasts, patterns

Every public method delegates to one engine; the manager itself holds no domain logic. It accepts
this library's root config, a host's root config carrying ``analytics`` (the spec's shape), or an
analytics config alone (:func:`ff_manager_settings`).

Embedding. This library's modules live in ``ff_analytics_*`` subpackages of three packages a host
has too (``ff_utils``, ``ff_class_configs``, ``ff_protocols``); this project ships no ``__init__.py``
for them. Copied into the host tree (``ff-metrics embed``) the subpackages sit inside the host's
packages. Installed by ``pip`` beside a host that runs from its own tree, the host's regular packages
win the import and would hide the subpackages, so importing this module adds the library's directory
to those packages' ``__path__``: at once for a package already imported, through a finder that acts
only on these three names (and only appends a directory) for one imported later. Nothing under
``ff_utils`` is imported at import time either: a host's root config module imports
``FFAnalyticsConfigDTO`` from here while the host's ``ff_utils`` (which imports that root config) is
not importable yet, so the engines are imported when the first manager is built.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from types import ModuleType

_SHARED_PACKAGES = frozenset({"ff_utils", "ff_class_configs", "ff_protocols"})
_LIBRARY_ROOT = os.path.dirname(os.path.abspath(__file__))


def _library_portion(name: str) -> str | None:
    """This library's directory for the shared package ``name`` (None if it ships none)."""
    path = os.path.join(_LIBRARY_ROOT, name)
    return path if os.path.isdir(path) else None


def _extend_package(module: ModuleType) -> None:
    """Append this library's portion to a regular package's ``__path__`` (namespace paths are dynamic)."""
    portion = _library_portion(module.__name__)
    search = getattr(module, "__path__", None)
    if portion is None or not isinstance(search, list):
        return
    if all(os.path.realpath(p) != os.path.realpath(portion) for p in search):
        search.append(portion)


class FFLibraryPortionFinder(importlib.abc.MetaPathFinder):
    """Finds a host's ``ff_utils``/``ff_class_configs``/``ff_protocols`` as usual and adds this
    library's portion to the spec's search locations; every other name is left to the next finder."""

    def find_spec(
        self, fullname: str, path: object = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _SHARED_PACKAGES:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname)
        if spec is None or not isinstance(spec.submodule_search_locations, list):
            return None  # not found, or a namespace package: the normal machinery handles it
        portion = _library_portion(fullname)
        locations = spec.submodule_search_locations
        if portion is not None and all(os.path.realpath(p) != os.path.realpath(portion) for p in locations):
            locations.append(portion)
        return spec


def _attach_library_portions() -> None:
    """Make this library's ``ff_analytics_*`` subpackages importable beside a host's packages."""
    for name in _SHARED_PACKAGES:
        module = sys.modules.get(name)
        if module is not None:
            _extend_package(module)
    if not any(isinstance(f, FFLibraryPortionFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, FFLibraryPortionFinder())


_attach_library_portions()

import asyncio  # noqa: E402
import atexit  # noqa: E402
import weakref  # noqa: E402
from collections.abc import Awaitable, Callable, Iterable, Mapping  # noqa: E402
from datetime import date, datetime  # noqa: E402
from typing import TYPE_CHECKING, Any  # noqa: E402

from ff_class_configs.ff_analytics_configs.ff_analytics_base_config import FFConfigError  # noqa: E402
from ff_class_configs.ff_analytics_configs.ff_analytics_config import (  # noqa: E402
    FFAnalyticsAlertingConfigDTO,
    FFAnalyticsConfigDTO,
    FFAnalyticsPrivacyConfigDTO,
)
from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import (  # noqa: E402
    FFAnalyticsManagerConfigDTO,
    ff_manager_settings,
    load_config,
)
from ff_protocols.ff_analytics_protocols import FFAnalyticsProtocol, FFMonitoringProtocol  # noqa: E402

if TYPE_CHECKING:
    from ff_utils.ff_analytics_alerts.ff_alert_rules import FFAlertRuleDTO
    from ff_utils.ff_analytics_bi.ff_bi_engine import FFBIResult
    from ff_utils.ff_analytics_core.ff_clock import FFClock
    from ff_utils.ff_analytics_core.ff_lifecycle_hub import TickHook

__all__ = [
    "FFAnalyticsAlertingConfigDTO",
    "FFAnalyticsConfigDTO",
    "FFAnalyticsManagerConfigDTO",
    "FFAnalyticsPrivacyConfigDTO",
    "FFConfigError",
    "FFMetricsCollectionManager",
    "__version__",
    "load_config",
    "main",
]

__version__ = "0.2.0"

_LIVE_MANAGERS: weakref.WeakSet[FFMetricsCollectionManager] = weakref.WeakSet()


def _close_managers_at_exit() -> None:
    """atexit: close every open manager (aggregates, audit queue, index deltas, then the store),
    bounded by ``ATEXIT_FLUSH_TIMEOUT_SECONDS``; the store's own exit flush follows."""
    if not _LIVE_MANAGERS:
        return
    from ff_utils.ff_analytics_store.ff_stream_store import ff_close_at_exit

    ff_close_at_exit([m for m in list(_LIVE_MANAGERS) if not m.closed], "analytics managers")


_EXIT_HANDLER: list[bool] = []


def _register_exit_handler() -> None:
    """Once, after the store module registered its own exit flush: atexit runs LIFO, so every
    manager closes (emitting its aggregates into the store) before the store's last flush."""
    if not _EXIT_HANDLER:
        _EXIT_HANDLER.append(True)
        atexit.register(_close_managers_at_exit)


def _reset_managers_in_child() -> None:
    """``os.fork()`` child: every live manager drops what belongs to the parent."""
    for m in list(_LIVE_MANAGERS):
        try:
            m.hub.after_fork_in_child()
        except Exception:  # never break the host's fork
            m.logger.exception("resetting the analytics manager after fork failed")


class FFMetricsCollectionManager(FFAnalyticsProtocol, FFMonitoringProtocol):
    """Metrics, user analytics, BI, alerting and compliance over a partitioned JSONL store.

    ``async with FFMetricsCollectionManager(config) as m:`` initializes the store on entry and
    flushes and closes it on exit.
    """

    def __init__(
        self,
        config: Any = None,
        *,
        clock: FFClock | None = None,
        writer_id: str | None = None,
    ) -> None:
        # the engines, imported on first use (see the module docstring: not at import time)
        from ff_utils.ff_analytics_alerts.ff_alert_service import FFAlertService
        from ff_utils.ff_analytics_analysis.ff_analysis_service import FFAnalysisService
        from ff_utils.ff_analytics_bi.ff_bi_service import FFBIService
        from ff_utils.ff_analytics_compliance.ff_compliance_service import FFComplianceService
        from ff_utils.ff_analytics_core.ff_clock import FFClock
        from ff_utils.ff_analytics_core.ff_lifecycle_hub import FFLifecycleHub
        from ff_utils.ff_analytics_core.ff_logging import get_logger
        from ff_utils.ff_analytics_privacy.ff_privacy_service import FFPrivacyService
        from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore
        from ff_utils.ff_analytics_system.ff_system_service import FFSystemService

        settings = ff_manager_settings(config, "config")
        if clock is not None and not isinstance(clock, FFClock):
            raise TypeError(f"clock: expected an FFClock (or FFManualClock), got {type(clock).__name__}")
        self.config = FFAnalyticsManagerConfigDTO() if config is None else config
        self.settings = settings
        self.analytics_config: FFAnalyticsConfigDTO = settings.analytics
        self.environment = settings.environment
        self.clock: FFClock = clock or FFClock()
        self.base_path = settings.base_path
        self.logger = get_logger("manager")
        ac = self.analytics_config
        self.store = FFStreamStore(self.base_path, ac, clock=self.clock, writer_id=writer_id or ac.writer_id or None)
        self.analytics_path = self.store.analytics_path
        self.system_metrics_path = self.analytics_path / "system_metrics"
        self.user_analytics_path = self.analytics_path / "user_analytics"
        self.business_intelligence_path = self.analytics_path / "business_intelligence"
        self.compliance_path = self.analytics_path / "compliance"
        self.reports_path = self.analytics_path / "reports"
        self.hub = FFLifecycleHub(self.store)
        store, clock_, hub = self.store, self.clock, self.hub
        self.compliance = FFComplianceService(store, clock_, ac, hub, base_path=self.base_path,
                                              environment=self.environment)
        audit = self.compliance.audit
        self.alerts = FFAlertService(store, clock_, ac, hub, audit=audit)
        self.system = FFSystemService(
            store, clock_, ac, hub, base_path=self.base_path,
            validate_name=self._instrument_name_check,
            evaluate_window=self.alerts.evaluate_window, alert_status=self.alerts.alert_status,
            check_metrics=self.alerts.check_system_alerts,
        )
        self.privacy = FFPrivacyService(store, clock_, ac, hub, base_path=self.base_path, audit=audit,
                                        privacy_event=self.compliance.record_privacy_event)
        self.bi = FFBIService(store, clock_, ac, hub, audit=audit, tick_plan=self.system.plan)
        self.analysis = FFAnalysisService(store, clock_, ac, hub, raise_alert=self.alerts.raise_alert,
                                          clear_alert=self.alerts.clear_alert)
        self._record_request = self.system.request_recorder
        self._record_metric = self.system.metric_recorder
        self._initialized = False
        _LIVE_MANAGERS.add(self)
        _register_exit_handler()

    def _instrument_name_check(self, name: Any, what: str = "name") -> str:
        """Instrument names: a rejected unsafe name is also a security event (compliance)."""
        return self.compliance.checked_name(name, what, source="instrument")

    @property
    def version(self) -> str:
        """This library's version (``__version__``), e.g. for a health route."""
        return __version__

    @property
    def closed(self) -> bool:
        """True once ``close()`` (or ``close_sync()``) finished."""
        return self.hub.closed

    # ------------------------------------------------------------------ hooks (the host's own work)
    def add_flush_hook(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` (sync) at the start of every ``flush()`` and ``close()``; a hook returning
        False (something kept for retry) makes ``flush()`` return False."""
        self.hub.add_flush_hook(fn)

    def add_close_hook(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` (sync) on ``close()`` after the last flush."""
        self.hub.add_close_hook(fn)

    def add_fork_hook(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` (sync) in the child after ``os.fork()`` (drop buffered state, reset locks)."""
        self.hub.add_fork_hook(fn)

    def add_tick_hook(self, fn: TickHook) -> None:
        """Await ``fn(metrics_dto)`` after each collection tick."""
        self.hub.add_tick_hook(fn)

    def register_periodic_job(self, name: str, interval_seconds: float, fn: Callable[[], Awaitable[Any]]) -> None:
        """Have the collection loop run ``fn`` every ``interval_seconds`` (``name``: ``^[a-z0-9_]{1,64}$``)."""
        self.hub.register_periodic_job(name, interval_seconds, fn)

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
        self.audit("initialize", target=str(self.analytics_path), environment=self.environment)
        self.audit("config_loaded", target="analytics_config", environment=self.environment,
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
        from ff_utils.ff_analytics_store.ff_store_metadata import ff_write_store_metadata

        self.store.ensure_tree()
        self.reports_path.mkdir(parents=True, exist_ok=True)
        return ff_write_store_metadata(self.analytics_path, self.base_path, self.settings.to_dict(),
                                       self.analytics_config, environment=self.environment, clock=self.clock)

    def flush(self) -> bool:
        """Emit pending aggregates and write every buffered record (durable per fsync policy).

        Returns True when everything recorded before the call is written (and synced per policy),
        False when something could not be written yet (an I/O fault: logged, counted, kept buffered
        and retried); it never raises an I/O error.
        """
        return self.hub.flush()

    async def aflush(self) -> bool:
        """``flush()`` off the event loop; same result."""
        return await self.hub.aflush()

    async def close(self) -> None:
        """Stop collection, let background work finish, flush everything, close; idempotent."""
        if self.hub.closed:
            return
        await self.hub.shutdown()
        await asyncio.to_thread(self.hub.close)

    def close_sync(self) -> None:
        """Synchronous close for non-async hosts and exit handlers (no running loop is needed)."""
        self.hub.close()

    async def __aenter__(self) -> FFMetricsCollectionManager:
        if not self._initialized:
            await self.initialize_analytics_system(start_collection=False)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ hot path (system)
    def record_request(self, component: str, duration_ms: float, success: bool = True) -> None:
        """Count one request of ``component`` (aggregated per collection window; no I/O)."""
        self._record_request(component, duration_ms, success)

    def record_metric(
        self, name: str, value: float = 1.0, kind: str = "gauge", labels: dict[str, str] | None = None
    ) -> None:
        """Record a counter | gauge | histogram | timer | rate value (aggregated per window)."""
        self._record_metric(name, value, kind, labels)

    async def get_system_health(self) -> dict[str, Any]:
        """Overall status from checks, resources, alert channels and store errors, with reasons."""
        return await self.system.get_system_health()

    # ------------------------------------------------------------------ stats
    @property
    def privacy_stats(self) -> dict[str, Any]:
        """Counters of the privacy pipeline (accepted, stored, and drops by reason)."""
        return self.privacy.privacy_stats

    @property
    def compliance_stats(self) -> dict[str, Any]:
        """Audit writes, failures and drops, event counts, last verification/cleanup/compression."""
        return self.compliance.compliance_stats

    @property
    def analysis_stats(self) -> dict[str, Any]:
        """Analyses run, anomalies found, alerts raised or skipped, records written, read errors."""
        return self.analysis.analysis_stats

    # ------------------------------------------------------------------ compliance
    def audit(self, action: str, target: str = "", outcome: str = "success", actor: str = "system",
              **details: Any) -> None:
        """Append an administrative action to the keyed audit log."""
        self.compliance.audit(action, target, outcome, actor, **details)

    def generate_regulatory_report_sync(self) -> dict[str, Any]:
        """Write ``compliance/regulatory_reports.json`` atomically and return it."""
        return self.compliance.generate_regulatory_report_sync(self.privacy.pseudonymization_info())

    async def generate_regulatory_report(self) -> dict[str, Any]:
        """``generate_regulatory_report_sync`` off the event loop."""
        return await self.compliance.generate_regulatory_report(self.privacy.pseudonymization_info())

    # ------------------------------------------------------------------ system
    def time_operation(self, component: str) -> Any:
        """``with m.time_operation("db"):`` or ``async with``: records the block as one request."""
        return self.system.time_operation(component)

    def set_active_counts(self, concurrent_users: int, active_sessions: int) -> None:
        """The host reports its current concurrent users and active sessions."""
        return self.system.set_active_counts(concurrent_users, active_sessions)

    def register_health_check(
        self, name: str, async_fn: Callable[[], Awaitable[Any]], timeout_s: float = 5.0
    ) -> None:
        """Add a health check; its result becomes ``component_health[name]`` on each collection."""
        return self.system.register_health_check(name, async_fn, timeout_s)

    def register_collector(self, name: str, fn: Callable[[], Any]) -> None:
        """Add a custom collector (returns a dict) sampled into ``resource_usage`` on each tick."""
        return self.system.register_collector(name, fn)

    async def collect_system_metrics(self) -> Any:
        """Sample resources, close the instrument window, run checks and collectors, write records."""
        return await self.system.collect_system_metrics()

    async def start_continuous_collection(self) -> bool:
        """Start ticking every ``collection_interval_seconds``; idempotent (True if running)."""
        return await self.system.start_continuous_collection()

    async def stop_continuous_collection(self) -> bool:
        """Stop the loop cleanly and flush; idempotent."""
        return await self.system.stop_continuous_collection()

    async def run_collection_tick(self) -> Any:
        """See :meth:`FFSystemService.run_collection_tick`."""
        return await self.system.run_collection_tick()

    def set_collection_interval(self, seconds: float) -> None:
        """Change the tick interval (takes effect from the next tick; seconds > 0)."""
        return self.system.set_collection_interval(seconds)

    def collection_stats(self) -> dict[str, Any]:
        """Loop counters: ticks, failed and missed ticks, job runs, tick durations."""
        return self.system.collection_stats()

    async def analyze_performance(self, timeframe: str = "1h") -> dict[str, Any]:
        """See :meth:`FFSystemService.analyze_performance`."""
        return await self.system.analyze_performance(timeframe)

    # ------------------------------------------------------------------ privacy
    async def record_user_analytics(
        self, user_id: str, session_id: str, event_type: str, event_data: dict[str, Any]
    ) -> bool:
        """Record one user event under the privacy controls."""
        return await self.privacy.record_user_analytics(user_id, session_id, event_type, event_data)

    async def record_user_events(self, events: Iterable[Any]) -> int:
        """Batch form for bulk producers; returns the number of events stored."""
        return await self.privacy.record_user_events(events)

    async def set_user_opt_out(self, user_id: str, opted_out: bool = True) -> bool:
        """Persist a user's opt-out (or opt back in); True when persisted and honoured."""
        return await self.privacy.set_user_opt_out(user_id, opted_out)

    async def record_consent(self, user_id: str, granted: bool) -> bool:
        """Persist a user's explicit consent (granted or withdrawn); True when persisted."""
        return await self.privacy.record_consent(user_id, granted)

    async def export_user_data(self, user_id: str) -> dict[str, Any]:
        """Every stored record of ``user_id`` across all streams and partitions (GDPR Art. 15)."""
        return await self.privacy.export_user_data(user_id)

    async def erase_user_data(self, user_id: str) -> dict[str, Any]:
        """Remove ``user_id``'s records from every partition, the user index and rollups (Art. 17)."""
        return await self.privacy.erase_user_data(user_id)

    # ------------------------------------------------------------------ bi
    async def generate_business_intelligence(
        self, period: str = "day", *, start: datetime | None = None, end: datetime | None = None
    ) -> Any:
        """Business intelligence for ``hour``/``day``/``week``/``month`` (or ``start``/``end``) from rollups."""
        return await self.bi.generate_business_intelligence(period, start=start, end=end)

    async def generate_business_intelligence_result(
        self, period: str = "day", *, start: datetime | None = None, end: datetime | None = None, write: bool = True
    ) -> tuple[Any, FFBIResult | None]:
        """``(dto, FFBIResult)``: the DTO plus the details (bounds, figures behind rules, reasons)."""
        return await self.bi.generate_business_intelligence_result(period, start=start, end=end, write=write)

    async def rebuild_rollups(self, start: datetime, end: datetime, *, workers: int | None = None) -> dict[str, Any]:
        """Recompute the rollups of ``[start, end)`` from raw partitions (both cores when large)."""
        return await self.bi.rebuild_rollups(start, end, workers=workers)

    async def generate_reports(
        self, kinds: list[str] | None = None, *, at: date | None = None,
        formats: list[str] | None = None, force: bool = False,
    ) -> list[str]:
        """See :meth:`FFBIService.generate_reports`."""
        return await self.bi.generate_reports(kinds, at=at, formats=formats, force=force)

    # ------------------------------------------------------------------ alerts
    def evaluate_alerts(self, values: Mapping[Any, float]) -> int:
        """Evaluate rules on instrument-window values: ``{name: v}`` or ``{(name, component): v}``."""
        return self.alerts.evaluate_alerts(values)

    def add_alert_rule(self, rule: FFAlertRuleDTO | Mapping[str, Any] | None = None, **fields: Any) -> FFAlertRuleDTO:
        """Add (or replace) a rule from a DTO, a mapping or keyword fields; ValueError names the field."""
        return self.alerts.add_alert_rule(rule, **fields)

    def remove_alert_rule(self, rule_id: str) -> bool:
        """Remove a rule by id; False when there is none (``ValueError`` for a non-str/empty id)."""
        return self.alerts.remove_alert_rule(rule_id)

    def list_alert_rules(self) -> list[FFAlertRuleDTO]:
        return self.alerts.list_alert_rules()

    def raise_alert(
        self,
        rule_id: str,
        title: str,
        message: str = "",
        *,
        severity: str = "warning",
        alert_type: str = "anomaly",
        component: str = "",
        metric_name: str = "",
        current_value: float = 0.0,
        threshold_value: float = 0.0,
        labels: Mapping[str, str] | None = None,
        recommended_actions: Iterable[str] = (),
    ) -> Any:
        """Fire an alert for another domain (anomaly, store drops ...) with dedup/cooldown/budget."""
        return self.alerts.raise_alert(rule_id, title, message, severity=severity, alert_type=alert_type, component=component, metric_name=metric_name, current_value=current_value, threshold_value=threshold_value, labels=labels, recommended_actions=recommended_actions)

    def clear_alert(self, rule_id: str, component: str = "") -> bool:
        """Auto-resolve the alert a domain raised once its condition is gone."""
        return self.alerts.clear_alert(rule_id, component)

    async def get_active_alerts(self, severity: str | None = None) -> list:
        """Unresolved alerts (firing or acknowledged), most severe first."""
        return await self.alerts.get_active_alerts(severity)

    async def acknowledge_alert(self, alert_id: str, acknowledged_by: str) -> bool:
        return await self.alerts.acknowledge_alert(alert_id, acknowledged_by)

    async def resolve_alert(self, alert_id: str, resolution_notes: str) -> bool:
        return await self.alerts.resolve_alert(alert_id, resolution_notes)

    def get_alert(self, alert_id: str) -> Any:
        return self.alerts.get_alert(alert_id)

    async def get_alert_history(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        rule_id: str | None = None,
        severity: str | None = None,
        status: str | None = None,
        component: str | None = None,
        limit: int = 1000,
    ) -> list:
        """Alerts (last state) that had events in ``[start, end]``, newest first, read from the log."""
        return await self.alerts.get_alert_history(start, end, rule_id=rule_id, severity=severity, status=status, component=component, limit=limit)

    async def get_recovery_analytics(self, window_days: float = 7.0) -> dict[str, Any]:
        """MTTR, resolution distribution, success rates, trend and recommendations from the log."""
        return await self.alerts.get_recovery_analytics(window_days)

    def register_remediation(
        self,
        rule: str | FFAlertRuleDTO,
        action: Callable[[Any], Any],
        failure_threshold: int = 3,
        cooldown_s: float = 300.0,
        name: str | None = None,
    ) -> Any:
        """See :meth:`FFAlertService.register_remediation`."""
        return self.alerts.register_remediation(rule, action, failure_threshold, cooldown_s, name)

    async def wait_alert_work(self, timeout: float = 10.0) -> bool:
        """Wait for remediation runs and queued channel deliveries (tests, shutdown)."""
        return await self.alerts.wait_alert_work(timeout)

    def alert_channel_status(self) -> list[dict[str, Any]]:
        """Per channel target: delivered/failed/retries, last error, healthy (used by health)."""
        return self.alerts.alert_channel_status()

    def alert_status(self) -> dict[str, Any]:
        """Engine counters, budget, channels and remediations (health / CLI)."""
        return self.alerts.alert_status()

    # ------------------------------------------------------------------ compliance
    def record_privacy_event(self, kind: str, **fields: Any) -> bool:
        """Append a privacy event (consent, opt-out, access/erasure request, ...) to ``privacy_events``."""
        return self.compliance.record_privacy_event(kind, **fields)

    def record_security_event(self, kind: str, severity: str = "warning", source: str = "host", **fields: Any) -> bool:
        """Append a security event (failed login, permission denied, ...) to ``security_events``."""
        return self.compliance.record_security_event(kind, severity, source, **fields)

    def checked_name(self, name: Any, what: str = "name", source: str = "manager") -> str:
        """``ff_validate_name`` that records a rejected unsafe name as a security event, then re-raises."""
        return self.compliance.checked_name(name, what, source)

    def verify_audit_log_sync(self, checkpoint_path: str | None = None) -> Any:
        """Verify the chain (``FFAuditVerificationDTO``); a tampered log is also a security event."""
        return self.compliance.verify_audit_log_sync(checkpoint_path)

    async def verify_audit_log(self, checkpoint_path: str | None = None) -> Any:
        """``verify_audit_log_sync`` off the event loop."""
        return await self.compliance.verify_audit_log(checkpoint_path)

    def run_retention_cleanup_sync(self, dry_run: bool = False) -> Any:
        """Delete partitions past retention (each audited); ``dry_run`` only lists them."""
        return self.compliance.run_retention_cleanup_sync(dry_run)

    async def run_retention_cleanup(self, dry_run: bool = False) -> Any:
        return await self.compliance.run_retention_cleanup(dry_run)

    def run_compression_sync(self, dry_run: bool = False) -> Any:
        """Compact partitions older than ``compression_age_days`` into gzip; audited when it did work."""
        return self.compliance.run_compression_sync(dry_run)

    async def run_compression(self, dry_run: bool = False) -> Any:
        return await self.compliance.run_compression(dry_run)

    # ------------------------------------------------------------------ analysis
    def schedule_analysis_jobs(
        self,
        *,
        anomaly_interval_seconds: float | None = 300.0,
        anomaly_window: str = "24h",
        capacity_interval_seconds: float | None = 3600.0,
        capacity_window: str = "7d",
        pattern_interval_seconds: float | None = 86400.0,
        pattern_window: str = "7d",
    ) -> list[str]:
        """See :meth:`FFAnalysisService.schedule_analysis_jobs`."""
        return self.analysis.schedule_analysis_jobs(anomaly_interval_seconds=anomaly_interval_seconds, anomaly_window=anomaly_window, capacity_interval_seconds=capacity_interval_seconds, capacity_window=capacity_window, pattern_interval_seconds=pattern_interval_seconds, pattern_window=pattern_window)

    def read_metric_series(
        self, metrics: Iterable[str], start: datetime, end: datetime
    ) -> dict[str, list[tuple[float, float]]]:
        """``{metric: [(epoch, value), ...]}`` from the stored streams in ``[start, end]`` (sync)."""
        return self.analysis.read_metric_series(metrics, start, end)

    async def analyze(self, metric: str | None = None, window: str | float = "7d", **kwargs: Any) -> dict[str, Any]:
        """Findings (with the numbers behind them) for one metric or the default set over ``window``."""
        return await self.analysis.analyze(metric, window, **kwargs)

    def analyze_sync(
        self,
        metric: str | None = None,
        window: str | float = "7d",
        *,
        kinds: Iterable[str] | None = None,
        detection_window: str | float | None = None,
        horizon: str | float | None = None,
        raise_alerts: bool = False,
        end: Any = None,
        alert_sink: list[tuple[str, list[Any], float]] | None = None,
        capacity_horizon_days: float = 365.0,
    ) -> dict[str, Any]:
        """Synchronous :meth:`analyze` (reads files; call it off the event loop)."""
        return self.analysis.analyze_sync(metric, window, kinds=kinds, detection_window=detection_window, horizon=horizon, raise_alerts=raise_alerts, end=end, alert_sink=alert_sink, capacity_horizon_days=capacity_horizon_days)

    async def detect_anomalies(self, metric: str | None = None, window: str | float = "24h", *,
                               raise_alerts: bool = True) -> list[dict[str, Any]]:
        """Anomalies of one metric (or the default set) over ``window``; recent ones raise alerts."""
        return await self.analysis.detect_anomalies(metric, window, raise_alerts=raise_alerts)

    async def learn_patterns(self, window: str | float = "7d", *, write: bool = True) -> dict[str, Any]:
        """Learn behaviour patterns from the user event streams; write them to ``behavior_patterns``."""
        return await self.analysis.learn_patterns(window, write=write)

    def learn_patterns_sync(self, window: str | float = "7d", *, write: bool = True) -> dict[str, Any]:
        return self.analysis.learn_patterns_sync(window, write=write)

    async def forecast_capacity(self, window: str | float = "7d", *, write: bool = True,
                                horizon_days: float = 365.0) -> list[dict[str, Any]]:
        """Time to saturation of disk and memory (within ``horizon_days``); written to ``capacity_planning``."""
        return await self.analysis.forecast_capacity(window, write=write, horizon_days=horizon_days)

    def forecast_capacity_sync(self, window: str | float = "7d", *, write: bool = True,
                               horizon_days: float = 365.0) -> list[dict[str, Any]]:
        return self.analysis.forecast_capacity_sync(window, write=write, horizon_days=horizon_days)


def main(argv: list[str] | None = None) -> int:
    """The ``ff-metrics`` command (also ``python -m ff_metrics_collection_manager``)."""
    from ff_utils.ff_analytics_cli.ff_cli_main import run_cli

    return run_cli(argv, FFMetricsCollectionManager, __version__)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_managers_in_child)


if __name__ == "__main__":
    raise SystemExit(main())
