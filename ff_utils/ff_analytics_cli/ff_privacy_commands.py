"""CLI: ``ff-metrics export-user`` and ``ff-metrics erase-user`` (GDPR Art. 15 / 17)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from ff_utils.ff_analytics_core.ff_json_utils import ff_dumps


def _user_id(args: argparse.Namespace) -> str:
    from ff_utils.ff_analytics_cli.ff_cli_support import FFCliError

    uid = args.user_id
    if uid == "-":
        uid = sys.stdin.readline().rstrip("\n")
    if not uid:
        raise FFCliError("user id: must be non-empty (pass it as an argument or '-' to read stdin)")
    return uid


def _cmd_export(args: argparse.Namespace) -> int:
    from ff_utils.ff_analytics_cli.ff_cli_support import FFCliError, build_manager, emit
    from ff_utils.ff_analytics_cli.ff_cli_table import format_table

    uid = _user_id(args)

    async def go() -> dict[str, Any]:
        m = build_manager(args)
        try:
            return await m.export_user_data(uid)
        finally:
            await m.close()

    res = asyncio.run(go())
    if args.output:
        out = Path(args.output)
        try:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(ff_dumps(res) + b"\n")
        except OSError as exc:
            raise FFCliError(f"--output: cannot write {out}: {exc}") from exc
        summary = {"user_hash": res["user_hash"], "total_records": res["total_records"], "output": str(out)}
        emit(args, summary, format_table([summary]) + "".join(f"\nwhy none: {r}" for r in res["explanation"]))
        return 0
    if args.format == "json":
        emit(args, res)
    else:
        rows = [{"stream": s, "records": n} for s, n in sorted(res["counts"].items())]
        emit(
            args,
            res,
            f"user_hash {res['user_hash']}\ntotal_records {res['total_records']}\n" + format_table(rows)
            + "".join(f"\nwhy none: {r}" for r in res["explanation"]),
        )
    return 0


def _cmd_erase(args: argparse.Namespace) -> int:
    from ff_utils.ff_analytics_cli.ff_cli_support import FFCliError, build_manager, emit
    from ff_utils.ff_analytics_cli.ff_cli_table import format_table

    uid = _user_id(args)
    if not args.yes:
        raise FFCliError("erase-user removes data irreversibly; pass --yes to confirm", code=2)

    async def go() -> dict[str, Any]:
        m = build_manager(args)
        try:
            return await m.erase_user_data(uid)
        finally:
            await m.close()

    res = asyncio.run(go())
    rows = [{"stream": s, "records_removed": n} for s, n in sorted(res["records_removed"].items())]
    emit(
        args,
        res,
        f"user_hash {res['user_hash']}\noutcome {res['outcome']}\n"
        f"records_removed {res['records_removed_total']}  files_rewritten {res['files_rewritten']}  "
        f"partitions_touched {res['partitions_touched']}\n" + format_table(rows),
    )
    return 0 if res["outcome"] == "success" else 1


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    from ff_utils.ff_analytics_cli.ff_cli_support import common_parent

    # a fresh copy of the common flags: another module's conflict_handler="resolve" can strip
    # options from the shared parent's actions
    parents = [common_parent()]
    p = subparsers.add_parser(
        "export-user",
        parents=parents,
        help="export every stored record of one user (subject access request)",
        epilog="example: ff-metrics export-user alice@example.com --output alice.json --format json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("user_id", help="the host's user id ('-' reads it from stdin, keeping it out of ps)")
    p.add_argument("--output", help="write the export to this file (mode 0600) instead of stdout")
    p.set_defaults(func=_cmd_export)

    e = subparsers.add_parser(
        "erase-user",
        parents=parents,
        help="erase one user's records from every partition, the user index and rollups",
        epilog="example: echo alice@example.com | ff-metrics erase-user - --yes",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    e.add_argument("user_id", help="the host's user id ('-' reads it from stdin, keeping it out of ps)")
    e.add_argument("--yes", action="store_true", help="confirm the irreversible erasure")
    e.set_defaults(func=_cmd_erase)
