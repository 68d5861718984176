"""CLI: ``schema STREAM`` prints the stream's JSON Schema (or DuckDB / Polars column types)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ff_utils.ff_analytics_cli.ff_cli_support import EXIT_USAGE, FFCliError, common_parent
from ff_utils.ff_analytics_exposition.ff_stream_schema import (
    STREAM_DTOS,
    ff_duckdb_columns,
    ff_polars_schema,
    ff_stream_schema,
)


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "schema",
        parents=[common_parent()],
        help="JSON Schema of a stream's records (generated from the record DTOs)",
        description="Print the JSON Schema (draft 2020-12) of one stream, or with --duckdb-columns / "
        "--polars the explicit column types for DuckDB's read_json(columns=...) / Polars.",
        epilog="example: ff-metrics schema feature_usage > feature_usage.schema.json\n"
        "         ff-metrics schema rollups --duckdb-columns --fields hour,events,users",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("stream", choices=sorted(STREAM_DTOS), metavar="STREAM", help="one of: " + ", ".join(sorted(STREAM_DTOS)))
    g = p.add_mutually_exclusive_group()
    g.add_argument("--duckdb-columns", action="store_true", help="print {column: DuckDB type}")
    g.add_argument("--polars", action="store_true", help="print {column: Polars dtype name}")
    p.add_argument("--fields", help="comma-separated subset of fields (with --duckdb-columns / --polars)")
    p.set_defaults(func=_cmd_schema)


def _cmd_schema(args: argparse.Namespace) -> int:
    fields = [f for f in (args.fields or "").split(",") if f] or None
    try:
        if args.duckdb_columns:
            out: Any = ff_duckdb_columns(args.stream, fields)
        elif args.polars:
            out = ff_polars_schema(args.stream, fields)
        else:
            if fields:
                raise FFCliError("--fields: only with --duckdb-columns or --polars", EXIT_USAGE)
            out = ff_stream_schema(args.stream)
    except ValueError as exc:
        raise FFCliError(str(exc), EXIT_USAGE) from exc
    sys.stdout.write(json.dumps(out, indent=2) + "\n")
    return 0
