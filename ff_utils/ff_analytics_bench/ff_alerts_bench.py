"""``ff-metrics bench alerts``: rule evaluations/s and the cost of one tick with N rules."""

from __future__ import annotations

import argparse
import statistics
import time
from types import SimpleNamespace
from typing import Any

BENCH_NAME = "alerts"
BENCH_HELP = "rule evaluations/s and the cost of one collection tick with --rules rules (target <= 5 ms)"
BENCH_EXAMPLE = "example: ff-metrics bench alerts --rules 1000 --ticks 2000"
TARGET_TICK_MS = 5.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rules", type=int, default=1000, help="number of rules (default 1000)")
    p.add_argument("--ticks", type=int, default=2000, help="ticks to time (default 2000)")
    p.add_argument("--firing-percent", type=float, default=10.0,
                   help="share of rules whose metric breaches (active alerts, default 10)")


def run(args: argparse.Namespace) -> dict[str, Any]:
    from ff_utils.ff_analytics_alerts.ff_alert_engine import FFAlertEngine
    from ff_utils.ff_analytics_alerts.ff_alert_rules import FFAlertRuleDTO
    from ff_utils.ff_analytics_core.ff_clock import FFManualClock

    if args.rules <= 0:
        raise ValueError("--rules: must be > 0")
    if args.ticks <= 0:
        raise ValueError("--ticks: must be > 0")
    if not 0 <= args.firing_percent <= 100:
        raise ValueError("--firing-percent: must be within [0, 100]")
    clock = FFManualClock()
    cfg = SimpleNamespace(alert_cooldown_minutes=5, max_alerts_per_hour=10, escalation_delay_minutes=30,
                          alert_hysteresis_percent=5.0, flap_window_evaluations=10, flap_threshold_changes=4)
    events: list[int] = [0]
    sent: list[int] = [0]

    def sink(_rec: dict[str, Any]) -> None:
        events[0] += 1

    def notifier(_payload: dict[str, Any]) -> None:
        sent[0] += 1

    engine = FFAlertEngine(cfg, clock, sink=sink, notifier=notifier)
    comparisons = (">", ">=", "<", "<=")
    for i in range(args.rules):
        cmp = comparisons[i % 4]
        engine.add_rule(FFAlertRuleDTO(
            rule_id=f"bench.r{i}", metric=f"bench.m{i}", threshold=100.0 if cmp[0] == ">" else 10.0,
            comparison=cmp, for_seconds=30.0 if i % 3 == 0 else 0.0,
            rate_window_seconds=60.0 if i % 10 == 9 else 0.0,
        ))
    n_firing = int(args.rules * args.firing_percent / 100.0)
    values: dict[str, float] = {}
    for i in range(args.rules):
        breach = i < n_firing
        cmp = comparisons[i % 4]
        values[f"bench.m{i}"] = (500.0 if breach else 50.0) if cmp[0] == ">" else (1.0 if breach else 50.0)
    engine.evaluate(values)  # warm up: series created, alerts fired
    samples = []
    evaluations = 0
    t_all = time.perf_counter()
    for _ in range(args.ticks):
        clock.advance(1.0)
        t0 = time.perf_counter()
        evaluations += engine.evaluate(values)
        samples.append(time.perf_counter() - t0)
    total = time.perf_counter() - t_all
    samples.sort()
    mean_ms = statistics.fmean(samples) * 1000.0
    p99_ms = samples[min(len(samples) - 1, int(0.99 * len(samples)))] * 1000.0
    return {
        "rules": args.rules,
        "ticks": args.ticks,
        "active_alerts": len(engine.active_alerts()),
        "rule_evaluations_per_s": round(evaluations / total) if total > 0 else None,
        "tick_mean_ms": round(mean_ms, 4),
        "tick_p99_ms": round(p99_ms, 4),
        "tick_max_ms": round(samples[-1] * 1000.0, 4),
        "target_tick_ms": TARGET_TICK_MS,
        "meets_target": mean_ms <= TARGET_TICK_MS,
        "log_events": events[0],
        "notifications_sent": sent[0],
        "notifications_held": engine.stats.notifications_held,
    }
