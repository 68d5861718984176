"""Config DTOs: seed fields and defaults, presets, validation errors naming the field, exact round trip."""

from __future__ import annotations

import math
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ff_class_configs.ff_analytics_configs import (
    ENVIRONMENTS,
    PRESETS,
    AnalyticsLevel,
    FFAnalyticsAlertingConfigDTO,
    FFAnalyticsConfigDTO,
    FFAnalyticsManagerConfigDTO,
    FFAnalyticsPrivacyConfigDTO,
    FFAnalyticsStorageConfigDTO,
    FFConfigError,
    preset_config,
)
from ff_class_configs.ff_analytics_configs.ff_analytics_base_config import field_kinds

# -- the seed's fields and defaults (seed 002, "Analytics Configuration DTO") --------------------------
SEED_PRIVACY = {
    "anonymize_user_data": True,
    "hash_user_identifiers": True,
    "exclude_sensitive_content": True,
    "raw_data_retention_days": 30,
    "aggregated_data_retention_days": 365,
    "compliance_data_retention_days": 2555,
    "allow_user_opt_out": True,
    "require_explicit_consent": False,
    "honor_do_not_track": True,
    "enable_external_analytics": False,
    "allowed_external_services": [],
    "data_export_restrictions": [],
}
SEED_ALERTING = {
    "error_rate_threshold_percent": 5.0,
    "response_time_threshold_ms": 5000.0,
    "memory_usage_threshold_percent": 85.0,
    "disk_usage_threshold_percent": 90.0,
    "alert_cooldown_minutes": 15,
    "max_alerts_per_hour": 10,
    "escalation_delay_minutes": 30,
    "enable_email_alerts": False,
    "enable_webhook_alerts": False,
    "enable_log_alerts": True,
    "email_recipients": [],
    "webhook_urls": [],
    "alert_log_level": "WARNING",
}
SEED_ANALYTICS = {
    "analytics_level": "standard",
    "collection_interval_seconds": 60,
    "enable_real_time_metrics": True,
    "aggregation_periods": ["hour", "day", "week"],
    "aggregation_delay_minutes": 5,
    "enable_performance_monitoring": True,
    "track_response_times": True,
    "track_resource_usage": True,
    "track_error_rates": True,
    "enable_user_analytics": True,
    "track_user_behavior": True,
    "track_feature_usage": True,
    "track_session_quality": True,
    "enable_business_intelligence": True,
    "generate_usage_reports": True,
    "enable_trend_analysis": True,
    "enable_predictive_analytics": False,
    "enable_data_compression": True,
    "compression_age_days": 7,
    "enable_data_sampling": False,
    "sampling_rate": 1.0,
    "generate_daily_reports": True,
    "generate_weekly_reports": True,
    "generate_monthly_reports": True,
    "report_output_formats": ["json", "csv"],
}
EXTRA_ANALYTICS = {
    "fsync_policy": "batch",
    "write_batch_size": 1000,
    "write_max_delay_seconds": 1.0,
    "max_buffered_records": 100_000,
    "buffer_full_policy": "drop",
    "buffer_full_block_streams": ["privacy_events", "security_events"],
    "buffer_full_drop_streams": [],
    "block_timeout_seconds": 0.05,
    "free_space_reserve_mb": 64,
    "writer_id": "",
    "cleanup_interval_seconds": 3600,
    "min_cell_size": 5,
    "infrastructure_cost_per_day_usd": None,
    "revenue_per_active_user_usd": None,
    "cost_per_event_usd": None,
    "audit_checkpoint_every": 1000,
    "pattern_min_occurrences": 3,
    "pattern_confidence_threshold": 0.6,
    "pattern_history_size": 10_000,
    "anomaly_z_threshold": 3.0,
    "regression_threshold_percent": 20.0,
    "consent_refresh_seconds": 2.0,
}


def test_seed_fields_and_defaults_are_present() -> None:
    d = FFAnalyticsConfigDTO().to_dict()
    for name, value in {**SEED_ANALYTICS, **EXTRA_ANALYTICS}.items():
        assert d[name] == value, name
        assert type(d[name]) is type(value), name
    for name, value in SEED_PRIVACY.items():
        assert d["privacy_config"][name] == value, name
    for name, value in SEED_ALERTING.items():
        assert d["alerting_config"][name] == value, name
    p = FFAnalyticsPrivacyConfigDTO()
    assert (p.key_file, p.key_env_var, p.audit_key_file, p.store_raw_identifiers) == (
        "",
        "FF_ANALYTICS_PSEUDONYM_KEY",
        "",
        False,
    )
    a = FFAnalyticsAlertingConfigDTO()
    assert (a.smtp_host, a.smtp_port, a.flap_window_evaluations, a.flap_threshold_changes) == ("localhost", 25, 10, 4)
    root = FFAnalyticsManagerConfigDTO()
    assert root.storage.base_path == "analytics_data" and root.environment == "development"


def test_default_lists_are_not_shared() -> None:
    a, b = FFAnalyticsConfigDTO(), FFAnalyticsConfigDTO()
    a.aggregation_periods.append("month")
    a.privacy_config.allowed_external_services.append("x")
    assert b.aggregation_periods == ["hour", "day", "week"]
    assert b.privacy_config.allowed_external_services == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_preset_validates(env: str) -> None:
    cfg = preset_config(env)
    assert cfg.validate() == []
    assert cfg.environment == env
    # the preset's overrides really are in the result
    for key, value in PRESETS[env]["analytics"].items():
        got = getattr(cfg.analytics, key)
        if isinstance(value, dict):
            for k2, v2 in value.items():
                assert getattr(got, k2) == v2, (env, key, k2)
        else:
            assert got == value, (env, key)


def test_presets_differ_sensibly() -> None:
    test, prod, dev = preset_config("test"), preset_config("production"), preset_config("development")
    assert test.analytics.fsync_policy == "never" and prod.analytics.fsync_policy == "batch"
    assert test.analytics.enable_real_time_metrics is False and prod.analytics.enable_real_time_metrics is True
    assert test.analytics.write_batch_size < prod.analytics.write_batch_size
    assert test.analytics.collection_interval_seconds < prod.analytics.collection_interval_seconds
    assert test.analytics.cleanup_interval_seconds < prod.analytics.cleanup_interval_seconds
    assert prod.analytics.free_space_reserve_mb > dev.analytics.free_space_reserve_mb
    with pytest.raises(FFConfigError, match="environment"):
        preset_config("staging")


# -- validation: each kind of bad value names its field --------------------------------------------
BAD_VALUES: list[tuple[str, Any, str]] = [
    ("analytics.collection_interval_seconds", -5, "must be > 0"),
    ("analytics.collection_interval_seconds", 0, "must be > 0"),
    ("analytics.aggregation_delay_minutes", -1, ">= 0"),
    ("analytics.write_max_delay_seconds", -0.5, ">= 0"),
    ("analytics.cleanup_interval_seconds", -1, "must be > 0"),
    ("analytics.sampling_rate", 1.5, "[0.0, 1.0]"),
    ("analytics.sampling_rate", -0.01, "[0.0, 1.0]"),
    ("analytics.sampling_rate", math.nan, "expected a number"),
    ("analytics.sampling_rate", "half", "expected a number"),
    ("analytics.analytics_level", "verbose", "unknown value 'verbose'"),
    ("analytics.aggregation_periods", ["hour", "fortnight"], "unknown value 'fortnight'"),
    ("analytics.aggregation_periods", ["hour", "hour"], "duplicate"),
    ("analytics.report_output_formats", ["json", "xml"], "unknown value 'xml'"),
    ("analytics.fsync_policy", "sometimes", "unknown value 'sometimes'"),
    ("analytics.buffer_full_policy", "wait", "unknown value 'wait'"),
    ("analytics.write_batch_size", 0, ">= 1"),
    ("analytics.max_buffered_records", 10, "write_batch_size"),
    ("analytics.writer_id", "../evil", "writer_id"),
    ("analytics.collection_interval_seconds", "60", "expected an integer"),
    ("analytics.collection_interval_seconds", True, "expected an integer"),
    ("analytics.collection_interval_seconds", 1.5, "expected an integer"),
    ("analytics.enable_user_analytics", "yes", "expected a boolean"),
    ("analytics.cost_per_event_usd", -1.0, ">= 0"),
    ("analytics.pattern_confidence_threshold", 1.2, "[0.0, 1.0]"),
    ("analytics.anomaly_z_threshold", 0.0, "must be > 0"),
    ("analytics.rollup_relative_accuracy", 1.0, "(0, 1)"),
    ("analytics.distinct_exact_limit", -1, ">= 0"),
    ("analytics.alerting_config.smtp_password_env", "my password", "environment variable name"),
    ("analytics.alerting_config.webhook_retry_backoff_seconds", -1.0, ">= 0"),
    ("analytics.privacy_config.raw_data_retention_days", 0, ">= 1"),
    ("analytics.privacy_config.raw_data_retention_days", 400, "must not exceed aggregated_data_retention_days"),
    ("analytics.privacy_config.aggregated_data_retention_days", 3000, "must not exceed compliance_data_retention_days"),
    ("analytics.privacy_config.key_env_var", "1-bad name", "environment variable name"),
    ("analytics.privacy_config.store_raw_identifiers", True, "requires anonymize_user_data=false"),
    ("analytics.privacy_config.allowed_external_services", ["ok", 3], "list of strings"),
    ("analytics.alerting_config.alert_log_level", "LOUD", "unknown logging level 'LOUD'"),
    ("analytics.alerting_config.webhook_urls", ["ftp://example.com/hook"], "http:// or https://"),
    ("analytics.alerting_config.webhook_urls", ["https://"], "http:// or https://"),
    ("analytics.alerting_config.email_recipients", ["ops.example.com"], "not an email address"),
    ("analytics.alerting_config.memory_usage_threshold_percent", 150.0, "(0.0, 100.0]"),
    ("analytics.alerting_config.alert_cooldown_minutes", -1, ">= 0"),
    ("analytics.alerting_config.smtp_port", 70000, "[1, 65535]"),
    ("analytics.alerting_config.flap_threshold_changes", 11, "must not exceed flap_window_evaluations"),
    ("environment", "staging", "unknown value 'staging'"),
    ("storage.base_path", "", "must not be empty"),
    ("storage.base_path", 42, "expected a string"),
]


def _nested(path: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    node = out
    *parents, leaf = path.split(".")
    for p in parents:
        node[p] = {}
        node = node[p]
    node[leaf] = value
    return out


@pytest.mark.parametrize(("path", "value", "why"), BAD_VALUES, ids=[f"{p}={v!r}" for p, v, _ in BAD_VALUES])
def test_bad_value_raises_one_error_naming_the_field(path: str, value: Any, why: str) -> None:
    with pytest.raises(FFConfigError) as info:
        FFAnalyticsManagerConfigDTO.from_dict(_nested(path, value))
    err = info.value
    assert isinstance(err, ValueError)
    assert len(err.errors) == 1, err.errors
    assert err.errors[0].startswith(path), err.errors
    assert why in err.errors[0]
    assert path in str(err)


@pytest.mark.parametrize(
    "path",
    ["bogus", "storage.bogus", "analytics.bogus", "analytics.privacy_config.bogus", "analytics.alerting_config.bogus"],
)
def test_unknown_key_raises_naming_it(path: str) -> None:
    with pytest.raises(FFConfigError) as info:
        FFAnalyticsManagerConfigDTO.from_dict(_nested(path, 1))
    assert info.value.errors == [f"{path}: unknown key ({info.value.errors[0].split('(', 1)[1]}"]
    assert "unknown key" in str(info.value)


def test_unknown_key_suggests_close_match() -> None:
    with pytest.raises(FFConfigError, match="did you mean 'sampling_rate'"):
        FFAnalyticsManagerConfigDTO.from_dict({"analytics": {"samplng_rate": 0.5}})


def test_non_dict_section_is_reported() -> None:
    with pytest.raises(FFConfigError, match=r"analytics: expected an object"):
        FFAnalyticsManagerConfigDTO.from_dict({"analytics": [1, 2]})


def test_many_bad_fields_one_error_listing_all() -> None:
    data = {
        "environment": "qa",
        "storage": {"nope": 1},
        "analytics": {
            "collection_interval_seconds": -1,
            "sampling_rate": 3.0,
            "analytics_level": "max",
            "privacy_config": {"raw_data_retention_days": -2},
            "alerting_config": {"webhook_urls": ["mailto:x"]},
        },
    }
    with pytest.raises(FFConfigError) as info:
        FFAnalyticsManagerConfigDTO.from_dict(data)
    fields = sorted(e.split(":", 1)[0] for e in info.value.errors)
    assert fields == sorted(
        [
            "environment",
            "storage.nope",
            "analytics.collection_interval_seconds",
            "analytics.sampling_rate",
            "analytics.analytics_level",
            "analytics.privacy_config.raw_data_retention_days",
            "analytics.alerting_config.webhook_urls[0]",
        ]
    )
    assert str(info.value).startswith("7 invalid configuration fields: ")


def test_constructing_invalid_root_raises_naming_the_paths() -> None:
    with pytest.raises(FFConfigError):  # a sub-DTO cannot be constructed invalid either
        FFAnalyticsConfigDTO(sampling_rate=2.0, collection_interval_seconds=-1)
    bad = FFAnalyticsConfigDTO()
    bad.sampling_rate, bad.collection_interval_seconds = 2.0, -1  # mutated after construction
    assert bad.validate() == [
        "collection_interval_seconds: must be > 0, got -1",
        "sampling_rate: must be in [0.0, 1.0], got 2.0",
    ]
    with pytest.raises(FFConfigError) as info:
        FFAnalyticsManagerConfigDTO(analytics=bad)
    assert [e.split(":")[0] for e in info.value.errors] == [
        "analytics.collection_interval_seconds",
        "analytics.sampling_rate",
    ]
    with pytest.raises(FFConfigError, match="environment"):
        FFAnalyticsManagerConfigDTO(environment="prod")
    # fixed up, the same sub-DTO is accepted
    bad.sampling_rate, bad.collection_interval_seconds = 0.5, 30
    root = FFAnalyticsManagerConfigDTO(analytics=bad)
    assert root.analytics.sampling_rate == 0.5


def test_raise_if_invalid_after_mutation() -> None:
    root = FFAnalyticsManagerConfigDTO()
    root.analytics.alerting_config.email_recipients = ["nobody"]
    root.analytics.alerting_config.enable_webhook_alerts = True
    with pytest.raises(FFConfigError) as info:
        root.raise_if_invalid()
    assert [e.split(":")[0] for e in info.value.errors] == [
        "analytics.alerting_config.email_recipients[0]",
        "analytics.alerting_config.webhook_urls",
    ]


def test_enum_members_and_paths_are_normalized() -> None:
    from pathlib import Path

    cfg = FFAnalyticsConfigDTO(analytics_level=AnalyticsLevel.FULL)
    assert type(cfg.analytics_level) is str and cfg.analytics_level == "full"
    assert cfg.analytics_level_enum is AnalyticsLevel.FULL
    assert FFAnalyticsStorageConfigDTO(base_path=Path("/tmp/x")).base_path == "/tmp/x"
    root = FFAnalyticsManagerConfigDTO(storage={"base_path": "/data"}, analytics={"sampling_rate": 0.25})
    assert root.storage.base_path == "/data" and root.analytics.sampling_rate == 0.25


def test_from_dict_accepts_integers_for_float_fields() -> None:
    cfg = FFAnalyticsManagerConfigDTO.from_dict({"analytics": {"sampling_rate": 1, "anomaly_z_threshold": 4}})
    assert type(cfg.analytics.sampling_rate) is float and cfg.analytics.anomaly_z_threshold == 4.0


def test_valid_alerting_targets_pass() -> None:
    a = FFAnalyticsAlertingConfigDTO(
        enable_email_alerts=True,
        email_recipients=["ops@example.com"],
        enable_webhook_alerts=True,
        webhook_urls=["https://hooks.example.com/a?b=1", "http://127.0.0.1:8080/x"],
        alert_log_level="error",
    )
    assert a.validate() == []
    assert a.alert_log_level_number == 40


def test_raw_identifiers_allowed_only_when_anonymization_off() -> None:
    p = FFAnalyticsPrivacyConfigDTO(store_raw_identifiers=True, anonymize_user_data=False, hash_user_identifiers=False)
    assert p.validate() == []
    p.hash_user_identifiers = True
    assert p.validate() == ["store_raw_identifiers: true requires hash_user_identifiers=false"]


# -- round trip ------------------------------------------------------------------------------------
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_round_trip_exact_through_json(env: str) -> None:
    cfg = preset_config(env)
    d = cfg.to_dict()
    back = FFAnalyticsManagerConfigDTO.from_dict(orjson.loads(orjson.dumps(d)))
    assert back == cfg
    assert back.to_dict() == d
    assert orjson.dumps(back.to_dict()) == orjson.dumps(d)
    # to_dict is independent of the object
    d["analytics"]["aggregation_periods"].append("month")
    assert cfg.analytics.aggregation_periods != d["analytics"]["aggregation_periods"]


_FLOATS = st.floats(allow_nan=False, allow_infinity=False, width=64)
_INTS = st.integers(min_value=-(2**53), max_value=2**53)
_STRS = st.text(max_size=20)
_KIND_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "bool": st.booleans(),
    "int": _INTS,
    "float": _FLOATS,
    "str": _STRS,
    "list[str]": st.lists(_STRS, max_size=4),
    "float?": st.none() | _FLOATS,
    "int?": st.none() | _INTS,
}


def _dict_strategy(cls: type) -> st.SearchStrategy[dict[str, Any]]:
    parts: dict[str, st.SearchStrategy[Any]] = {}
    for name, kind in field_kinds(cls).items():
        parts[name] = _dict_strategy(kind) if isinstance(kind, type) else _KIND_STRATEGIES[kind]
    return st.fixed_dictionaries({}, optional=parts)


def _assign(obj: Any, data: dict[str, Any]) -> None:
    for key, value in data.items():
        if isinstance(value, dict):
            _assign(getattr(obj, key), value)
        else:
            setattr(obj, key, value)


@settings(max_examples=60, deadline=None)
@given(_dict_strategy(FFAnalyticsConfigDTO))
def test_round_trip_is_exact_for_any_typed_values(data: dict[str, Any]) -> None:
    """Any well-typed values: from_dict raises exactly what validate() finds, else they survive to_dict/JSON."""
    mutated = FFAnalyticsConfigDTO()
    _assign(mutated, data)
    expected = [e.split(":", 1)[0] for e in mutated.validate()]
    try:
        cfg = FFAnalyticsConfigDTO.from_dict(data)
    except FFConfigError as exc:
        assert [e.split(":", 1)[0] for e in exc.errors] == expected
        return
    assert expected == []
    d = cfg.to_dict()
    for key, value in data.items():  # what was given is what is kept
        if isinstance(value, dict):
            for k2, v2 in value.items():
                assert d[key][k2] == v2
        else:
            assert d[key] == value
    back = FFAnalyticsConfigDTO.from_dict(orjson.loads(orjson.dumps(d)))
    assert back == cfg and back.to_dict() == d


@settings(max_examples=40, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "sampling_rate": st.floats(0.0, 1.0),
            "collection_interval_seconds": st.integers(1, 10**6),
            "analytics_level": st.sampled_from([m.value for m in AnalyticsLevel]),
            "aggregation_periods": st.lists(
                st.sampled_from(["minute", "hour", "day", "week", "month"]), unique=True, max_size=5
            ),
            "privacy_config": st.fixed_dictionaries(
                {},
                optional={
                    "raw_data_retention_days": st.integers(1, 365),
                    "key_file": st.text(st.characters(exclude_characters="\x00"), max_size=20),
                },
            ),
        },
    ),
    st.sampled_from(ENVIRONMENTS),
)
def test_valid_root_round_trip(analytics: dict[str, Any], env: str) -> None:
    cfg = FFAnalyticsManagerConfigDTO.from_dict({"environment": env, "analytics": analytics})
    assert FFAnalyticsManagerConfigDTO.from_dict(orjson.loads(orjson.dumps(cfg.to_dict()))) == cfg


def test_every_field_is_documented() -> None:
    """docs/configuration.md names every config field (keeps the reference in sync with the code)."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [
        f"{cls.__name__}.{name}"
        for cls in (FFAnalyticsStorageConfigDTO, FFAnalyticsConfigDTO, FFAnalyticsPrivacyConfigDTO, FFAnalyticsAlertingConfigDTO)
        for name in field_kinds(cls)
        if f"`{name}`" not in doc
    ]
    assert missing == []
    for env in ENVIRONMENTS:
        assert f"| {env} |" in doc or f"| {env}" in doc


async def test_manager_accepts_presets_and_rejects_mutated_invalid(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from ff_metrics_collection_manager import FFMetricsCollectionManager

    cfg = preset_config("test")
    cfg.storage.base_path = str(tmp_path)
    m = FFMetricsCollectionManager(cfg)
    try:
        assert m.analytics_config.fsync_policy == "never"
        assert m.base_path == tmp_path
    finally:
        await m.close()
    cfg.analytics.sampling_rate = 7.0
    with pytest.raises(FFConfigError, match="analytics.sampling_rate"):
        FFMetricsCollectionManager(cfg)


def test_sub_dto_from_dict_rejects_unknown_keys_and_bad_values() -> None:
    with pytest.raises(FFConfigError) as info:
        FFAnalyticsPrivacyConfigDTO.from_dict({"raw_data_retention_days": 3, "retention": 1})
    assert info.value.errors == ["retention: unknown key (not a field of FFAnalyticsPrivacyConfigDTO)"]
    with pytest.raises(FFConfigError) as info:
        FFAnalyticsPrivacyConfigDTO.from_dict({"raw_data_retention_days": -3})
    assert info.value.errors == ["raw_data_retention_days: must be >= 1, got -3"]
    p = FFAnalyticsPrivacyConfigDTO.from_dict({"raw_data_retention_days": 3})
    p.raw_data_retention_days = -3  # mutated after construction
    assert p.validate() == ["raw_data_retention_days: must be >= 1, got -3"]
    with pytest.raises(FFConfigError, match="raw_data_retention_days"):
        p.raise_if_invalid()


def test_config_error_pickles_with_its_errors() -> None:
    import pickle

    err = FFConfigError(["a.b: bad", "c: worse"])
    back = pickle.loads(pickle.dumps(err))
    assert isinstance(back, ValueError) and back.errors == ["a.b: bad", "c: worse"] and str(back) == str(err)
