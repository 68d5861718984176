"""CLI: ``verify-audit``, ``compliance-report`` and ``cleanup [--dry-run]``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ff_utils.ff_analytics_cli.ff_cli_support import build_manager, common_parent, emit
from ff_utils.ff_analytics_cli.ff_cli_table import format_table

EXIT_TAMPERED = 3


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    # A fresh copy of the common flags: a parser registered earlier with conflict_handler="resolve"
    # strips option strings from the shared parent's actions (argparse shares action objects).
    parents = [common_parent()]
    p = subparsers.add_parser(
        "verify-audit",
        parents=parents,
        help="verify the keyed audit chain and its signed checkpoints",
        description="Exit 0 when the chain verifies (a crash-torn tail is reported but is not "
        "tampering), 3 when it was tampered with (the first bad record and the fault kind are printed).",
        epilog="example: ff-metrics verify-audit --base-path analytics_data "
        "--checkpoints /mnt/offsite/audit_checkpoints.jsonl",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--checkpoints", help="checkpoint file to verify against (default: the store's own copy)")
    p.set_defaults(func=_cmd_verify)

    p = subparsers.add_parser(
        "compliance-report",
        parents=parents,
        help="write compliance/regulatory_reports.json and print a summary",
        epilog="example: ff-metrics compliance-report --format json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=_cmd_report)

    p = subparsers.add_parser(
        "cleanup",
        parents=parents,
        help="delete partitions past retention (audited), then compress cold partitions",
        epilog="example: ff-metrics cleanup --dry-run",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--dry-run", action="store_true", help="list what would be deleted/compressed; change nothing")
    p.add_argument("--no-compress", action="store_true", help="skip compression")
    p.set_defaults(func=_cmd_cleanup)


def _with_manager(args: argparse.Namespace, fn: Any) -> Any:
    m = build_manager(args)
    try:
        return fn(m)
    finally:
        m.close_sync()


def _cmd_verify(args: argparse.Namespace) -> int:
    res = _with_manager(args, lambda m: m.verify_audit_log_sync(checkpoint_path=args.checkpoints))
    d = res.to_dict()
    rows = [{"field": k, "value": d[k]} for k in (
        "kind", "ok", "tampered", "records", "last_seq", "last_checkpoint_seq", "first_bad_seq",
        "file", "line", "message", "records_per_second")]
    emit(args, d, format_table(rows, ["field", "value"]))
    if res.tampered:
        sys.stderr.write(f"ff-metrics: audit log tampered: {res.kind} at seq {res.first_bad_seq}: {res.message}\n")
        return EXIT_TAMPERED
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    def go(m: Any) -> dict[str, Any]:
        return m.generate_regulatory_report_sync()

    rep = _with_manager(args, go)
    rows = [
        {"class": cls, "retention_days": r["retention_days"], "oldest": r["oldest_partition"],
         "age_days": r["oldest_age_days"]}
        for cls, r in rep["retention"].items()
    ]
    av = rep["audit_verification"]
    table = (
        format_table(rows, ["class", "retention_days", "oldest", "age_days"])
        + f"\n\ndeletions: {rep['deletions']['partitions']} partitions, {rep['deletions']['records']} records"
        + f"\nerasures: {rep['privacy']['erasure']['completed']}  access requests: {rep['privacy']['access']['completed']}"
        + f"\naudit: {av['status']} ({av['records']} records)"
    )
    emit(args, rep, table)
    return 0


def _cmd_cleanup(args: argparse.Namespace) -> int:
    def go(m: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"cleanup": m.run_retention_cleanup_sync(dry_run=args.dry_run).to_dict()}
        if not args.no_compress and getattr(m.analytics_config, "enable_data_compression", True):
            out["compression"] = m.run_compression_sync(dry_run=args.dry_run).to_dict()
        return out

    out = _with_manager(args, go)
    c = out["cleanup"]
    rows = [{"partition": f"{p['category']}/{p['stream']}/date={p['day']}", "age_days": p["age_days"],
             "records": p["records"], "bytes": p["bytes"]} for p in c["partitions"]]
    verb = "would delete" if args.dry_run else "deleted"
    table = format_table(rows, ["partition", "age_days", "records", "bytes"]) + (
        f"\n\n{verb} {len(c['partitions']) if args.dry_run else c['deleted']} partitions"
    )
    if "compression" in out:
        comp = out["compression"]
        table += f"\n{'would compress' if args.dry_run else 'compressed'} {comp['partitions_compacted']} partitions"
    emit(args, out, table)
    errors = c["errors"] + out.get("compression", {}).get("errors", [])
    for e in errors:
        sys.stderr.write(f"ff-metrics: cleanup: {e}\n")
    return 1 if errors else 0
