"""Alerting through the manager: tick hook, restart mid-incident, history, remediation, MTTR, CLI."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ff_class_configs.ff_analytics_configs.ff_analytics_entities_config import FFSystemMetricsDTO
from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO
from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_utils.ff_analytics_core.ff_clock import FFManualClock

START = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


class _Hook:
    """Local webhook receiver on 127.0.0.1."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                outer.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def alert_ids(self, event: str | None = None) -> list[str]:
        return [b["alert"]["alert_id"] for b in self.bodies
                if b.get("kind") == "alert" and (event is None or b["event"] == event)]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _config(base, webhook_url=None, **alerting):
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(base)
    ac = cfg.analytics.alerting_config
    ac.alert_cooldown_minutes = 5
    ac.max_alerts_per_hour = 100
    ac.escalation_delay_minutes = 30
    if webhook_url:
        ac.enable_webhook_alerts = True
        ac.webhook_urls = [webhook_url]
        ac.webhook_max_retries = 0
    for k, v in alerting.items():
        setattr(ac, k, v)
    return cfg


def _manager(base, clock, **kw):
    return FFMetricsCollectionManager(_config(base, **kw), clock=clock)


@pytest.fixture
def hook():
    h = _Hook()
    yield h
    h.close()


async def test_check_system_alerts_evaluates_system_and_component_metrics(tmp_path):
    clock = FFManualClock(START)
    m = _manager(tmp_path, clock, cpu_usage_threshold_percent=80.0)
    assert m.alerts.check_system_alerts not in m.hub.tick_hooks  # once per collection, not per hook
    dto = FFSystemMetricsDTO(cpu_usage_percent=95.0, success_rate_percent=90.0,
                             component_error_rates={"db": 20.0, "api": 0.0},
                             component_response_times={"db": 12.0})
    m.alerts.check_system_alerts(dto)
    active = {(a.rule_id, a.affected_component) for a in await m.get_active_alerts()}
    assert active == {("builtin.cpu_usage", "system"), ("builtin.error_rate", "system"),
                      ("builtin.component_error_rate", "db")}
    (err,) = await m.get_active_alerts("error") and [a for a in await m.get_active_alerts("error")
                                                     if a.rule_id == "builtin.error_rate"]
    assert err.current_value == pytest.approx(10.0)
    clock.advance(60)
    m.alerts.check_system_alerts(FFSystemMetricsDTO(cpu_usage_percent=10.0, success_rate_percent=100.0,
                                              component_error_rates={"db": 0.0}))
    assert await m.get_active_alerts() == []
    await m.close()


async def test_instrument_window_rules_and_validation(tmp_path):
    m = _manager(tmp_path, FFManualClock(START))
    with pytest.raises(ValueError, match="comparison"):
        m.add_alert_rule(rule_id="q", metric="queue_depth", threshold=100, comparison="~")
    m.add_alert_rule(rule_id="q", metric="queue_depth", threshold=100, severity="critical", labels={"team": "chat"})
    assert m.evaluate_alerts({"queue_depth": 250.0, ("queue_depth", "worker-2"): 5.0}) == 2
    (a,) = await m.get_active_alerts("critical")
    assert a.rule_id == "q" and a.historical_context["labels"] == {"team": "chat"}
    with pytest.raises(TypeError, match="values"):
        m.evaluate_alerts({"queue_depth": "high"})
    await m.close()


async def test_restart_mid_incident_keeps_ack_and_sends_nothing_twice(tmp_path, hook):
    clock = FFManualClock(START)
    m1 = _manager(tmp_path, clock, webhook_url=hook.url)
    m1.add_alert_rule(rule_id="lat", metric="latency_ms", threshold=100.0)
    m1.evaluate_alerts({("latency_ms", "db"): 500.0, ("latency_ms", "api"): 500.0})
    by_comp = {a.affected_component: a for a in await m1.get_active_alerts()}
    assert await m1.acknowledge_alert(by_comp["db"].alert_id, "alice")
    assert await m1.wait_alert_work()
    assert sorted(hook.alert_ids("fired")) == sorted(a.alert_id for a in by_comp.values())
    await m1.close()

    clock.advance(120)  # restart inside the cooldown
    m2 = _manager(tmp_path, clock, webhook_url=hook.url)
    m2.add_alert_rule(rule_id="lat", metric="latency_ms", threshold=100.0)
    after = {a.affected_component: a for a in await m2.get_active_alerts()}
    assert {c: a.alert_id for c, a in after.items()} == {c: a.alert_id for c, a in by_comp.items()}
    assert after["db"].status == "acknowledged" and after["db"].acknowledged_by == "alice"
    assert after["api"].status == "firing" and after["api"].notification_count == 1
    m2.evaluate_alerts({("latency_ms", "db"): 500.0, ("latency_ms", "api"): 500.0})
    assert await m2.wait_alert_work()
    assert len(hook.bodies) == 2  # nothing sent again, no new alert
    assert len(await m2.get_active_alerts()) == 2
    clock.advance(31 * 60)  # past the escalation delay: only the unacknowledged alert escalates
    m2.evaluate_alerts({("latency_ms", "db"): 500.0, ("latency_ms", "api"): 500.0})
    assert await m2.wait_alert_work()
    assert hook.alert_ids("escalated") == [by_comp["api"].alert_id]
    assert m2.get_alert(by_comp["db"].alert_id).escalated is False
    await m2.close()

    m3 = _manager(tmp_path, clock, webhook_url=hook.url)
    api = m3.get_alert(by_comp["api"].alert_id)
    assert api.escalated and api.severity == "error" and api.notification_count == 2
    m3.add_alert_rule(rule_id="lat", metric="latency_ms", threshold=100.0)
    m3.evaluate_alerts({("latency_ms", "db"): 500.0, ("latency_ms", "api"): 500.0})
    assert await m3.wait_alert_work()
    assert len(hook.bodies) == 3
    await m3.close()


async def test_ack_and_resolve_are_audited_and_history_reads_the_log(tmp_path):
    clock = FFManualClock(START)
    m = _manager(tmp_path, clock)
    m.add_alert_rule(rule_id="r", metric="x", threshold=1.0, severity="error")
    m.evaluate_alerts({"x": 5.0})
    (a,) = await m.get_active_alerts()
    assert await m.acknowledge_alert(a.alert_id, "bob")
    clock.advance(90)
    assert await m.resolve_alert(a.alert_id, "fixed")
    assert not await m.resolve_alert(a.alert_id, "again")
    m.flush()
    audited = [(r["action"], r["target"], r["outcome"], r["actor"]) for r in m.store.read("audit_logs")
               if r["action"].startswith("alert_")]
    assert audited[:2] == [("alert_acknowledge", a.alert_id, "success", "bob"),
                           ("alert_resolve", a.alert_id, "success", "system")]
    assert audited[2][2] == "not_found"
    hist = await m.get_alert_history(START - timedelta(hours=1), START + timedelta(hours=1))
    assert [h.alert_id for h in hist] == [a.alert_id]
    assert hist[0].status == "resolved" and hist[0].resolution_time_seconds == 90
    assert hist[0].acknowledged_by == "bob" and hist[0].resolution_notes == "fixed"
    assert await m.get_alert_history(START + timedelta(hours=2), START + timedelta(hours=3)) == []
    assert await m.get_alert_history(status="firing") == []
    with pytest.raises(ValueError, match="status"):
        await m.get_alert_history(status="open")
    raw = [r["event"] for r in m.alerts.log.sorted_events()]
    assert raw == ["fired", "acknowledged", "resolved"]
    await m.close()


async def test_mttr_is_the_mean_of_recorded_resolution_times(tmp_path):
    clock = FFManualClock(START)
    m = _manager(tmp_path, clock)
    m.add_alert_rule(rule_id="r", metric="x", threshold=1.0)
    durations = [60, 120, 180, 600]
    for i, d in enumerate(durations):
        m.evaluate_alerts({("x", f"c{i}"): 5.0})
        (a,) = [x for x in await m.get_active_alerts() if x.affected_component == f"c{i}"]
        clock.advance(d)
        assert await m.resolve_alert(a.alert_id, "done")
    m.evaluate_alerts({("x", "open"): 5.0})
    rep = await m.get_recovery_analytics(window_days=1)
    recorded = [a.resolution_time_seconds for a in await m.get_alert_history(status="resolved")]
    assert sorted(recorded) == durations
    assert rep["mttr_seconds"] == pytest.approx(sum(recorded) / len(recorded))
    assert rep["alerts_fired"] == 5 and rep["alerts_resolved"] == 4 and rep["alerts_open"] == 1
    assert rep["resolution_time_distribution"] == {"<1m": 0, "1-5m": 3, "5-15m": 1, "15-60m": 0, "1-4h": 0,
                                                    "4-24h": 0, ">24h": 0}
    assert rep["per_rule"]["r"]["resolution_rate"] == 0.8
    assert rep["trend"] == "" and "previous 0" in rep["trend_reason"]
    await m.close()


async def test_recovery_trend_compares_windows(tmp_path):
    clock = FFManualClock(START)
    m = _manager(tmp_path, clock)
    m.add_alert_rule(rule_id="r", metric="x", threshold=1.0)
    for day, dur in ((0, 1000), (1, 100)):  # day 0 slow, day 1 fast
        clock.set(START + timedelta(days=day))
        for i in range(3):
            m.evaluate_alerts({("x", f"d{day}c{i}"): 5.0})
            (a,) = [x for x in await m.get_active_alerts() if x.affected_component == f"d{day}c{i}"]
            clock.advance(dur)
            await m.resolve_alert(a.alert_id, "")
    clock.set(START + timedelta(days=1, hours=12))
    rep = await m.get_recovery_analytics(window_days=1)
    assert rep["trend"] == "improving" and rep["previous_mttr_seconds"] == pytest.approx(1000)
    assert rep["mttr_seconds"] == pytest.approx(100)
    await m.close()


async def test_remediation_threshold_cooldown_and_outcomes(tmp_path):
    clock = FFManualClock(START)
    m = _manager(tmp_path, clock)
    m.add_alert_rule(rule_id="svc", metric="svc_errors", threshold=0.0)
    calls = []

    async def restart(alert):
        calls.append((alert.alert_id, clock.now()))
        return len(calls) != 2  # the second run fails

    m.register_remediation("svc", restart, failure_threshold=2, cooldown_s=600)
    with pytest.raises(ValueError, match="failure_threshold"):
        m.register_remediation("svc", restart, failure_threshold=0, name="other")

    async def incident():
        m.evaluate_alerts({"svc_errors": 3.0})
        (a,) = await m.get_active_alerts()
        clock.advance(60)
        await m.resolve_alert(a.alert_id, "")
        clock.advance(60)
        await m.wait_alert_work()

    await incident()
    assert calls == []  # 1 fire < threshold 2
    await incident()
    assert len(calls) == 1  # 2nd fire: runs
    await incident()
    await incident()
    assert len(calls) == 1  # threshold reached again at t=360 s, but within the 600 s cooldown
    assert m.alerts.remediation.by_name["svc:restart"].skipped_cooldown == 1
    clock.advance(240)
    await incident()
    assert len(calls) == 2  # t=720 s: 600 s after the first run, 3 fires since it
    await m.aflush()
    runs = [r for r in m.alerts.log.sorted_events() if r["event"] == "remediation"]
    assert [r["outcome"] for r in runs] == ["success", "failure"]
    rep = await m.get_recovery_analytics(window_days=1)
    (rem,) = rep["per_remediation"].values()
    assert rem["runs"] == 2 and rem["succeeded"] == 1 and rem["success_rate"] == 0.5
    await m.close()


async def test_raise_alert_for_other_domains(tmp_path):
    m = _manager(tmp_path, FFManualClock(START))
    a = m.raise_alert("anomaly.response_time", "Response time anomaly", "z-score 6.1", severity="error",
                      component="chat", current_value=6.1, threshold_value=3.0)
    b = m.raise_alert("anomaly.response_time", "Response time anomaly", component="chat", current_value=7.0)
    assert a is b and a.alert_type == "anomaly" and a.message == "z-score 6.1"
    assert m.clear_alert("anomaly.response_time", "chat")
    assert await m.get_active_alerts() == []
    await m.close()


def test_cli_list_ack_resolve_history_recovery(tmp_path, capsys):
    import asyncio

    from ff_metrics_collection_manager import main as run_cli

    async def seed():
        m = FFMetricsCollectionManager(_config(tmp_path))
        m.add_alert_rule(rule_id="disk", metric="disk_free_gb", threshold=10.0, comparison="<", severity="error")
        m.evaluate_alerts({"disk_free_gb": 2.0})
        (a,) = await m.get_active_alerts()
        await m.close()
        return a.alert_id

    alert_id = asyncio.run(seed())
    base = ["--base-path", str(tmp_path), "--format", "json"]
    assert run_cli(["alerts", "list", *base]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [x["alert_id"] for x in listed] == [alert_id]
    assert run_cli(["alerts", "ack", alert_id, "--by", "ops", *base]) == 0
    capsys.readouterr()
    assert run_cli(["alerts", "list", *base]) == 0
    assert json.loads(capsys.readouterr().out)[0]["acknowledged_by"] == "ops"
    assert run_cli(["alerts", "resolve", alert_id, "--notes", "freed space", *base]) == 0
    assert json.loads(capsys.readouterr().out)["resolved"] is True
    assert run_cli(["alerts", "resolve", alert_id, *base]) == 1
    assert "already resolved" in capsys.readouterr().err
    assert run_cli(["alerts", "history", "--hours", "1", *base]) == 0
    (h,) = json.loads(capsys.readouterr().out)
    assert h["status"] == "resolved" and h["resolution_notes"] == "freed space"
    assert run_cli(["alerts", "recovery", *base]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["alerts_resolved"] == 1 and rep["mttr_seconds"] == h["resolution_time_seconds"]
    assert run_cli(["alerts", "recovery", "--base-path", str(tmp_path)]) == 0
    assert "MTTR" in capsys.readouterr().out


async def test_store_drops_raise_and_clear_an_alert(tmp_path):
    clock = FFManualClock(START)
    m = _manager(tmp_path, clock)
    m.alerts.check_system_alerts(FFSystemMetricsDTO())
    m.store.stats.records_dropped += 7  # what the store does when its buffer is full
    clock.advance(60)
    m.alerts.check_system_alerts(FFSystemMetricsDTO())
    (a,) = await m.get_active_alerts()
    assert a.rule_id == "builtin.store_drops" and a.affected_component == "analytics_store"
    assert a.current_value == 7.0 and "7 record(s) dropped" in a.message
    clock.advance(60)
    m.alerts.check_system_alerts(FFSystemMetricsDTO())
    assert await m.get_active_alerts() == [] and a.status == "resolved"
    await m.close()


async def test_replay_skips_a_torn_line_and_keeps_the_rest(tmp_path):
    clock = FFManualClock(START)
    m1 = _manager(tmp_path, clock)
    m1.add_alert_rule(rule_id="r", metric="x", threshold=1.0)
    m1.evaluate_alerts({"x": 5.0})
    (a,) = await m1.get_active_alerts()
    assert await m1.acknowledge_alert(a.alert_id, "eve")
    await m1.close()
    (part,) = [f for p in m1.store.iter_partitions("alerts") for f in p.files]
    with open(part, "ab") as fh:
        fh.write(b'{"timestamp": "2026-11-22T09:00:01Z", "event": "resol')  # a crash mid-write
    m2 = _manager(tmp_path, clock)
    (b,) = await m2.get_active_alerts()
    assert b.alert_id == a.alert_id and b.status == "acknowledged" and b.acknowledged_by == "eve"
    await m2.close()
