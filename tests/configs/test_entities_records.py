"""Record DTOs: seed fields, ids and UTC timestamps, orjson-native serialization, exact round trip."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ff_class_configs.ff_analytics_configs import FFAnalyticsConfigDTO
from ff_class_configs.ff_analytics_configs.ff_analytics_entities_config import (
    FFAnalyticsAlertDTO,
    FFAuditEventDTO,
    FFBusinessIntelligenceDTO,
    FFPrivacyEventDTO,
    FFSecurityEventDTO,
    FFSystemMetricsDTO,
    FFUserAnalyticsDTO,
)
from ff_utils.ff_analytics_core.ff_clock import ff_parse_iso
from ff_utils.ff_analytics_core.ff_ids import ff_id_timestamp_ms

ALL = [
    FFSystemMetricsDTO,
    FFUserAnalyticsDTO,
    FFBusinessIntelligenceDTO,
    FFAnalyticsAlertDTO,
    FFAuditEventDTO,
    FFPrivacyEventDTO,
    FFSecurityEventDTO,
]
ID_FIELD = {
    FFSystemMetricsDTO: ("metric_id", "sys_"),
    FFBusinessIntelligenceDTO: ("insight_id", "bi_"),
    FFAnalyticsAlertDTO: ("alert_id", "alert_"),
    FFAuditEventDTO: ("event_id", "audit_"),
    FFPrivacyEventDTO: ("event_id", "priv_"),
    FFSecurityEventDTO: ("event_id", "sec_"),
}

# seed 002 fields (in order) of the four seed DTOs
SEED_FIELDS = {
    FFSystemMetricsDTO: "metric_id timestamp collection_period_seconds response_time_ms throughput_requests_per_second "
    "concurrent_users active_sessions cpu_usage_percent memory_usage_mb memory_usage_percent disk_usage_mb "
    "disk_usage_percent network_io_mbps error_count warning_count success_rate_percent uptime_seconds "
    "component_health component_response_times component_error_rates data_quality_score "
    "system_reliability_score user_satisfaction_score",
    FFUserAnalyticsDTO: "user_hash session_id timestamp session_duration_seconds pages_viewed features_used "
    "actions_performed interaction_frequency feature_adoption_rate return_user session_quality_score "
    "time_to_first_action_seconds bounce_rate conversion_events satisfaction_rating messages_sent "
    "documents_processed tools_executed searches_performed user_agent platform language timezone user_segment "
    "usage_pattern",
    FFBusinessIntelligenceDTO: "insight_id timestamp analysis_period total_users active_users new_users "
    "returning_users user_growth_rate_percent most_used_features feature_adoption_rates feature_abandonment_rates "
    "peak_usage_hours average_session_duration_minutes user_satisfaction_trends projected_growth_30_days "
    "resource_utilization_trends scaling_recommendations performance_bottlenecks cost_optimization_opportunities "
    "user_experience_improvements roi_indicators cost_per_user revenue_per_user churn_risk_indicators",
    FFAnalyticsAlertDTO: "alert_id timestamp severity alert_type title message affected_component metric_name "
    "current_value threshold_value historical_context acknowledged resolved escalated assigned_to "
    "recommended_actions remediation_steps documentation_links resolution_time_seconds resolution_notes "
    "prevented_incidents",
}


def names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


@pytest.mark.parametrize("cls", list(SEED_FIELDS))
def test_seed_fields_in_seed_order(cls: type) -> None:
    seed = SEED_FIELDS[cls].split()
    assert names(cls)[: len(seed)] == seed


def test_seed_defaults() -> None:
    m = FFSystemMetricsDTO()
    assert (m.collection_period_seconds, m.success_rate_percent, m.data_quality_score) == (60, 100.0, 1.0)
    assert m.component_health == {} and m.p95_response_time_ms is None and m.request_count == 0
    u = FFUserAnalyticsDTO()
    assert u.satisfaction_rating is None and u.features_used == [] and u.return_user is False
    b = FFBusinessIntelligenceDTO()
    assert b.analysis_period == "day" and b.most_used_features == []
    a = FFAnalyticsAlertDTO()
    assert (a.severity, a.status, a.flapping, a.notification_count, a.assigned_to) == ("info", "firing", False, 0, None)
    assert FFSecurityEventDTO().severity == "warning" and FFAuditEventDTO().outcome == "success"


@pytest.mark.parametrize("cls", ALL)
def test_slots_and_default_timestamp_is_utc_iso(cls: type) -> None:
    before = datetime.now(UTC)
    rec = cls()
    after = datetime.now(UTC)
    assert not hasattr(rec, "__dict__")
    assert rec.timestamp.endswith("Z")
    ts = ff_parse_iso(rec.timestamp)
    assert ts.utcoffset() == timedelta(0)
    assert before - timedelta(milliseconds=1) <= ts <= after


@pytest.mark.parametrize("cls", list(ID_FIELD))
def test_ids_prefixed_unique_and_ordered(cls: type) -> None:
    field, prefix = ID_FIELD[cls]
    ids = [getattr(cls(), field) for _ in range(2000)]
    assert all(i.startswith(prefix) for i in ids)
    assert len(set(ids)) == 2000 and ids == sorted(ids)
    assert abs(ff_id_timestamp_ms(ids[0]) - datetime.now(UTC).timestamp() * 1000) < 60_000


def _populated(cls: type) -> Any:
    """An instance with non-default values in every field."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        if f.name == "timestamp":
            values[f.name] = "2026-03-04T05:06:07.000008Z"
        elif isinstance(default, bool):
            values[f.name] = not default
        elif isinstance(default, int):
            values[f.name] = default + 7
        elif isinstance(default, float):
            values[f.name] = default + 0.25
        elif isinstance(default, str):
            values[f.name] = f"{f.name}-value"
        elif isinstance(default, list):
            values[f.name] = [{"feature": "search", "count": 3}] if f.name == "most_used_features" else ["a", "b"]
        elif isinstance(default, dict):
            values[f.name] = {"k": [1.5, 2.5]} if f.name == "resource_utilization_trends" else {"k": 1.5}
        else:  # Optional fields defaulting to None
            values[f.name] = 5
    return cls(**values)


@pytest.mark.parametrize("cls", ALL)
def test_orjson_native_equals_to_dict_and_round_trips(cls: type) -> None:
    rec = _populated(cls)
    native = orjson.dumps(rec)
    assert native == orjson.dumps(rec.to_dict())
    back = cls.from_dict(orjson.loads(native))
    assert back == rec
    assert orjson.dumps(back) == native


@pytest.mark.parametrize("cls", ALL)
def test_to_dict_is_independent(cls: type) -> None:
    rec = _populated(cls)
    snapshot = orjson.dumps(rec)
    d = rec.to_dict()
    for v in d.values():
        if isinstance(v, list):
            v.append("x")
        elif isinstance(v, dict):
            v["new"] = 1
        if isinstance(v, list) and v and isinstance(v[0], dict):
            v[0]["mutated"] = True
    assert orjson.dumps(rec) == snapshot


def test_from_dict_unknown_key_and_missing_keys() -> None:
    with pytest.raises(ValueError, match="unknown key.*cpu_pct"):
        FFSystemMetricsDTO.from_dict({"cpu_pct": 3})
    rec = FFSystemMetricsDTO.from_dict({"cpu_pct": 3, "cpu_usage_percent": 12.5}, ignore_unknown=True)
    assert rec.cpu_usage_percent == 12.5 and rec.metric_id.startswith("sys_")
    with pytest.raises(TypeError, match="data"):
        FFAuditEventDTO.from_dict(["not", "a", "dict"])  # type: ignore[arg-type]


def test_subclass_keeps_to_dict_and_from_dict() -> None:
    @dataclasses.dataclass(slots=True)
    class Ext(FFUserAnalyticsDTO):
        event_type: str = ""

    e = Ext(user_hash="h", event_type="page_view")
    d = e.to_dict()
    assert d["event_type"] == "page_view" and d["user_hash"] == "h"
    assert Ext.from_dict(d) == e
    assert orjson.loads(orjson.dumps(e)) == d


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=5), kids, max_size=3),
    max_leaves=10,
)


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.text(max_size=8), _JSONISH, max_size=4), st.text(max_size=20), st.text(max_size=20))
def test_event_details_round_trip(details: dict[str, Any], action: str, target: str) -> None:
    ev = FFAuditEventDTO(action=action, target=target, details=details)
    back = FFAuditEventDTO.from_dict(orjson.loads(orjson.dumps(ev)))
    assert back == ev


def test_records_written_through_the_store_read_back(tmp_path: Path) -> None:
    from ff_utils.ff_analytics_core.ff_clock import FFManualClock, ff_iso
    from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore

    clock = FFManualClock(datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC))
    cfg = FFAnalyticsConfigDTO(fsync_policy="never", free_space_reserve_mb=0)
    store = FFStreamStore(tmp_path, cfg, clock=clock, writer_id="ent")
    written: dict[str, list[Any]] = {}
    plan = [
        ("performance", FFSystemMetricsDTO),
        ("session_analytics", FFUserAnalyticsDTO),
        ("usage_trends", FFBusinessIntelligenceDTO),
        ("alerts", FFAnalyticsAlertDTO),
        ("audit_logs", FFAuditEventDTO),
        ("privacy_events", FFPrivacyEventDTO),
        ("security_events", FFSecurityEventDTO),
    ]
    try:
        for stream, cls in plan:
            recs = []
            for _ in range(3):
                r = _populated(cls)
                r.timestamp = ff_iso(clock.now())
                recs.append(r)
                assert store.append(stream, r)
            written[stream] = recs
        store.flush()
        for stream, cls in plan:
            back = [cls.from_dict(d) for d in store.read(stream)]
            assert back == written[stream], stream
    finally:
        store.close()
