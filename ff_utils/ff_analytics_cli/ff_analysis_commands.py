"""CLI: ``ff-metrics analyze`` (findings with the numbers behind them), ``ff-metrics patterns``
(behaviour patterns from the user event streams) and ``ff-metrics capacity`` (time to saturation)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    from ff_utils.ff_analytics_analysis.ff_analysis_service import (
        ANALYSIS_KINDS,
        DEFAULT_METRICS,
        METRIC_SOURCES,
    )

    p = subparsers.add_parser(
        "analyze", parents=parents,
        help="anomalies, regressions, trends, forecasts, capacity and correlations of stored metrics",
        description=("Reads resource_usage and performance over the window and prints findings with the "
                     f"numbers behind them. Known metrics: {', '.join(sorted(METRIC_SOURCES))}; other names are "
                     f"looked up as record fields. Default set: {', '.join(DEFAULT_METRICS)}."),
        epilog=("example: ff-metrics analyze --metric p95_response_time_ms --window 7d\n"
                "         ff-metrics analyze --window 24h --kinds anomalies,regression --format json"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--metric", help="one metric (default: the default set)")
    p.add_argument("--window", default="7d", help="how far back to look: 90s, 30m, 24h, 7d, 2w (default 7d)")
    p.add_argument("--kinds", help=f"comma list of {','.join(ANALYSIS_KINDS)} (default all)")
    p.add_argument("--detection-window", help="regression detection window (default window/7 within 1h..1d)")
    p.add_argument("--horizon", help="forecast horizon (default window/7 within 1h..7d)")
    p.add_argument("--capacity-horizon-days", type=float, default=365.0,
                   help="saturation further away than this is 'not saturating within the horizon' (default 365)")
    p.add_argument("--raise-alerts", action="store_true", help="raise recent anomalies as alerts")
    p.set_defaults(func=_cmd_analyze)

    q = subparsers.add_parser(
        "patterns", parents=parents, help="learn behaviour patterns from the user event streams",
        epilog="example: ff-metrics patterns --window 7d --no-write --format json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    q.add_argument("--window", default="7d", help="events from this far back (default 7d)")
    q.add_argument("--no-write", action="store_true", help="do not append the patterns to behavior_patterns")
    q.set_defaults(func=_cmd_patterns)

    c = subparsers.add_parser(
        "capacity", parents=parents, help="time to saturation of disk and memory (capacity_planning)",
        epilog="example: ff-metrics capacity --window 3d\n         ff-metrics capacity --window 7d --horizon-days 90",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("--window", default="7d", help="growth measured over this window (default 7d)")
    c.add_argument("--horizon-days", type=float, default=365.0,
                   help="report saturation only within this many days; further is 'not saturating within the "
                        "horizon' (default 365)")
    c.add_argument("--no-write", action="store_true", help="do not append to capacity_planning")
    c.set_defaults(func=_cmd_capacity)


async def _with_manager(args: argparse.Namespace, fn: Any) -> Any:
    from ff_utils.ff_analytics_cli.ff_cli_support import FFCliError, build_manager

    m = build_manager(args)
    if not await m.initialize_analytics_system(start_collection=False):
        raise FFCliError(f"could not open the store under {m.base_path}")
    try:
        return await fn(m)
    finally:
        await m.close()


def _cmd_analyze(args: argparse.Namespace) -> int:
    from ff_utils.ff_analytics_analysis.ff_forecasting import ff_check_horizon_days
    from ff_utils.ff_analytics_analysis.ff_stats_series import ff_parse_window
    from ff_utils.ff_analytics_cli.ff_cli_support import emit
    from ff_utils.ff_analytics_cli.ff_cli_table import format_table

    ff_parse_window(args.window, "--window")
    ff_check_horizon_days(args.capacity_horizon_days, "--capacity-horizon-days")
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()] if args.kinds else None

    async def go(m: Any) -> dict[str, Any]:
        return await m.analyze(args.metric, args.window, kinds=kinds, detection_window=args.detection_window,
                               horizon=args.horizon, raise_alerts=args.raise_alerts,
                               capacity_horizon_days=args.capacity_horizon_days)

    res = asyncio.run(_with_manager(args, go))
    rows = [{"severity": f["severity"], "kind": f["kind"], "metric": f["metric"], "finding": f["message"]}
            for f in res["findings"]]
    head = [f"window {res['start']} .. {res['end']}"]
    for name, r in res["metrics"].items():
        s = r.get("summary")
        if s:
            head.append(f"  {name}: {r['points']} points, mean {s['mean']:.4g}, p95 {s['p95']:.4g}, max {s['max']:.4g}")
        else:
            head.append(f"  {name}: {r.get('reason', 'no data')}")
    table = "\n".join(head) + "\n\n" + (format_table(rows, ["severity", "kind", "metric", "finding"])
                                        if rows else "no findings")
    emit(args, res, table)
    return 0


def _cmd_patterns(args: argparse.Namespace) -> int:
    from ff_utils.ff_analytics_analysis.ff_stats_series import ff_parse_window
    from ff_utils.ff_analytics_cli.ff_cli_support import emit
    from ff_utils.ff_analytics_cli.ff_cli_table import format_table

    ff_parse_window(args.window, "--window")

    async def go(m: Any) -> dict[str, Any]:
        return await m.learn_patterns(args.window, write=not args.no_write)

    res = asyncio.run(_with_manager(args, go))
    rows = [{"type": p["pattern_type"], "occurrences": p["occurrences"], "confidence": f"{p['confidence']:.2f}",
             "pattern": p["description"]} for p in res["patterns"]]
    text = (f"{res['events_read']} events read, {res['events_used']} used, {len(res['patterns'])} patterns, "
            f"{res['written']} written\n\n" + format_table(rows, ["type", "occurrences", "confidence", "pattern"]))
    if res["recommendations"]:
        text += "\n\nrecommendations:\n" + "\n".join(f"- {r}" for r in res["recommendations"])
    emit(args, res, text)
    return 0


def _cmd_capacity(args: argparse.Namespace) -> int:
    from ff_utils.ff_analytics_analysis.ff_forecasting import ff_check_horizon_days
    from ff_utils.ff_analytics_analysis.ff_stats_series import ff_parse_window
    from ff_utils.ff_analytics_cli.ff_cli_support import emit
    from ff_utils.ff_analytics_cli.ff_cli_table import format_table

    ff_parse_window(args.window, "--window")
    horizon = ff_check_horizon_days(args.horizon_days, "--horizon-days")

    async def go(m: Any) -> list[dict[str, Any]]:
        return await m.forecast_capacity(args.window, write=not args.no_write, horizon_days=horizon)

    res = asyncio.run(_with_manager(args, go))
    rows = [{"resource": r["resource"], "metric": r["metric"], "status": r["status"],
             "days": (f"> {r['horizon_days']:g}" if r["status"] == "beyond_horizon" else
                      "" if r["days_to_saturation"] is None else f"{r['days_to_saturation']:.2f}"),
             "message": r["message"]} for r in res]
    emit(args, {"capacity": res}, format_table(rows, ["resource", "metric", "status", "days", "message"])
         if rows else "no disk or memory samples in the window")
    return 0
