"""The BI engine of the manager: hourly rollups, business intelligence, rebuild, reports.

The work lives in ``ff_rollup_accumulator`` (hot path), ``ff_rollup_index`` / ``ff_bi_engine``
(BI from rollups), ``ff_rollup_rebuild`` and ``ff_bi_reports``. See docs/business_intelligence.md.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from ff_class_configs.ff_analytics_configs.ff_analytics_config import FFAnalyticsConfigDTO
from ff_class_configs.ff_analytics_configs.ff_analytics_entities_config import FFBusinessIntelligenceDTO
from ff_utils.ff_analytics_bi.ff_bi_engine import FFBIEngine, FFBIResult, resolve_period
from ff_utils.ff_analytics_bi.ff_bi_reports import (
    REPORT_FORMATS,
    REPORT_KINDS,
    build_report,
    closed_period,
    report_path,
    write_report,
)
from ff_utils.ff_analytics_bi.ff_rollup_accumulator import (
    ROLLUP_STREAM,
    FFRollupAccumulator,
    hour_key,
)
from ff_utils.ff_analytics_bi.ff_rollup_erasure import erase_user_from_rollups
from ff_utils.ff_analytics_bi.ff_rollup_index import FFRollupIndex
from ff_utils.ff_analytics_bi.ff_rollup_rebuild import rebuild_rollups as _rebuild
from ff_utils.ff_analytics_core.ff_clock import FFClock, ff_iso
from ff_utils.ff_analytics_core.ff_lifecycle_hub import FFLifecycleHub
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore
from ff_utils.ff_analytics_system.ff_system_service import FFTickPlanDTO

logger = get_logger(__name__)

REPORT_JOB_INTERVAL_S = 3600.0
UNIT_COST_FIELDS = ("infrastructure_cost_per_day_usd", "revenue_per_active_user_usd", "cost_per_event_usd")


class FFBIService:
    """Hourly rollups fed by the hub, BI from rollups, rebuild from raw, periodic reports.

    ``tick_plan`` is the system engine's: a tick's sample is folded into the system rollup only for
    the streams that tick writes, so a rebuild from raw reads back exactly the same samples.
    """

    def __init__(
        self,
        store: FFStreamStore,
        clock: FFClock,
        config: FFAnalyticsConfigDTO,
        hub: FFLifecycleHub,
        *,
        audit: Callable[..., None],
        tick_plan: FFTickPlanDTO,
    ) -> None:
        self.store = store
        self.clock = clock
        self.config = config
        self.hub = hub
        self.analytics_path = store.analytics_path
        self._audit = audit
        self._tick_plan = tick_plan
        self.enabled = bool(config.enable_business_intelligence)
        costs = {}
        for name in UNIT_COST_FIELDS:
            v = getattr(config, name)
            costs[name] = None if v is None else float(v)
        self.accumulator = FFRollupAccumulator(store.writer_id, emit=self._emit,
                                               relative_accuracy=float(config.rollup_relative_accuracy))
        self.index = FFRollupIndex(store, exact_limit=int(config.distinct_exact_limit))
        self.engine = FFBIEngine(self.index, min_cell_size=int(config.min_cell_size), unit_costs=costs)
        self._lock = threading.Lock()  # one index refresh / rebuild at a time
        hub.add_user_event_observer(self.accumulator.observe_user_dict, batch=self.accumulator.observe_user_dicts)
        hub.add_user_erasure_observer("rollups", self.erase_user)
        hub.add_flush_hook(self.accumulator.flush)
        hub.add_fork_hook(self._after_fork)
        hub.add_tick_hook(self.on_tick)
        if self.enabled and any(getattr(config, f"generate_{REPORT_KINDS[k]}_reports") for k in REPORT_KINDS):
            hub.register_periodic_job("bi_reports", REPORT_JOB_INTERVAL_S, self._reports_job)

    # ------------------------------------------------------------------ feeding (hot path)
    def observe_user_event(self, record: Any) -> None:
        """One accepted event as an attribute object (tests and custom feeds): O(1), no I/O."""
        self.accumulator.observe_user_event(record)

    def _emit(self, records: list[dict[str, Any]]) -> None:
        self.store.append_many(ROLLUP_STREAM, records)

    def _after_fork(self) -> None:
        """Child of ``os.fork()``: the parent emits its open hours; the child's rollups start empty."""
        self.accumulator.after_fork(self.store.writer_id)
        self._lock = threading.Lock()

    async def on_tick(self, metrics: Any) -> None:
        """Tick hook: account the system sample and close hours the clock has left."""
        if metrics is not None:
            plan = self._tick_plan
            self.accumulator.observe_system(metrics, resources=plan.writes_resources, requests=plan.writes_requests)
        hk = hour_key(ff_iso(self.clock.now()))
        if any(h < hk for h in self.accumulator.open_hours):
            await asyncio.to_thread(self.accumulator.close_before, hk)

    def erase_user(self, user_hash: str) -> int:
        """Erasure observer: forget ``user_hash`` in open buckets and in stored rollups."""
        n = self.accumulator.erase_user(user_hash)
        with self._lock:
            return n + erase_user_from_rollups(self.store, user_hash)

    # ------------------------------------------------------------------ BI
    async def generate_business_intelligence(
        self, period: str = "day", *, start: datetime | None = None, end: datetime | None = None
    ) -> Any:
        """Business intelligence for ``hour``/``day``/``week``/``month`` (or ``start``/``end``) from rollups.

        Written to ``usage_trends``, ``optimization_insights``, ``capacity_planning`` and
        ``roi_analytics``. Unknown periods raise ``ValueError``.
        """
        dto, _result = await self.generate_business_intelligence_result(period, start=start, end=end)
        return dto

    async def generate_business_intelligence_result(
        self, period: str = "day", *, start: datetime | None = None, end: datetime | None = None, write: bool = True
    ) -> tuple[Any, FFBIResult | None]:
        """``(dto, FFBIResult)``: the DTO plus the details (bounds, figures behind rules, reasons)."""
        if type(write) is not bool:
            raise TypeError(f"write: expected bool, got {type(write).__name__}")
        label, _s, _e = resolve_period(period, self.clock.now(), start, end)
        if not self.enabled:
            dto = self._bi_make_dto({"analysis_period": label})
            return dto, None
        await self.hub.aflush()  # open hours -> rollups -> disk
        result = await asyncio.to_thread(self._bi_generate_sync, period, start, end)
        dto = self._bi_make_dto(result.fields)
        if write:
            self._bi_write_results(dto, result)
        return dto, result

    def _bi_generate_sync(self, period: str, start: datetime | None, end: datetime | None) -> FFBIResult:
        with self._lock:
            return self.engine.generate(period, self.clock.now(), start, end)

    def _bi_make_dto(self, fields: dict[str, Any]) -> Any:
        names = {f.name for f in dataclasses.fields(FFBusinessIntelligenceDTO)}
        kwargs = {k: v for k, v in fields.items() if k in names}
        if "timestamp" in names:
            kwargs["timestamp"] = ff_iso(self.clock.now())
        return FFBusinessIntelligenceDTO(**kwargs)

    def _bi_write_results(self, dto: Any, result: FFBIResult) -> None:
        f, d = result.fields, result.details
        base = {
            "timestamp": ff_iso(self.clock.now()),
            "insight_id": getattr(dto, "insight_id", ""), "analysis_period": f["analysis_period"],
            "period_start": d["period_start"], "period_end": d["period_end"], "min_cell_size": d["min_cell_size"],
        }
        reasons = d["reasons"]
        records = {
            "usage_trends": {**base, **{k: f[k] for k in (
                "total_users", "active_users", "new_users", "returning_users", "user_growth_rate_percent",
                "most_used_features", "feature_adoption_rates", "feature_abandonment_rates", "peak_usage_hours",
                "average_session_duration_minutes", "user_satisfaction_trends")},
                "events": d["events"], "sessions": d["sessions"], "conversions": d["conversions"],
                "session_duration_seconds": d["session_duration_seconds"], "satisfaction": d["satisfaction"],
                "breakdowns": d["breakdowns"], "reasons": reasons},
            "optimization_insights": {**base, **{k: f[k] for k in (
                "performance_bottlenecks", "cost_optimization_opportunities", "user_experience_improvements",
                "churn_risk_indicators")}, "system": d["system"], "response_time_ms": d["response_time_ms"]},
            "capacity_planning": {**base, **{k: f[k] for k in (
                "projected_growth_30_days", "resource_utilization_trends", "scaling_recommendations")},
                "growth_fit": d["growth_fit"], "growth_fit_days": d["growth_fit_days"],
                "reason": reasons.get("projected_growth_30_days", "")},
            "roi_analytics": {**base, **{k: f[k] for k in ("roi_indicators", "cost_per_user", "revenue_per_user")},
                              "reason": reasons.get("roi_indicators", "")},
        }
        for stream, rec in records.items():
            self.store.append(stream, rec)

    # ------------------------------------------------------------------ rebuild
    async def rebuild_rollups(self, start: datetime, end: datetime, *, workers: int | None = None) -> dict[str, Any]:
        """Recompute the rollups of ``[start, end)`` from raw partitions (both cores when large).

        Returns the counts and ``ok``; an I/O failure is logged and returned as ``ok=False`` with
        the error (an interrupted partition replacement is finished by the next rebuild)."""
        for name, v in (("start", start), ("end", end)):
            if not isinstance(v, datetime):
                raise TypeError(f"{name}: expected datetime, got {type(v).__name__}")
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ValueError(f"workers: must be an int >= 1 or None, got {workers!r}")  # before the journal
        await self.hub.aflush()
        try:
            res = await asyncio.to_thread(self._bi_rebuild_sync, start, end, workers)
        except OSError as exc:  # contained: logged, audited, reported in the result
            logger.error("rebuild_rollups failed: %s", exc)
            self._audit("rebuild_rollups", target=ROLLUP_STREAM, outcome="failure", error=str(exc))
            return {"ok": False, "error": str(exc)}
        res["ok"] = True
        self._audit("rebuild_rollups", target=ROLLUP_STREAM, start=res["start"], end=res["end"],
                   hours=res["hours"], records_written=res["records_written"])
        return res

    def _bi_rebuild_sync(self, start: datetime, end: datetime, workers: int | None) -> dict[str, Any]:
        with self._lock:
            return _rebuild(self.store, start, end, workers=workers,
                            relative_accuracy=self.accumulator.accuracy, now=self.clock.now())

    # ------------------------------------------------------------------ reports
    async def generate_reports(
        self, kinds: list[str] | None = None, *, at: date | None = None,
        formats: list[str] | None = None, force: bool = False,
    ) -> list[str]:
        """Write the report of the last closed day/week/month (or the one containing ``at``) in each
        format of ``report_output_formats``; existing reports are kept unless ``force``; a period
        without any rollup gets no report (logged). Returns the paths written."""
        ac = self.config
        for name, v in (("kinds", kinds), ("formats", formats)):
            if v is not None and (isinstance(v, (str, bytes)) or not isinstance(v, (list, tuple))):
                raise TypeError(f"{name}: expected a list of str or None, got {type(v).__name__}")
        if type(force) is not bool:
            raise TypeError(f"force: expected bool, got {type(force).__name__}")
        if kinds is None:
            kinds = [k for k in REPORT_KINDS if getattr(ac, f"generate_{REPORT_KINDS[k]}_reports")]
        for kind in kinds:
            if kind not in REPORT_KINDS:
                raise ValueError(f"kinds: unknown report kind {kind!r:.80} (use {list(REPORT_KINDS)})")
        fmts = list(formats or ac.report_output_formats)
        for fmt in fmts:
            if fmt not in REPORT_FORMATS:
                raise ValueError(f"formats: unknown report format {fmt!r} (use {list(REPORT_FORMATS)})")
        reports_dir = self.analytics_path / "reports"
        written: list[str] = []
        for kind in kinds:
            label, s, e = closed_period(kind, self.clock.now(), at)
            missing = [f for f in fmts if force or not report_path(reports_dir, kind, label, f).exists()]
            if not missing:
                continue
            dto, result = await self.generate_business_intelligence_result(kind, start=s, end=e, write=False)
            if result is None:
                continue
            if not result.details["events"] and not result.details["system"]["samples"]:
                logger.info("no %s report for %s: no rollups in %s .. %s", kind, label,
                            result.details["period_start"], result.details["period_end"])
                continue
            report = build_report(result.fields, result.details, kind, label, self.clock.now())
            try:
                paths = await asyncio.to_thread(write_report, reports_dir, report, kind, missing)
            except OSError as exc:
                logger.error("writing %s report %s failed: %s", kind, label, exc)
                continue
            written += [str(p) for p in paths]
        return written

    async def _reports_job(self) -> None:
        if self.enabled:
            await self.generate_reports()
