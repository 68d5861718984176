"""The ``ff-metrics`` command: the argparse root and the explicit list of command modules.

Each command module defines ``register(subparsers, parents)``; benchmarks are registered by
:mod:`ff_utils.ff_analytics_cli.ff_bench_commands`. The console script is
``ff_metrics_collection_manager:main``, which calls :func:`run_cli` with the manager class.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

from ff_utils.ff_analytics_cli import (
    ff_alert_commands,
    ff_analysis_commands,
    ff_bench_commands,
    ff_bi_commands,
    ff_compliance_commands,
    ff_embed_commands,
    ff_merge_commands,
    ff_operator_commands,
    ff_privacy_commands,
    ff_schema_commands,
    ff_system_commands,
)
from ff_utils.ff_analytics_cli.ff_cli_support import (
    EXIT_USAGE,
    FFCliError,
    build_manager,
    common_parent,
    emit,
)

__all__ = ["COMMAND_MODULES", "build_parser", "run_cli"]

COMMAND_MODULES = (
    ff_system_commands,
    ff_privacy_commands,
    ff_bi_commands,
    ff_alert_commands,
    ff_compliance_commands,
    ff_analysis_commands,
    ff_operator_commands,
    ff_embed_commands,
    ff_schema_commands,
    ff_merge_commands,
    ff_bench_commands,
)


def _cmd_init(args: argparse.Namespace) -> int:
    import asyncio

    async def go() -> dict[str, Any]:
        m = build_manager(args)
        ok = await m.initialize_analytics_system(start_collection=False)
        if not ok:
            raise FFCliError(f"could not initialize the store under {m.base_path}")
        await m.close()
        return {"initialized": str(m.analytics_path), "metadata": str(m.analytics_path / "analytics_metadata.json")}

    res = asyncio.run(go())
    emit(args, res, f"initialized {res['initialized']}\nmetadata    {res['metadata']}")
    return 0


def build_parser(version: str | None = None) -> argparse.ArgumentParser:
    """The argparse root; ``version`` (the library's ``__version__``) enables ``--version``."""
    parser = argparse.ArgumentParser(
        prog="ff-metrics",
        description="FF analytics manager: flat-file analytics, monitoring and compliance store.",
        epilog="example: ff-metrics demo && ff-metrics status",
    )
    if version is not None:
        parser.add_argument("--version", action="version", version=f"ff-metrics {version}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    p = sub.add_parser(
        "init",
        parents=[common_parent()],
        help="create the store tree and analytics_metadata.json",
        epilog="example: ff-metrics init --base-path analytics_data",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=_cmd_init)
    for mod in COMMAND_MODULES:
        mod.register(sub, [common_parent()])  # a fresh parent each: no module can alter another's flags
    return parser


def run_cli(argv: list[str] | None, manager_factory: Callable[..., Any], version: str | None = None) -> int:
    """Parse ``argv`` and run the command with managers built by ``manager_factory``; the exit code."""
    parser = build_parser(version)
    args = parser.parse_args(argv)
    args.manager_factory = manager_factory
    if getattr(args, "verbose", False):
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except FFCliError as exc:
        sys.stderr.write(f"ff-metrics: error: {exc}\n")
        return exc.code
    except (ValueError, TypeError) as exc:
        sys.stderr.write(f"ff-metrics: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
