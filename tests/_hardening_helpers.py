"""Shared helpers of the hardening input tests (not a test module)."""

from __future__ import annotations

import copy
import dataclasses
import gzip
import math
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import (
    FFAnalyticsManagerConfigDTO,
    load_config,
)
from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_utils.ff_analytics_core.ff_clock import FFManualClock

START = datetime(2026, 3, 1, 9, tzinfo=UTC)
T0 = datetime(2026, 3, 1, tzinfo=UTC)
T1 = T0 + timedelta(days=1)
NAN = math.nan
INF = math.inf
_BASE_CONFIG = load_config(environment="test")


def make_config(base: Path) -> FFAnalyticsManagerConfigDTO:
    cfg = copy.deepcopy(_BASE_CONFIG)
    return dataclasses.replace(cfg, storage=dataclasses.replace(cfg.storage, base_path=str(base)))


def make_manager(base: Path, **kw: Any) -> FFMetricsCollectionManager:
    return FFMetricsCollectionManager(make_config(base), clock=FFManualClock(START), writer_id="w1", **kw)


def settle(m: FFMetricsCollectionManager) -> None:
    """Write everything pending: the open instrument window, buffers, audit queue, index deltas."""
    m.system.flush_pending_window()
    m.flush()


# Rejected unsafe names are recorded as security events by design (a digest, never the value).
_SNAPSHOT_EXCLUDED = (os.sep + "security_events" + os.sep,)


def snapshot(base: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for root, _dirs, files in os.walk(base):
        for name in files:
            p = os.path.join(root, name)
            if any(x in p for x in _SNAPSHOT_EXCLUDED):
                continue
            out[os.path.relpath(p, base)] = Path(p).read_bytes()
    return out


async def _ok() -> None:
    return None


def _fn() -> dict[str, Any]:
    return {}


def _cfg_with(m: FFMetricsCollectionManager, path: str, value: Any) -> FFAnalyticsManagerConfigDTO:
    cfg = copy.deepcopy(m.config)
    obj: Any = cfg
    *parents, last = path.split(".")
    for part in parents:
        obj = getattr(obj, part)
    setattr(obj, last, value)
    return cfg



HOSTILE = [
    "emoji 😀👍🏽👨‍👩‍👧 🏳️‍🌈",
    "RTL مرحبا بالعالم \u202etxt.exe\u202c שלום",
    "CJK 你好，世界 こんにちは 안녕하세요 𠜎𠜱",
    "combining e\u0301\u0302\u0303 Z\u0324\u0354\u0367\u0311\u0313",
    "NUL and controls a\x00b\x01c\x1fd\x7fe\x1bf",
    "line1\nline2",
    "cr\rlf\r\nend",
    "vt\x0bff\x0cfs\x1cgs\x1drs\x1e",
    "line sep \u2028 here",
    "para sep \u2029 here",
    "next line \u0085 here",
    "bom \ufeff zwj \u200d zwsp \u200b",
    "edges \ud7ff\ue000\uffff\U0010ffff",
    "quotes \" \\ \\u2028 '",
]


def assert_one_record_per_line(data: bytes, expected: int | None = None) -> list[dict[str, Any]]:
    """Every record is one line: split on b"\\n" and on every Unicode line break gives the same count."""
    if data:
        assert data.endswith(b"\n")
    parts = data.split(b"\n")
    assert parts[-1] == b""
    lines = parts[:-1]
    assert all(line for line in lines), "empty line"
    recs = [orjson.loads(line) for line in lines]
    assert all(isinstance(r, dict) for r in recs)
    assert len(data.decode("utf-8").splitlines()) == len(lines), "a raw Unicode line break inside a record"
    if expected is not None:
        assert len(lines) == expected
    return recs


def stream_bytes(m: FFMetricsCollectionManager, stream: str) -> bytes:
    out = b""
    for part in m.store.iter_partitions(stream):
        for f in part.files:
            raw = f.read_bytes()
            out += gzip.decompress(raw) if f.name.endswith(".gz") else raw
    return out


def all_store_files(base: Path) -> list[Path]:
    out = []
    for root, _dirs, files in os.walk(base / "analytics"):
        for name in files:
            if name.endswith((".jsonl", ".jsonl.gz")):
                out.append(Path(root) / name)
    out += sorted((base / "privacy_state").glob("*.jsonl"))
    return out


def assert_every_file_one_record_per_line(base: Path) -> None:
    for f in all_store_files(base):
        raw = f.read_bytes()
        assert_one_record_per_line(gzip.decompress(raw) if f.name.endswith(".gz") else raw)


