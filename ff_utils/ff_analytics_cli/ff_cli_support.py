"""What every ``ff-metrics`` command module shares: the error type, common flags, config and manager
construction from the flags, and output (JSON, or table text fitted by ``ff_cli_table``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from ff_utils.ff_analytics_cli.ff_cli_table import ff_fit_lines
from ff_utils.ff_analytics_core.ff_json_utils import ff_dumps

EXIT_USAGE = 2
EXIT_ERROR = 1


class FFCliError(Exception):
    """An error the CLI reports as one line and a non-zero exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


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
    from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import load_config

    try:
        config = load_config(getattr(args, "config", None), environment=getattr(args, "env", None))
    except (ValueError, OSError) as exc:
        raise FFCliError(f"invalid configuration: {exc}") from exc
    base = getattr(args, "base_path", None)
    if base:
        config.storage.base_path = base
    return config


def manager_factory(args: argparse.Namespace) -> Callable[..., Any]:
    """The manager class the entry point handed to :func:`run_cli` (``args.manager_factory``).

    The CLI never imports the manager module itself: ``ff_metrics_collection_manager.main`` passes
    its class in, so the CLI (and the benchmarks it runs) stay below the manager in the import graph.
    """
    factory = getattr(args, "manager_factory", None)
    if factory is None:
        raise FFCliError("no manager: run the command through ff_metrics_collection_manager.main (ff-metrics)")
    return factory


def build_manager(args: argparse.Namespace, **kwargs: Any) -> Any:
    """A manager for the CLI flags (not initialized; call ``initialize_analytics_system``)."""
    return manager_factory(args)(load_cli_config(args), **kwargs)


def emit(args: argparse.Namespace, data: Any, table: str | None = None, *, fit: bool = True) -> None:
    """Print ``data`` as JSON (``--format json``, complete) or the table text.

    Table text is fitted to 100 columns unless ``fit`` is false: text made of paths and commands to
    copy (the demo's summary) is printed whole, since a command broken over two lines does not paste.
    """
    if getattr(args, "format", "table") == "json" or table is None:
        sys.stdout.write(ff_dumps(data).decode() + "\n")
    else:
        text = table.rstrip("\n")
        sys.stdout.write((ff_fit_lines(text) if fit else text) + "\n")
