"""CLI: ``ff-metrics bi`` (business intelligence from rollups), ``ff-metrics report`` (period
reports) and ``ff-metrics rebuild-rollups``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date, datetime
from typing import Any

from ff_utils.ff_analytics_core.ff_clock import ff_parse_iso


def _parse_dt(text: str, flag: str) -> datetime:
    try:
        return ff_parse_iso(text)
    except ValueError as exc:
        raise ValueError(f"{flag}: not an ISO-8601 timestamp: {text!r}") from exc


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    from ff_utils.ff_analytics_cli.ff_cli_support import common_parent

    p = subparsers.add_parser(
        "bi", parents=parents, help="business intelligence for a period, computed from rollups",
        epilog="example: ff-metrics bi --period day\n         ff-metrics bi --start 2026-11-01T00:00:00Z --end 2026-11-08T00:00:00Z --format json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--period", default="day", help="hour | day | week | month (default day)")
    p.add_argument("--start", help="explicit period start (ISO-8601 UTC); needs --end")
    p.add_argument("--end", help="explicit period end (ISO-8601 UTC); needs --start")
    p.set_defaults(func=_cmd_bi)

    r = subparsers.add_parser(
        "report", parents=[common_parent()], conflict_handler="resolve",
        help="write and print the report of the last closed day/week/month",
        epilog="example: ff-metrics report --period week --format csv\n         ff-metrics report --period day --date 2026-11-21 --format json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    r.add_argument("--period", default="day", choices=["day", "week", "month"], help="report period (default day)")
    r.add_argument("--date", help="a date inside the period to report (default: the last closed one)")
    r.add_argument("--format", choices=["table", "json", "csv"], default="table",
                   help="printed format (default table, fitted to 100 columns; table and csv write the CSV report, json the JSON one)")
    r.add_argument("--force", action="store_true", help="regenerate even if the report exists")
    r.set_defaults(func=_cmd_report)

    b = subparsers.add_parser(
        "rebuild-rollups", parents=parents, help="recompute hourly rollups from raw partitions",
        epilog="example: ff-metrics rebuild-rollups --start 2026-11-01T00:00:00Z --end 2026-11-22T00:00:00Z",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    b.add_argument("--start", required=True, help="first hour to rebuild (ISO-8601 UTC)")
    b.add_argument("--end", required=True, help="end of the range, exclusive (ISO-8601 UTC)")
    b.add_argument("--workers", type=int, help="processes (default: one per core)")
    b.set_defaults(func=_cmd_rebuild)


async def _with_manager(args: argparse.Namespace, fn: Any) -> Any:
    from ff_utils.ff_analytics_cli.ff_cli_support import FFCliError, build_manager

    m = build_manager(args)
    if not await m.initialize_analytics_system(start_collection=False):
        raise FFCliError(f"could not open the store under {m.base_path}")
    try:
        return await fn(m)
    finally:
        await m.close()


def _cmd_bi(args: argparse.Namespace) -> int:
    from ff_utils.ff_analytics_cli.ff_cli_support import emit
    from ff_utils.ff_analytics_cli.ff_cli_table import format_table

    start = _parse_dt(args.start, "--start") if args.start else None
    end = _parse_dt(args.end, "--end") if args.end else None
    period = args.period if (start is None or args.period != "day") else "custom"

    async def go(m: Any) -> dict[str, Any]:
        _dto, result = await m.generate_business_intelligence_result(period, start=start, end=end)
        if result is None:
            raise ValueError("business intelligence is disabled (enable_business_intelligence=false)")
        return {**result.fields, "details": result.details}

    data = asyncio.run(_with_manager(args, go))
    rows = [{"field": k, "value": v} for k, v in data.items() if k != "details"]
    emit(args, data, format_table(rows, ["field", "value"]))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from ff_utils.ff_analytics_bi.ff_bi_reports import report_path

    at = None
    if args.date:
        try:
            at = date.fromisoformat(args.date)
        except ValueError as exc:
            raise ValueError(f"--date: not a YYYY-MM-DD date: {args.date!r}") from exc
    fmt = args.format if args.format in ("json", "csv") else "csv"

    async def go(m: Any) -> str:
        from ff_utils.ff_analytics_bi.ff_bi_reports import closed_period

        await m.generate_reports([args.period], at=at, formats=[fmt], force=args.force)
        label, _s, _e = closed_period(args.period, m.clock.now(), at)
        return str(report_path(m.analytics_path / "reports", args.period, label, fmt))

    path = asyncio.run(_with_manager(args, go))
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        from ff_utils.ff_analytics_cli.ff_cli_support import FFCliError

        raise FFCliError(f"no {args.period} report: the period has no rollups (would be {path})") from None
    if args.format == "table":
        text = _report_table(text)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stderr.write(f"report: {path}\n")
    return 0


def _report_table(csv_text: str) -> str:
    """The CSV report as one fitted table per section, under the section's name."""
    import csv

    from ff_utils.ff_analytics_cli.ff_cli_table import format_table

    sections: dict[str, list[dict[str, str]]] = {}
    for row in csv.DictReader(csv_text.splitlines()):
        sections.setdefault(row["section"], []).append(row)
    blocks = []
    for name, rows in sections.items():
        cols = ["key", "value"] if all(r["metric"] == "value" for r in rows) else ["key", "metric", "value"]
        blocks.append(f"{name}\n" + format_table(rows, cols))
    return "\n\n".join(blocks) + "\n"


def _cmd_rebuild(args: argparse.Namespace) -> int:
    from ff_utils.ff_analytics_cli.ff_cli_support import emit
    from ff_utils.ff_analytics_cli.ff_cli_table import format_table

    start = _parse_dt(args.start, "--start")
    end = _parse_dt(args.end, "--end")

    async def go(m: Any) -> dict[str, Any]:
        return await m.rebuild_rollups(start, end, workers=args.workers)

    res = asyncio.run(_with_manager(args, go))
    emit(args, res, format_table([{"metric": k, "value": v} for k, v in res.items()], ["metric", "value"]))
    if not res.get("ok", False):
        sys.stderr.write(f"ff-metrics: error: rebuild failed: {res.get('error', 'unknown error')}\n")
        return 1
    return 0
