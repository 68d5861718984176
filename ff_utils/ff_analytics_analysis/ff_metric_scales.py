"""Practical scales of a metric, from its name: the unit, the noise floor and the minimum effect.

The detectors are statistical; these numbers make them practical (docs/analysis.md, "Noise
floors and practical significance"):

* **noise floor** ``max(floor_abs, floor_rel * |level|)``: the smallest deviation scale an anomaly
  scan believes. A series that sits exactly on one value (an error rate of 0 for a day) has a
  robust scale of 0; without a floor one window at 20% scores z = 2e10.
* **minimum effect** ``max(effect_abs, effect_rel * |level|)``: the smallest change in the metric's
  units worth reporting. A regression, a slope change (projected over a day) or a spike smaller
  than this is not an anomaly whatever its z or t.
* **impact** ``|effect| / minimum effect``: the severity of a finding is the milder of its
  statistical severity (z or t against the bar) and its impact severity (``warning`` below 3x,
  ``error`` from 3x, ``critical`` from 10x the minimum effect).

``level`` is the baseline level (the median of the series, or the regression baseline value).
Percent metrics are already on a bounded 0..100 scale, so their floors are absolute only.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "IMPACT_CRITICAL",
    "IMPACT_ERROR",
    "UNIT_SCALES",
    "FFMetricScaleDTO",
    "ff_impact_severity",
    "ff_metric_scale",
    "ff_metric_unit",
    "ff_milder_severity",
]

IMPACT_ERROR = 3.0  # |effect| >= 3x the minimum effect: at most "error"
IMPACT_CRITICAL = 10.0  # |effect| >= 10x the minimum effect: may be "critical"
_SEVERITY_RANK = {"warning": 0, "error": 1, "critical": 2}


@dataclass(frozen=True, slots=True)
class FFMetricScaleDTO:
    """The noise floor and minimum effect of one unit (absolute part, and relative to the level)."""

    unit: str  # "percent", "ms", "seconds", "mb", "count", "rate", "unknown"
    label: str  # how the unit is printed ("pp", "ms", ...; "" when unknown)
    floor_abs: float
    floor_rel: float
    effect_abs: float
    effect_rel: float

    def noise_floor(self, level: float) -> float:
        """``max(floor_abs, floor_rel * |level|)``."""
        return max(self.floor_abs, self.floor_rel * abs(level))

    def min_effect(self, level: float) -> float:
        """``max(effect_abs, effect_rel * |level|)``; 0.0 when neither applies (unknown unit at 0)."""
        return max(self.effect_abs, self.effect_rel * abs(level))


UNIT_SCALES: dict[str, FFMetricScaleDTO] = {
    "percent": FFMetricScaleDTO("percent", "pp", 0.5, 0.0, 1.0, 0.0),
    "ms": FFMetricScaleDTO("ms", "ms", 1.0, 0.005, 10.0, 0.05),
    "seconds": FFMetricScaleDTO("seconds", "s", 0.001, 0.005, 0.01, 0.05),
    "mb": FFMetricScaleDTO("mb", "MB", 1.0, 0.005, 10.0, 0.05),
    "count": FFMetricScaleDTO("count", "", 0.5, 0.005, 1.0, 0.05),
    "rate": FFMetricScaleDTO("rate", "", 0.0, 0.005, 0.0, 0.05),
    "unknown": FFMetricScaleDTO("unknown", "", 0.0, 0.005, 0.0, 0.05),
}

_COUNT_SUFFIXES = ("_count", "_users", "_sessions", "_requests", "_open_files", "_total")
_RATE_SUFFIXES = ("_per_s", "_per_second", "_per_sec", "_mbps", "_rps", "_qps")


def ff_metric_unit(metric: str) -> str:
    """The unit key of ``metric`` from its name (``"unknown"`` when the name says nothing)."""
    if not isinstance(metric, str):
        raise TypeError(f"metric: expected str, got {type(metric).__name__}")
    name = metric.lower()
    if name.endswith(("_percent", "_pct")) or "percent" in name:
        return "percent"
    if name.endswith("_ms"):
        return "ms"
    if name.endswith(("_seconds", "_sec")):
        return "seconds"
    if name.endswith(("_mb", "_megabytes")):
        return "mb"
    if name.endswith(_RATE_SUFFIXES) or "throughput" in name:
        return "rate"
    if name == "count" or name.endswith(_COUNT_SUFFIXES):
        return "count"
    return "unknown"


def ff_metric_scale(metric: str) -> FFMetricScaleDTO:
    """The :class:`FFMetricScaleDTO` of ``metric``'s unit."""
    return UNIT_SCALES[ff_metric_unit(metric)]


def ff_impact_severity(effect: float, min_effect: float) -> str | None:
    """``critical`` from 10x the minimum effect, ``error`` from 3x, else ``warning``; ``None`` when
    there is no minimum effect to measure against (unknown unit at level 0)."""
    if not min_effect > 0:
        return None
    ratio = abs(effect) / min_effect
    if ratio >= IMPACT_CRITICAL:
        return "critical"
    if ratio >= IMPACT_ERROR:
        return "error"
    return "warning"


def ff_milder_severity(a: str, b: str | None) -> str:
    """The milder of two severities (``b=None``: ``a``)."""
    if b is None:
        return a
    return a if _SEVERITY_RANK.get(a, 0) <= _SEVERITY_RANK.get(b, 0) else b
