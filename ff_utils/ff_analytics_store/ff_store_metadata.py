"""``analytics_metadata.json``: what a store is, how it was configured, and what changed since last start.

The file is rewritten atomically on every start. It keeps the first start's id and time, and a flat
copy of the effective configuration (credential-like values replaced by a digest), so the manager can
audit ``config_changed`` with the changed field names exactly once.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from ff_utils.ff_analytics_core.ff_clock import FFClock, ff_iso
from ff_utils.ff_analytics_core.ff_json_utils import ff_dumps, ff_read_json, ff_write_json
from ff_utils.ff_analytics_store.ff_stream_store import STREAM_CATEGORY

__all__ = ["METADATA_FILE", "ff_flatten_config", "ff_write_store_metadata"]

METADATA_FILE = "analytics_metadata.json"
LAYOUT = "<category>/<stream>/date=YYYY-MM-DD/part-<writer>.jsonl"
_SENSITIVE_KEY_PARTS = ("url", "password", "recipient", "username", "key_file", "sender")


def ff_flatten_config(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (lists kept as values)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(ff_flatten_config(v, key + "."))
        else:
            out[key] = v
    return out


def _redact(key: str, value: Any) -> Any:
    """Config values that may carry credentials or addresses are kept only as a digest."""
    if any(p in key.rsplit(".", 1)[-1] for p in _SENSITIVE_KEY_PARTS) and value not in ("", [], None):
        return "sha256:" + hashlib.sha256(ff_dumps(value)).hexdigest()[:16]
    return value


def ff_write_store_metadata(
    analytics_path: Path,
    base_path: Path,
    config_dict: dict[str, Any],
    analytics_config: Any,
    *,
    environment: str,
    clock: FFClock,
) -> tuple[str, list[str]]:
    """Write the metadata file; returns the config digest and the fields changed since the previous
    start (empty on the first start)."""
    meta_path = Path(analytics_path) / METADATA_FILE
    previous = ff_read_json(meta_path, default=None) or {}
    ac = analytics_config
    flat = {k: _redact(k, v) for k, v in ff_flatten_config(config_dict).items()}
    digest = hashlib.sha256(ff_dumps(sorted(flat.items()))).hexdigest()
    old_flat = previous.get("config_fields") or {}
    changed = sorted(k for k in set(flat) | set(old_flat) if flat.get(k) != old_flat.get(k)) if old_flat else []
    now = ff_iso(clock.now())
    metadata = {
        "analytics_system_id": previous.get("analytics_system_id")
        or hashlib.sha256(os.fsencode(Path(base_path).resolve())).hexdigest()[:16],
        "initialized_at": previous.get("initialized_at") or now,
        "last_opened_at": now,
        "environment": environment,
        "analytics_level": ac.analytics_level,
        "privacy_config": ac.privacy_config.to_dict(),
        "collection_config": {
            "interval_seconds": ac.collection_interval_seconds,
            "aggregation_periods": list(ac.aggregation_periods),
            "real_time_enabled": ac.enable_real_time_metrics,
        },
        "storage": {"layout": LAYOUT, "fsync_policy": ac.fsync_policy, "streams": dict(STREAM_CATEGORY)},
        "config_sha256": digest,
        "config_fields": flat,
    }
    ff_write_json(meta_path, metadata)
    return digest, changed
