"""Hardening: a table-driven input-validation sweep over every public method of the manager.

Rejecting side: each row calls one method with one wrong-type / out-of-range / oversized argument and
expects ``TypeError`` or ``ValueError`` whose message names the bad parameter or field; afterwards the
store holds exactly the bytes it held before (a rejected call writes nothing). A meta-test keeps the
table complete: every public callable of ``FFMetricsCollectionManager`` has a row or an explicit,
commented exemption.

The accepting side (valid but hostile values) is ``tests/manager/test_hardening_inputs_accept.py``.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio

from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_utils.ff_analytics_privacy.ff_privacy_pseudonymizer import DEFAULT_KEY_ENV_VAR
from tests._hardening_helpers import (
    INF,
    NAN,
    T0,
    T1,
    _cfg_with,
    _fn,
    _ok,
    make_manager,
    settle,
    snapshot,
)


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEFAULT_KEY_ENV_VAR, raising=False)


_ROWS: list[Any] = []


def row(method: str, label: str, call: Callable[[Any], Any], exc: type[Exception], needle: str, *,
        store: bool = True, own: bool = False) -> None:
    """One table row: ``call(m)`` must raise ``exc`` with ``needle`` (the bad parameter) in its message.

    ``store=False``: the row itself writes valid data before the bad call (e.g. kind conflicts).
    ``own=True``: run on a manager of its own, because the call, were it accepted, would change the
    manager for the rows after it (start collection, add a broken hook or job).
    """
    _ROWS.append(pytest.param(method, call, exc, needle, store, own, id=f"{method}-{label}"))


BIG = "x" * 100_000
GOOD_EVENT = ("alice", "s1", "page_view", {})

# ---------------------------------------------------------------- constructor and lifecycle
M = FFMetricsCollectionManager
row("__init__", "config-int", lambda m: M(5), TypeError, "config")  # type: ignore[arg-type]
row("__init__", "config-dict", lambda m: M({"storage": {}}), TypeError, "config")  # type: ignore[arg-type]
row("__init__", "writer-unsafe", lambda m: M(m.config, writer_id="../x"), ValueError, "writer_id")
row("__init__", "writer-space", lambda m: M(m.config, writer_id="a b"), ValueError, "writer_id")
row("__init__", "writer-int", lambda m: M(m.config, writer_id=5), ValueError, "writer_id")  # type: ignore[arg-type]
row("__init__", "writer-oversized", lambda m: M(m.config, writer_id="w" * 129), ValueError, "writer_id")
row("__init__", "clock-int", lambda m: M(m.config, clock=5), TypeError, "clock", own=True)  # type: ignore[arg-type]
for _path, _value in [
    ("analytics.collection_interval_seconds", -1),
    ("analytics.collection_interval_seconds", True),
    ("analytics.analytics_level", "urgent"),
    ("analytics.sampling_rate", NAN),
    ("analytics.fsync_policy", "sometimes"),
    ("analytics.write_batch_size", 0),
    ("analytics.privacy_config.raw_data_retention_days", "30"),
    ("analytics.alerting_config.cpu_usage_threshold_percent", INF),
    ("storage.base_path", ""),
]:
    row("__init__", f"{_path}={_value!r}",
        lambda m, p=_path, v=_value: M(_cfg_with(m, p, v)), ValueError, _path.split(".", 1)[1])
row("initialize_analytics_system", "start-str", lambda m: m.initialize_analytics_system("yes"),
    TypeError, "start_collection", own=True)
row("initialize_analytics_system", "start-int", lambda m: m.initialize_analytics_system(1),
    TypeError, "start_collection", own=True)
row("add_flush_hook", "none", lambda m: m.add_flush_hook(None), TypeError, "fn", own=True)
row("add_close_hook", "int", lambda m: m.add_close_hook(5), TypeError, "fn", own=True)
row("add_tick_hook", "str", lambda m: m.add_tick_hook("x"), TypeError, "fn", own=True)
row("add_fork_hook", "none", lambda m: m.add_fork_hook(None), TypeError, "fn", own=True)
row("register_periodic_job", "interval-zero", lambda m: m.register_periodic_job("j", 0, _ok), ValueError,
    "interval_seconds")
row("register_periodic_job", "interval-str", lambda m: m.register_periodic_job("j", "5", _ok), ValueError,
    "interval_seconds")
row("register_periodic_job", "interval-nan", lambda m: m.register_periodic_job("j", NAN, _ok), ValueError,
    "interval_seconds", own=True)
row("register_periodic_job", "interval-inf", lambda m: m.register_periodic_job("j", INF, _ok), ValueError,
    "interval_seconds", own=True)
row("register_periodic_job", "interval-bool", lambda m: m.register_periodic_job("j", True, _ok), ValueError,
    "interval_seconds", own=True)
row("register_periodic_job", "name-none", lambda m: m.register_periodic_job(None, 1, _ok), TypeError, "name",
    own=True)
row("register_periodic_job", "name-unsafe", lambda m: m.register_periodic_job("../x", 1, _ok), ValueError,
    "name", own=True)
row("register_periodic_job", "fn-none", lambda m: m.register_periodic_job("j", 1, None), TypeError, "fn",
    own=True)

# ---------------------------------------------------------------- system: instruments (hot path)
for _label, _comp, _exc in [("none", None, TypeError), ("int", 5, TypeError), ("list", ["a"], TypeError),
                            ("empty", "", ValueError), ("dotdot", "../x", ValueError),
                            ("space", "a b", ValueError), ("upper", "API", ValueError),
                            ("oversized", "c" * 65, ValueError)]:
    row("record_request", f"component-{_label}", lambda m, c=_comp: m.record_request(c, 1.0), _exc, "component")
for _label, _dur, _exc in [("none", None, TypeError), ("str", "5", TypeError), ("bool", True, TypeError),
                           ("negative", -1.0, ValueError), ("nan", NAN, ValueError), ("inf", INF, ValueError),
                           ("neg-inf", -INF, ValueError), ("negative-int", -3, ValueError)]:
    row("record_request", f"duration-{_label}", lambda m, d=_dur: m.record_request("api", d), _exc,
        "duration_ms")
for _label, _ok_flag in [("str", "no"), ("none", None), ("int", 1)]:
    row("record_request", f"success-{_label}", lambda m, s=_ok_flag: m.record_request("api", 1.0, s),
        TypeError, "success")
row("time_operation", "none", lambda m: m.time_operation(None), TypeError, "component")
row("time_operation", "dotdot", lambda m: m.time_operation("../x"), ValueError, "component")
row("time_operation", "space", lambda m: m.time_operation("Bad Component"), ValueError, "component")
for _label, _name, _exc in [("none", None, TypeError), ("empty", "", ValueError), ("dotdot", "../x", ValueError),
                            ("space", "a b", ValueError), ("oversized", "n" * 65, ValueError)]:
    row("record_metric", f"name-{_label}", lambda m, n=_name: m.record_metric(n, 1.0), _exc, "name")
for _label, _val, _kind, _exc in [("none", None, "gauge", TypeError), ("str", "1", "gauge", TypeError),
                                  ("bool", True, "gauge", TypeError), ("nan", NAN, "gauge", ValueError),
                                  ("inf", INF, "gauge", ValueError), ("huge-int", 2**70, "gauge", ValueError),
                                  ("counter-negative", -1, "counter", ValueError),
                                  ("histogram-negative", -0.5, "histogram", ValueError),
                                  ("rate-negative", -2.0, "rate", ValueError)]:
    row("record_metric", f"value-{_label}", lambda m, v=_val, k=_kind: m.record_metric("q", v, k), _exc, "value")
row("record_metric", "kind-nope", lambda m: m.record_metric("q", 1.0, kind="nope"), ValueError, "kind")
row("record_metric", "kind-none", lambda m: m.record_metric("q", 1.0, kind=None), ValueError, "kind")
row("record_metric", "kind-conflict",
    lambda m: (m.record_metric("q2", 1.0), m.record_metric("q2", 1.0, kind="counter")), ValueError, "kind",
    store=False)
for _label, _labels, _exc, _needle in [
    ("list", [("a", "b")], TypeError, "labels"),
    ("str", "ab", TypeError, "labels"),
    ("value-int", {"a": 1}, TypeError, "labels['a']"),
    ("value-unhashable", {"a": ["x"]}, TypeError, "labels['a']"),
    ("key-int", {1: "x", "b": "y"}, TypeError, "labels"),
    ("key-unsafe", {"a b": "x"}, ValueError, "labels key"),
    ("value-oversized", {"a": "v" * 257}, ValueError, "labels['a']"),
    ("too-many", {f"l{i}": "v" for i in range(17)}, ValueError, "labels"),
]:
    row("record_metric", f"labels-{_label}", lambda m, lb=_labels: m.record_metric("q", 1.0, labels=lb),
        _exc, _needle)

# ---------------------------------------------------------------- system: loop, health, analysis
row("set_active_counts", "users-str", lambda m: m.set_active_counts("1", 1), TypeError, "concurrent_users")
row("set_active_counts", "users-bool", lambda m: m.set_active_counts(True, 1), TypeError, "concurrent_users")
row("set_active_counts", "users-none", lambda m: m.set_active_counts(None, 1), TypeError, "concurrent_users")
row("set_active_counts", "sessions-negative", lambda m: m.set_active_counts(1, -1), ValueError, "active_sessions")
row("set_active_counts", "sessions-float", lambda m: m.set_active_counts(1, 2.5), TypeError, "active_sessions")
for _label, _sec in [("zero", 0), ("negative", -1), ("nan", NAN), ("inf", INF), ("str", "5"), ("bool", True),
                     ("none", None)]:
    row("set_collection_interval", _label, lambda m, s=_sec: m.set_collection_interval(s), ValueError, "seconds")
row("register_health_check", "name-unsafe", lambda m: m.register_health_check("../x", _ok), ValueError, "name")
row("register_health_check", "name-none", lambda m: m.register_health_check(None, _ok), TypeError, "name")
row("register_health_check", "fn-none", lambda m: m.register_health_check("h", None), TypeError, "async_fn")
for _label, _t in [("zero", 0), ("nan", NAN), ("inf", INF), ("bool", True), ("str", "5")]:
    row("register_health_check", f"timeout-{_label}", lambda m, t=_t: m.register_health_check("h", _ok, t),
        ValueError, "timeout_s")
row("register_collector", "name-none", lambda m: m.register_collector(None, _fn), TypeError, "name")
row("register_collector", "name-space", lambda m: m.register_collector("a b", _fn), ValueError, "name")
row("register_collector", "fn-str", lambda m: m.register_collector("c", "f"), TypeError, "fn")
row("analyze_performance", "fortnight", lambda m: m.analyze_performance("fortnight"), ValueError, "timeframe")
row("analyze_performance", "none", lambda m: m.analyze_performance(None), TypeError, "timeframe")
row("analyze_performance", "zero", lambda m: m.analyze_performance("0h"), ValueError, "timeframe")
row("analyze_performance", "oversized", lambda m: m.analyze_performance("1h" * 5000), ValueError, "timeframe")

# ---------------------------------------------------------------- privacy
for _label, _uid, _exc in [("none", None, TypeError), ("int", 5, TypeError), ("empty", "", ValueError),
                           ("oversized", "u" * 1025, ValueError)]:
    row("record_user_analytics", f"user_id-{_label}",
        lambda m, u=_uid: m.record_user_analytics(u, "s", "page_view", {}), _exc, "user_id")
    row("set_user_opt_out", f"user_id-{_label}", lambda m, u=_uid: m.set_user_opt_out(u), _exc, "user_id")
    row("record_consent", f"user_id-{_label}", lambda m, u=_uid: m.record_consent(u, True), _exc, "user_id")
    row("export_user_data", f"user_id-{_label}", lambda m, u=_uid: m.export_user_data(u), _exc, "user_id")
    row("erase_user_data", f"user_id-{_label}", lambda m, u=_uid: m.erase_user_data(u), _exc, "user_id")
row("record_user_analytics", "session_id-none", lambda m: m.record_user_analytics("u", None, "page_view", {}),
    TypeError, "session_id")
row("record_user_analytics", "session_id-oversized",
    lambda m: m.record_user_analytics("u", "s" * 1025, "page_view", {}), ValueError, "session_id")
for _label, _et, _exc in [("nope", "No Pe!", ValueError), ("none", None, TypeError), ("oversized", BIG, ValueError),
                          ("upper", "PAGE_VIEW", ValueError)]:
    row("record_user_analytics", f"event_type-{_label}",
        lambda m, e=_et: m.record_user_analytics("u", "s", e, {}), _exc, "event_type")
for _label, _ed in [("list", []), ("str", "x"), ("int", 5)]:
    row("record_user_analytics", f"event_data-{_label}",
        lambda m, d=_ed: m.record_user_analytics("u", "s", "page_view", d), TypeError, "event_data")
for _label, _et, _data, _exc, _needle in [
    ("pages-negative", "page_view", {"pages": -1}, ValueError, "event_data['pages']"),
    ("pages-bool", "page_view", {"pages": True}, TypeError, "event_data['pages']"),
    ("pages-nan", "page_view", {"pages": NAN}, TypeError, "event_data['pages']"),
    ("pages-str", "page_view", {"pages": "3"}, TypeError, "event_data['pages']"),
    ("pages-beyond-int64", "page_view", {"pages": 2**63}, ValueError, "event_data['pages']"),
    ("pages-huge-float", "page_view", {"pages": 1e300}, ValueError, "event_data['pages']"),
    ("rating-11", "satisfaction", {"rating": 11}, ValueError, "event_data['rating']"),
    ("rating-negative", "satisfaction", {"rating": -1}, ValueError, "event_data['rating']"),
    ("rating-str", "satisfaction", {"rating": "5"}, TypeError, "event_data['rating']"),
    ("quality-inf", "session_end", {"quality_score": INF}, TypeError, "event_data['quality_score']"),
    ("quality-negative", "session_end", {"quality_score": -0.5}, ValueError, "event_data['quality_score']"),
    ("bounce-negative", "session_end", {"bounce_rate": -1.0}, ValueError, "event_data['bounce_rate']"),
    ("frequency-nan", "feature_usage", {"frequency": NAN}, TypeError, "event_data['frequency']"),
    ("duration-str", "session_end", {"duration": "10"}, TypeError, "event_data['duration']"),
    ("features-str", "feature_usage", {"features": "abc"}, TypeError, "event_data['features']"),
    ("features-ints", "feature_usage", {"features": [1]}, TypeError, "event_data['features']"),
    ("feature-int", "feature_usage", {"feature": 5}, TypeError, "event_data['feature']"),
    ("platform-int", "page_view", {"platform": 5}, TypeError, "event_data['platform']"),
    ("user_agent-dict", "session_start", {"user_agent": {}}, TypeError, "event_data['user_agent']"),
    ("conversion-int", "conversion", {"conversion": 5}, TypeError, "event_data['conversion']"),
    ("property-object", "content_interaction", {"x": object()}, TypeError, "event_data['x']"),
    ("property-bytes", "content_interaction", {"x": b"ab"}, TypeError, "event_data['x']"),
    ("property-nested-object", "page_view", {"nested": {"deep": [1, object()]}}, TypeError,
     "event_data['nested']['deep'][1]"),
]:
    row("record_user_analytics", _label, lambda m, e=_et, d=_data: m.record_user_analytics("u", "s", e, d),
        _exc, _needle)
row("record_user_events", "events-none", lambda m: m.record_user_events(None), TypeError, "events")
row("record_user_events", "events-str", lambda m: m.record_user_events("abc"), TypeError, "events")
row("record_user_events", "events-dict", lambda m: m.record_user_events({"user_id": "u"}), TypeError, "events")
row("record_user_events", "item-int", lambda m: m.record_user_events([5]), TypeError, "events[0]")
row("record_user_events", "item-3-tuple", lambda m: m.record_user_events([("u", "s", "page_view")]),
    ValueError, "events[0]")
row("record_user_events", "item-bad-type",
    lambda m: m.record_user_events([GOOD_EVENT, {"user_id": "u", "event_type": "No Pe!"}]), ValueError, "events[1]")
row("record_user_events", "item-field-error",
    lambda m: m.record_user_events([GOOD_EVENT, ("bob", "s", "page_view", {"pages": -1})]), ValueError,
    "events[1]: event_data['pages']")
row("record_user_events", "item-not-json",
    lambda m: m.record_user_events([GOOD_EVENT, ("bob", "s", "page_view", {"x": object()})]), TypeError,
    "events[1]: event_data['x']")
row("set_user_opt_out", "flag-int", lambda m: m.set_user_opt_out("u", 1), TypeError, "opted_out")
row("set_user_opt_out", "flag-str", lambda m: m.set_user_opt_out("u", "yes"), TypeError, "opted_out")
row("record_consent", "granted-none", lambda m: m.record_consent("u", None), TypeError, "granted")
row("record_consent", "granted-int", lambda m: m.record_consent("u", 1), TypeError, "granted")

# ---------------------------------------------------------------- compliance
row("audit", "action-none", lambda m: m.audit(None), TypeError, "action")
row("audit", "action-empty", lambda m: m.audit(""), ValueError, "action")
row("audit", "action-oversized", lambda m: m.audit("a" * 129), ValueError, "action")
row("audit", "target-int", lambda m: m.audit("x", target=5), TypeError, "target")
row("audit", "target-oversized", lambda m: m.audit("x", target=BIG), ValueError, "target")
row("audit", "outcome-oversized", lambda m: m.audit("x", outcome="o" * 65), ValueError, "outcome")
row("audit", "actor-none", lambda m: m.audit("x", actor=None), TypeError, "actor")
row("audit", "actor-oversized", lambda m: m.audit("x", actor=BIG), ValueError, "actor")
row("audit", "details-object", lambda m: m.audit("x", foo=object()), TypeError, "details")
row("audit", "details-oversized", lambda m: m.audit("x", foo=BIG), ValueError, "details")
for _label, _kind, _exc in [("none", None, TypeError), ("empty", "", ValueError), ("space", "a b", ValueError),
                            ("dotdot", "../x", ValueError), ("oversized", "k" * 65, ValueError)]:
    row("record_privacy_event", f"kind-{_label}", lambda m, k=_kind: m.record_privacy_event(k), _exc, "kind")
    row("record_security_event", f"kind-{_label}", lambda m, k=_kind: m.record_security_event(k), _exc, "kind")
row("record_privacy_event", "field-reserved", lambda m: m.record_privacy_event("k", timestamp="x"), ValueError,
    "fields")
row("record_privacy_event", "field-object", lambda m: m.record_privacy_event("k", x=object()), TypeError,
    "fields['x']")
row("record_security_event", "severity-urgent", lambda m: m.record_security_event("k", severity="urgent"),
    ValueError, "severity")
row("record_security_event", "severity-none", lambda m: m.record_security_event("k", severity=None),
    ValueError, "severity")
row("record_security_event", "source-int", lambda m: m.record_security_event("k", source=5), ValueError, "source")
row("record_security_event", "source-empty", lambda m: m.record_security_event("k", source=""), ValueError,
    "source")
row("record_security_event", "source-oversized", lambda m: m.record_security_event("k", source=BIG), ValueError,
    "source")
row("record_security_event", "field-reserved", lambda m: m.record_security_event("k", writer="w"), ValueError,
    "fields")
row("record_security_event", "field-object", lambda m: m.record_security_event("k", x={1, object()}),
    TypeError, "fields['x']")
row("checked_name", "none", lambda m: m.checked_name(None), TypeError, "name")
row("checked_name", "space-names-what", lambda m: m.checked_name("a b", "metric"), ValueError, "metric")
row("verify_audit_log", "path-int", lambda m: m.verify_audit_log(5), TypeError, "checkpoint_path")
row("verify_audit_log", "path-missing", lambda m: m.verify_audit_log("/nonexistent/cp.jsonl"), ValueError,
    "checkpoint_path")
row("verify_audit_log_sync", "path-list", lambda m: m.verify_audit_log_sync([]), TypeError, "checkpoint_path")
row("verify_audit_log_sync", "path-missing", lambda m: m.verify_audit_log_sync("/nonexistent/cp.jsonl"),
    ValueError, "checkpoint_path")
row("run_retention_cleanup", "dry_run-str", lambda m: m.run_retention_cleanup("yes"), TypeError, "dry_run")
row("run_retention_cleanup_sync", "dry_run-none", lambda m: m.run_retention_cleanup_sync(None), TypeError,
    "dry_run")
row("run_compression", "dry_run-int", lambda m: m.run_compression(1), TypeError, "dry_run")
row("run_compression_sync", "dry_run-str", lambda m: m.run_compression_sync("no"), TypeError, "dry_run")

# ---------------------------------------------------------------- alerts
for _label, _rid in [("none", None), ("empty", ""), ("space", "a b"), ("oversized", "r" * 129)]:
    row("raise_alert", f"rule_id-{_label}", lambda m, r=_rid: m.raise_alert(r, "t"), ValueError, "rule_id")
for _label, _kw, _exc, _needle in [
    ("title-none", {"title": None}, TypeError, "title"),
    ("title-int", {"title": 5}, TypeError, "title"),
    ("title-oversized", {"title": "t" * 257}, ValueError, "title"),
    ("message-int", {"message": 5}, TypeError, "message"),
    ("message-oversized", {"message": BIG}, ValueError, "message"),
    ("severity-urgent", {"severity": "urgent"}, ValueError, "severity"),
    ("alert_type-empty", {"alert_type": ""}, ValueError, "alert_type"),
    ("alert_type-oversized", {"alert_type": "t" * 65}, ValueError, "alert_type"),
    ("component-int", {"component": 5}, ValueError, "component"),
    ("component-oversized", {"component": "c" * 129}, ValueError, "component"),
    ("metric_name-space", {"metric_name": "a b"}, ValueError, "metric"),
    ("current_value-str", {"current_value": "x"}, TypeError, "current_value"),
    ("current_value-nan", {"current_value": NAN}, ValueError, "current_value"),
    ("current_value-bool", {"current_value": True}, TypeError, "current_value"),
    ("threshold_value-none", {"threshold_value": None}, TypeError, "threshold_value"),
    ("threshold_value-inf", {"threshold_value": INF}, ValueError, "threshold_value"),
    ("labels-list", {"labels": [1]}, TypeError, "labels"),
    ("labels-value-int", {"labels": {"a": 1}}, ValueError, "labels"),
    ("labels-value-oversized", {"labels": {"a": "v" * 257}}, ValueError, "labels"),
    ("actions-str", {"recommended_actions": "do it"}, TypeError, "recommended_actions"),
    ("actions-int", {"recommended_actions": 5}, TypeError, "recommended_actions"),
    ("actions-items-int", {"recommended_actions": [1]}, ValueError, "recommended_actions"),
    ("actions-item-oversized", {"recommended_actions": ["a" * 1025]}, ValueError, "recommended_actions"),
]:
    _title = _kw.pop("title", "t")
    row("raise_alert", _label, lambda m, t=_title, kw=_kw: m.raise_alert("r", t, **kw), _exc, _needle)
row("acknowledge_alert", "id-none", lambda m: m.acknowledge_alert(None, "me"), ValueError, "alert_id")
row("acknowledge_alert", "id-empty", lambda m: m.acknowledge_alert("", "me"), ValueError, "alert_id")
row("acknowledge_alert", "by-none", lambda m: m.acknowledge_alert("a", None), ValueError, "acknowledged_by")
row("acknowledge_alert", "by-oversized", lambda m: m.acknowledge_alert("a", "b" * 129), ValueError,
    "acknowledged_by")
row("resolve_alert", "id-none", lambda m: m.resolve_alert(None, "n"), ValueError, "alert_id")
row("resolve_alert", "notes-none", lambda m: m.resolve_alert("a", None), TypeError, "resolution_notes")
row("resolve_alert", "notes-oversized", lambda m: m.resolve_alert("a", BIG), ValueError, "resolution_notes")
row("clear_alert", "rule-none", lambda m: m.clear_alert(None), ValueError, "rule_id")
row("clear_alert", "rule-int", lambda m: m.clear_alert(5), ValueError, "rule_id")
row("clear_alert", "component-int", lambda m: m.clear_alert("r", 5), TypeError, "component")
row("clear_alert", "component-oversized", lambda m: m.clear_alert("r", "c" * 129), ValueError, "component")
row("add_alert_rule", "rule-int", lambda m: m.add_alert_rule(5), TypeError, "rule")
row("add_alert_rule", "missing-rule_id", lambda m: m.add_alert_rule(metric="m", threshold=1), ValueError, "rule_id")
for _label, _kw, _exc, _needle in [
    ("severity-urgent", {"severity": "urgent"}, ValueError, "severity"),
    ("comparison-bad", {"comparison": "=>"}, ValueError, "comparison"),
    ("threshold-str", {"threshold": "5"}, TypeError, "threshold"),
    ("threshold-nan", {"threshold": NAN}, ValueError, "threshold"),
    ("for_seconds-negative", {"for_seconds": -1}, ValueError, "for_seconds"),
    ("rate_window-inf", {"rate_window_seconds": INF}, ValueError, "rate_window_seconds"),
    ("metric-space", {"metric": "a b"}, ValueError, "metric"),
    ("unknown-field", {"bogus": 1}, ValueError, "bogus"),
    ("title-oversized", {"title": "t" * 257}, ValueError, "title"),
    ("description-int", {"description": 5}, TypeError, "description"),
    ("hysteresis-150", {"hysteresis_percent": 150}, ValueError, "hysteresis_percent"),
]:
    row("add_alert_rule", _label,
        lambda m, kw=_kw: m.add_alert_rule({"rule_id": "r1", "metric": "q", "threshold": 1.0, **kw}), _exc, _needle)
row("remove_alert_rule", "none", lambda m: m.remove_alert_rule(None), ValueError, "rule_id")
row("remove_alert_rule", "int", lambda m: m.remove_alert_rule(5), ValueError, "rule_id")
for _label, _values, _exc, _needle in [
    ("list", [1], TypeError, "values"),
    ("value-str", {"a": "1"}, TypeError, "values['a']"),
    ("value-bool", {"a": True}, TypeError, "values['a']"),
    ("value-nan", {"a": NAN}, ValueError, "values['a']"),
    ("value-inf", {"a": INF}, ValueError, "values['a']"),
    ("key-int", {5: 1.0}, TypeError, "values"),
    ("key-3-tuple", {("a", "b", "c"): 1.0}, TypeError, "values"),
]:
    row("evaluate_alerts", _label, lambda m, v=_values: m.evaluate_alerts(v), _exc, _needle)
for _label, _kw, _exc, _needle in [
    ("severity-urgent", {"severity": "urgent"}, ValueError, "severity"),
    ("status-nope", {"status": "nope"}, ValueError, "status"),
    ("limit-zero", {"limit": 0}, ValueError, "limit"),
    ("limit-bool", {"limit": True}, ValueError, "limit"),
    ("start-str", {"start": "2026-03-01"}, TypeError, "start"),
    ("end-int", {"end": 5}, TypeError, "end"),
    ("rule_id-int", {"rule_id": 5}, TypeError, "rule_id"),
    ("component-int", {"component": 5}, TypeError, "component"),
]:
    row("get_alert_history", _label, lambda m, kw=_kw: m.get_alert_history(**kw), _exc, _needle)
for _label, _w in [("negative", -1), ("zero", 0), ("nan", NAN), ("inf", INF), ("str", "7"), ("bool", True)]:
    row("get_recovery_analytics", _label, lambda m, w=_w: m.get_recovery_analytics(w), ValueError, "window_days")
row("register_remediation", "rule-none", lambda m: m.register_remediation(None, _fn), ValueError, "rule")
row("register_remediation", "action-none", lambda m: m.register_remediation("r", None), TypeError, "action")
for _label, _kw, _exc, _needle in [
    ("threshold-zero", {"failure_threshold": 0}, ValueError, "failure_threshold"),
    ("threshold-bool", {"failure_threshold": True}, ValueError, "failure_threshold"),
    ("threshold-str", {"failure_threshold": "3"}, ValueError, "failure_threshold"),
    ("cooldown-negative", {"cooldown_s": -1}, ValueError, "cooldown_s"),
    ("cooldown-nan", {"cooldown_s": NAN}, ValueError, "cooldown_s"),
    ("cooldown-inf", {"cooldown_s": INF}, ValueError, "cooldown_s"),
    ("name-int", {"name": 5}, TypeError, "name"),
    ("name-space", {"name": "a b"}, ValueError, "name"),
]:
    row("register_remediation", _label, lambda m, kw=_kw: m.register_remediation("r", _fn, **kw), _exc, _needle)
row("get_active_alerts", "severity-urgent", lambda m: m.get_active_alerts("urgent"), ValueError, "severity")
row("get_alert", "none", lambda m: m.get_alert(None), ValueError, "alert_id")
row("get_alert", "list", lambda m: m.get_alert([]), ValueError, "alert_id")
for _label, _t in [("negative", -1), ("nan", NAN), ("str", "x")]:
    row("wait_alert_work", _label, lambda m, t=_t: m.wait_alert_work(t), ValueError, "timeout")

# ---------------------------------------------------------------- analysis
for _method in ("analyze", "analyze_sync", "detect_anomalies"):
    for _label, _metric in [("int", 5), ("empty", ""), ("dotdot", "../x"), ("space", "a b")]:
        row(_method, f"metric-{_label}", lambda m, f=_method, x=_metric: getattr(m, f)(x), ValueError, "metric")
for _method in ("analyze", "analyze_sync", "detect_anomalies", "forecast_capacity", "forecast_capacity_sync",
                "learn_patterns", "learn_patterns_sync"):
    pos = (None,) if _method in ("analyze", "analyze_sync", "detect_anomalies") else ()
    for _label, _w, _exc in [("fortnight", "fortnight", ValueError), ("negative", -5, ValueError),
                             ("nan", NAN, ValueError), ("inf", INF, ValueError), ("bool", True, TypeError),
                             ("none", None, TypeError), ("oversized", "7d" * 5000, ValueError)]:
        row(_method, f"window-{_label}", lambda m, f=_method, w=_w, p=pos: getattr(m, f)(*p, w), _exc, "window")
row("analyze", "kinds-str", lambda m: m.analyze(None, kinds="anomalies"), TypeError, "kinds")
row("analyze", "kinds-nope", lambda m: m.analyze(None, kinds=["nope"]), ValueError, "kinds")
row("analyze", "detection-window-too-long", lambda m: m.analyze(None, "1h", detection_window="2h"), ValueError,
    "detection_window")
row("analyze", "horizon-bad", lambda m: m.analyze(None, horizon="soon"), ValueError, "horizon")
row("analyze", "end-str", lambda m: m.analyze(None, end="yesterday"), ValueError, "end")
row("analyze", "unknown-keyword", lambda m: m.analyze(None, bogus=1), TypeError, "bogus")
row("analyze", "raise_alerts-int", lambda m: m.analyze(None, raise_alerts=1), TypeError, "raise_alerts")
row("analyze_sync", "kinds-int", lambda m: m.analyze_sync(None, kinds=5), TypeError, "kinds")
row("detect_anomalies", "raise_alerts-str", lambda m: m.detect_anomalies(None, raise_alerts="yes"), TypeError,
    "raise_alerts")
for _method in ("forecast_capacity", "forecast_capacity_sync", "learn_patterns", "learn_patterns_sync"):
    row(_method, "write-str", lambda m, f=_method: getattr(m, f)("1d", write="no"), TypeError, "write")
for _method in ("forecast_capacity", "forecast_capacity_sync"):
    for _label, _h in [("zero", 0), ("negative", -1), ("nan", NAN), ("inf", INF), ("bool", True), ("str", "1y")]:
        row(_method, f"horizon_days-{_label}", lambda m, f=_method, h=_h: getattr(m, f)("1d", horizon_days=h),
            ValueError, "horizon_days")
row("analyze", "capacity_horizon_days-zero", lambda m: m.analyze(None, capacity_horizon_days=0), ValueError,
    "capacity_horizon_days")
row("read_metric_series", "metrics-str", lambda m: m.read_metric_series("cpu", T0, T1), TypeError, "metrics")
row("read_metric_series", "metrics-none", lambda m: m.read_metric_series(None, T0, T1), TypeError, "metrics")
row("read_metric_series", "metric-dotdot", lambda m: m.read_metric_series(["../x"], T0, T1), ValueError, "metric")
row("read_metric_series", "metric-int", lambda m: m.read_metric_series([5], T0, T1), ValueError, "metric")
row("read_metric_series", "start-str", lambda m: m.read_metric_series(["cpu_usage_percent"], "x", T1), TypeError,
    "start")
row("read_metric_series", "end-none", lambda m: m.read_metric_series(["cpu_usage_percent"], T0, None), TypeError,
    "end")
row("schedule_analysis_jobs", "window-fortnight", lambda m: m.schedule_analysis_jobs(anomaly_window="fortnight"),
    ValueError, "anomaly_window")
row("schedule_analysis_jobs", "window-none", lambda m: m.schedule_analysis_jobs(capacity_window=None), TypeError,
    "capacity_window")
row("schedule_analysis_jobs", "interval-negative",
    lambda m: m.schedule_analysis_jobs(capacity_interval_seconds=-1), ValueError, "capacity_interval_seconds")
row("schedule_analysis_jobs", "interval-nan", lambda m: m.schedule_analysis_jobs(pattern_interval_seconds=NAN),
    ValueError, "pattern_interval_seconds")

# ---------------------------------------------------------------- BI
for _method in ("generate_business_intelligence", "generate_business_intelligence_result"):
    row(_method, "period-fortnight", lambda m, f=_method: getattr(m, f)("fortnight"), ValueError, "period")
    row(_method, "period-none", lambda m, f=_method: getattr(m, f)(None), TypeError, "period")
    row(_method, "start-str", lambda m, f=_method: getattr(m, f)(start="x", end=T1), TypeError, "start")
    row(_method, "start-only", lambda m, f=_method: getattr(m, f)(start=T0), ValueError, "start")
    row(_method, "end-before-start", lambda m, f=_method: getattr(m, f)(start=T1, end=T0), ValueError, "end")
row("generate_business_intelligence_result", "write-str",
    lambda m: m.generate_business_intelligence_result("day", write="no"), TypeError, "write")
row("generate_reports", "kinds-nope", lambda m: m.generate_reports(["nope"]), ValueError, "kinds")
row("generate_reports", "kinds-str", lambda m: m.generate_reports("day"), TypeError, "kinds")
row("generate_reports", "formats-pdf", lambda m: m.generate_reports(formats=["pdf"]), ValueError, "formats")
row("generate_reports", "formats-str", lambda m: m.generate_reports(formats="json"), TypeError, "formats")
row("generate_reports", "at-str", lambda m: m.generate_reports(at="2026-01-01"), TypeError, "at")
row("generate_reports", "force-str", lambda m: m.generate_reports(force="yes"), TypeError, "force")
row("rebuild_rollups", "start-str", lambda m: m.rebuild_rollups("x", T1), TypeError, "start")
row("rebuild_rollups", "end-none", lambda m: m.rebuild_rollups(T0, None), TypeError, "end")
row("rebuild_rollups", "end-before-start", lambda m: m.rebuild_rollups(T1, T0), ValueError, "end")
row("rebuild_rollups", "workers-zero", lambda m: m.rebuild_rollups(T0, T1, workers=0), ValueError, "workers")
row("rebuild_rollups", "workers-bool", lambda m: m.rebuild_rollups(T0, T1, workers=True), ValueError, "workers")
row("rebuild_rollups", "workers-str", lambda m: m.rebuild_rollups(T0, T1, workers="2"), ValueError, "workers")

ROWS = _ROWS

# Public callables without a row, each with the reason. Everything else must have at least one row.
EXEMPT = {
    # no arguments besides self: nothing a caller can get wrong
    "aflush": "no arguments",
    "flush": "no arguments",
    "close": "no arguments",
    "close_sync": "no arguments",
    "alert_channel_status": "no arguments",
    "alert_status": "no arguments",
    "collect_system_metrics": "no arguments",
    "collection_stats": "no arguments",
    "generate_regulatory_report": "no arguments",
    "generate_regulatory_report_sync": "no arguments",
    "get_system_health": "no arguments",
    "list_alert_rules": "no arguments",
    "run_collection_tick": "no arguments",
    "start_continuous_collection": "no arguments",
    "stop_continuous_collection": "no arguments",
}


def _public_callables() -> set[str]:
    return {n for n, f in inspect.getmembers(FFMetricsCollectionManager)
            if not n.startswith("_") and callable(f)}


def test_every_public_method_has_a_row_or_an_exemption() -> None:
    covered = {p.values[0] for p in ROWS}
    public = _public_callables()
    missing = sorted(public - covered - set(EXEMPT))
    assert not missing, f"public methods without a validation row or a commented exemption: {missing}"
    assert not sorted(set(EXEMPT) & covered), "a method is both exempt and covered"
    assert not sorted(set(EXEMPT) - public), "stale exemptions (method no longer exists)"
    assert not sorted(covered - public - {"__init__"}), "rows for methods that do not exist"
    assert "__init__" in covered
    for name in EXEMPT:  # exemptions claim "no arguments": keep that true
        params = list(inspect.signature(getattr(FFMetricsCollectionManager, name)).parameters)
        assert params == ["self"], f"{name} takes arguments now: give it rows"


async def primed_manager(base: Path) -> FFMetricsCollectionManager:
    """A manager with every engine set up (key, consent, index, audit chain, one window) and settled."""
    m = make_manager(base)
    assert await m.initialize_analytics_system(start_collection=False)
    assert await m.record_user_analytics("prime-user", "prime-session", "page_view", {"label": "p"})
    await m.record_consent("prime-user", True)
    m.record_request("prime", 1.0)
    m.raise_alert("prime.rule", "prime", component="prime")
    settle(m)
    return m


@pytest.fixture
async def primed(tmp_path: Path) -> Any:
    m = await primed_manager(tmp_path)
    yield m
    await m.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One primed manager for the whole sweep (a rejected call must not change it; each row checks)."""
    base = tmp_path_factory.mktemp("sweep")
    m = await primed_manager(base)
    yield m, base
    await m.close()


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(("method", "call", "exc", "needle", "check_store", "own_manager"), ROWS)
async def test_rejects_bad_argument_naming_it(shared: Any, tmp_path: Path, method: str,
                                              call: Callable[[Any], Any], exc: type[Exception], needle: str,
                                              check_store: bool, own_manager: bool) -> None:
    m, base = shared
    if own_manager:
        m, base = await primed_manager(tmp_path), tmp_path
    try:
        await _check_rejected(m, base, method, call, exc, needle, check_store)
    finally:
        if own_manager:
            await m.close()


async def _check_rejected(m: Any, base: Path, method: str, call: Callable[[Any], Any], exc: type[Exception],
                          needle: str, check_store: bool) -> None:
    settle(m)
    before = snapshot(base)
    with pytest.raises(exc) as info:
        res = call(m)
        if inspect.isawaitable(res):
            await res
    assert needle in str(info.value), f"{method}: message does not name {needle!r}: {info.value}"
    if check_store:
        settle(m)
        after = snapshot(base)
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        assert not changed, f"{method}: a rejected call changed {changed}"


async def test_the_store_check_sees_an_accepted_call(primed: Any, tmp_path: Path) -> None:
    """Control for the sweep's "nothing written" check: an accepted call of each kind does change it."""
    m = primed
    for call in (lambda: m.record_request("api", 1.0), lambda: m.record_metric("q", 1.0),
                 lambda: m.audit("control"), lambda: m.raise_alert("r", "t"),
                 lambda: m.record_user_events([GOOD_EVENT])):
        before = snapshot(tmp_path)
        res = call()
        if inspect.isawaitable(res):
            await res
        settle(m)
        assert snapshot(tmp_path) != before


async def test_rejected_batch_leaves_the_user_index_untouched(primed: Any, tmp_path: Path) -> None:
    m = primed
    p = m.privacy.pipeline
    users_before = copy.deepcopy(p.index.entries)
    accepted_before = p.stats.accepted
    with pytest.raises(ValueError, match=r"events\[2\]"):
        await m.record_user_events([("newbie", "s1", "page_view", {}), ("prime-user", "s2", "page_view", {}),
                                    ("newbie", "s3", "satisfaction", {"rating": 99})])
    with pytest.raises(TypeError, match=r"event_data\['x'\]"):
        await m.record_user_analytics("prime-user", "new-session", "page_view", {"x": object()})
    assert p.index.entries == users_before
    assert p.stats.accepted == accepted_before
    assert await m.record_user_analytics("prime-user", "new-session", "page_view", {})  # control: it counts
    assert p.index.entries != users_before


async def test_unsafe_name_rejection_records_a_digest_not_the_value(primed: Any) -> None:
    m = primed
    with pytest.raises(ValueError, match="component"):
        m.record_request("alice@example.com", 1.0)
    settle(m)
    events = [e for e in m.store.read("security_events") if e["kind"] == "unsafe_name_rejected"]
    assert events and events[-1]["what"] == "component" and len(events[-1]["value_sha256"]) == 16
    assert not any("alice@example.com" in orjson.dumps(e).decode() for e in events)


async def test_largest_audit_records_keep_the_chain_valid(primed: Any) -> None:
    m = primed
    for i in range(3):
        m.audit("a" * 128, target="t" * 4096, actor="x" * 128, outcome="o" * 64, detail="d" * 16_000, i=i)
        settle(m)
    res = m.verify_audit_log_sync()
    assert res.ok and not res.tampered, res.message


async def test_audit_chain_head_survives_a_record_beyond_64_kib(tmp_path: Path) -> None:
    from ff_utils.ff_analytics_compliance.ff_audit_chain import FFAuditChainWriter
    from ff_utils.ff_analytics_compliance.ff_audit_verifier import FFAuditVerifier

    w = FFAuditChainWriter(tmp_path, b"k" * 32, fsync=False)
    assert [w.append({"action": "a"}), w.append({"action": "b", "blob": "x" * 300_000}),
            w.append({"action": "c"})] == [1, 2, 3]
    res = FFAuditVerifier(tmp_path, b"k" * 32).verify()
    assert res.ok and res.records == 3, res.message
