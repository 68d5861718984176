"""CLI: ``merge-stores --into DEST STORE...``: N hosts' rollups in one store, one BI answer."""

from __future__ import annotations

import argparse
from typing import Any

from ff_utils.ff_analytics_cli.ff_cli_progress import FFProgress
from ff_utils.ff_analytics_cli.ff_cli_support import (
    EXIT_USAGE,
    FFCliError,
    common_parent,
    emit,
    load_cli_config,
)
from ff_utils.ff_analytics_cli.ff_cli_table import format_table


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "merge-stores",
        parents=[common_parent()],
        help="merge the hourly rollups of several stores (hosts) into one store for BI",
        description="Reads the rollups of every STORE (a base path, e.g. each host's volume) and writes "
        "one merged rollup file per day into --into (re-runnable; each day is replaced atomically). "
        "Then `ff-metrics bi --base-path DEST` answers for all hosts. All stores must share the "
        "pseudonymization key.",
        epilog="example: ff-metrics merge-stores --into /data/all /mnt/host-a/analytics_data /mnt/host-b/analytics_data\n"
        "         ff-metrics bi --base-path /data/all --period week",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("stores", nargs="+", metavar="STORE", help="base path of a source store")
    p.add_argument("--into", required=True, metavar="DEST", help="base path of the merged store (created)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=_cmd_merge)


def _cmd_merge(args: argparse.Namespace) -> int:
    from ff_utils.ff_analytics_bi.ff_store_merge import ff_merge_store_rollups

    config = load_cli_config(args)
    bar = FFProgress("merge-stores: days", quiet=args.quiet)
    try:
        res = ff_merge_store_rollups(args.stores, args.into, config.analytics, progress=bar.update)
    except ValueError as exc:
        raise FFCliError(str(exc), EXIT_USAGE) from exc
    finally:
        bar.close()
    emit(args, res, format_table([{"metric": k, "value": v} for k, v in res.items()], ["metric", "value"]))
    return 0
