"""CLI: the operator's side: ``dashboard``, ``export``, ``prometheus``, ``status`` and ``demo``.

Read-only commands never initialize (write to) the store: they open it through the manager built
from the common flags and read its streams.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from ff_utils.ff_analytics_core.ff_logging import get_logger

logger = get_logger(__name__)

SPARK_CHARS = "\u2581\u2582\u2583\u2584\u2585\u2586\u2587\u2588"


def _fresh_parents() -> list[argparse.ArgumentParser]:
    """Our own copy of the common flags (another module mutating the shared parent cannot break us)."""
    from ff_utils.ff_analytics_cli.ff_cli_support import common_parent

    return [common_parent()]


def _export_parent() -> argparse.ArgumentParser:
    """Common flags, but ``--format`` selects the export format (jsonl|csv|json)."""
    from ff_utils.ff_analytics_cli.ff_cli_support import common_parent
    from ff_utils.ff_analytics_exposition.ff_export_writer import EXPORT_FORMATS

    p = common_parent()
    for a in p._actions:  # a fresh parser from common_parent(): safe to adjust
        if a.dest == "format":
            a.choices = list(EXPORT_FORMATS)
            a.default = "jsonl"
            a.help = "export format: jsonl | csv | json (default jsonl)"
    return p


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    d = subparsers.add_parser(
        "dashboard", parents=_fresh_parents(), formatter_class=raw,
        help="write a self-contained HTML dashboard (inline SVG charts, no network)",
        epilog="example: ff-metrics dashboard --out dashboard.html --days 7\n"
               "         ff-metrics dashboard --base-path /tmp/ff-demo --out demo.html",
    )
    d.add_argument("--out", required=True, help="HTML file to write (atomically)")
    d.add_argument("--days", type=int, default=30, help="the last N days (default 30; 0 = everything in the store)")
    d.add_argument("--title", default="FF analytics dashboard", help="page title")
    d.set_defaults(func=_cmd_dashboard)

    e = subparsers.add_parser(
        "export", parents=[_export_parent()], formatter_class=raw,
        help="export one stream over a time range as jsonl, csv or json",
        epilog="example: ff-metrics export --stream performance --from 2026-11-01 --to 2026-11-07 --format csv --out perf.csv\n"
               "         ff-metrics export --stream alerts --from 2026-11-20T00:00:00Z | jq .",
    )
    e.add_argument("--stream", required=True, help="stream name (e.g. performance, feature_usage, alerts, rollups)")
    e.add_argument("--from", dest="start", help="start: YYYY-MM-DD (00:00 UTC) or ISO timestamp (inclusive)")
    e.add_argument("--to", dest="end", help="end: YYYY-MM-DD (through 23:59:59 UTC) or ISO timestamp (inclusive)")
    e.add_argument("--out", help="file to write atomically (default: stdout)")
    e.set_defaults(func=_cmd_export)

    p = subparsers.add_parser(
        "prometheus", parents=_fresh_parents(), formatter_class=raw,
        help="write a Prometheus text-format file for node_exporter's textfile collector",
        epilog="example: ff-metrics prometheus --out /var/lib/node_exporter/textfile/ff_metrics.prom\n"
               "         (cron it every minute; the file is replaced atomically)",
    )
    p.add_argument("--out", required=True, help="target .prom file (written atomically)")
    p.set_defaults(func=_cmd_prometheus)

    p = subparsers.add_parser(
        "serve-metrics", parents=_fresh_parents(), formatter_class=raw,
        help="serve the textfile's metric families over HTTP /metrics (extra: prometheus)",
        description="Each scrape reads the store like `ff-metrics prometheus` and answers with the same "
                    "families. Binds 127.0.0.1 unless --host says otherwise. Needs prometheus_client "
                    "(pip install 'ff-analytics-manager[prometheus]').",
        epilog="example: ff-metrics serve-metrics --port 9464\n"
               "         curl -s http://127.0.0.1:9464/metrics | grep ff_analytics_",
    )
    p.add_argument("--port", type=int, default=9464, help="TCP port (default 9464; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: local only)")
    p.add_argument("--duration", type=float, default=0.0, help="stop after N seconds (default: until Ctrl-C)")
    p.set_defaults(func=_cmd_serve_metrics)

    s = subparsers.add_parser(
        "status", parents=_fresh_parents(), formatter_class=raw,
        help="health, active alerts, latest metrics and sparklines",
        epilog="example: ff-metrics status\n         ff-metrics status --base-path /tmp/ff-demo --format json",
    )
    s.add_argument("--width", type=int, default=32, help="sparkline width in characters (default 32)")
    s.add_argument("--live", action="store_true",
                   help="also run get_system_health() here (collects one sample of this machine and writes it "
                        "to the store like any collection tick); default: the last recorded health check")
    s.set_defaults(func=_cmd_status)

    from ff_utils.ff_analytics_cli.ff_demo_workload import add_demo_arguments

    m = subparsers.add_parser(
        "demo", parents=_fresh_parents(), formatter_class=raw,
        help="simulate a chat backend (users, days, workers) and build BI, reports and the dashboard",
        epilog="example: ff-metrics demo\n         ff-metrics demo --users 500 --days 14 --workers 2 --base-path /tmp/ff-demo",
    )
    add_demo_arguments(m)
    m.set_defaults(func=_cmd_demo)


# ---------------------------------------------------------------------------------------- helpers
def _os_errors(fn: Any) -> Any:
    """Report an OSError (unwritable --out, full disk ...) as one CLI error line, not a traceback."""
    import functools

    @functools.wraps(fn)
    def wrapper(args: argparse.Namespace) -> int:
        from ff_utils.ff_analytics_cli.ff_cli_support import FFCliError

        try:
            return fn(args)
        except OSError as exc:
            target = getattr(exc, "filename", None) or getattr(args, "out", None) or ""
            raise FFCliError(f"{args.command}: {exc.strerror or exc}" + (f": {target}" if target else "")) from exc

    return wrapper


def _manager(args: argparse.Namespace) -> Any:
    from ff_utils.ff_analytics_cli.ff_cli_support import build_manager

    return build_manager(args)


def _require_store(m: Any) -> None:
    from ff_utils.ff_analytics_cli.ff_cli_support import FFCliError

    if not Path(m.analytics_path).is_dir():
        raise FFCliError(f"no store at {m.analytics_path} (run `ff-metrics init` or `ff-metrics demo`, or pass --base-path)")


async def _maybe(coro_fn: Any, *a: Any) -> tuple[Any, str]:
    """``(result, "")`` or ``(None, reason)`` for a manager method that may still be pending."""
    if coro_fn is None:
        return None, "not available"
    try:
        res = coro_fn(*a)
        if asyncio.iscoroutine(res):
            res = await res
        return res, ""
    except NotImplementedError as exc:
        return None, f"pending ({exc})"
    except Exception as exc:  # the status view must still show the rest
        logger.exception("%s failed", getattr(coro_fn, "__name__", coro_fn))
        return None, f"failed: {exc}"


def ff_sparkline(values: list[float], width: int = 32) -> str:
    """Unicode block sparkline of ``values`` averaged into at most ``width`` characters."""
    if width < 1:
        raise ValueError(f"width: must be >= 1, got {width}")
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return ""
    if len(vals) > width:
        step = len(vals) / width
        vals = [sum(chunk) / len(chunk) for i in range(width) if (chunk := vals[int(i * step):int((i + 1) * step)] or [vals[-1]])]
    lo, hi = min(vals), max(vals)
    if hi == lo:
        return SPARK_CHARS[3] * len(vals)
    return "".join(SPARK_CHARS[min(7, int((v - lo) / (hi - lo) * 8))] for v in vals)


def _alert_dict(a: Any) -> dict[str, Any]:
    if isinstance(a, dict):
        return a
    return {k: getattr(a, k, None) for k in ("alert_id", "severity", "title", "timestamp", "status", "acknowledged",
                                              "current_value", "threshold_value", "affected_component")}


# ---------------------------------------------------------------------------------------- commands
@_os_errors
def _cmd_dashboard(args: argparse.Namespace) -> int:
    from ff_utils.ff_analytics_cli.ff_cli_support import emit
    from ff_utils.ff_analytics_core.ff_file_ops import ff_atomic_write
    from ff_utils.ff_analytics_exposition.ff_dashboard_data import ff_gather_dashboard_data
    from ff_utils.ff_analytics_exposition.ff_dashboard_render import ff_render_dashboard

    if args.days < 0:
        raise ValueError(f"--days: must be >= 0 (0 = everything), got {args.days}")
    m = _manager(args)
    _require_store(m)
    data = ff_gather_dashboard_data(m.store, m.clock, days=args.days or None)
    out = ff_atomic_write(args.out, ff_render_dashboard(data, args.title))
    with_data = [p.key for p in data.panels if p.has_data]
    no_data = {p.key: p.reason for p in data.panels if not p.has_data}
    res = {"dashboard": str(out.resolve()), "panels_with_data": with_data, "panels_without_data": no_data,
           "records_read": sum(data.records_read.values())}
    lines = [f"dashboard  {res['dashboard']}", f"panels     {len(with_data)}/{len(data.panels)} with data"]
    lines += [f"  no data  {k}: {v}" for k, v in no_data.items()]
    lines.append(f"open       file://{res['dashboard']}")
    emit(args, res, "\n".join(lines))
    return 0


def _cmd_serve_metrics(args: argparse.Namespace) -> int:
    import time

    from ff_utils.ff_analytics_cli.ff_cli_support import FFCliError
    from ff_utils.ff_analytics_exposition.ff_prometheus_exposition import ff_families_from_snapshot

    try:
        from ff_utils.ff_analytics_exposition.ff_prometheus_scrape import ff_start_metrics_server
        m = _manager(args)
        _require_store(m)
    except ImportError as exc:
        raise FFCliError(str(exc)) from exc

    def families() -> list[Any]:
        snap, _notes = asyncio.run(_snapshot(m))  # runs in the server's thread: a loop of its own
        return ff_families_from_snapshot(snap)

    try:
        server, _thread = ff_start_metrics_server(families, args.port, args.host)
    except (ImportError, OSError, ValueError) as exc:
        raise FFCliError(f"serve-metrics: {exc}") from exc
    sys.stdout.write(f"serving http://{args.host}:{server.server_port}/metrics\n")
    sys.stdout.flush()
    try:
        deadline = time.monotonic() + args.duration if args.duration > 0 else None
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        asyncio.run(m.close())
    return 0


@_os_errors
def _cmd_export(args: argparse.Namespace) -> int:
    from ff_utils.ff_analytics_exposition.ff_export_writer import (
        ff_export_stream,
        ff_export_to_path,
        ff_parse_time_bound,
    )

    start = ff_parse_time_bound(args.start, what="--from")
    end = ff_parse_time_bound(args.end, end=True, what="--to")
    m = _manager(args)
    _require_store(m)
    if args.out:
        res = ff_export_to_path(m.store, args.stream, args.format, args.out, start, end)
        sys.stdout.write(f"exported {res.records} records ({res.bytes} bytes) of {res.stream} to {res.path}\n")
    else:
        out = sys.stdout.buffer
        res = ff_export_stream(m.store, args.stream, args.format, out, start, end)
        out.flush()
        sys.stderr.write(f"exported {res.records} records ({res.bytes} bytes) of {res.stream}\n")
    if res.skipped_no_timestamp:
        sys.stderr.write(f"skipped {res.skipped_no_timestamp} records without a parseable timestamp\n")
    return 0


async def _snapshot(m: Any, live: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
    from ff_utils.ff_analytics_exposition.ff_dashboard_data import ff_gather_dashboard_data
    from ff_utils.ff_analytics_exposition.ff_operator_snapshot import ff_operator_snapshot

    notes: dict[str, str] = {}
    health = None
    if live:
        health, why = await _maybe(getattr(m, "get_system_health", None))
        if why:
            notes["health"] = why
    alerts, why = await _maybe(getattr(m, "get_active_alerts", None))
    if why:
        notes["active_alerts"] = why
    data = await asyncio.to_thread(ff_gather_dashboard_data, m.store, m.clock)
    snap = await asyncio.to_thread(
        ff_operator_snapshot, m.store, m.clock, data=data,
        active_alerts=[_alert_dict(a) for a in alerts] if isinstance(alerts, list) else None,
        health=health if isinstance(health, dict) else None,
    )
    if isinstance(alerts, list):
        snap["active_alerts"] = [_alert_dict(a) for a in alerts]
    else:
        ap = data.panel("alerts")
        snap["active_alerts"] = [{"alert_id": a["alert_id"], "severity": a.get("severity"), "title": a.get("title"),
                                  "acknowledged": a["acknowledged"] is not None} for a in ap.rows if a["resolved"] is None]
    if isinstance(health, dict):
        snap["health"] = health
    snap["notes"] = notes
    return snap, notes


@_os_errors
def _cmd_prometheus(args: argparse.Namespace) -> int:
    from ff_utils.ff_analytics_cli.ff_cli_support import emit
    from ff_utils.ff_analytics_exposition.ff_prometheus_exposition import (
        ff_families_from_snapshot,
        ff_write_textfile,
    )

    if not str(args.out).endswith(".prom"):
        raise ValueError(f"--out: {args.out!r} must end with .prom (the textfile collector reads only *.prom)")
    m = _manager(args)
    _require_store(m)

    async def go() -> dict[str, Any]:
        try:
            snap, notes = await _snapshot(m)
        finally:
            await m.close()
        fams = ff_families_from_snapshot(snap)
        path = ff_write_textfile(args.out, fams)
        return {"prometheus": str(Path(path).resolve()), "families": sum(1 for f in fams if f.samples),
                "samples": sum(len(f.samples) for f in fams), "notes": notes}

    res = asyncio.run(go())
    emit(args, res, f"wrote {res['prometheus']} ({res['families']} metric families, {res['samples']} samples)")
    return 0


@_os_errors
def _cmd_status(args: argparse.Namespace) -> int:
    from ff_utils.ff_analytics_cli.ff_cli_support import emit

    m = _manager(args)
    _require_store(m)

    async def go() -> dict[str, Any]:
        try:
            snap, _ = await _snapshot(m, live=args.live)
        finally:
            await m.close()
        return snap

    snap = asyncio.run(go())
    snap.pop("generated_epoch", None)
    emit(args, snap, _status_text(snap, max(4, args.width)))
    return 0


def _status_text(snap: dict[str, Any], width: int) -> str:
    lines = []
    streams = snap.get("streams") or {}
    size = sum(s.get("bytes", 0) for s in streams.values())
    lines.append(f"store    {len(streams)} streams with data, {size / 1e6:.1f} MB")
    overall = snap.get("overall_status") or "unknown (no health checks recorded)"
    comp = snap.get("component_health") or {}
    when = snap.get("health_checked_at") or ""
    lines.append(f"health   {overall}" + (f" at {when}" if when else "")
                 + (f"  ({', '.join(f'{k}={v}' for k, v in sorted(comp.items()))})" if comp else ""))
    for reason in (snap.get("health_reasons") or [])[:5]:
        lines.append(f"         - {reason}")
    if snap.get("health_note"):
        lines.append(f"         ({snap['health_note']})")
    alerts = snap.get("active_alerts") or []
    by_sev = snap.get("active_alerts_by_severity") or {}
    sev_txt = ", ".join(f"{n} {s}" for s, n in sorted(by_sev.items()) if n)
    lines.append(f"alerts   {len(alerts)} active" + (f": {sev_txt}" if sev_txt else "")
                 + f"  [{snap.get('active_alerts_source', '')}]")
    for a in alerts[:8]:
        ack = " (acknowledged)" if a.get("acknowledged") or a.get("status") == "acknowledged" else ""
        lines.append(f"         [{a.get('severity') or '?'}] {a.get('title') or a.get('alert_id')}{ack}")
    latest = snap.get("latest_metrics") or {}
    lines.append(f"metrics  latest sample {latest.get('timestamp') or 'none'}"
                 + (f" ({latest['writer_id']})" if latest.get("writer_id") else ""))
    series = snap.get("series") or {}
    for label, key, unit in (("cpu", "cpu_usage_percent", "%"), ("memory", "memory_usage_percent", "%"),
                             ("disk", "disk_usage_percent", "%"), ("p50", "p50_response_time_ms", " ms"),
                             ("p95", "p95_response_time_ms", " ms"), ("error rate", "error_rate_percent", "%")):
        v = latest.get(key) if key else None
        s = series.get(label, [])
        if v is None and not s:
            continue
        shown = f"{v:.1f}{unit}" if isinstance(v, (int, float)) else (f"{s[-1]:.1f}{unit}" if s else "")
        lines.append(f"  {label:<10} {shown:>10}  {ff_sparkline(s, width)}")
    users = snap.get("users") or {}
    if users:
        lines.append(f"users    {users.get('last_day', '')}: {users.get('active_users_last_day', 0)} active, "
                     f"{users.get('new_users_last_day', 0)} new, {users.get('total_users', 0)} distinct overall")
    for k, v in (snap.get("notes") or {}).items():
        lines.append(f"note     {k}: {v}")
    return "\n".join(lines)


@_os_errors
def _cmd_demo(args: argparse.Namespace) -> int:
    from ff_utils.ff_analytics_cli.ff_cli_support import emit
    from ff_utils.ff_analytics_cli.ff_demo_report import ff_demo_summary_text
    from ff_utils.ff_analytics_cli.ff_demo_workload import ff_demo_options_from_args, ff_run_demo

    opts = ff_demo_options_from_args(args)
    summary = ff_run_demo(opts)
    emit(args, summary, ff_demo_summary_text(summary), fit=False)   # paths and commands stay whole
    return 0 if summary.get("ok") else 1
