"""BI through the manager: DTO, result streams, small-cell suppression everywhere, reports, CLI."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from ff_class_configs.ff_analytics_configs.ff_analytics_entities_config import (
    FFBusinessIntelligenceDTO,
    FFSystemMetricsDTO,
)
from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO
from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_utils.ff_analytics_bi.ff_bi_engine import linear_fit
from ff_utils.ff_analytics_bi.ff_bi_small_cells import ff_suppressed_cells
from ff_utils.ff_analytics_core.ff_clock import FFManualClock, ff_iso
from tests._bi_events import FFTestBIEvent

START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
RARE = "rare_feature_qq"
RARE_PLATFORM = "rare_platform_qq"


def _manager(tmp_path: Path, clock: FFManualClock, **analytics: Any) -> FFMetricsCollectionManager:
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(tmp_path)
    cfg.analytics.fsync_policy = "never"
    for k, v in analytics.items():
        setattr(cfg.analytics, k, v)
    return FFMetricsCollectionManager(cfg, clock=clock, writer_id="bi-test")


def _feed_days(m: FFMetricsCollectionManager, clock: FFManualClock, days: int, users_per_day: list[int]) -> None:
    """Day d: users 0..users_per_day[d]-1 each do a session; users 0 and 1 also use RARE."""
    for d in range(days):
        for u in range(users_per_day[d]):
            clock.set(START + timedelta(days=d, hours=9 + u % 8, minutes=u % 60))
            ts = ff_iso(clock.now())
            uh = f"user-{u:04d}"
            feats = ["chat"] + (["search"] if u % 2 else []) + ([RARE] if u < 2 else [])
            m.bi.observe_user_event(FFTestBIEvent(ts, uh, event_type="session_start", platform=RARE_PLATFORM if u < 2 else "web"))
            m.bi.observe_user_event(FFTestBIEvent(ts, uh, event_type="feature_usage", features_used=feats, platform="web",
                                            user_segment="power" if u < 3 else "casual"))
            m.bi.observe_user_event(FFTestBIEvent(ts, uh, event_type="session_end", session_duration_seconds=60 + u,
                                            satisfaction_rating=2 + u % 4))


def _all_output_text(root: Path) -> str:
    parts = []
    bi = root / "analytics" / "business_intelligence"
    for stream in ("usage_trends", "optimization_insights", "capacity_planning", "roi_analytics"):
        parts += [p.read_text() for p in (bi / stream).rglob("*.jsonl")]
    parts += [p.read_text() for p in (root / "analytics" / "reports").rglob("*.*")]
    return "\n".join(parts)


async def test_small_cells_absent_from_every_output(tmp_path: Path) -> None:
    clock = FFManualClock(START)
    m = _manager(tmp_path, clock)
    await m.initialize_analytics_system(start_collection=False)
    _feed_days(m, clock, 3, [40, 40, 40])
    clock.set(START + timedelta(days=3, hours=1))
    dto = await m.generate_business_intelligence("day", start=START + timedelta(days=1), end=START + timedelta(days=2))
    written = await m.generate_reports()
    await m.aflush()
    assert isinstance(dto, FFBusinessIntelligenceDTO)
    assert dto.active_users == 40 and "chat" in dto.feature_adoption_rates
    assert any(p.endswith(".csv") for p in written) and any(p.endswith(".json") for p in written)
    # the rare cells exist in the (internal) rollups, so the suppression is what hides them
    rollups = "".join(p.read_text() for p in (tmp_path / "analytics" / "business_intelligence" / "rollups").rglob("*.jsonl"))
    assert RARE in rollups and RARE_PLATFORM in rollups
    out = _all_output_text(tmp_path) + orjson.dumps(dto).decode()
    assert RARE not in out and RARE_PLATFORM not in out
    # complementary suppression: segments {power: 3, casual: 37} -> both hidden, the 3 cannot be derived
    trends = [json.loads(line) for p in (tmp_path / "analytics" / "business_intelligence" / "usage_trends").rglob("*.jsonl")
              for line in p.read_text().splitlines()]
    seg = trends[0]["breakdowns"]["segments"]
    assert seg["cells"] == {} and seg["suppressed"] == 2
    await m.close()


def test_complementary_suppression_rules() -> None:
    assert ff_suppressed_cells({"a": 2, "b": 50, "c": 60}, 5, additive=True) == {"a", "b"}
    assert ff_suppressed_cells({"a": 1, "b": 2, "c": 100, "d": 200}, 5, additive=True) == {"a", "b", "c"}
    assert ff_suppressed_cells({"a": 7, "b": 9}, 5, additive=True) == set()
    assert ff_suppressed_cells({"a": 1}, 5, additive=True) == {"a"}
    with pytest.raises(ValueError, match="min_cell_size"):
        ff_suppressed_cells({"a": 1}, 0, additive=True)


async def test_periods_reports_roi_and_system_rules(tmp_path: Path) -> None:
    clock = FFManualClock(START)
    m = _manager(tmp_path, clock, infrastructure_cost_per_day_usd=10.0, cost_per_event_usd=0.001,
                 revenue_per_active_user_usd=0.5)
    await m.initialize_analytics_system(start_collection=False)
    assert "bi_reports" in m.hub.periodic_jobs
    _feed_days(m, clock, 5, [20, 30, 40, 50, 60])
    for h in range(24):  # system ticks on day 5: hot CPU, slow responses
        clock.set(START + timedelta(days=4, hours=h, minutes=30))
        await m.bi.on_tick(FFSystemMetricsDTO(timestamp=ff_iso(clock.now()), cpu_usage_percent=95.0,
                                            memory_usage_percent=50.0, response_time_ms=1500.0 + h,
                                            request_count=100, error_count=1))
    clock.set(START + timedelta(days=5, hours=0, minutes=10))
    with pytest.raises(ValueError, match="period"):
        await m.generate_business_intelligence("fortnight")
    with pytest.raises(ValueError, match="start/end"):
        await m.generate_business_intelligence("day", start=START)
    day5 = (START + timedelta(days=4), START + timedelta(days=5))
    dto, res = await m.generate_business_intelligence_result("day", start=day5[0], end=day5[1])
    assert dto.active_users == 60 and dto.new_users == 10 and dto.returning_users == 50
    assert dto.total_users == 60
    assert dto.user_growth_rate_percent == pytest.approx(20.0)
    # growth fit over the 4 complete days before day 5's end? days 1..4 + day 5 complete at its end
    fit = res.details["growth_fit"]
    assert fit is not None and fit["r2"] == pytest.approx(1.0) and fit["slope"] == pytest.approx(10.0)
    assert dto.projected_growth_30_days == pytest.approx(10.0 * 30 / 60 * 100, rel=1e-3)
    assert any("CPU" in s and "95.0%" in s for s in dto.scaling_recommendations)
    slow = [s for s in dto.performance_bottlenecks if s.startswith("slow responses: p95 of per-window mean response time")]
    assert len(slow) == 1 and "over 24 windows" in slow[0]
    assert abs(float(slow[0].split("time ")[1].split(" ms")[0]) - 1521) <= 0.01 * 1521 + 1  # sketch: 1% + rounding
    assert res.details["system"]["errors"] == 24 and res.details["system"]["request_windows"] == 24
    assert dto.resource_utilization_trends["cpu_usage"] == [95.0] * 24
    # ROI from configured unit costs
    events = res.details["events"]
    cost = 10.0 * 1 + 0.001 * events
    assert dto.roi_indicators["cost_usd"] == pytest.approx(cost)
    assert dto.cost_per_user == pytest.approx(cost / 60, abs=1e-6)
    assert dto.revenue_per_user == 0.5
    assert dto.roi_indicators["roi_percent"] == pytest.approx((0.5 * 60 - cost) / cost * 100, rel=1e-6)
    # the day report parses (JSON) and loads (CSV) with the DTO's numbers
    written = await m.generate_reports(["day"])
    jpath = next(Path(p) for p in written if p.endswith(".json"))
    cpath = next(Path(p) for p in written if p.endswith(".csv"))
    assert jpath.name == "2026-11-06.json"
    report = json.loads(jpath.read_text())
    assert report["business_intelligence"] == json.loads(orjson.dumps(res.fields))
    rows = list(csv.DictReader(io.StringIO(cpath.read_text())))
    summary = {r["key"]: r["value"] for r in rows if r["section"] == "summary"}
    for k in ("total_users", "active_users", "new_users", "returning_users"):
        assert int(summary[k]) == getattr(dto, k)
    assert float(summary["cost_per_user"]) == pytest.approx(dto.cost_per_user)
    adoption = {r["key"]: float(r["value"]) for r in rows if r["section"] == "feature_adoption_rates"}
    assert adoption == dto.feature_adoption_rates
    # existing reports are kept (idempotent job), force rewrites
    assert await m.generate_reports(["day"]) == []
    assert len(await m.generate_reports(["day"], force=True)) == 2
    # without unit costs the ROI is empty with the reason
    await m.close()


async def test_roi_empty_with_reason_and_erasure(tmp_path: Path) -> None:
    clock = FFManualClock(START)
    m = _manager(tmp_path, clock)
    await m.initialize_analytics_system(start_collection=False)
    _feed_days(m, clock, 1, [12])
    clock.set(START + timedelta(hours=20))
    dto, res = await m.generate_business_intelligence_result("day")
    assert dto.roi_indicators == {} and dto.cost_per_user == 0.0
    assert "no unit costs configured" in res.details["reasons"]["roi_indicators"]
    assert dto.active_users == 12
    assert m.bi.erase_user("user-0003") >= 1
    dto2 = await m.generate_business_intelligence("day")
    assert dto2.active_users == 11
    await m.close()


def test_linear_fit() -> None:
    fit = linear_fit([1.0, 3.0, 5.0, 7.0])
    assert fit is not None and fit["slope"] == pytest.approx(2.0) and fit["r2"] == pytest.approx(1.0)
    assert linear_fit([1.0, 2.0]) is None


def test_cli_bi_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    from ff_metrics_collection_manager import main as run_cli

    now = datetime.now(UTC)

    async def setup() -> None:
        clock = FFManualClock(now - timedelta(days=8))
        m = _manager(tmp_path, clock)
        await m.initialize_analytics_system(start_collection=False)
        for d in range(8):
            for u in range(10):
                clock.set(now - timedelta(days=8 - d, minutes=u))
                m.bi.observe_user_event(FFTestBIEvent(ff_iso(clock.now()), f"cli-user-{u}", event_type="session_start",
                                                features_used=["chat"], platform="web"))
        await m.close()

    asyncio.run(setup())
    assert run_cli(["bi", "--period", "week", "--base-path", str(tmp_path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["analysis_period"] == "week" and data["active_users"] == 10
    assert data["details"]["min_cell_size"] == 5
    assert run_cli(["report", "--period", "week", "--format", "csv", "--base-path", str(tmp_path)]) == 0
    out = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out.out)))
    assert rows and rows[0]["section"] == "report"
    assert "weekly" in out.err
    assert run_cli(["bi", "--period", "decade", "--base-path", str(tmp_path)]) == 2
    assert "period" in capsys.readouterr().err


async def test_end_to_end_record_user_analytics_then_rebuild(tmp_path: Path) -> None:
    """Events through the privacy pipeline feed the rollups; a rebuild from raw gives the same hours."""
    clock = FFManualClock(START)
    m = _manager(tmp_path, clock)
    await m.initialize_analytics_system(start_collection=False)
    for i in range(120):
        clock.set(START + timedelta(hours=i // 10, minutes=i % 10))
        u = f"person-{i % 15}"
        assert await m.record_user_analytics(u, f"s{i % 15}", "session_start", {"platform": "web"})
        assert await m.record_user_analytics(u, f"s{i % 15}", "feature_usage", {"features": ["chat", "search"]})
        assert await m.record_user_analytics(u, f"s{i % 15}", "session_end", {"duration": 30 + i})
    clock.set(START + timedelta(hours=13))
    dto, res = await m.generate_business_intelligence_result("day", start=START, end=START + timedelta(days=1))
    assert dto.active_users == 15 and dto.new_users == 15
    assert res.details["sessions"] == 120 and res.details["session_duration_seconds"]["count"] == 120
    assert dto.feature_adoption_rates == {"chat": 100.0, "search": 100.0}
    before = {hk: m.bi.index.hour_full(hk).canonical() for hk in m.bi.index.hour_aggs}
    out = await m.rebuild_rollups(START, START + timedelta(days=1))
    assert out["hours"] == len(before) == 12
    m.bi.index.refresh()
    after = {hk: m.bi.index.hour_full(hk).canonical() for hk in m.bi.index.hour_aggs}
    assert after == before
    await m.close()


def test_cli_report_without_data_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ff_metrics_collection_manager import main as run_cli

    assert run_cli(["report", "--period", "month", "--base-path", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no month report" in err and err.count("\n") == 1
