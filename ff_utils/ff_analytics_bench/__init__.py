"""Benchmarks (``ff-metrics bench NAME``): one module per benchmark, each ``add_arguments`` + ``run``.

Each reports a ratio against a peer or a physical limit measured in the same run. The registry is
``ff_utils.ff_analytics_cli.ff_bench_commands.BENCH_MODULES``.
"""

from __future__ import annotations

from ff_utils.ff_analytics_bench.ff_bench_support import bench_manager_factory

__all__ = ["bench_manager_factory"]
