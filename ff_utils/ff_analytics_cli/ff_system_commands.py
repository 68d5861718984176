"""CLI: ``ff-metrics run`` (continuous collection in the foreground), ``health``, ``performance``."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from typing import Any

from ff_utils.ff_analytics_cli.ff_cli_support import (
    FFCliError,
    build_manager,
    common_parent,
    emit,
)
from ff_utils.ff_analytics_cli.ff_cli_table import format_table

_FMT = argparse.RawDescriptionHelpFormatter


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    # A fresh copy of the common flags: a parser registered earlier with conflict_handler="resolve"
    # strips "--format" from the shared parent's action in place (argparse behaviour).
    parents = [common_parent()]
    r = subparsers.add_parser(
        "run", parents=parents, formatter_class=_FMT,
        help="continuous collection in the foreground; Ctrl-C (SIGINT/SIGTERM) flushes and exits 0",
        epilog="example: ff-metrics run --interval 5 --duration 60",
    )
    r.add_argument("--duration", type=float, help="stop after S seconds (default: until SIGINT/SIGTERM)")
    r.add_argument("--interval", type=float, help="seconds between ticks (default: collection_interval_seconds)")
    r.set_defaults(func=_cmd_run)

    h = subparsers.add_parser(
        "health", parents=parents, formatter_class=_FMT,
        help="collect once and print the overall health with its reasons",
        epilog="example: ff-metrics health --format json",
    )
    h.set_defaults(func=_cmd_health)

    p = subparsers.add_parser(
        "performance", parents=parents, formatter_class=_FMT,
        help="response-time percentiles, success/error rates and resource peaks of a timeframe",
        epilog="example: ff-metrics performance --timeframe 1h",
    )
    p.add_argument("--timeframe", default="1h", help="<N>s|m|h|d|w, e.g. 15m, 1h, 7d (default 1h)")
    p.set_defaults(func=_cmd_performance)


def _positive(name: str, v: float | None) -> None:
    if v is not None and not v > 0:
        raise FFCliError(f"{name}: must be > 0, got {v}", code=2)


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    m = build_manager(args)
    if args.interval is not None:
        m.set_collection_interval(args.interval)
    if not await m.initialize_analytics_system(start_collection=False):
        raise FFCliError(f"could not initialize the store under {m.base_path}")
    stop = asyncio.Event()
    reason = {"why": "duration"}
    loop = asyncio.get_running_loop()

    def on_signal(name: str) -> None:
        reason["why"] = name
        stop.set()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig.name)
            installed.append(sig)
    try:
        await m.start_continuous_collection()
        if args.duration is None:
            await stop.wait()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.duration)
    finally:
        await m.stop_continuous_collection()
        stats = m.collection_stats()
        await m.close()
        for sig in installed:
            loop.remove_signal_handler(sig)
    return {
        "stopped_by": reason["why"],
        "ticks": stats["ticks"],
        "failed_ticks": stats["failed_ticks"],
        "mean_tick_ms": stats["mean_tick_ms"],
        "records_written": m.store.stats.records_written,
        "records_dropped": m.store.stats.records_dropped,
        "store": str(m.analytics_path),
    }


def _cmd_run(args: argparse.Namespace) -> int:
    _positive("--duration", args.duration)
    _positive("--interval", args.interval)
    res = asyncio.run(_run(args))
    emit(args, res, format_table([{"metric": k, "value": v} for k, v in res.items()], ["metric", "value"]))
    return 0


def _cmd_health(args: argparse.Namespace) -> int:
    async def go() -> dict[str, Any]:
        m = build_manager(args)
        if not await m.initialize_analytics_system(start_collection=False):
            raise FFCliError(f"could not initialize the store under {m.base_path}")
        try:
            return await m.get_system_health()
        finally:
            await m.close()

    h = asyncio.run(go())
    lines = [f"status  {h['status']}"] + [f"reason  {r}" for r in h["reasons"]]
    rows = [{"component": n, "status": c["status"], "reason": c["reason"]} for n, c in h["components"].items()]
    lines += ["", format_table(rows, ["component", "status", "reason"])]
    lines.append(f"\ndata_quality_score {h['data_quality_score']}  "
                 f"system_reliability_score {h['system_reliability_score']}")
    emit(args, h, "\n".join(lines))
    return 0 if h["status"] != "unhealthy" else 1


def _cmd_performance(args: argparse.Namespace) -> int:
    from ff_utils.ff_analytics_system.ff_performance_analysis import parse_timeframe

    parse_timeframe(args.timeframe)  # ValueError -> usage error with the accepted forms

    async def go() -> dict[str, Any]:
        m = build_manager(args)
        try:
            return await m.analyze_performance(args.timeframe)
        finally:
            await m.close()

    res = asyncio.run(go())
    head = f"timeframe {res['timeframe']}  {res['start']} .. {res['end']}\n"
    if res.get("status") == "no_samples":
        emit(args, res, head + res["message"])
        return 0
    rt = res["response_times"]
    rows = [{"metric": k, "value": rt.get(k)} for k in
            ("count", "min", "max", "mean", "median", "stddev", "p50", "p95", "p99", "method")]
    rows += [{"metric": k, "value": res[k]} for k in
             ("success_rate_percent", "error_rate_percent", "throughput_per_s", "windows")]
    rows += [{"metric": f"{f}.avg/peak", "value": f"{v['avg']:.2f} / {v['peak']:.2f}"}
             for f, v in res["resources"].items()]
    rows.append({"metric": "latest_sample_at", "value": res["latest_sample_at"]})
    emit(args, res, head + format_table(rows, ["metric", "value"]))
    return 0
