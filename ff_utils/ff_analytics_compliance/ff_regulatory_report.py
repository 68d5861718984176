"""The regulatory report (``compliance/regulatory_reports.json``), computed from stored data only.

Sections: retention settings with the oldest partition held per retention class, deletions done
(from ``retention_delete`` audit records), erasure and access requests with durations (from
``privacy_events``), consent and opt-out counts, security event counts, the audit verification
status, and the pseudonymization method. A value that cannot be computed is ``None`` with a
``*_reason`` field saying why.
"""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict, deque
from pathlib import Path
from typing import Any

from ff_utils.ff_analytics_core.ff_clock import FFClock, ff_iso, ff_parse_iso
from ff_utils.ff_analytics_core.ff_json_utils import ff_write_json
from ff_utils.ff_analytics_core.ff_logging import get_logger

logger = get_logger(__name__)

REPORT_FILE = "regulatory_reports.json"
MAX_LISTED_REQUESTS = 100
CONSENT_KINDS = ("consent_granted", "consent_withdrawn", "opt_out", "opt_in", "user_opted_out", "user_opted_in")


def _duration_stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "min": None, "max": None, "mean": None, "p95": None}
    s = sorted(values)
    p95 = s[max(0, math.ceil(0.95 * len(s)) - 1)]
    return {"count": len(s), "min": round(s[0], 6), "max": round(s[-1], 6),
            "mean": round(sum(s) / len(s), 6), "p95": round(p95, 6)}


def summarize_privacy_events(events: Any) -> dict[str, Any]:
    """Counts by kind, erasure durations (``erasure_requested`` -> ``erasure_completed``/``_failed``
    per ``subject_ref``) and access requests (``access_request``; duration from ``duration_seconds``
    or an ``access_requested`` event when the privacy engine records one)."""
    counts: Counter[str] = Counter()
    open_req: dict[tuple[str, str], deque[str]] = defaultdict(deque)
    requests: dict[str, list[dict[str, Any]]] = {"erasure": [], "access": []}
    durations: dict[str, list[float]] = {"erasure": [], "access": []}
    for ev in events:
        kind = str(ev.get("kind", ""))
        counts[kind] += 1
        ref = str(ev.get("subject_ref", ""))
        ts = ev.get("timestamp")
        if kind in ("erasure_requested", "access_requested"):
            open_req[(kind.split("_")[0], ref)].append(str(ts))
            continue
        if kind in ("erasure_completed", "erasure_failed", "access_request", "access_completed"):
            typ = "erasure" if kind.startswith("erasure") else "access"
            started = open_req[(typ, ref)].popleft() if open_req[(typ, ref)] else None
            dur = ev.get("duration_seconds")
            if dur is None and started and ts:
                try:
                    dur = (ff_parse_iso(str(ts)) - ff_parse_iso(started)).total_seconds()
                except ValueError:
                    dur = None
            if isinstance(dur, (int, float)):
                durations[typ].append(float(dur))
            requests[typ].append({
                "subject_ref": ref,
                "requested_at": started,
                "completed_at": ts,
                "duration_seconds": dur,
                "outcome": ev.get("outcome", "failure" if kind.endswith("failed") else "success"),
                "records": ev.get("records_removed", ev.get("records")),
            })
    pending = {f"{t}:{r}": list(q) for (t, r), q in open_req.items() if q}
    out: dict[str, Any] = {"events_by_kind": dict(sorted(counts.items()))}
    for typ in ("erasure", "access"):
        sec: dict[str, Any] = {
            "completed": len(requests[typ]),
            "durations_seconds": _duration_stats(durations[typ]),
            "recent": requests[typ][-MAX_LISTED_REQUESTS:],
        }
        if requests[typ] and not durations[typ]:
            sec["durations_reason"] = (
                f"{typ} events carry neither duration_seconds nor a matching {typ}_requested event"
            )
        out[typ] = sec
    out["erasure"]["pending"] = sum(len(v) for k, v in pending.items() if k.startswith("erasure:"))
    out["consent"] = {k: counts.get(k, 0) for k in CONSENT_KINDS}
    return out


def summarize_deletions(audit_records: Any) -> dict[str, Any]:
    by_class: dict[str, dict[str, int]] = defaultdict(lambda: {"partitions": 0, "records": 0, "bytes": 0})
    total = {"partitions": 0, "records": 0, "bytes": 0, "failed": 0}
    last_at = None
    for rec in audit_records:
        if rec.get("action") != "retention_delete":
            continue
        if rec.get("outcome") != "success":
            total["failed"] += 1
            continue
        d = rec.get("details") or {}
        c = by_class[str(d.get("retention_class", "unknown"))]
        for agg in (c, total):
            agg["partitions"] += 1
            agg["records"] += int(d.get("records", 0) or 0)
            agg["bytes"] += int(d.get("bytes", 0) or 0)
        last_at = rec.get("timestamp") or last_at
    return {**total, "by_class": dict(by_class), "last_deletion_at": last_at}


def pseudonymization_info(privacy_config: Any, method: dict[str, Any] | None = None) -> dict[str, Any]:
    """The pseudonymization section: the privacy switches, and ``method`` as the privacy engine
    describes it (``method``, ``pseudonym_bits``, ``key_source``), or why it is missing."""
    hashing = bool(getattr(privacy_config, "hash_user_identifiers", False))
    info: dict[str, Any] = {
        "hash_user_identifiers": hashing,
        "anonymize_user_data": bool(getattr(privacy_config, "anonymize_user_data", False)),
        "exclude_sensitive_content": bool(getattr(privacy_config, "exclude_sensitive_content", False)),
    }
    if not hashing:
        info["method"] = None
        info["method_reason"] = "hash_user_identifiers is false: user ids are not pseudonymized"
        return info
    if not method:
        info["method"] = None
        info["method_reason"] = "no privacy engine described its pseudonymization method"
        return info
    info.update({k: v for k, v in method.items() if v not in (None, "")})
    return info


def build_regulatory_report(
    *,
    store: Any,
    privacy_config: Any,
    retention: Any,
    verification: Any,
    clock: FFClock | None = None,
    environment: str = "",
    pseudonymization: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from ff_utils.ff_analytics_store.ff_retention_manager import RETENTION_CLASSES

    clock = clock or FFClock()
    now = clock.now()
    by_cat = retention.oldest()
    ret: dict[str, Any] = {}
    for cls, (cats, fname) in RETENTION_CLASSES.items():
        o = min((v for v in by_cat[cls].values() if v), default=None)
        ret[cls] = {
            "categories": list(cats),
            "oldest_by_category": by_cat[cls],
            "setting": f"privacy_config.{fname}",
            "retention_days": retention.retention[cls],
            "oldest_partition": o,
            "oldest_age_days": (now.date() - ff_parse_iso(o + "T00:00:00").date()).days if o else None,
        }
        if o and ret[cls]["oldest_age_days"] > retention.retention[cls]:
            ret[cls]["overdue"] = True  # cleanup has not run since these expired
    security = Counter()
    for ev in store.read("security_events"):
        security[(str(ev.get("kind")), str(ev.get("severity")))] += 1
    report = {
        "generated_at": ff_iso(now),
        "environment": environment,
        "retention": ret,
        "deletions": summarize_deletions(store.read("audit_logs")),
        "privacy": summarize_privacy_events(store.read("privacy_events")),
        "security_events": [
            {"kind": k, "severity": s, "count": n} for (k, s), n in sorted(security.items())
        ],
        "audit_verification": {
            "status": verification.kind,
            "ok": verification.ok,
            "tampered": verification.tampered,
            "records": verification.records,
            "last_seq": verification.last_seq,
            "head_hash": verification.head_hash,
            "checkpoints": verification.checkpoints,
            "last_checkpoint_seq": verification.last_checkpoint_seq,
            "first_bad_seq": verification.first_bad_seq,
            "message": verification.message,
            "verified_at": verification.verified_at,
        },
        "pseudonymization": pseudonymization_info(privacy_config, pseudonymization),
    }
    return report


def write_regulatory_report(analytics_path: str | os.PathLike[str], report: dict[str, Any]) -> Path:
    """Atomic write (temp, fsync, rename, dir fsync) of ``compliance/regulatory_reports.json``."""
    return ff_write_json(Path(analytics_path) / "compliance" / REPORT_FILE, report)
