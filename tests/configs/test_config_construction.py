"""Config DTOs cannot be constructed invalid: every FF*ConfigDTO raises one FFConfigError naming each bad field.

``validate()`` stays for objects mutated after construction; the root analytics config (and the
manager root) validate their children, naming the field path (``privacy_config.raw_data_retention_days``).
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

from ff_class_configs.ff_analytics_configs import ff_analytics_config, ff_analytics_manager_config
from ff_class_configs.ff_analytics_configs.ff_analytics_base_config import FFConfigBase, FFConfigError
from ff_class_configs.ff_analytics_configs.ff_analytics_config import (
    FFAnalyticsAlertingConfigDTO,
    FFAnalyticsConfigDTO,
    FFAnalyticsPrivacyConfigDTO,
)
from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import (
    FFAnalyticsManagerConfigDTO,
    FFAnalyticsStorageConfigDTO,
    load_config,
)

# (class, field, bad value, part of the message) -- one row per config DTO class at least
BAD_FIELDS: list[tuple[type, str, Any, str]] = [
    (FFAnalyticsStorageConfigDTO, "base_path", "", "must not be empty"),
    (FFAnalyticsStorageConfigDTO, "base_path", 42, "expected a string"),
    (FFAnalyticsPrivacyConfigDTO, "raw_data_retention_days", 0, "must be >= 1, got 0"),
    (FFAnalyticsPrivacyConfigDTO, "key_env_var", "1-bad name", "environment variable name"),
    (FFAnalyticsAlertingConfigDTO, "smtp_port", 70000, "must be in [1, 65535], got 70000"),
    (FFAnalyticsAlertingConfigDTO, "alert_log_level", "LOUD", "unknown logging level 'LOUD'"),
    (FFAnalyticsConfigDTO, "collection_interval_seconds", -5, "must be > 0, got -5"),
    (FFAnalyticsConfigDTO, "sampling_rate", 1.5, "must be in [0.0, 1.0], got 1.5"),
    (FFAnalyticsConfigDTO, "privacy_config", "strict", "expected FFAnalyticsPrivacyConfigDTO"),
    (FFAnalyticsManagerConfigDTO, "environment", "staging", "unknown value 'staging'"),
]


def _config_dto_classes() -> set[type]:
    """Every FF*ConfigDTO dataclass defined in the config modules."""
    found: set[type] = set()
    for module in (ff_analytics_config, ff_analytics_manager_config):
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and obj.__module__ == module.__name__
                and name.startswith("FF")
                and name.endswith("ConfigDTO")
            ):
                found.add(obj)
    return found


def test_every_config_dto_class_is_covered() -> None:
    classes = _config_dto_classes()
    assert classes == {cls for cls, *_ in BAD_FIELDS}
    assert all(dataclasses.is_dataclass(c) and issubclass(c, FFConfigBase) for c in classes)


@pytest.mark.parametrize("cls", sorted(_config_dto_classes(), key=lambda c: c.__name__))
def test_defaults_construct_and_validate(cls: type) -> None:
    obj = cls()
    assert obj.validate() == []
    obj.raise_if_invalid()


@pytest.mark.parametrize(
    ("cls", "name", "value", "why"),
    BAD_FIELDS,
    ids=[f"{c.__name__}.{n}={v!r}" for c, n, v, _ in BAD_FIELDS],
)
def test_constructing_with_a_bad_field_raises_naming_it(cls: type, name: str, value: Any, why: str) -> None:
    with pytest.raises(FFConfigError) as info:
        cls(**{name: value})
    err = info.value
    assert isinstance(err, ValueError)
    assert len(err.errors) == 1, err.errors
    assert err.errors[0].startswith(f"{name}: "), err.errors
    assert why in err.errors[0]
    assert name in str(err)


def test_construction_message_is_the_validate_message() -> None:
    """Construction reuses validate(): the same text as validating a mutated object."""
    cfg = FFAnalyticsConfigDTO()
    cfg.collection_interval_seconds = -5
    with pytest.raises(FFConfigError) as info:
        FFAnalyticsConfigDTO(collection_interval_seconds=-5)
    assert info.value.errors == cfg.validate() == ["collection_interval_seconds: must be > 0, got -5"]


TWO_BAD: list[tuple[type, dict[str, Any], list[str]]] = [
    (FFAnalyticsConfigDTO, {"collection_interval_seconds": -5, "sampling_rate": 1.5},
     ["collection_interval_seconds", "sampling_rate"]),
    (FFAnalyticsPrivacyConfigDTO, {"raw_data_retention_days": 0, "key_env_var": "a b"},
     ["raw_data_retention_days", "key_env_var"]),
    (FFAnalyticsAlertingConfigDTO, {"smtp_port": 0, "max_alerts_per_hour": 0},
     ["max_alerts_per_hour", "smtp_port"]),
    (FFAnalyticsManagerConfigDTO, {"environment": "qa", "storage": {"base_path": ""}},
     ["storage.base_path", "environment"]),
]


@pytest.mark.parametrize(("cls", "kwargs", "fields"), TWO_BAD, ids=[c.__name__ for c, *_ in TWO_BAD])
def test_two_bad_fields_raise_one_error_naming_both(cls: type, kwargs: dict[str, Any], fields: list[str]) -> None:
    with pytest.raises(FFConfigError) as info:
        cls(**kwargs)
    err = info.value
    assert [e.split(":", 1)[0] for e in err.errors] == fields
    assert str(err).startswith("2 invalid configuration fields: ")
    for name in fields:
        assert name in str(err)


def test_validate_still_lists_problems_after_mutation() -> None:
    cfg = FFAnalyticsConfigDTO()
    cfg.collection_interval_seconds = -5
    cfg.sampling_rate = 1.5
    cfg.alerting_config.smtp_port = 0
    errors = cfg.validate()
    assert isinstance(errors, list)
    assert errors == [  # nested sections are checked with the field types, then the value rules
        "alerting_config.smtp_port: must be in [1, 65535], got 0",
        "collection_interval_seconds: must be > 0, got -5",
        "sampling_rate: must be in [0.0, 1.0], got 1.5",
    ]
    assert cfg.validate("analytics.")[0].startswith("analytics.")
    with pytest.raises(FFConfigError):
        cfg.raise_if_invalid()
    cfg.collection_interval_seconds, cfg.sampling_rate, cfg.alerting_config.smtp_port = 30, 0.5, 587
    assert cfg.validate() == []


def test_a_child_constructed_invalid_raises_by_itself() -> None:
    with pytest.raises(FFConfigError) as info:
        FFAnalyticsPrivacyConfigDTO(raw_data_retention_days=0)
    assert info.value.errors == ["raw_data_retention_days: must be >= 1, got 0"]


def test_parents_validate_mutated_children_naming_the_path() -> None:
    privacy = FFAnalyticsPrivacyConfigDTO()
    privacy.raw_data_retention_days = 0
    with pytest.raises(FFConfigError) as info:
        FFAnalyticsConfigDTO(privacy_config=privacy)
    assert info.value.errors == ["privacy_config.raw_data_retention_days: must be >= 1, got 0"]

    analytics = FFAnalyticsConfigDTO()
    analytics.alerting_config.smtp_port = 0
    analytics.sampling_rate = 2.0
    with pytest.raises(FFConfigError) as info:
        FFAnalyticsManagerConfigDTO(analytics=analytics)
    assert sorted(e.split(":", 1)[0] for e in info.value.errors) == [
        "analytics.alerting_config.smtp_port",
        "analytics.sampling_rate",
    ]
    storage = FFAnalyticsStorageConfigDTO()
    storage.base_path = ""
    with pytest.raises(FFConfigError, match=r"storage\.base_path: must not be empty"):
        FFAnalyticsManagerConfigDTO(storage=storage)


def test_dataclasses_replace_validates() -> None:
    cfg = FFAnalyticsConfigDTO()
    assert dataclasses.replace(cfg, sampling_rate=0.25).sampling_rate == 0.25
    with pytest.raises(FFConfigError) as info:
        dataclasses.replace(cfg, sampling_rate=1.5, write_batch_size=0)
    assert [e.split(":", 1)[0] for e in info.value.errors] == ["sampling_rate", "write_batch_size"]


def test_sub_dto_from_dict_reports_unknown_keys_and_bad_values_together() -> None:
    with pytest.raises(FFConfigError) as info:
        FFAnalyticsPrivacyConfigDTO.from_dict({"raw_data_retention_days": -3, "retention": 1})
    assert info.value.errors == [
        "retention: unknown key (not a field of FFAnalyticsPrivacyConfigDTO)",
        "raw_data_retention_days: must be >= 1, got -3",
    ]
    with pytest.raises(FFConfigError) as info:
        FFAnalyticsConfigDTO.from_dict({"sampling_rate": 3.0, "privacy_config": {"raw_data_retention_days": 0}})
    assert [e.split(":", 1)[0] for e in info.value.errors] == [
        "privacy_config.raw_data_retention_days",
        "sampling_rate",
    ]


def test_load_config_still_reports_every_problem_at_once(tmp_path: Any) -> None:
    path = tmp_path / "cfg.json"
    path.write_text(
        '{"analytics": {"collection_interval_seconds": -5, "sampling_rate": 1.5, "samplng": 1,'
        ' "privacy_config": {"raw_data_retention_days": 0}}}',
        encoding="utf-8",
    )
    with pytest.raises(FFConfigError) as info:
        load_config(path, environ={"FF_ANALYTICS_WRITE_BATCH_SIZE": "many"})
    assert sorted(e.split(":", 1)[0] for e in info.value.errors) == sorted(
        [
            "FF_ANALYTICS_WRITE_BATCH_SIZE (analytics.write_batch_size)",
            "analytics.samplng",
            "analytics.collection_interval_seconds",
            "analytics.sampling_rate",
            "analytics.privacy_config.raw_data_retention_days",
        ]
    )
