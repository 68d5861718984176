"""Daily / weekly / monthly BI reports per closed UTC period, as JSON and CSV, written atomically.

Layout: ``analytics/reports/<daily|weekly|monthly>/<label>.<json|csv>`` with labels
``YYYY-MM-DD``, ``YYYY-Www`` (ISO week, Monday start) and ``YYYY-MM``. The JSON holds the DTO fields
and the details; the CSV is long format ``section,key,metric,value`` with the same numbers. Both
are built from an ``FFBIResult`` whose small cells are already suppressed.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ff_utils.ff_analytics_core.ff_clock import ff_iso
from ff_utils.ff_analytics_core.ff_file_ops import ff_atomic_write
from ff_utils.ff_analytics_core.ff_json_utils import ff_dumps

REPORT_KINDS = {"day": "daily", "week": "weekly", "month": "monthly"}
REPORT_FORMATS = ("json", "csv")
CSV_COLUMNS = ["section", "key", "metric", "value"]


def closed_period(kind: str, now: datetime, at: date | None = None) -> tuple[str, datetime, datetime]:
    """``(label, start, end)`` of the last closed ``day``/``week``/``month`` before ``now``, or the one
    containing ``at`` when given."""
    if kind not in REPORT_KINDS:
        raise ValueError(f"period: unknown report period {kind!r} (use one of {sorted(REPORT_KINDS)})")
    now = now.astimezone(UTC)
    if at is None:
        today = now.date()
        ref = {"day": today - timedelta(days=1), "week": today - timedelta(days=7),
               "month": (today.replace(day=1) - timedelta(days=1))}[kind]
    else:
        if not isinstance(at, date):
            raise TypeError(f"at: expected date, got {type(at).__name__}")
        ref = at.date() if isinstance(at, datetime) else at
    if kind == "day":
        s = datetime(ref.year, ref.month, ref.day, tzinfo=UTC)
        return ref.isoformat(), s, s + timedelta(days=1)
    if kind == "week":
        monday = ref - timedelta(days=ref.weekday())
        s = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
        iso = monday.isocalendar()
        return f"{iso.year}-W{iso.week:02d}", s, s + timedelta(days=7)
    s = datetime(ref.year, ref.month, 1, tzinfo=UTC)
    e = datetime(ref.year + (ref.month == 12), ref.month % 12 + 1, 1, tzinfo=UTC)
    return f"{ref.year:04d}-{ref.month:02d}", s, e


def report_path(reports_dir: Path, kind: str, label: str, fmt: str) -> Path:
    if fmt not in REPORT_FORMATS:
        raise ValueError(f"format: unknown report format {fmt!r} (use one of {list(REPORT_FORMATS)})")
    return Path(reports_dir) / REPORT_KINDS[kind] / f"{label}.{fmt}"


def build_report(fields: dict[str, Any], details: dict[str, Any], kind: str, label: str, generated_at: datetime) -> dict[str, Any]:
    return {
        "report_type": REPORT_KINDS[kind], "label": label, "generated_at": ff_iso(generated_at),
        "period_start": details.get("period_start"), "period_end": details.get("period_end"),
        "business_intelligence": fields, "details": details,
    }


def report_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten a report into ``section,key,metric,value`` rows (numbers stay numbers)."""
    rows: list[dict[str, Any]] = []
    for k in ("report_type", "label", "generated_at", "period_start", "period_end"):
        rows.append({"section": "report", "key": k, "metric": "value", "value": report.get(k)})
    for name, value in report["business_intelligence"].items():
        _flatten(rows, name, value)
    for name, value in report["details"].items():
        _flatten(rows, f"details.{name}", value)
    return rows


def _flatten(rows: list[dict[str, Any]], section: str, value: Any) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, dict):
                for mk, mv in v.items():
                    if isinstance(mv, (dict, list)):
                        _flatten(rows, f"{section}.{k}.{mk}", mv)
                    else:
                        rows.append({"section": section, "key": k, "metric": mk, "value": mv})
            elif isinstance(v, list):
                _flatten(rows, f"{section}.{k}", v)
            else:
                rows.append({"section": section, "key": k, "metric": "value", "value": v})
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, dict):
                key = v.get("feature", i)
                for mk, mv in v.items():
                    if mk != "feature":
                        rows.append({"section": section, "key": key, "metric": mk, "value": mv})
            else:
                rows.append({"section": section, "key": i, "metric": "value", "value": v})
    else:
        rows.append({"section": "summary", "key": section, "metric": "value", "value": value})


def report_csv(report: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in report_rows(report):
        w.writerow({**row, "value": "" if row["value"] is None else row["value"]})
    return buf.getvalue()


def write_report(reports_dir: Path, report: dict[str, Any], kind: str, formats: list[str] | tuple[str, ...]) -> list[Path]:
    """Write the report in each format atomically; returns the paths written."""
    out = []
    for fmt in formats:
        path = report_path(reports_dir, kind, report["label"], fmt)
        payload = ff_dumps(report) + b"\n" if fmt == "json" else report_csv(report).encode("utf-8")
        out.append(ff_atomic_write(path, payload))
    return out
