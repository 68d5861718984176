"""Root configuration, environment presets and :func:`load_config`.

Precedence (later wins): dataclass defaults < preset of the environment < JSON file < ``FF_ANALYTICS_*``
environment variables. The result is validated once, at the end, and every problem (unknown keys,
bad values, unparseable environment variables) is reported in one :class:`FFConfigError`.
See ``docs/configuration.md`` for the field reference and the environment variable mapping.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ff_class_configs.ff_analytics_configs.ff_analytics_base_config import (
    DEFER_VALIDATION,
    FFConfigBase,
    FFConfigError,
    FFFieldCheck,
    field_kinds,
)
from ff_class_configs.ff_analytics_configs.ff_analytics_config import (
    FFAnalyticsAlertingConfigDTO,
    FFAnalyticsConfigDTO,
    FFAnalyticsPrivacyConfigDTO,
)

__all__ = [
    "ENVIRONMENTS",
    "ENV_PREFIX",
    "PRESETS",
    "FFAnalyticsStorageConfigDTO",
    "FFAnalyticsManagerConfigDTO",
    "FFManagerSettingsDTO",
    "ff_manager_settings",
    "env_var_mapping",
    "load_config",
    "preset_config",
]

# stdlib logging directly: this package must import without ff_utils (see the package docstring)
logger = logging.getLogger("ff_analytics.config")

ENVIRONMENTS = ("development", "test", "production")
ENV_PREFIX = "FF_ANALYTICS_"


@dataclass
class FFAnalyticsStorageConfigDTO(FFConfigBase):
    """Where the store lives."""

    base_path: str = "analytics_data"  # the store is <base_path>/analytics

    def __post_init__(self) -> None:
        if isinstance(self.base_path, os.PathLike):
            self.base_path = os.fspath(self.base_path)
        super().__post_init__()

    def _check(self, c: FFFieldCheck) -> None:
        if c.ok("base_path"):
            if not self.base_path.strip():
                c.err("base_path", "must not be empty")
            elif "\x00" in self.base_path:
                c.err("base_path", "must not contain NUL")


@dataclass
class FFAnalyticsManagerConfigDTO(FFConfigBase):
    """Root configuration: storage, environment and analytics (constructing it invalid raises)."""

    storage: FFAnalyticsStorageConfigDTO = field(default_factory=FFAnalyticsStorageConfigDTO)
    environment: str = "development"
    analytics: FFAnalyticsConfigDTO = field(default_factory=FFAnalyticsConfigDTO)

    def __post_init__(self) -> None:
        errors: list[str] = []
        if isinstance(self.storage, Mapping):
            self.storage = FFAnalyticsStorageConfigDTO._build(dict(self.storage), "storage.", errors)
        if isinstance(self.analytics, Mapping):
            self.analytics = FFAnalyticsConfigDTO._build(dict(self.analytics), "analytics.", errors)
        self._finish_construction(errors)

    def _check(self, c: FFFieldCheck) -> None:
        c.choice("environment", ENVIRONMENTS)

    @property
    def base_path(self) -> Path:
        """``storage.base_path`` as a :class:`~pathlib.Path`."""
        return Path(self.storage.base_path)


# Presets: partial dicts merged over the defaults (same shape as to_dict()).
PRESETS: dict[str, dict[str, Any]] = {
    "development": {
        "environment": "development",
        "analytics": {
            "analytics_level": "detailed",
            "fsync_policy": "batch",
            "enable_real_time_metrics": True,
            "collection_interval_seconds": 30,
            "free_space_reserve_mb": 16,
            "alerting_config": {"alert_log_level": "INFO"},
        },
    },
    "test": {
        "environment": "test",
        "analytics": {
            "analytics_level": "full",
            "collection_interval_seconds": 1,
            "enable_real_time_metrics": False,
            "aggregation_delay_minutes": 0,
            "fsync_policy": "never",
            "write_batch_size": 64,
            "write_max_delay_seconds": 0.05,
            "max_buffered_records": 10_000,
            "free_space_reserve_mb": 0,
            "cleanup_interval_seconds": 60,
            "consent_refresh_seconds": 0.0,
            "audit_checkpoint_every": 100,
            "pattern_history_size": 1000,
            "alerting_config": {"alert_cooldown_minutes": 0, "max_alerts_per_hour": 1000},
        },
    },
    "production": {
        "environment": "production",
        "analytics": {
            "analytics_level": "standard",
            "collection_interval_seconds": 60,
            "enable_real_time_metrics": True,
            "fsync_policy": "batch",
            "write_batch_size": 1000,
            "write_max_delay_seconds": 1.0,
            "max_buffered_records": 200_000,
            "free_space_reserve_mb": 256,
            "enable_data_compression": True,
            "compression_age_days": 7,
            "privacy_config": {"require_explicit_consent": False, "honor_do_not_track": True},
            "alerting_config": {"alert_log_level": "WARNING", "alert_cooldown_minutes": 15},
        },
    },
}


def _deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base``; dicts merge recursively, everything else replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _default_dict() -> dict[str, Any]:
    token = DEFER_VALIDATION.set(True)
    try:
        return FFAnalyticsManagerConfigDTO().to_dict()
    finally:
        DEFER_VALIDATION.reset(token)


def preset_config(environment: str = "development") -> FFAnalyticsManagerConfigDTO:
    """The validated preset for ``environment`` (no file, no environment variables)."""
    if environment not in PRESETS:
        raise FFConfigError([f"environment: unknown value {environment!r}; expected one of {', '.join(ENVIRONMENTS)}"])
    return FFAnalyticsManagerConfigDTO.from_dict(_deep_merge(_default_dict(), PRESETS[environment]))


# -- environment variables -------------------------------------------------------------------------
_SECTION_ALIASES = {
    "analytics": ("analytics",),
    "analytics.privacy_config": ("PRIVACY", "PRIVACY_CONFIG"),
    "analytics.alerting_config": ("ALERTING", "ALERTING_CONFIG"),
    "storage": ("STORAGE",),
}


def env_var_mapping() -> dict[str, tuple[str, Any]]:
    """Every accepted ``FF_ANALYTICS_*`` variable -> (config path, field kind)."""
    mapping: dict[str, tuple[str, Any]] = {
        f"{ENV_PREFIX}BASE_PATH": ("storage.base_path", "str"),
        f"{ENV_PREFIX}STORAGE__BASE_PATH": ("storage.base_path", "str"),
        f"{ENV_PREFIX}ENVIRONMENT": ("environment", "str"),
    }
    for name, kind in field_kinds(FFAnalyticsConfigDTO).items():
        if isinstance(kind, type):
            continue
        mapping[f"{ENV_PREFIX}{name.upper()}"] = (f"analytics.{name}", kind)
    for section, cls in (
        ("analytics.privacy_config", FFAnalyticsPrivacyConfigDTO),
        ("analytics.alerting_config", FFAnalyticsAlertingConfigDTO),
    ):
        for name, kind in field_kinds(cls).items():
            for alias in _SECTION_ALIASES[section]:
                mapping[f"{ENV_PREFIX}{alias}__{name.upper()}"] = (f"{section}.{name}", kind)
    return mapping


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_NONE = {"", "none", "null"}


def _coerce(raw: str, kind: Any) -> Any:
    """Parse an environment variable's text as a field of ``kind`` (raises ValueError with the reason)."""
    text = raw.strip()
    low = text.lower()
    if kind == "str":
        return raw
    if kind == "bool":
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"expected a boolean (true/false/1/0/yes/no/on/off), got {raw!r}")
    if kind in ("int", "int?"):
        if kind == "int?" and low in _NONE:
            return None
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"expected an integer, got {raw!r}") from None
    if kind in ("float", "float?"):
        if kind == "float?" and low in _NONE:
            return None
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {raw!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, got {raw!r}")
        return value
    if kind == "list[str]":
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"expected a JSON list of strings, got {raw!r} ({exc.msg})") from None
            if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                raise ValueError(f"expected a JSON list of strings, got {raw!r}")
            return value
        return [part.strip() for part in text.split(",") if part.strip()]
    raise ValueError(f"unsupported kind {kind!r}")  # pragma: no cover


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = data
    for p in parents:
        child = node.get(p)
        if not isinstance(child, dict):
            child = {}
            node[p] = child
        node = child
    node[leaf] = value


def _env_overrides(environ: Mapping[str, str], errors: list[str]) -> dict[str, Any]:
    """Nested override dict from ``FF_ANALYTICS_*`` variables; bad values are appended to ``errors``."""
    mapping = env_var_mapping()
    overrides: dict[str, Any] = {}
    ignored = {"FF_ANALYTICS_PSEUDONYM_KEY"}
    for var in sorted(environ):
        if not var.startswith(ENV_PREFIX):
            continue
        target = mapping.get(var)
        if target is None:
            if var not in ignored:
                logger.warning("ignoring unknown configuration environment variable %s", var)
            continue
        path, kind = target
        try:
            value = _coerce(environ[var], kind)
        except ValueError as exc:
            errors.append(f"{var} ({path}): {exc}")
            continue
        _set_path(overrides, path, value)
    return overrides


def _read_file(path: str | os.PathLike[str], errors: list[str]) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise OSError(f"config file {p}: cannot read: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        errors.append(f"{p}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
        return {}
    if not isinstance(data, dict):
        errors.append(f"{p}: expected a JSON object at the top level, got {type(data).__name__}")
        return {}
    return data


def load_config(
    path: str | os.PathLike[str] | None = None,
    environment: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> FFAnalyticsManagerConfigDTO:
    """Defaults < preset < JSON file at ``path`` < ``FF_ANALYTICS_*`` variables, validated once.

    The environment (which preset applies) is ``environment`` if given, else ``FF_ANALYTICS_ENVIRONMENT``,
    else the file's ``"environment"``, else ``"development"``. ``environ`` defaults to ``os.environ``.
    Raises :class:`FFConfigError` (a ValueError) naming every bad field, unknown key or bad variable, and
    ``OSError`` if the file cannot be read.
    """
    env = os.environ if environ is None else environ
    errors: list[str] = []
    file_data = _read_file(path, errors) if path is not None else {}
    overrides = _env_overrides(env, errors)

    name = environment
    if name is None:
        name = overrides.get("environment") or file_data.get("environment") or "development"
    if name not in PRESETS:
        errors.append(f"environment: unknown value {name!r}; expected one of {', '.join(ENVIRONMENTS)}")
        preset: dict[str, Any] = {}
    else:
        preset = PRESETS[name]

    merged = _deep_merge(_default_dict(), preset)
    merged = _deep_merge(merged, file_data)
    merged = _deep_merge(merged, overrides)
    merged["environment"] = name

    config = FFAnalyticsManagerConfigDTO._build(merged, "", errors)
    errors.extend(e for e in config.validate() if not e.startswith("environment:") or name in PRESETS)
    if errors:
        raise FFConfigError(errors)
    return config


# -- what the manager accepts ------------------------------------------------------------------------
DEFAULT_BASE_PATH = "analytics_data"
UNSPECIFIED_ENVIRONMENT = "unspecified"


@dataclass(frozen=True)
class FFManagerSettingsDTO:
    """What the manager takes from whichever configuration it was given (see :func:`ff_manager_settings`)."""

    analytics: FFAnalyticsConfigDTO
    base_path: Path
    environment: str

    def to_dict(self) -> dict[str, Any]:
        """The effective configuration in the shape of :meth:`FFAnalyticsManagerConfigDTO.to_dict`."""
        return {
            "storage": {"base_path": os.fspath(self.base_path)},
            "environment": self.environment,
            "analytics": self.analytics.to_dict(),
        }


def ff_manager_settings(config: Any, argument: str = "config") -> FFManagerSettingsDTO:
    """Resolve the manager's ``config`` argument; every invalid field raises one :class:`FFConfigError`.

    Accepted, in this order:

    - ``None``: the defaults (:class:`FFAnalyticsManagerConfigDTO`);
    - :class:`FFAnalyticsManagerConfigDTO`: this library's root config (``storage.base_path``);
    - :class:`FFAnalyticsConfigDTO` alone;
    - any other object with an ``analytics`` attribute of type :class:`FFAnalyticsConfigDTO`: a
      host's root config (the spec's shape, ``root.analytics``); its ``environment`` is used when
      it is a non-empty string.

    The store root is ``analytics.store_base_path`` when set, else the root config's ``storage.base_path``
    (this library's root only: a host's ``storage`` holds the host's own data), else
    ``analytics_data``. Anything else raises ``TypeError`` naming ``argument``.
    """
    if config is None:
        config = FFAnalyticsManagerConfigDTO()
    if isinstance(config, FFAnalyticsManagerConfigDTO):
        config.raise_if_invalid()
        ac = config.analytics
        return FFManagerSettingsDTO(ac, Path(ac.store_base_path or config.storage.base_path), config.environment)
    if isinstance(config, FFAnalyticsConfigDTO):
        ac = config
        environment = UNSPECIFIED_ENVIRONMENT
        prefix = ""
    elif hasattr(config, "analytics"):
        ac = config.analytics
        if not isinstance(ac, FFAnalyticsConfigDTO):
            raise TypeError(
                f"{argument}.analytics: expected FFAnalyticsConfigDTO, got {type(ac).__name__}"
            )
        env = getattr(config, "environment", None)
        environment = env if isinstance(env, str) and env else UNSPECIFIED_ENVIRONMENT
        prefix = "analytics."
    else:
        raise TypeError(
            f"{argument}: expected FFAnalyticsManagerConfigDTO, FFAnalyticsConfigDTO or a root config "
            f"with an 'analytics' attribute of type FFAnalyticsConfigDTO, got {type(config).__name__}"
        )
    errors = ac.validate(prefix)
    if errors:
        raise FFConfigError(errors)
    return FFManagerSettingsDTO(ac, Path(ac.store_base_path or DEFAULT_BASE_PATH), environment)
