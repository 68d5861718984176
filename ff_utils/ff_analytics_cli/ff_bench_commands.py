"""``ff-metrics bench NAME``: the benchmarks, listed explicitly.

Each bench module defines ``BENCH_NAME``, ``BENCH_HELP``, ``add_arguments(parser)`` and
``run(args) -> dict`` (the numbers, printed as JSON or a table).
"""

from __future__ import annotations

import argparse
from typing import Any

from ff_utils.ff_analytics_bench import (
    ff_alerts_bench,
    ff_analysis_bench,
    ff_analytics_bench,
    ff_bi_bench,
    ff_ingest_bench,
    ff_instrument_bench,
    ff_maintenance_bench,
    ff_middleware_bench,
    ff_overhead_bench,
    ff_rebuild_bench,
)
from ff_utils.ff_analytics_cli.ff_cli_support import emit
from ff_utils.ff_analytics_cli.ff_cli_table import format_table

__all__ = ["BENCH_MODULES", "register"]

BENCH_MODULES = (
    ff_ingest_bench,
    ff_instrument_bench,
    ff_overhead_bench,
    ff_analytics_bench,
    ff_bi_bench,
    ff_rebuild_bench,
    ff_alerts_bench,
    ff_analysis_bench,
    ff_maintenance_bench,
    ff_middleware_bench,
)


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    bench = subparsers.add_parser(
        "bench",
        help="run a benchmark and print its numbers",
        epilog="example: ff-metrics bench ingest --records 200000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bsub = bench.add_subparsers(dest="bench_name", metavar="NAME", required=True)
    for mod in BENCH_MODULES:
        bp = bsub.add_parser(
            mod.BENCH_NAME,
            parents=parents,
            help=mod.BENCH_HELP,
            epilog=getattr(mod, "BENCH_EXAMPLE", f"example: ff-metrics bench {mod.BENCH_NAME}"),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.add_arguments(bp)
        bp.set_defaults(func=_runner(mod))


def _runner(mod: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        result = mod.run(args)
        rows = [{"metric": k, "value": v} for k, v in result.items()]
        emit(args, {"bench": mod.BENCH_NAME, **result}, format_table(rows, ["metric", "value"]))
        return 0

    return run
