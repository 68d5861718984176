"""``ff-metrics bench analytics``: user events/s end to end (privacy, routing, index, rollup hooks).

``--peers`` adds, in the same run and interleaved with ours (``--repeat`` rounds, medians):

- ``peer_structlog``: what a host would write for "just JSON lines": structlog with the orjson
  renderer into a file, one ``log.info(event_type, user_id=..., session_id=..., **event_data)`` per
  event, flushed and fsynced every ``--batch`` lines (the same durability as our ``batch`` policy);
- ``limit_orjson_write``: the physical limit of the batch path: ``orjson.dumps`` of each event, one
  ``write`` and one ``fsync`` per ``--batch`` records.

Ratios: ``single_vs_structlog`` (ours single-event / structlog), ``batch_vs_single``, and
``batch_vs_limit``.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from ff_utils.ff_analytics_bench.ff_bench_support import bench_manager_factory

BENCH_NAME = "analytics"
BENCH_HELP = "user events/s through await record_user_analytics and record_user_events (batch durability)"
BENCH_EXAMPLE = "example: ff-metrics bench analytics --events 200000 --users 10000 --batch 1000"

_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--events", type=int, default=200_000, help="events per mode (default 200000)")
    p.add_argument("--users", type=int, default=10_000, help="distinct users (default 10000)")
    p.add_argument("--batch", type=int, default=1000, help="events per record_user_events call (default 1000)")
    p.add_argument("--fsync-policy", default="batch", choices=["never", "batch", "always"])
    p.add_argument("--dir", help="where to write (default: a temp dir, removed afterwards)")
    p.add_argument("--breakdown", action="store_true", help="also time the stages separately (us/event)")
    p.add_argument("--peers", action="store_true",
                   help="also run structlog+orjson to a file and the orjson+write+fsync limit (needs structlog)")
    p.add_argument("--repeat", type=int, default=1, help="interleaved rounds; medians are reported (default 1)")


def _events(n: int, users: int) -> list[tuple[str, str, str, dict[str, Any]]]:
    out = []
    kinds = [
        ("session_start", lambda i: {"platform": "web", "user_agent": _UAS[i % 3], "time_to_first_action": 3}),
        ("feature_usage", lambda i: {"features": ["search", "export"][: 1 + i % 2], "frequency": 1.5}),
        ("content_interaction", lambda i: {"messages": 2, "tools": 1, "message": "hello there"}),
        ("page_view", lambda i: {"page": "/settings"}),
        ("session_end", lambda i: {"duration": 300 + i % 60, "actions": 12, "quality_score": 0.8}),
        ("conversion", lambda i: {"conversion": "upgrade"}),
        ("satisfaction", lambda i: {"rating": 1 + i % 5}),
    ]
    templates = [(k, f(i)) for i in range(64) for k, f in kinds]
    for i in range(n):
        k, data = templates[i % len(templates)]
        u = i % users
        out.append((f"user-{u}", f"sess-{u}-{i // (users * 7)}", k, data))
    return out


def _manager(factory: Any, root: Path, policy: str) -> Any:
    from dataclasses import replace

    from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import (
        FFAnalyticsManagerConfigDTO,
    )

    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(root)
    cfg.analytics = replace(cfg.analytics, fsync_policy=policy, max_buffered_records=2_000_000)
    return factory(cfg, writer_id="bench")


async def _run_single(factory: Any, root: Path, events: list[Any], policy: str) -> dict[str, Any]:
    m = _manager(factory, root, policy)
    await m.initialize_analytics_system(start_collection=False)
    rec = m.record_user_analytics
    await rec(*events[0])  # first use creates the key and loads the index (not timed)
    t0 = time.perf_counter()
    for ev in events:
        await rec(*ev)
    t_record = time.perf_counter() - t0
    await m.aflush()
    total = time.perf_counter() - t0
    stats = m.privacy_stats
    await m.close()
    return {"single_events_per_s": round(len(events) / t_record), "single_with_flush_s": round(total, 3),
            "single_stored": stats.get("stored", 0)}


async def _run_batch(factory: Any, root: Path, events: list[Any], policy: str, batch: int) -> dict[str, Any]:
    m = _manager(factory, root, policy)
    await m.initialize_analytics_system(start_collection=False)
    await m.record_user_events(events[:1])
    chunks = [events[i : i + batch] for i in range(0, len(events), batch)]
    t0 = time.perf_counter()
    stored = 0
    for c in chunks:
        stored += await m.record_user_events(c)
    t_record = time.perf_counter() - t0
    await m.aflush()
    total = time.perf_counter() - t0
    await m.close()
    return {"batch_events_per_s": round(len(events) / t_record), "batch_with_flush_s": round(total, 3),
            "batch_stored": stored}


async def _run_breakdown(factory: Any, root: Path, events: list[Any], policy: str) -> dict[str, Any]:
    """Microseconds per event of each stage, measured separately on the same events."""
    m = _manager(factory, root, policy)
    await m.initialize_analytics_system(start_collection=False)
    await m.record_user_analytics(*events[0])
    p = m.privacy.pipeline
    assert p is not None
    process = p.process
    t0 = time.perf_counter()
    out = [process(*ev) for ev in events]
    t1 = time.perf_counter()
    append = m.store.append
    for stream, rec in out:
        append(stream, rec)
    t2 = time.perf_counter()
    publish = m.hub.publish_user_event
    for _stream, rec in out:
        publish(rec)
    t3 = time.perf_counter()
    await m.close()
    n = len(events)
    return {
        "us_privacy_pipeline": round((t1 - t0) / n * 1e6, 2),
        "us_store_append": round((t2 - t1) / n * 1e6, 2),
        "us_rollup_hook": round((t3 - t2) / n * 1e6, 2),
    }


def _run_structlog_peer(path: Path, events: list[Any], batch: int) -> dict[str, Any]:
    """structlog + orjson renderer into a file, fsync every ``batch`` lines (the peer a host would pick)."""
    import os

    import orjson
    import structlog

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        log = structlog.wrap_logger(
            structlog.BytesLogger(fh),
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.JSONRenderer(serializer=orjson.dumps),
            ],
            cache_logger_on_first_use=True,
        )
        info = log.info
        fd = fh.fileno()
        t0 = time.perf_counter()
        left = batch
        for user_id, session_id, event_type, data in events:
            info(event_type, user_id=user_id, session_id=session_id, **data)
            left -= 1
            if not left:
                fh.flush()
                os.fsync(fd)
                left = batch
        fh.flush()
        os.fsync(fd)
        dt = time.perf_counter() - t0
    lines = sum(1 for _ in open(path, "rb"))
    if lines != len(events):
        raise RuntimeError(f"bench analytics: structlog peer wrote {lines} lines for {len(events)} events")
    return {"peer_structlog_events_per_s": round(len(events) / dt), "peer_structlog_bytes_per_event":
            round(path.stat().st_size / len(events))}


def _run_write_limit(path: Path, events: list[Any], batch: int) -> dict[str, Any]:
    """orjson per event, one write + one fsync per ``batch`` records: the batch path's physical limit."""
    import os

    import orjson

    dumps, opt = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        t0 = time.perf_counter()
        for i in range(0, len(events), batch):
            buf = bytearray()
            for user_id, session_id, event_type, data in events[i:i + batch]:
                buf += dumps({"user_id": user_id, "session_id": session_id, "event_type": event_type, **data},
                             option=opt)
            os.write(fd, buf)
            os.fsync(fd)
        dt = time.perf_counter() - t0
    finally:
        os.close(fd)
    return {"limit_orjson_write_records_per_s": round(len(events) / dt)}


def _stored_bytes_per_event(root: Path) -> int:
    files = list((root / "analytics" / "user_analytics").rglob("*.jsonl"))
    lines = sum(sum(1 for _ in open(f, "rb")) for f in files)
    return round(sum(f.stat().st_size for f in files) / max(1, lines))


def _median(xs: list[Any]) -> Any:
    xs = sorted(xs)
    return xs[len(xs) // 2]


def _count(root: Path) -> int:
    from ff_class_configs.ff_analytics_configs.ff_analytics_config import FFAnalyticsConfigDTO
    from ff_utils.ff_analytics_privacy.ff_user_event_pipeline import USER_STREAMS
    from ff_utils.ff_analytics_store.ff_stream_store import FFStreamStore

    s = FFStreamStore(root, FFAnalyticsConfigDTO(), writer_id="bench-reader")
    return sum(1 for st in USER_STREAMS for _ in s.read(st))


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.events <= 0:
        raise ValueError("--events: must be > 0")
    if args.users <= 0:
        raise ValueError("--users: must be > 0")
    if args.batch <= 0:
        raise ValueError("--batch: must be > 0")
    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="ff-bench-analytics-"))
    factory = bench_manager_factory(args)
    events = _events(args.events, args.users)
    repeat = getattr(args, "repeat", 1)
    if repeat < 1:
        raise ValueError("--repeat: must be >= 1")
    peers = bool(getattr(args, "peers", False))
    out: dict[str, Any] = {"events": args.events, "users": args.users, "batch": args.batch,
                           "fsync_policy": args.fsync_policy, "repeat": repeat}
    runs: dict[str, list[Any]] = {}
    try:
        for r in range(repeat):  # interleaved: peer, single, batch, limit in every round
            res: dict[str, Any] = {}
            if peers:
                res.update(_run_structlog_peer(root / f"peer-{r}" / "structlog.jsonl", events, args.batch))
                shutil.rmtree(root / f"peer-{r}", ignore_errors=True)
            single = root / f"single-{r}"
            res.update(asyncio.run(_run_single(factory, single, events, args.fsync_policy)))
            read_back = _count(single)
            if read_back != res["single_stored"]:  # stats include the untimed warm-up event
                raise RuntimeError(f"bench analytics: stored {res['single_stored']} but read back {read_back}")
            res["stored_bytes_per_event"] = _stored_bytes_per_event(single)
            shutil.rmtree(single, ignore_errors=True)
            batch = root / f"batch-{r}"
            res.update(asyncio.run(_run_batch(factory, batch, events, args.fsync_policy, args.batch)))
            read_back = _count(batch)
            if read_back != res["batch_stored"] + 1:
                raise RuntimeError(f"bench analytics: stored {res['batch_stored']} but read back {read_back}")
            shutil.rmtree(batch, ignore_errors=True)
            if peers:
                res.update(_run_write_limit(root / f"limit-{r}" / "limit.jsonl", events, args.batch))
                shutil.rmtree(root / f"limit-{r}", ignore_errors=True)
            for k, v in res.items():
                runs.setdefault(k, []).append(v)
        for k, vs in runs.items():
            out[k] = _median(vs)
            if repeat > 1 and k.endswith("_per_s"):
                out[k + "_runs"] = vs
        out["batch_vs_single"] = round(out["batch_events_per_s"] / out["single_events_per_s"], 2)
        if peers:
            out["single_vs_structlog"] = round(
                _median([a / b for a, b in zip(runs["single_events_per_s"], runs["peer_structlog_events_per_s"],
                                               strict=True)]), 2)
            out["batch_vs_limit"] = round(
                _median([a / b for a, b in zip(runs["batch_events_per_s"], runs["limit_orjson_write_records_per_s"],
                                               strict=True)]), 2)
        out["read_back_ok"] = True
        if getattr(args, "breakdown", False):
            out.update(asyncio.run(_run_breakdown(factory, root / "breakdown", events, args.fsync_policy)))
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)
    return out
