"""The demo's report: checking that every file it names parses, and the summary it prints."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any


def ff_verify_output_file(path: Path) -> str:
    """Parse ``path`` by its type; returns "" when it is fine, else the problem."""
    from ff_utils.ff_analytics_core.ff_json_utils import ff_read_json, ff_read_jsonl

    try:
        if not path.is_file():
            return "missing"
        name = path.name
        if name.endswith(".json"):
            ff_read_json(path)
        elif name.endswith(".jsonl") or name.endswith(".jsonl.gz"):
            errors: list[int] = []
            for _ in ff_read_jsonl(path, errors=errors):
                pass
            if errors:
                return f"{len(errors)} unparseable lines"
        elif name.endswith(".csv"):
            with open(path, newline="", encoding="utf-8") as fh:
                if not list(csv.reader(fh)):
                    return "empty csv"
        elif name.endswith(".html"):
            text = path.read_text(encoding="utf-8")
            if "<svg" not in text or "</html>" not in text:
                return "not a complete dashboard"
        elif name.endswith(".prom"):
            try:
                from prometheus_client.parser import text_string_to_metric_families
            except ImportError:
                return ""
            list(text_string_to_metric_families(path.read_text(encoding="utf-8")))
        elif name.endswith(".md") or name.endswith(".txt"):
            path.read_text(encoding="utf-8")
    except Exception as exc:  # the summary reports it
        return f"{type(exc).__name__}: {exc}"
    return ""



def ff_sum_numeric(dicts: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for d in dicts:
        for k, v in d.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out[k] = out.get(k, 0) + v
    return out


def ff_demo_summary_text(s: dict[str, Any]) -> str:
    """What the demo did, where everything is and what to open next."""
    sim, tot = s["simulated"], s["totals"]
    lines = [
        f"FF analytics demo: {sim['users']} users x {sim['days']} days ({sim['start'][:10]} .. {sim['end'][:10]}), "
        f"{sim['workers']} worker processes, {s['seconds']['total']:.1f}s",
        f"  {tot['events']} user events ({tot['events_not_stored']} dropped by the store), {tot['sessions']} sessions, "
        f"{tot['requests']} requests, {tot['ticks']} collection ticks",
        f"  alerts: {tot['alerts_acknowledged']} acknowledged, {tot['alerts_resolved']} resolved by the operator, "
        f"{len(s.get('active_alerts', []))} still active",
    ]
    an = s.get("analysis")
    if an:
        kinds = ", ".join(f"{k}: {v}" for k, v in sorted(an["findings_by_kind"].items())) or "no findings"
        lines.append(f"  analysis of {an['metric']}: {kinds}")
        lines += [f"    - {t}" for t in an["top"]]
    er = s.get("erasure")
    if er and er.get("result") is not None:
        lines.append(f"  erasure of {er['user']}: {er.get('records_before')} records before, {er.get('records_after')} after")
    elif er:
        lines.append(f"  erasure of {er['user']}: not done (see the steps below)")
    lines.append("")
    lines.append(f"store      {s['analytics_path']}")
    for key, f in s["files"].items():
        state = "ok" if not f["problem"] else f"PROBLEM: {f['problem']}"
        lines.append(f"{key:<18} {f['path']}  [{state}]")
    reps = s.get("report_files", [])
    bad = [r for r in reps if r["problem"]]
    lines.append(f"{'reports':<18} {s.get('reports_dir', '')}  [{len(reps)} files, "
                 + ("all parse" if not bad else f"{len(bad)} PROBLEMS") + "]")
    lines += [f"  PROBLEM {r['path']}: {r['problem']}" for r in bad]
    lines.append("")
    problems = [(n, st) for src in (s.get("worker_steps", {}), s.get("steps", {})) for n, st in src.items() if st["status"] != "ok"]
    if problems:
        lines.append("steps not completed:")
        lines += [f"  {n}: {st['status']} ({st['detail']})" for n, st in problems]
        lines.append("")
    if s.get("panels_without_data"):
        lines.append("dashboard panels without data:")
        lines += [f"  {k}: {v}" for k, v in s["panels_without_data"].items()]
        lines.append("")
    for e in s.get("errors", []):
        lines.append(f"error: {e}")
    bp = s["base_path"]
    lines += [
        "next:",
        f"  open      file://{s['files']['dashboard']['path']}",
        f"  status    ff-metrics status --base-path {bp}",
        f"  BI        ff-metrics bi --base-path {bp} --period week",
        f"  export    ff-metrics export --base-path {bp} --stream feature_usage --format csv --out features.csv",
        f"  DuckDB    duckdb -c \"SELECT date, count(*) FROM read_json('{s['analytics_path']}/user_analytics/*/date=*/*.jsonl*', "
        "hive_partitioning=true, union_by_name=true) GROUP BY date ORDER BY date\"",
    ]
    return "\n".join(lines)

