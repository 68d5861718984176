"""The ``ff-metrics`` command line: the argparse root, one module per command group, the demo.

The CLI never imports the manager: ``ff_metrics_collection_manager.main`` hands its class to
:func:`run_cli`.
"""

from __future__ import annotations

from ff_utils.ff_analytics_cli.ff_cli_main import COMMAND_MODULES, build_parser, run_cli
from ff_utils.ff_analytics_cli.ff_cli_support import FFCliError

__all__ = ["COMMAND_MODULES", "FFCliError", "build_parser", "run_cli"]
