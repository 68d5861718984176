"""The ``ff-metrics`` command: argparse root, common flags, and discovery of subcommand modules.

Subcommands live in ``ff_utils/ff_<domain>_commands.py`` modules that define
``register(subparsers, parents)``; benchmarks in ``ff_utils/ff_<name>_bench.py`` modules that define
``BENCH_NAME``, ``BENCH_HELP``, ``add_arguments(parser)`` and ``run(args) -> dict``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
from typing import Any

import ff_utils
from ff_utils.ff_json_utils import ff_dumps
from ff_utils.ff_logging import get_logger

logger = get_logger(__name__)

EXIT_USAGE = 2
EXIT_ERROR = 1


class FFCliError(Exception):
    """An error the CLI reports as one line and a non-zero exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


def discover_modules(suffix: str) -> tuple[list[Any], dict[str, str]]:
    """Import ``ff_utils/ff_*<suffix>.py`` modules; returns (modules, {name: import error})."""
    mods: list[Any] = []
    errors: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules(ff_utils.__path__), key=lambda i: i.name):
        if info.name.startswith("ff_") and info.name.endswith(suffix):
            try:
                mods.append(importlib.import_module(f"ff_utils.{info.name}"))
            except Exception as exc:  # one broken plug-in must not take the whole CLI down
                errors[info.name] = f"{type(exc).__name__}: {exc}"
                logger.error("ff-metrics: skipping %s: %s", info.name, errors[info.name])
    return mods, errors


def _discover(suffix: str) -> list[Any]:
    return discover_modules(suffix)[0]


def common_parent() -> argparse.ArgumentParser:
    """Flags every subcommand accepts."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("common options")
    g.add_argument("--base-path", help="store root (default: config storage.base_path, 'analytics_data')")
    g.add_argument("--config", help="JSON config file (precedence: defaults < preset < file < env vars)")
    g.add_argument("--env", choices=["development", "test", "production"], help="environment preset")
    g.add_argument("--format", choices=["table", "json"], default="table", help="output format")
    g.add_argument("-v", "--verbose", action="store_true", help="log to stderr at INFO")
    return p


def load_cli_config(args: argparse.Namespace) -> Any:
    """The root config for ``args`` (``--config``, ``--env``, ``--base-path``)."""
    from ff_class_configs.ff_configuration_manager_config import load_config

    try:
        config = load_config(getattr(args, "config", None), environment=getattr(args, "env", None))
    except (ValueError, OSError) as exc:
        raise FFCliError(f"invalid configuration: {exc}") from exc
    base = getattr(args, "base_path", None)
    if base:
        config.storage.base_path = base
    return config


def build_manager(args: argparse.Namespace, **kwargs: Any) -> Any:
    """A manager for the CLI flags (not initialized; call ``initialize_analytics_system``)."""
    from ff_metrics_collection_manager import FFMetricsCollectionManager

    return FFMetricsCollectionManager(load_cli_config(args), **kwargs)


def emit(args: argparse.Namespace, data: Any, table: str | None = None) -> None:
    """Print ``data`` as JSON (``--format json``) or the given table text."""
    if getattr(args, "format", "table") == "json" or table is None:
        sys.stdout.write(ff_dumps(data).decode() + "\n")
    else:
        sys.stdout.write(table.rstrip("\n") + "\n")


def format_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """Plain aligned text table."""
    if not rows:
        return "(none)"
    cols = columns or list(rows[0].keys())
    cells = [[str(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = "  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(out)


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


def _register_builtin(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "init",
        parents=parents,
        help="create the store tree and analytics_metadata.json",
        epilog="example: ff-metrics init --base-path analytics_data",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=_cmd_init)

    bench = sub.add_parser(
        "bench",
        help="run a benchmark and print its numbers",
        epilog="example: ff-metrics bench ingest --records 200000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bsub = bench.add_subparsers(dest="bench_name", metavar="NAME", required=True)
    for mod in _discover("_bench"):
        bp = bsub.add_parser(
            mod.BENCH_NAME,
            parents=parents,
            help=getattr(mod, "BENCH_HELP", ""),
            epilog=getattr(mod, "BENCH_EXAMPLE", f"example: ff-metrics bench {mod.BENCH_NAME}"),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.add_arguments(bp)
        bp.set_defaults(func=_make_bench_runner(mod))


def _make_bench_runner(mod: Any) -> Any:
    def runner(args: argparse.Namespace) -> int:
        result = mod.run(args)
        rows = [{"metric": k, "value": v} for k, v in result.items()]
        emit(args, {"bench": mod.BENCH_NAME, **result}, format_table(rows, ["metric", "value"]))
        return 0

    return runner


def build_parser() -> argparse.ArgumentParser:
    parents = [common_parent()]
    parser = argparse.ArgumentParser(
        prog="ff-metrics",
        description="FF analytics manager: flat-file analytics, monitoring and compliance store.",
        epilog="example: ff-metrics demo && ff-metrics status",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _register_builtin(sub, parents)
    for mod in _discover("_commands"):
        try:
            mod.register(sub, [common_parent()])  # a fresh parent each: no plug-in can alter another's flags
        except Exception as exc:  # a broken plug-in must not take the whole CLI down
            logger.error("ff-metrics: skipping commands of %s: %s", mod.__name__, exc)
    return parser


def run_cli(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
