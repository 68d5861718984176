"""Mergeable sketches: distinct counts and relative-error quantiles."""

from __future__ import annotations

from ff_utils.ff_analytics_sketches.ff_distinct_sketch import (
    FFDistinctSketch,
    ff_key64,
)
from ff_utils.ff_analytics_sketches.ff_quantile_sketch import FFQuantileSketch

__all__ = [
    "FFDistinctSketch",
    "FFQuantileSketch",
    "ff_key64",
]
