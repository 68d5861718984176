"""JSON Schema (draft 2020-12) per stream, generated at run time from the record DTOs.

A stream's schema lists the fields of the DTO its records are built from, with their JSON types
(``X | None`` and float fields are nullable). No field with a default is ``required`` (every DTO field has one,
and a compact writer may omit default-valued fields), and ``additionalProperties`` stays open:
streams also carry record kinds with more fields (collection windows, alert events). The rollup
stream has no DTO; its schema is declared here (hourly rollups with exact ``uint64`` user key sets).

``ff_duckdb_columns(stream)`` gives the matching explicit ``columns`` for DuckDB's ``read_json``
(user key sets as ``UBIGINT[]``), ``ff_polars_schema(stream)`` the dtype names for Polars.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from ff_class_configs.ff_analytics_configs.ff_analytics_config import STREAM_NAMES
from ff_class_configs.ff_analytics_configs.ff_analytics_entities_config import (
    FFAnalyticsAlertDTO,
    FFAuditEventDTO,
    FFBusinessIntelligenceDTO,
    FFPrivacyEventDTO,
    FFSecurityEventDTO,
    FFSystemMetricsDTO,
    FFUserAnalyticsDTO,
)

__all__ = ["STREAM_DTOS", "UINT64_MAX", "ff_duckdb_columns", "ff_polars_schema", "ff_stream_schema"]

UINT64_MAX = 2**64 - 1
STREAM_DTOS: dict[str, type | None] = {
    "performance": FFSystemMetricsDTO,
    "health_checks": FFSystemMetricsDTO,
    "resource_usage": FFSystemMetricsDTO,
    "error_rates": FFSystemMetricsDTO,
    "alerts": FFAnalyticsAlertDTO,
    "behavior_patterns": FFUserAnalyticsDTO,
    "feature_usage": FFUserAnalyticsDTO,
    "session_analytics": FFUserAnalyticsDTO,
    "engagement_metrics": FFUserAnalyticsDTO,
    "usage_trends": FFBusinessIntelligenceDTO,
    "optimization_insights": FFBusinessIntelligenceDTO,
    "capacity_planning": FFBusinessIntelligenceDTO,
    "roi_analytics": FFBusinessIntelligenceDTO,
    "rollups": None,
    "audit_logs": FFAuditEventDTO,
    "privacy_events": FFPrivacyEventDTO,
    "security_events": FFSecurityEventDTO,
}
"""The DTO each stream's records are built from (``None``: declared here, no DTO)."""

_USER_KEYS = {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": UINT64_MAX}}
_ROLLUP_PROPERTIES: dict[str, Any] = {
    "record_type": {"type": "string", "const": "hourly_rollup"},
    "hour": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}"},
    "timestamp": {"type": "string"},
    "writer": {"type": "string"},
    "v": {"type": "integer"},
    "events": {"type": "integer", "minimum": 0},
    "sessions": {"type": "integer", "minimum": 0},
    "conversions": {"type": "object", "additionalProperties": {"type": "integer"}},
    "users": _USER_KEYS,
    "conversion_users": {"type": "array", "items": {"type": "integer", "minimum": 0}},  # indices into users
    "rebuild": {"type": "string"},
}
_EXTRA: dict[str, dict[str, Any]] = {
    # user events carry their event type and free properties beside the DTO fields
    "behavior_patterns": {"event_type": {"type": "string"}, "properties": {"type": "object"}},
}
for _s in ("feature_usage", "session_analytics", "engagement_metrics"):
    _EXTRA[_s] = _EXTRA["behavior_patterns"]


def _json_type(tp: Any) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        inner = [a for a in args if a is not type(None)]
        base = _json_type(inner[0]) if len(inner) == 1 else {}
        if type(None) in args and "type" in base:
            t = base["type"]
            return {**base, "type": t if isinstance(t, list) else [t, "null"]}
        return base
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:  # a rate or score is null where it cannot be computed (a window with no requests)
        return {"type": ["number", "null"]}
    if tp is str:
        return {"type": "string"}
    if origin is list or tp is list:
        args = typing.get_args(tp)
        return {"type": "array", **({"items": _json_type(args[0])} if args and _json_type(args[0]) else {})}
    if origin is dict or tp is dict:
        args = typing.get_args(tp)
        out: dict[str, Any] = {"type": "object"}
        if len(args) == 2 and _json_type(args[1]):
            out["additionalProperties"] = _json_type(args[1])
        return out
    return {}  # Any: no constraint


def ff_stream_schema(stream: str) -> dict[str, Any]:
    """The JSON Schema of one stream's records; ``ValueError`` naming the stream if unknown."""
    if stream not in STREAM_DTOS:
        raise ValueError(f"stream: unknown stream {stream!r} (known: {sorted(STREAM_NAMES)})")
    dto = STREAM_DTOS[stream]
    if dto is None:
        props = dict(_ROLLUP_PROPERTIES)
        title = "hourly rollup (declared: no DTO)"
    else:
        hints = typing.get_type_hints(dto)
        props = {f.name: _json_type(hints[f.name]) for f in dataclasses.fields(dto)}
        props.update(_EXTRA.get(stream, {}))
        title = dto.__name__
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:ff-analytics:stream:{stream}",
        "title": f"{stream} ({title})",
        "type": "object",
        "properties": props,
        "required": [],
        "additionalProperties": True,
    }


def _duck_type(s: dict[str, Any]) -> str:
    t = s.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if t == "array":
        items = s.get("items") or {}
        if items.get("type") == "integer" and items.get("maximum") == UINT64_MAX:
            return "UBIGINT[]"
        return f"{_duck_type(items)}[]" if items else "JSON"
    return {"string": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN"}.get(str(t), "JSON")


def ff_duckdb_columns(stream: str, fields: list[str] | None = None) -> dict[str, str]:
    """``{column: DuckDB type}`` for ``read_json(..., columns=...)`` (all schema fields, or ``fields``)."""
    props = ff_stream_schema(stream)["properties"]
    names = fields if fields is not None else list(props)
    unknown = [n for n in names if n not in props]
    if unknown:
        raise ValueError(f"fields: {unknown} are not fields of stream {stream!r}")
    return {n: _duck_type(props[n]) for n in names}


def ff_polars_schema(stream: str, fields: list[str] | None = None) -> dict[str, str]:
    """``{column: Polars dtype name}`` (``UInt64`` lists for user keys); build with ``getattr(pl, name)``."""
    duck_to_polars = {"VARCHAR": "String", "BIGINT": "Int64", "DOUBLE": "Float64", "BOOLEAN": "Boolean",
                      "UBIGINT[]": "List(UInt64)", "VARCHAR[]": "List(String)", "BIGINT[]": "List(Int64)",
                      "DOUBLE[]": "List(Float64)"}
    return {n: duck_to_polars.get(t, "String") for n, t in ff_duckdb_columns(stream, fields).items()}
