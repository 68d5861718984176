"""load_config: defaults < preset < JSON file < FF_ANALYTICS_* env vars, validated once at the end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ff_class_configs.ff_analytics_configs import (
    ENV_PREFIX,
    FFAnalyticsManagerConfigDTO,
    FFConfigError,
    env_var_mapping,
    load_config,
    preset_config,
)


def write(tmp_path: Path, data: Any, name: str = "cfg.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return p


def test_no_file_no_env_is_the_preset() -> None:
    for env in ("development", "test", "production"):
        assert load_config(environment=env, environ={}) == preset_config(env)
    assert load_config(environ={}).environment == "development"


def test_preset_beats_defaults_file_beats_preset_env_beats_file(tmp_path: Path) -> None:
    # default fsync_policy is "batch"; the test preset says "never"
    assert load_config(environment="test", environ={}).analytics.fsync_policy == "never"
    path = write(
        tmp_path,
        {
            "analytics": {
                "fsync_policy": "always",
                "sampling_rate": 0.5,
                "privacy_config": {"raw_data_retention_days": 10, "key_file": "/keys/p.key"},
            }
        },
    )
    cfg = load_config(path, environment="test", environ={})
    assert cfg.analytics.fsync_policy == "always"  # file beats preset
    assert cfg.analytics.write_batch_size == 64  # preset value the file did not touch
    assert cfg.analytics.privacy_config.raw_data_retention_days == 10
    env = {
        "FF_ANALYTICS_FSYNC_POLICY": "batch",
        "FF_ANALYTICS_PRIVACY__RAW_DATA_RETENTION_DAYS": "7",
        "FF_ANALYTICS_BASE_PATH": str(tmp_path / "store"),
    }
    cfg = load_config(path, environment="test", environ=env)
    assert cfg.analytics.fsync_policy == "batch"  # env beats file
    assert cfg.analytics.privacy_config.raw_data_retention_days == 7
    assert cfg.analytics.privacy_config.key_file == "/keys/p.key"  # file value the env did not touch
    assert cfg.analytics.sampling_rate == 0.5
    assert cfg.storage.base_path == str(tmp_path / "store")
    assert cfg.validate() == []


def test_environment_selection_order(tmp_path: Path) -> None:
    path = write(tmp_path, {"environment": "production"})
    assert load_config(path, environ={}).environment == "production"
    assert load_config(path, environ={}).analytics.free_space_reserve_mb == 256  # production preset applied
    assert load_config(path, environ={"FF_ANALYTICS_ENVIRONMENT": "test"}).environment == "test"
    cfg = load_config(path, environment="development", environ={"FF_ANALYTICS_ENVIRONMENT": "test"})
    assert cfg.environment == "development"
    with pytest.raises(FFConfigError) as info:
        load_config(environment="staging", environ={})
    assert info.value.errors == ["environment: unknown value 'staging'; expected one of development, test, production"]


def test_validated_once_at_the_end(tmp_path: Path) -> None:
    # the file alone would be invalid over the test preset (batch > max_buffered_records=10000);
    # the env var fixes it, so the final config is valid
    path = write(tmp_path, {"analytics": {"write_batch_size": 20_000}})
    with pytest.raises(FFConfigError, match="analytics.max_buffered_records"):
        load_config(path, environment="test", environ={})
    cfg = load_config(path, environment="test", environ={"FF_ANALYTICS_MAX_BUFFERED_RECORDS": "50000"})
    assert (cfg.analytics.write_batch_size, cfg.analytics.max_buffered_records) == (20_000, 50_000)


def test_unknown_key_and_bad_values_in_file_one_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"analytics": {"sampling_rate": 1.5, "colection_interval_seconds": 5, "alerting_config": {"smtp_port": 0}}},
    )
    with pytest.raises(FFConfigError) as info:
        load_config(path, environ={"FF_ANALYTICS_COLLECTION_INTERVAL_SECONDS": "-3"})
    fields = sorted(e.split(":")[0] for e in info.value.errors)
    assert fields == [
        "analytics.alerting_config.smtp_port",
        "analytics.colection_interval_seconds",
        "analytics.collection_interval_seconds",
        "analytics.sampling_rate",
    ]
    assert "did you mean 'collection_interval_seconds'" in str(info.value)


@pytest.mark.parametrize(
    ("var", "raw", "why"),
    [
        ("FF_ANALYTICS_SAMPLING_RATE", "abc", "expected a number"),
        ("FF_ANALYTICS_SAMPLING_RATE", "nan", "finite"),
        ("FF_ANALYTICS_COLLECTION_INTERVAL_SECONDS", "1.5", "expected an integer"),
        ("FF_ANALYTICS_ENABLE_USER_ANALYTICS", "maybe", "expected a boolean"),
        ("FF_ANALYTICS_ALERTING__WEBHOOK_URLS", '["a", 1]', "list of strings"),
        ("FF_ANALYTICS_ALERTING__WEBHOOK_URLS", "[oops", "JSON list"),
    ],
)
def test_bad_env_value_names_the_variable(var: str, raw: str, why: str) -> None:
    with pytest.raises(FFConfigError) as info:
        load_config(environ={var: raw})
    assert len(info.value.errors) == 1
    assert info.value.errors[0].startswith(f"{var} (")
    assert why in info.value.errors[0]


def test_env_value_valid_type_but_out_of_range_names_the_field() -> None:
    with pytest.raises(FFConfigError) as info:
        load_config(environ={"FF_ANALYTICS_SAMPLING_RATE": "2"})
    assert info.value.errors == ["analytics.sampling_rate: must be in [0.0, 1.0], got 2.0"]


def test_env_coercions() -> None:
    env = {
        "FF_ANALYTICS_ENABLE_REAL_TIME_METRICS": "off",
        "FF_ANALYTICS_ENABLE_DATA_SAMPLING": "YES",
        "FF_ANALYTICS_SAMPLING_RATE": " 0.25 ",
        "FF_ANALYTICS_AGGREGATION_PERIODS": "hour, day",
        "FF_ANALYTICS_REPORT_OUTPUT_FORMATS": '["csv"]',
        "FF_ANALYTICS_COST_PER_EVENT_USD": "0.002",
        "FF_ANALYTICS_INFRASTRUCTURE_COST_PER_DAY_USD": "none",
        "FF_ANALYTICS_ANALYTICS_LEVEL": "full",
        "FF_ANALYTICS_PRIVACY_CONFIG__ALLOWED_EXTERNAL_SERVICES": "",
        "FF_ANALYTICS_ALERTING__ENABLE_WEBHOOK_ALERTS": "1",
        "FF_ANALYTICS_ALERTING__WEBHOOK_URLS": "https://a.example/x,http://b.example/y",
        "FF_ANALYTICS_ALERTING__ALERT_LOG_LEVEL": "ERROR",
        "FF_ANALYTICS_STORAGE__BASE_PATH": "/srv/analytics",
        "FF_ANALYTICS_PSEUDONYM_KEY": "not a config field, ignored",
    }
    a = load_config(environ=env).analytics
    assert a.enable_real_time_metrics is False and a.enable_data_sampling is True
    assert a.sampling_rate == 0.25
    assert a.aggregation_periods == ["hour", "day"] and a.report_output_formats == ["csv"]
    assert a.cost_per_event_usd == 0.002 and a.infrastructure_cost_per_day_usd is None
    assert a.analytics_level == "full"
    assert a.privacy_config.allowed_external_services == []
    assert a.alerting_config.enable_webhook_alerts is True
    assert a.alerting_config.webhook_urls == ["https://a.example/x", "http://b.example/y"]
    assert a.alerting_config.alert_log_level == "ERROR"
    assert load_config(environ=env).storage.base_path == "/srv/analytics"


def test_unknown_env_var_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING")
    cfg = load_config(environ={"FF_ANALYTICS_SAMPLNG_RATE": "0.1"})
    assert cfg.analytics.sampling_rate == 1.0
    assert "FF_ANALYTICS_SAMPLNG_RATE" in caplog.text


def test_every_field_has_an_env_var() -> None:
    mapping = env_var_mapping()
    paths = {p for p, _ in mapping.values()}

    def leaves(d: dict[str, Any], prefix: str = "") -> list[str]:
        out: list[str] = []
        for k, v in d.items():
            out.extend(leaves(v, f"{prefix}{k}.") if isinstance(v, dict) else [f"{prefix}{k}"])
        return out

    assert set(leaves(FFAnalyticsManagerConfigDTO().to_dict())) == paths
    assert all(v.startswith(ENV_PREFIX) for v in mapping)
    assert mapping["FF_ANALYTICS_PRIVACY__RAW_DATA_RETENTION_DAYS"][0] == "analytics.privacy_config.raw_data_retention_days"
    assert mapping["FF_ANALYTICS_ALERTING__SMTP_PORT"] == ("analytics.alerting_config.smtp_port", "int")


def test_file_problems(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="cannot read"):
        load_config(tmp_path / "missing.json", environ={})
    with pytest.raises(FFConfigError, match="not valid JSON"):
        load_config(write(tmp_path, "{bad json", "bad.json"), environ={})
    with pytest.raises(FFConfigError, match="expected a JSON object"):
        load_config(write(tmp_path, [1, 2], "list.json"), environ={})


def test_written_config_file_loads_back(tmp_path: Path) -> None:
    """A to_dict() dump is a valid config file and loads back to the same config."""
    cfg = preset_config("production")
    cfg.analytics.alerting_config.email_recipients = ["ops@example.com"]
    cfg.analytics.alerting_config.enable_email_alerts = True
    path = write(tmp_path, cfg.to_dict())
    assert load_config(path, environ={}) == cfg


def test_os_environ_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FF_ANALYTICS_COLLECTION_INTERVAL_SECONDS", "17")
    assert load_config().analytics.collection_interval_seconds == 17
