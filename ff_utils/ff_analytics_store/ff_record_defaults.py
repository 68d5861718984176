"""Defaults of the fields a compact stored record may omit, per stream, filled in by the readers.

User-analytics records are written compact: a field whose value is its ``FFUserAnalyticsDTO``
default (``0``, ``0.0``, ``""``, ``False``, ``None``, ``[]``, and ``{}`` for ``properties``) is
left out of the line. ``FFStreamStore.read`` returns every record of those streams with all fields,
in the DTO's order (``ff_fill_record_defaults``); engines that read the JSONL themselves (DuckDB,
Spark) see an absent field as NULL/missing and should treat it as the default listed in
docs/operators.md.
"""

from __future__ import annotations

from typing import Any

from ff_class_configs.ff_analytics_configs.ff_analytics_entities_config import FFUserAnalyticsDTO

__all__ = ["USER_RECORD_DEFAULTS", "USER_RECORD_STREAMS", "ff_fill_record_defaults", "record_defaults"]

USER_RECORD_STREAMS = ("session_analytics", "feature_usage", "engagement_metrics", "behavior_patterns")

USER_RECORD_DEFAULTS: dict[str, Any] = {
    **{k: v for k, v in FFUserAnalyticsDTO(timestamp="").to_dict().items() if k != "event_type"},
    "event_type": "",
    "properties": {},
}
"""Every field of a stored user record with its default (DTO order, then ``event_type``, ``properties``)."""

_SCALARS = {k: v for k, v in USER_RECORD_DEFAULTS.items() if not isinstance(v, (list, dict))}
_LISTS = tuple(k for k, v in USER_RECORD_DEFAULTS.items() if isinstance(v, list))
_ORDER = tuple(USER_RECORD_DEFAULTS)
_KNOWN = frozenset(_ORDER)
_BY_STREAM = dict.fromkeys(USER_RECORD_STREAMS, True)


def record_defaults(stream: str) -> dict[str, Any] | None:
    """The defaults of ``stream``'s compact records, or None when its records are stored whole."""
    return USER_RECORD_DEFAULTS if stream in _BY_STREAM else None


def ff_fill_record_defaults(rec: Any) -> Any:
    """A user record (a dict with ``user_hash`` and ``event_type``, as the pipeline writes) with every
    absent field set to its default (fresh lists/dicts; DTO order; any other key kept after them).
    Anything else (a foreign record in a user stream, a non-dict) is returned as is."""
    if type(rec) is not dict or "user_hash" not in rec or "event_type" not in rec:
        return rec
    out: dict[str, Any] = {}
    for k in _ORDER:
        if k in rec:
            out[k] = rec[k]
        elif k in _SCALARS:
            out[k] = _SCALARS[k]
        elif k == "properties":
            out[k] = {}
        else:
            out[k] = []
    if not rec.keys() <= _KNOWN:
        for k, v in rec.items():
            if k not in out:
                out[k] = v
    return out
