"""Analysis through the manager: analyze(), anomalies -> alerts, patterns -> behavior_patterns,
capacity -> capacity_planning, and the ``ff-metrics analyze`` CLI."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO
from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_utils.ff_analytics_core.ff_clock import FFManualClock, ff_iso, ff_utc_now

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
STEP_MIN = 5
POINTS = 7 * 24 * 60 // STEP_MIN


def _manager(tmp_path, clock=None) -> FFMetricsCollectionManager:
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(tmp_path)
    return FFMetricsCollectionManager(cfg, clock=clock or FFManualClock(NOW))


def _write_week(m, now: datetime, *, latency_step: float = 1.25, seed: int = 1) -> None:
    """7 days of 5-minute samples: flat CPU, disk +5 points/day, latency stepping up in the last hour."""
    rng = random.Random(seed)
    for i in range(POINTS):
        t = now - timedelta(minutes=STEP_MIN * (POINTS - 1 - i))
        days = i * STEP_MIN / 1440
        disk_pct = 50.0 + 5.0 * days
        m.store.append("resource_usage", {
            "timestamp": ff_iso(t), "cpu_usage_percent": 30 + rng.gauss(0, 2),
            "memory_usage_percent": 40 + rng.gauss(0, 0.5), "disk_usage_percent": disk_pct,
            "disk_usage_mb": disk_pct * 1000.0, "memory_usage_mb": (40 + rng.gauss(0, 0.5)) * 160.0,
        })
        last_hour = i >= POINTS - 12
        m.store.append("performance", {
            "timestamp": ff_iso(t), "kind": "window", "mean": 100.0 * (latency_step if last_hour else 1.0)
            + rng.gauss(0, 2), "p95": 180.0 + rng.gauss(0, 3), "success_rate_percent": 99.5, "count": 50,
        })
    m.store.flush()


async def test_analyze_reports_regression_capacity_and_trend_with_numbers(tmp_path):
    m = _manager(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    _write_week(m, NOW)
    res = await m.analyze(window="7d", detection_window="1h")
    assert res["metrics"]["cpu_usage_percent"]["points"] == POINTS
    kinds = {(f["kind"], f["metric"]) for f in res["findings"]}
    assert ("regression", "response_time_ms") in kinds
    reg = res["metrics"]["response_time_ms"]["regression"]
    assert reg["change_percent"] == pytest.approx(25.0, abs=3.0) and reg["regression"]
    assert ("capacity", "disk_usage_percent") in kinds
    cap = next(f for f in res["findings"] if f["kind"] == "capacity" and f["metric"] == "disk_usage_percent")
    # disk at 50 + 5*7 = 85% growing 5/day -> full in ~3 days
    assert cap["numbers"]["days_to_saturation"] == pytest.approx(3.0, rel=0.05)
    assert cap["severity"] == "error"
    trend = res["metrics"]["disk_usage_percent"]["trend"]["trend"]
    assert trend["direction"] == "increasing" and trend["slope_per_day"] == pytest.approx(5.0, rel=1e-3)
    assert not any(f["kind"] == "regression" and f["metric"] == "cpu_usage_percent" for f in res["findings"])
    ranks = [{"critical": 0, "error": 1, "warning": 2, "info": 3}[f["severity"]] for f in res["findings"]]
    assert ranks == sorted(ranks)
    await m.close()


async def test_analyze_one_metric_and_bad_arguments(tmp_path):
    m = _manager(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    _write_week(m, NOW, latency_step=1.10)
    res = await m.analyze("response_time_ms", "7d", detection_window="1h", kinds=["regression", "trend"])
    assert list(res["metrics"]) == ["response_time_ms"]
    assert res["metrics"]["response_time_ms"]["regression"]["regression"] is False
    assert "anomalies" not in res["metrics"]["response_time_ms"]
    empty = await m.analyze("no_such_metric", "1d")
    assert empty["metrics"]["no_such_metric"]["points"] == 0
    assert empty["findings"][0]["kind"] == "data"
    with pytest.raises(ValueError, match="window"):
        await m.analyze(window="a week")
    with pytest.raises(ValueError, match="kinds"):
        await m.analyze(kinds=["magic"])
    with pytest.raises(ValueError, match="detection_window"):
        await m.analyze(window="1h", detection_window="2h")
    await m.close()


async def test_recent_anomaly_raises_an_alert_through_raise_alert(tmp_path):
    m = _manager(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    rng = random.Random(3)
    n = 24 * 12
    for i in range(n):
        t = NOW - timedelta(minutes=5 * (n - 1 - i))
        v = 30 + rng.gauss(0, 1) + (40 if i == n - 2 else 0)
        m.store.append("resource_usage", {"timestamp": ff_iso(t), "cpu_usage_percent": v})
    found = await m.detect_anomalies("cpu_usage_percent", "24h")
    spikes = [a for a in found if a["kind"] == "spike"]
    assert len(spikes) == 1 and spikes[0]["value"] > 60
    (alert,) = await m.get_active_alerts()  # raised through the alert engine
    assert alert.rule_id == "anomaly_cpu_usage_percent" and alert.alert_type == "anomaly"
    assert alert.current_value == spikes[0]["value"]
    assert spikes[0]["expected_value"] < alert.threshold_value < alert.current_value
    m.flush()
    fired = [r for r in m.store.read("alerts") if r.get("event") == "fired"]
    assert [r["alert"]["rule_id"] if "alert" in r else r.get("rule_id") for r in fired] == ["anomaly_cpu_usage_percent"]
    assert m.analysis_stats["alerts_raised"] == 1
    await m.close()


def _bare_service(tmp_path, **callables):
    """An analysis engine on its own store, wired only with the given alert callables."""
    from ff_class_configs.ff_analytics_configs import FFAnalyticsConfigDTO
    from ff_utils.ff_analytics_analysis.ff_analysis_service import FFAnalysisService
    from ff_utils.ff_analytics_core.ff_lifecycle_hub import FFLifecycleHub
    from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore

    ac = FFAnalyticsConfigDTO(collection_interval_seconds=60)
    clock = FFManualClock(NOW)
    store = FFStreamStore(tmp_path, ac, clock=clock)
    return FFAnalysisService(store, clock, ac, FFLifecycleHub(store), **callables)


def test_without_raise_alert_anomalies_are_counted_not_raised(tmp_path):
    from ff_utils.ff_analytics_analysis.ff_anomaly_detector import FFAnomalyDetector

    bare = _bare_service(tmp_path)  # an analysis engine without an alert engine
    now = NOW.timestamp()
    series = [(now - 60 * (99 - i), 10.0 + (i % 3) * 0.1 + (50 if i == 98 else 0)) for i in range(100)]
    scan = FFAnomalyDetector().scan(series, "cpu")
    assert [a.kind for a in scan.anomalies] == ["spike"]
    assert bare._raise_anomaly_alerts(scan.anomalies, now) == 0
    assert bare.analysis_stats["alerts_skipped"] == 1 and bare.analysis_stats["alerts_raised"] == 0
    # an anomaly older than the look-back window is neither raised nor counted
    assert bare._raise_anomaly_alerts(scan.anomalies, now + 3600) == 0
    assert bare.analysis_stats["alerts_skipped"] == 1


async def test_learn_patterns_writes_behavior_patterns_and_reads_back(tmp_path):
    m = _manager(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    rng = random.Random(8)
    t = NOW - timedelta(days=2)
    noise = ["page_view", "feature_usage", "satisfaction", "conversion"]
    for s in range(40):
        steps = [rng.choice(noise) for _ in range(rng.randint(1, 4))]
        steps[1:1] = ["session_start", "content_interaction", "session_end"] if s < 30 else []
        for et in steps:
            t += timedelta(seconds=rng.uniform(5, 30))
            stream = {"session_start": "session_analytics", "session_end": "session_analytics",
                      "feature_usage": "feature_usage", "conversion": "engagement_metrics",
                      "satisfaction": "engagement_metrics"}.get(et, "behavior_patterns")
            m.store.append(stream, {"timestamp": ff_iso(t), "event_type": et, "session_id": f"sess{s}",
                                    "user_hash": f"u{s % 7}"})
        t += timedelta(minutes=30)
    res = await m.learn_patterns("7d")
    seq = [p for p in res["patterns"] if p["pattern_type"] == "sequence"
           and p["events"] == ["session_start", "content_interaction", "session_end"]]
    assert len(seq) == 1 and seq[0]["occurrences"] == 30
    assert res["written"] == len(res["patterns"]) > 0
    assert res["parameters"]["min_occurrences"] == m.analytics_config.pattern_min_occurrences
    m.store.flush()
    stored = [r for r in m.store.read("behavior_patterns") if r.get("record_type") == "learned_pattern"]
    assert {r["pattern_id"] for r in stored} == {p["pattern_id"] for p in res["patterns"]}
    # a second run ignores the pattern records it wrote (they are not user events)
    again = await m.learn_patterns("7d", write=False)
    assert again["events_read"] == res["events_read"] and again["written"] == 0
    await m.close()


async def test_forecast_capacity_feeds_capacity_planning(tmp_path):
    m = _manager(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    _write_week(m, NOW)
    out = await m.forecast_capacity("3d")
    by = {(r["resource"], r["metric"]): r for r in out}
    disk = by[("disk", "disk_usage_percent")]
    assert disk["status"] == "saturating" and disk["days_to_saturation"] == pytest.approx(3.0, rel=0.05)
    assert disk["scaling_recommendations"] and "full in 3.0 days" in disk["message"]
    mb = by[("disk", "disk_usage_mb")]
    assert mb["capacity"] == pytest.approx(100_000.0) and mb["days_to_saturation"] == pytest.approx(3.0, rel=0.05)
    assert by[("memory", "memory_usage_percent")]["status"] == "not_growing" or \
        by[("memory", "memory_usage_percent")]["days_to_saturation"] > 365
    m.store.flush()
    stored = list(m.store.read("capacity_planning"))
    assert len(stored) == len(out) and {r["record_type"] for r in stored} == {"capacity_forecast"}
    assert stored[0]["timestamp"] == ff_iso(NOW)
    await m.close()


def test_cli_analyze_prints_findings(tmp_path, capsys):
    import asyncio

    from ff_metrics_collection_manager import main as run_cli

    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(tmp_path)
    m = FFMetricsCollectionManager(cfg)  # real clock: the CLI looks back from now
    asyncio.run(m.initialize_analytics_system(start_collection=False))
    _write_week(m, ff_utc_now())
    asyncio.run(m.close())
    rc = run_cli(["analyze", "--base-path", str(tmp_path), "--metric", "response_time_ms", "--window", "7d",
                  "--detection-window", "1h", "--format", "json"])
    out = capsys.readouterr().out
    assert rc == 0
    res = json.loads(out)
    assert any(f["kind"] == "regression" for f in res["findings"])
    rc = run_cli(["analyze", "--base-path", str(tmp_path), "--metric", "response_time_ms", "--window", "7d",
                  "--detection-window", "1h"])
    text = capsys.readouterr().out
    assert rc == 0 and "regression" in text and "response_time_ms" in text
    rc = run_cli(["analyze", "--base-path", str(tmp_path), "--window", "soon"])
    err = capsys.readouterr().err
    assert rc == 2 and "--window" in err
    rc = run_cli(["capacity", "--base-path", str(tmp_path), "--window", "3d", "--no-write"])
    assert rc == 0 and "disk full in" in capsys.readouterr().out


def test_bench_analysis_runs_small(capsys):
    from ff_metrics_collection_manager import main as run_cli

    rc = run_cli(["bench", "analysis", "--events", "1000", "--days", "3", "--repeat", "1", "--format", "json"])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0 and res["patterns_1000_planted_count"] == 20 and res["anomaly_scan_points"] == 3 * 1440
    assert res["anomaly_scan_found"] >= 1


async def test_schedule_analysis_jobs_registers_runnable_jobs(tmp_path):
    m = _manager(tmp_path)
    await m.initialize_analytics_system(start_collection=False)
    _write_week(m, NOW)
    names = m.schedule_analysis_jobs(pattern_interval_seconds=None)
    assert names == ["analysis_anomalies", "analysis_capacity"]
    assert m.hub.periodic_jobs["analysis_anomalies"][0] == 300.0
    await m.hub.periodic_jobs["analysis_capacity"][1]()
    m.store.flush()
    assert any(r.get("record_type") == "capacity_forecast" for r in m.store.read("capacity_planning"))
    with pytest.raises(ValueError, match="anomaly_window"):
        m.schedule_analysis_jobs(anomaly_window="often")
    await m.close()


def test_raise_alert_is_called_by_keyword_with_the_anomaly_rule_id(tmp_path):
    from ff_utils.ff_analytics_analysis.ff_anomaly_detector import FFAnomalyDetector

    calls = []
    obj = _bare_service(tmp_path, raise_alert=lambda **kw: calls.append(kw))
    now = NOW.timestamp()
    scan = FFAnomalyDetector().scan([(now - 60 * (99 - i), 5.0 + (i % 2) * 0.1 + (9 if i == 99 else 0))
                                     for i in range(100)], "queue_depth")
    assert obj._raise_anomaly_alerts(scan.anomalies, now) == 1
    kw = calls[0]
    assert (kw["alert_type"], kw["metric_name"], kw["current_value"]) == ("anomaly", "queue_depth", scan.anomalies[0].value)
    assert kw["rule_id"] == "anomaly_queue_depth" and kw["severity"] in ("warning", "error", "critical")


async def test_patterns_from_events_recorded_through_the_privacy_pipeline(tmp_path):
    """End to end: host calls record_user_analytics; learn_patterns finds the journey in the
    pseudonymized records (session ids are hashed, the sequence survives)."""
    clock = FFManualClock(NOW)
    m = _manager(tmp_path, clock)
    await m.initialize_analytics_system(start_collection=False)
    rng = random.Random(12)
    extras = ["feature_usage", "satisfaction"]
    for s in range(25):
        user, sess = f"user-{s % 6}", f"session-{s}"
        journey = ["session_start", "page_view", "content_interaction", "conversion", "session_end"]
        if s % 3 == 0:
            journey.insert(1, rng.choice(extras))
        for et in journey:
            data = {"feature": "search"} if et == "feature_usage" else {"rating": 8} if et == "satisfaction" else {}
            await m.record_user_analytics(user, sess, et, data)
            clock.advance(rng.uniform(2, 20))
        clock.advance(600)
    res = await m.learn_patterns("1d", write=False)
    assert res["events_read"] == 25 * 5 + 9  # 9 sessions (s % 3 == 0) have one extra step
    seqs = {tuple(p["events"]): p for p in res["patterns"] if p["pattern_type"] == "sequence"}
    assert ("page_view", "content_interaction", "conversion", "session_end") in seqs
    assert seqs[("page_view", "content_interaction", "conversion", "session_end")]["occurrences"] == 25
    await m.close()
