"""Prometheus text exposition format (0.0.4) for node_exporter's textfile collector.

Name rules follow Prometheus: metric names ``^[a-zA-Z_:][a-zA-Z0-9_:]*$``, label names
``^[a-zA-Z_][a-zA-Z0-9_]*$`` (``__`` prefix reserved). ``ff_sanitize_metric_name`` maps any other
text onto a valid name; ``ff_render_exposition`` refuses invalid names instead of writing a file the
collector would reject. The textfile collector ignores files whose samples carry timestamps, so none
are written; the generation time is a gauge of its own.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ff_utils.ff_analytics_core.ff_file_ops import ff_atomic_write
from ff_utils.ff_analytics_core.ff_logging import get_logger

logger = get_logger(__name__)

METRIC_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
METRIC_TYPES = ("counter", "gauge", "untyped", "summary", "histogram")
METRIC_PREFIX = "ff_"


def ff_sanitize_metric_name(name: object, prefix: str = "") -> str:
    """Map ``name`` onto a valid metric name: invalid characters -> ``_``, leading digit -> ``_``."""
    if not isinstance(name, str):
        raise TypeError(f"name: expected str, got {type(name).__name__}")
    text = re.sub(r"[^a-zA-Z0-9_:]", "_", prefix + name.strip())
    text = re.sub(r"_{2,}", "_", text)
    if not text or not text.strip("_"):
        raise ValueError(f"name: {name!r} has no usable characters for a metric name")
    if text[0].isdigit():
        text = "_" + text
    return text


def ff_sanitize_label_name(name: object) -> str:
    """Map ``name`` onto a valid label name (no ``:``, no reserved ``__`` prefix)."""
    if not isinstance(name, str):
        raise TypeError(f"label name: expected str, got {type(name).__name__}")
    text = re.sub(r"[^a-zA-Z0-9_]", "_", name.strip())
    text = text.lstrip("_") or ""
    if not text:
        raise ValueError(f"label name: {name!r} has no usable characters")
    if text[0].isdigit():
        text = "l_" + text
    return text


def ff_validate_metric_name(name: object) -> str:
    """Return ``name`` if it is a valid metric name, else raise ``ValueError``/``TypeError``."""
    if not isinstance(name, str):
        raise TypeError(f"metric name: expected str, got {type(name).__name__}")
    if not METRIC_NAME_RE.fullmatch(name):
        raise ValueError(f"metric name: {name!r} does not match ^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    return name


def ff_validate_label_name(name: object) -> str:
    """Return ``name`` if it is a valid, non-reserved label name, else raise ``ValueError``."""
    if not isinstance(name, str):
        raise TypeError(f"label name: expected str, got {type(name).__name__}")
    if not LABEL_NAME_RE.fullmatch(name) or name.startswith("__"):
        raise ValueError(f"label name: {name!r} does not match ^[a-zA-Z_][a-zA-Z0-9_]*$ (no __ prefix)")
    return name


@dataclass(slots=True)
class FFPromSampleDTO:
    """One sample: optional name suffix (``_total``, ``_sum`` ...), labels and a value."""

    value: float
    labels: dict[str, str] = field(default_factory=dict)
    suffix: str = ""


@dataclass(slots=True)
class FFPromFamilyDTO:
    """One metric family: name, HELP text, TYPE and its samples."""

    name: str
    help: str
    type: str = "gauge"
    samples: list[FFPromSampleDTO] = field(default_factory=list)

    def add(self, value: float, **labels: Any) -> FFPromFamilyDTO:
        self.samples.append(FFPromSampleDTO(float(value), {k: str(v) for k, v in labels.items()}))
        return self


def _escape_label_value(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n")


def _format_value(v: float) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"value: expected a number, got {type(v).__name__}")
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


def ff_render_exposition(families: Iterable[FFPromFamilyDTO]) -> str:
    """Render families in the text exposition format; raises ``ValueError`` on invalid or
    duplicate names and duplicate label sets (the collector would reject the whole file)."""
    out: list[str] = []
    seen: set[str] = set()
    for fam in families:
        if not isinstance(fam, FFPromFamilyDTO):
            raise TypeError(f"families: expected FFPromFamilyDTO, got {type(fam).__name__}")
        ff_validate_metric_name(fam.name)
        if fam.type not in METRIC_TYPES:
            raise ValueError(f"type: {fam.type!r} for {fam.name} is not one of {METRIC_TYPES}")
        if fam.name in seen:
            raise ValueError(f"metric name: {fam.name!r} appears twice")
        seen.add(fam.name)
        if not fam.samples:
            continue
        out.append(f"# HELP {fam.name} {_escape_help(fam.help)}")
        out.append(f"# TYPE {fam.name} {fam.type}")
        label_sets: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        for s in fam.samples:
            name = fam.name + s.suffix
            ff_validate_metric_name(name)
            key = (s.suffix, tuple(sorted(s.labels.items())))
            if key in label_sets:
                raise ValueError(f"labels: duplicate label set {dict(key[1])} for {name}")
            label_sets.add(key)
            if s.labels:
                parts = []
                for k, v in sorted(s.labels.items()):
                    ff_validate_label_name(k)
                    parts.append(f'{k}="{_escape_label_value(str(v))}"')
                out.append(f"{name}{{{','.join(parts)}}} {_format_value(s.value)}")
            else:
                out.append(f"{name} {_format_value(s.value)}")
    return "\n".join(out) + "\n" if out else ""


def ff_write_textfile(path: str | os.PathLike[str], families: Iterable[FFPromFamilyDTO]) -> Path:
    """Render and write ``path`` atomically (temp file + rename, so the collector never reads a
    half-written file). The name must end with ``.prom`` (the collector reads only those)."""
    target = Path(path)
    if not target.name.endswith(".prom"):
        raise ValueError(f"path: {os.fspath(path)!r} must end with .prom for the textfile collector")
    text = ff_render_exposition(families)
    return ff_atomic_write(target, text)


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    return float(v)


def ff_families_from_snapshot(snapshot: Mapping[str, Any]) -> list[FFPromFamilyDTO]:
    """Families for an operator snapshot (see ``ff_operator_snapshot.ff_operator_snapshot``).

    Only values present in the snapshot become samples; a missing value is left out, never 0.
    """
    fams: list[FFPromFamilyDTO] = []

    def gauge(name: str, help_: str) -> FFPromFamilyDTO:
        f = FFPromFamilyDTO(METRIC_PREFIX + name, help_, "gauge")
        fams.append(f)
        return f

    latest = snapshot.get("latest_metrics") or {}
    for key, help_ in (
        ("cpu_usage_percent", "CPU usage of the host in percent (latest sample)"),
        ("memory_usage_percent", "Memory usage of the host in percent (latest sample)"),
        ("disk_usage_percent", "Disk usage of the store's volume in percent (latest sample)"),
        ("success_rate_percent", "Request success rate in percent (latest window)"),
        ("error_rate_percent", "Request error rate in percent (latest window)"),
        ("throughput_requests_per_second", "Requests per second (latest sample)"),
        ("concurrent_users", "Concurrent users (latest sample)"),
        ("active_sessions", "Active sessions (latest sample)"),
    ):
        v = _num(latest.get(key))
        if v is not None:
            gauge(ff_sanitize_metric_name(key), help_).add(v)
    mean = _num(latest.get("response_time_ms"))
    if mean is not None:
        gauge("response_time_mean_ms", "Mean response time in milliseconds (latest window)").add(mean)
    rt = gauge("response_time_ms", "Response time in milliseconds by quantile (latest window)")
    for q, key in (("0.5", "p50_response_time_ms"), ("0.95", "p95_response_time_ms"), ("0.99", "p99_response_time_ms")):
        v = _num(latest.get(key))
        if v is not None:
            rt.add(v, quantile=q)
    ts = _num(snapshot.get("latest_metrics_epoch"))
    if ts is not None:
        gauge("last_metrics_timestamp_seconds", "Unix time of the latest system metrics sample").add(ts)

    health = snapshot.get("component_health") or {}
    if health:
        f = gauge("component_health_status", "1 for the component's current health status")
        for comp, status in sorted(health.items()):
            f.add(1, component=comp, status=status)
    overall = snapshot.get("overall_status")
    if overall:
        gauge("health_status", "1 for the overall health status").add(1, status=overall)

    alerts = snapshot.get("active_alerts_by_severity")
    if isinstance(alerts, Mapping):
        f = gauge("active_alerts", "Active (unresolved) alerts by severity")
        for sev in sorted(set(alerts) | {"info", "warning", "error", "critical"}):
            f.add(int(alerts.get(sev, 0)), severity=sev)

    users = snapshot.get("users") or {}
    for key, help_ in (
        ("active_users_last_day", "Distinct (pseudonymous) users on the latest day with data"),
        ("new_users_last_day", "Users first seen on the latest day with data"),
    ):
        v = _num(users.get(key))
        if v is not None:
            gauge(key, help_).add(v)

    streams = snapshot.get("streams") or {}
    if streams:
        fb = gauge("stream_bytes", "Bytes on disk per stream (all partitions)")
        fp = gauge("stream_partitions", "Day partitions per stream")
        fr = FFPromFamilyDTO(METRIC_PREFIX + "stream_records", "Records per stream (all partitions)", "gauge")
        for name, info in sorted(streams.items()):
            fb.add(info.get("bytes", 0), stream=name)
            fp.add(info.get("partitions", 0), stream=name)
            if _num(info.get("records")) is not None:
                fr.add(info["records"], stream=name)
        fams.append(fr)
    gen = _num(snapshot.get("generated_epoch"))
    if gen is not None:
        gauge("textfile_generated_timestamp_seconds", "Unix time this file was generated").add(gen)
    return fams
