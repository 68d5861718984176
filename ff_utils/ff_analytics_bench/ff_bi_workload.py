"""Synthetic user/system workloads for BI tests and ``ff-metrics bench bi`` (deterministic by seed).

Records have the stored shape of ``FFUserAnalyticsDTO`` (plus ``event_type``) and of
``FFSystemMetricsDTO``. ``write_raw_partitions`` writes them straight into the store layout
(``date=`` partition of the record's UTC day, one part file per writer), which is what the store
would produce with a clock following the events.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from ff_utils.ff_analytics_core.ff_clock import ff_iso
from ff_utils.ff_analytics_core.ff_file_ops import ff_ensure_directory
from ff_utils.ff_analytics_store.ff_record_defaults import USER_RECORD_DEFAULTS as _DEFAULTS

FEATURES = ("chat", "search", "documents", "tools", "export", "voice", "summaries", "templates")
PLATFORMS = ("web", "ios", "android", "desktop")
SEGMENTS = ("new", "returning", "power", "casual")
RARE_FEATURE = "rare_feature_zz"
RARE_PLATFORM = "rare_platform_zz"
_TYPES = ("session_start", "feature_usage", "feature_usage", "page_view", "content_interaction",
          "session_end", "conversion", "satisfaction")
EVENT_STREAM = {
    "session_start": "session_analytics", "session_end": "session_analytics",
    "feature_usage": "feature_usage", "content_interaction": "behavior_patterns",
}


def user_hash(i: int) -> str:
    return hashlib.sha256(f"bench-user-{i}".encode()).hexdigest()


def generate_user_events(
    n: int, *, start: datetime, days: int, users: int, seed: int = 7, rare_users: int = 2,
) -> Iterator[dict[str, Any]]:
    """``n`` events spread evenly over ``days`` days; the user pool grows over time (new users);
    ``rare_users`` users (fewer than the min cell size) use ``RARE_FEATURE`` / ``RARE_PLATFORM``."""
    if n < 0 or days < 1 or users < 1:
        raise ValueError("n/days/users: must be >= 0 / >= 1 / >= 1")
    rng = random.Random(seed)
    rand, randrange = rng.random, rng.randrange
    hashes = [user_hash(i) for i in range(users)]
    span_us = days * 86_400_000_000
    t0_us = int(start.timestamp() * 1_000_000)
    prefixes: dict[int, str] = {}
    n_types, n_feats, n_plat, n_seg = len(_TYPES), len(FEATURES), len(PLATFORMS), len(SEGMENTS)
    for j in range(n):
        ts_us = t0_us + j * span_us // n
        hour, rem = divmod(ts_us, 3_600_000_000)
        prefix = prefixes.get(hour)
        if prefix is None:
            prefix = prefixes[hour] = ff_iso(datetime.fromtimestamp(hour * 3600, UTC))[:14]
        minute, rem = divmod(rem, 60_000_000)
        sec, us = divmod(rem, 1_000_000)
        frac = (j + 1) / n
        pool = max(1, int(users * (0.3 + 0.7 * frac)))
        u = int(rand() ** 1.5 * pool)
        et = _TYPES[randrange(n_types)]
        rare = u < rare_users and rand() < 0.5
        rec: dict[str, Any] = {
            "timestamp": f"{prefix}{minute:02d}:{sec:02d}.{us:06d}Z",
            "user_hash": hashes[u],
            "session_id": f"s{u}-{hour}",
            "event_type": et,
            "features_used": [RARE_FEATURE] if rare else ([FEATURES[randrange(n_feats)]] if et == "feature_usage" else []),
            "platform": RARE_PLATFORM if rare else PLATFORMS[u % n_plat],
            "user_segment": SEGMENTS[u % n_seg],
            "session_duration_seconds": int(rng.lognormvariate(5.5, 1.0)) if et == "session_end" else 0,
            "satisfaction_rating": rng.choice((1, 2, 3, 4, 4, 5, 5, 5)) if et == "satisfaction" else None,
            "conversion_events": ["upgrade"] if et == "conversion" else [],
            "return_user": False,
        }
        yield rec


def generate_system_samples(*, start: datetime, days: int, interval_s: int = 600, seed: int = 11) -> Iterator[dict[str, Any]]:
    """One tick per ``interval_s``: ``{"timestamp", "resource": <resource_usage record>,
    "window": <performance window record>, "dto": <FFSystemMetricsDTO-like dict>}``."""
    rng = random.Random(seed)
    t = start
    end = start + timedelta(days=days)
    while t < end:
        ts = ff_iso(t)
        load = 30 + 25 * ((t.hour - 6) % 24 < 14)
        cpu = round(load + rng.uniform(-10, 10), 2)
        mem = round(50 + rng.uniform(-5, 5), 2)
        count = rng.randrange(0, 400)
        mean = round(rng.lognormvariate(4.5, 0.6), 3) if count else None
        errors = sum(rng.random() < 0.02 for _ in range(min(count, 50)))
        thr = round(count / interval_s, 4)
        yield {
            "timestamp": ts,
            "resource": {"timestamp": ts, "cpu_usage_percent": cpu, "memory_usage_percent": mem,
                         "disk_usage_percent": 40.0, "concurrent_users": 5},
            "window": {"timestamp": ts, "kind": "window", "count": count, "mean": mean, "errors": errors,
                       "throughput_per_s": thr},
            "dto": {"timestamp": ts, "cpu_usage_percent": cpu, "memory_usage_percent": mem, "disk_usage_percent": 40.0,
                    "concurrent_users": 5, "request_count": count, "response_time_ms": mean or 0.0,
                    "error_count": errors, "throughput_requests_per_second": thr},
        }
        t += timedelta(seconds=interval_s)


class FFRawPartitionWriter:
    """Append records as JSONL to ``<category>/<stream>/date=<record day>/part-<writer>.jsonl``,
    buffering up to ``buffer_bytes`` per file."""

    def __init__(self, analytics_path: Path, writer: str, *, buffer_bytes: int = 4 << 20) -> None:
        self.analytics_path = Path(analytics_path)
        self.writer = writer
        self.buffer_bytes = buffer_bytes
        self._bufs: dict[Path, bytearray] = {}
        self.records = 0

    def add(self, rec: dict[str, Any], rel: Path) -> None:
        p = self.analytics_path / rel / f"date={rec['timestamp'][:10]}" / f"part-{self.writer}.jsonl"
        b = self._bufs.get(p)
        if b is None:
            b = self._bufs[p] = bytearray()
        b += orjson.dumps(rec, option=orjson.OPT_APPEND_NEWLINE)
        self.records += 1
        if len(b) >= self.buffer_bytes:
            self._write(p, b)
            self._bufs[p] = bytearray()

    def _write(self, p: Path, b: bytearray) -> None:
        ff_ensure_directory(p.parent)
        with open(p, "ab") as fh:
            fh.write(b)

    def close(self) -> None:
        for p, b in self._bufs.items():
            if b:
                self._write(p, b)
        self._bufs.clear()


def user_stream_rel(rec: dict[str, Any]) -> Path:
    return Path("user_analytics") / EVENT_STREAM.get(rec["event_type"], "engagement_metrics")


RESOURCE_REL = Path("system_metrics") / "resource_usage"
REQUEST_REL = Path("system_metrics") / "performance"


def write_raw_partitions(analytics_path: Path, records: Any, writer: str, *, system: bool = False) -> int:
    """Write ``records`` (user events, or system ticks with ``system=True``) into raw partitions."""
    w = FFRawPartitionWriter(analytics_path, writer)
    for rec in records:
        if system:
            w.add(rec["resource"], RESOURCE_REL)
            w.add(rec["window"], REQUEST_REL)
        else:
            w.add(rec, user_stream_rel(rec))
    w.close()
    return w.records


def compact_user_record(rec: dict[str, Any]) -> dict[str, Any]:
    """``rec`` as the pipeline stores it: default-valued fields left out (``return_user`` and
    ``user_segment`` always kept), see ``ff_record_defaults``."""
    return {k: v for k, v in rec.items() if k in _ALWAYS or v != _DEFAULTS.get(k, _MISSING)}


_ALWAYS = frozenset({"timestamp", "user_hash", "event_type", "return_user", "user_segment"})
_MISSING = object()


def build_bi_store(root: Path, n: int, days: int, users: int, start: datetime, *, compact: bool = False) -> dict[str, Any]:
    """Raw user/system partitions of ``n`` events over ``days`` days under ``root/analytics`` plus the hourly
    rollups the hot path would have written (same accumulator); returns sizes and the rollup count.
    ``compact``: user records as the pipeline writes them now (default-valued fields omitted)."""
    from types import SimpleNamespace

    from ff_utils.ff_analytics_bi.ff_rollup_accumulator import FFRollupAccumulator
    from ff_utils.ff_analytics_core.ff_json_utils import ff_dumps_line

    analytics = root / "analytics"
    rollup_bufs: dict[str, bytearray] = {}

    def emit(recs: list[dict[str, Any]]) -> None:
        for r in recs:
            rollup_bufs.setdefault(r["hour"][:10], bytearray()).extend(ff_dumps_line(r))

    acc = FFRollupAccumulator("bench-writer", emit=emit)
    raw = FFRawPartitionWriter(analytics, "bench-writer")
    merged = heapq.merge(
        ((r["timestamp"], 0, r) for r in generate_user_events(n, start=start, days=days, users=users)),
        ((r["timestamp"], 1, r) for r in generate_system_samples(start=start, days=days)),
        key=lambda x: (x[0], x[1]),
    )
    for _ts, kind, rec in merged:
        if kind == 0:
            raw.add(compact_user_record(rec) if compact else rec, user_stream_rel(rec))
            acc.observe_user_dict(rec)
        else:
            raw.add(rec["resource"], RESOURCE_REL)
            raw.add(rec["window"], REQUEST_REL)
            acc.observe_system(SimpleNamespace(**rec["dto"]))
    acc.flush()
    raw.close()
    rbytes = 0
    for day, buf in rollup_bufs.items():
        d = analytics / "business_intelligence" / "rollups" / f"date={day}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "part-bench-writer.jsonl").write_bytes(buf)
        rbytes += len(buf)
    raw_bytes = sum(f.stat().st_size for f in (analytics / "user_analytics").rglob("*.jsonl"))
    return {"raw_bytes": raw_bytes, "rollup_bytes": rbytes, "rollup_records": acc.records_emitted}
