"""What the benchmarks share: the manager class they measure, handed in by the CLI."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

__all__ = ["bench_manager_factory"]


def bench_manager_factory(args: argparse.Namespace) -> Callable[..., Any]:
    """``args.manager_factory``: the manager class (the CLI sets it; tests pass it in the namespace)."""
    factory = getattr(args, "manager_factory", None)
    if not callable(factory):
        raise ValueError("manager_factory: the benchmark needs the manager class (args.manager_factory)")
    return factory
