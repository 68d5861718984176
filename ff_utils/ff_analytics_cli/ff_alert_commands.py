"""``ff-metrics alerts [list|ack|resolve|history|recovery]``: alert state from the alert log."""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta
from typing import Any

from ff_utils.ff_analytics_cli.ff_cli_support import (
    FFCliError,
    build_manager,
    common_parent,
    emit,
)
from ff_utils.ff_analytics_cli.ff_cli_table import format_table
from ff_utils.ff_analytics_core.ff_clock import ff_parse_iso

_COLUMNS = ["alert_id", "severity", "status", "rule_id", "component", "since", "value", "threshold",
            "notified", "flags"]


def _row(a: Any) -> dict[str, Any]:
    flags = ",".join(f for f, on in (("escalated", a.escalated), ("flapping", a.flapping)) if on)
    return {
        "alert_id": a.alert_id, "severity": a.severity, "status": a.status, "rule_id": a.rule_id,
        "component": a.affected_component, "since": a.timestamp, "value": f"{a.current_value:.6g}",
        "threshold": f"{a.threshold_value:.6g}", "notified": a.notification_count, "flags": flags,
    }


def _run(args: argparse.Namespace, fn: Any) -> Any:
    async def go() -> Any:
        m = build_manager(args)
        try:
            return await fn(m)
        finally:
            await m.close()

    return asyncio.run(go())


def _cmd_list(args: argparse.Namespace) -> int:
    alerts = _run(args, lambda m: m.get_active_alerts(args.severity))
    emit(args, [a.to_dict() for a in alerts], format_table([_row(a) for a in alerts], _COLUMNS, fixed=["alert_id"]))
    return 0


def _cmd_ack(args: argparse.Namespace) -> int:
    ok = _run(args, lambda m: m.acknowledge_alert(args.alert_id, args.by))
    if not ok:
        raise FFCliError(f"alert {args.alert_id} is unknown or already resolved")
    emit(args, {"alert_id": args.alert_id, "acknowledged_by": args.by, "acknowledged": True},
         f"acknowledged {args.alert_id} by {args.by}")
    return 0


def _cmd_resolve(args: argparse.Namespace) -> int:
    async def go(m: Any) -> Any:
        if not await m.resolve_alert(args.alert_id, args.notes):
            return None
        return m.get_alert(args.alert_id)

    alert = _run(args, go)
    if alert is None:
        raise FFCliError(f"alert {args.alert_id} is unknown or already resolved")
    emit(args, {"alert_id": alert.alert_id, "resolved": True,
                "resolution_time_seconds": alert.resolution_time_seconds},
         f"resolved {alert.alert_id} after {alert.resolution_time_seconds}s")
    return 0


def _cmd_history(args: argparse.Namespace) -> int:
    if args.hours is not None and args.hours <= 0:
        raise ValueError("--hours: must be > 0")

    async def go(m: Any) -> Any:
        start = ff_parse_iso(args.start) if args.start else None
        end = ff_parse_iso(args.end) if args.end else None
        if args.hours is not None:
            end = end or m.clock.now()
            start = end - timedelta(hours=args.hours)
        return await m.get_alert_history(start, end, rule_id=args.rule, severity=args.severity,
                                         status=args.status, limit=args.limit)

    alerts = _run(args, go)
    emit(args, [a.to_dict() for a in alerts], format_table([_row(a) for a in alerts], _COLUMNS, fixed=["alert_id"]))
    return 0


def _cmd_recovery(args: argparse.Namespace) -> int:
    rep = _run(args, lambda m: m.get_recovery_analytics(args.window_days))
    lines = [
        f"window          {rep['window_start']} .. {rep['window_end']}",
        f"alerts          fired {rep['alerts_fired']}  resolved {rep['alerts_resolved']}  open {rep['alerts_open']}",
        f"MTTR            {rep['mttr_seconds']}s  (median {rep['median_resolution_seconds']}s, "
        f"p90 {rep['p90_resolution_seconds']}s)",
        f"trend           {rep['trend'] or '-'}  ({rep['trend_reason']})",
        "distribution    " + "  ".join(f"{k}:{v}" for k, v in rep["resolution_time_distribution"].items()),
        "",
        format_table([{"rule_id": k, **v} for k, v in rep["per_rule"].items()]),
    ]
    if rep["per_remediation"]:
        lines += ["", format_table([{"remediation": k, **v} for k, v in rep["per_remediation"].items()])]
    lines += ["", "recommendations:"] + [f"  - {r}" for r in rep["recommendations"] or ["(none)"]]
    emit(args, rep, "\n".join(lines))
    return 0


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    # our own copy of the common flags: a module that mutates the shared parent cannot break us
    parents = [common_parent()]
    fmt = argparse.RawDescriptionHelpFormatter
    p = subparsers.add_parser("alerts", help="active alerts, acknowledge/resolve, history, recovery analytics",
                              epilog="example: ff-metrics alerts list --severity critical", formatter_class=fmt)
    sub = p.add_subparsers(dest="alerts_command", metavar="ACTION", required=True)

    lp = sub.add_parser("list", parents=parents, help="active (unresolved) alerts, most severe first",
                        epilog="example: ff-metrics alerts list --severity error --format json", formatter_class=fmt)
    lp.add_argument("--severity", choices=["info", "warning", "error", "critical"])
    lp.set_defaults(func=_cmd_list)

    ap = sub.add_parser("ack", parents=parents, help="acknowledge an alert (stops escalation)",
                        epilog="example: ff-metrics alerts ack alert_0193... --by alice", formatter_class=fmt)
    ap.add_argument("alert_id")
    ap.add_argument("--by", required=True, help="who acknowledges")
    ap.set_defaults(func=_cmd_ack)

    rp = sub.add_parser("resolve", parents=parents, help="resolve an alert (records its resolution time)",
                        epilog='example: ff-metrics alerts resolve alert_0193... --notes "restarted the db"',
                        formatter_class=fmt)
    rp.add_argument("alert_id")
    rp.add_argument("--notes", default="", help="resolution notes")
    rp.set_defaults(func=_cmd_resolve)

    hp = sub.add_parser("history", parents=parents, help="alerts with events in a time range (last state)",
                        epilog="example: ff-metrics alerts history --hours 24 --status resolved", formatter_class=fmt)
    hp.add_argument("--hours", type=float, help="the last N hours (relative to --end or now)")
    hp.add_argument("--start", help="ISO-8601 UTC start")
    hp.add_argument("--end", help="ISO-8601 UTC end")
    hp.add_argument("--rule", help="only this rule id")
    hp.add_argument("--severity", choices=["info", "warning", "error", "critical"])
    hp.add_argument("--status", choices=["firing", "acknowledged", "resolved"])
    hp.add_argument("--limit", type=int, default=100)
    hp.set_defaults(func=_cmd_history)

    cp = sub.add_parser("recovery", parents=parents,
                        help="MTTR, resolution distribution, success rates, trend, recommendations",
                        epilog="example: ff-metrics alerts recovery --window-days 7", formatter_class=fmt)
    cp.add_argument("--window-days", type=float, default=7.0)
    cp.set_defaults(func=_cmd_recovery)
