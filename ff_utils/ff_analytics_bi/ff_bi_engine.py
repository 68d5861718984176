"""Business intelligence computed from merged hourly rollups (never from raw events).

``FFBIEngine.generate(period, start=None, end=None)`` returns an ``FFBIResult``: ``fields`` (the
``FFBusinessIntelligenceDTO`` fields, small cells already suppressed) and ``details`` (period
bounds, exact figures behind every rule, fit parameters, reasons for empty values). Every
recommendation is a rule over the numbers and states the numbers that triggered it.

Periods: ``hour``/``day``/``week``/``month`` are trailing windows of 1 h / 24 h / 7 d / 30 d ending
at the end of the current UTC hour; explicit ``start``/``end`` are widened to whole hours (the
rollup granularity). The previous period is the window of the same length just before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ff_utils.ff_analytics_bi.ff_bi_small_cells import (
    DEFAULT_MIN_CELL_SIZE,
    ff_suppressed_cells,
    ff_validate_min_cell_size,
)
from ff_utils.ff_analytics_bi.ff_rollup_accumulator import FFRollupAggregate
from ff_utils.ff_analytics_bi.ff_rollup_index import FFRollupIndex, hk_to_dt
from ff_utils.ff_analytics_core.ff_clock import ff_iso

PERIODS: dict[str, timedelta] = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
}
# Rule thresholds (documented in docs/business_intelligence.md).
CPU_SCALE_AVG, CPU_SCALE_PEAK = 70.0, 90.0
MEM_SCALE_AVG, MEM_SCALE_PEAK = 75.0, 90.0
CPU_IDLE_AVG, CPU_IDLE_PEAK = 20.0, 50.0
GROWTH_PLAN_PCT, GROWTH_MIN_R2 = 20.0, 0.5
RT_P95_SLOW_MS = 1000.0
ERROR_SHARE_PCT = 5.0
ABANDON_PCT = 50.0
SATISFACTION_LOW_FRACTION = 0.7  # of the rating scale: 3.5 of 5, 7 of 10
LOW_RATING_FRACTION = 0.4  # a rating <= 0.4 * scale is "low": 2 of 5, 4 of 10
LOW_RATING_SHARE = 20.0
CHURN_DROP_PCT = -10.0
RETURNING_LOW_PCT = 20.0
SHORT_SESSION_MIN = 1.0
OFF_PEAK_SHARE = 0.1


@dataclass
class FFBIResult:
    """``fields``: DTO field values; ``details``: everything behind them (written with them)."""

    fields: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)


def floor_hour(dt: datetime) -> datetime:
    dt = dt.astimezone(UTC)
    return dt.replace(minute=0, second=0, microsecond=0)


def ceil_hour(dt: datetime) -> datetime:
    f = floor_hour(dt)
    return f if f == dt.astimezone(UTC) else f + timedelta(hours=1)


def resolve_period(
    period: str, now: datetime, start: datetime | None = None, end: datetime | None = None
) -> tuple[str, datetime, datetime]:
    """``(label, start, end)`` on hour boundaries; unknown periods / bad bounds raise ``ValueError``."""
    if not isinstance(period, str):
        raise TypeError(f"period: expected str, got {type(period).__name__}")
    if start is not None or end is not None:
        if start is None or end is None:
            raise ValueError("start/end: give both or neither")
        for name, v in (("start", start), ("end", end)):
            if not isinstance(v, datetime):
                raise TypeError(f"{name}: expected datetime, got {type(v).__name__}")
        s = floor_hour(start if start.tzinfo else start.replace(tzinfo=UTC))
        e = ceil_hour(end if end.tzinfo else end.replace(tzinfo=UTC))
        if e <= s:
            raise ValueError(f"end: must be after start ({ff_iso(start)} .. {ff_iso(end)})")
        if period not in PERIODS and period != "custom":
            raise ValueError(f"period: unknown period {period!r} (use one of {sorted(PERIODS)} or 'custom')")
        return period, s, e
    if period not in PERIODS:
        raise ValueError(f"period: unknown period {period!r} (use one of {sorted(PERIODS)}, or start/end)")
    e = floor_hour(now) + timedelta(hours=1)
    return period, e - PERIODS[period], e


def linear_fit(ys: list[float]) -> dict[str, float] | None:
    """Least squares ``y = a + b t`` over ``t = 0..n-1``: slope, intercept, r2, n (None if n < 3)."""
    n = len(ys)
    if n < 3:
        return None
    mt = (n - 1) / 2.0
    my = sum(ys) / n
    sxx = sum((t - mt) ** 2 for t in range(n))
    sxy = sum((t - mt) * (y - my) for t, y in enumerate(ys))
    b = sxy / sxx
    a = my - b * mt
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (a + b * t)) ** 2 for t, y in enumerate(ys))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return {"slope": b, "intercept": a, "r2": r2, "n": float(n)}


def _r(x: float | None, nd: int = 2) -> float | None:
    return None if x is None else round(x, nd)


class FFBIEngine:
    """Computes BI from an ``FFRollupIndex``; pure of I/O except the index refresh."""

    def __init__(self, index: FFRollupIndex, *, min_cell_size: int = DEFAULT_MIN_CELL_SIZE,
                 unit_costs: dict[str, float | None] | None = None) -> None:
        self.index = index
        self.min_cell_size = ff_validate_min_cell_size(min_cell_size)
        self.unit_costs = dict(unit_costs or {})

    def generate(self, period: str, now: datetime, start: datetime | None = None,
                 end: datetime | None = None) -> FFBIResult:
        label, s, e = resolve_period(period, now, start, end)
        self.index.refresh()
        length = e - s
        cur = self.index.aggregate(s, e, sets=False)
        u = self._user_figures(s, e, length)
        k = self.min_cell_size
        reasons: dict[str, str] = {}

        active, prev_active = u["active"], u["prev_active"]
        new = self.index.new_users(s, e)
        returning = max(0, active - new)
        total = self.index.users_before(e)
        if prev_active:
            growth = (active - prev_active) / prev_active * 100.0
        else:
            growth = 0.0
            reasons["user_growth_rate_percent"] = "no active users in the previous period"

        # ---- per-feature cells (users per feature): not additive, primary suppression only
        f_users = u["feature_users"]
        hidden_f = ff_suppressed_cells(f_users, k, additive=False)
        adoption = {f: round(n / active * 100.0, 2) for f, n in f_users.items() if f not in hidden_f and active}
        most_used = [
            {"feature": f, "usage_count": cur.by_feature.get(f, 0), "users": f_users[f], "adoption_rate": adoption[f]}
            for f in sorted(adoption, key=lambda f: (-cur.by_feature.get(f, 0), f))[:10]
        ]
        p_users = u["prev_feature_users"]
        hidden_pf = ff_suppressed_cells(p_users, k, additive=False)
        abandonment = {
            f: round(lost / p_users[f] * 100.0, 2)
            for f, lost in u["feature_lost"].items() if f not in hidden_pf and f not in hidden_f and p_users[f]
        }
        if not p_users:
            reasons["feature_abandonment_rates"] = "no feature usage in the previous period"

        # additive groups: events per platform / event type sum to the published event count,
        # segments partition the active users; so complementary suppression applies
        breakdowns = {
            "platforms": self._cells(u["platform_users"], cur.by_platform, k),
            "segments": self._cells(u["segment_users"], None, k),
            "event_types": self._cells(u["type_users"], cur.by_type, k),
        }

        # ---- usage shape
        peak_hours = [h for h, n in sorted(enumerate(cur.hour_of_day), key=lambda x: (-x[1], x[0])) if n > 0][:3]
        d = cur.durations
        avg_session_min = d.total / d.count / 60.0 if d.count else 0.0
        if not d.count:
            reasons["average_session_duration_minutes"] = "no session_end events in the period"
        series = self._series(s, e)
        sat_trend = [v for v in series["satisfaction"] if v is not None]
        if not sat_trend:
            reasons["user_satisfaction_trends"] = "no satisfaction ratings in the period"
        res_trends = {
            name: [v for v in series[name] if v is not None]
            for name in ("cpu_usage", "memory_usage", "disk_usage", "response_time_p95_ms")
        }
        res_trends = {n: v for n, v in res_trends.items() if v}
        if not res_trends:
            reasons["resource_utilization_trends"] = "no system samples in the period"
        elif self.index.hour_aggs and not any(res_trends.get(n) for n in ("cpu_usage", "memory_usage")):
            reasons["resource_utilization_trends"] = "no resource samples in the period (request windows only)"

        # ---- growth projection
        fit, fit_days = self._growth_fit(e)
        projected = 0.0
        if fit is None:
            reasons["projected_growth_30_days"] = f"need >= 3 complete days of rollups before the period end, have {fit_days}"
        else:
            last_t = fit["n"] - 1
            base = fit["intercept"] + fit["slope"] * last_t
            if base > 0:
                projected = fit["slope"] * 30.0 / base * 100.0
            else:
                reasons["projected_growth_30_days"] = "fitted active users at the last day is <= 0"

        sysm = self._system(cur)
        ratings_n = sum(cur.ratings.values())
        scale = 10.0 if any(float(r) > 5 for r in cur.ratings) else 5.0  # the privacy pipeline accepts 0..10
        rating_avg = (sum(float(r) * n for r, n in cur.ratings.items()) / ratings_n) if ratings_n else None
        low_share = (sum(n for r, n in cur.ratings.items() if float(r) <= LOW_RATING_FRACTION * scale)
                     / ratings_n * 100.0) if ratings_n else None
        numbers = {
            "active_users": active, "prev_active_users": prev_active, "growth_pct": growth, "new_users": new,
            "returning_users": returning, "avg_session_min": avg_session_min, "rating_avg": rating_avg,
            "low_rating_share": low_share, "projected_growth_pct": projected, "fit": fit,
            "sat_trend": sat_trend, "rating_scale": scale, "events": cur.events, "hour_of_day": cur.hour_of_day, **sysm,
        }
        scaling, bottlenecks, cost_opts, ux, churn = self._rules(numbers, abandonment)
        roi, cost_per_user, revenue_per_user = self._roi(active, cur.events, length, reasons)

        fields = {
            "analysis_period": label,
            "total_users": total, "active_users": active, "new_users": new, "returning_users": returning,
            "user_growth_rate_percent": round(growth, 2),
            "most_used_features": most_used, "feature_adoption_rates": adoption,
            "feature_abandonment_rates": abandonment,
            "peak_usage_hours": peak_hours, "average_session_duration_minutes": round(avg_session_min, 4),
            "user_satisfaction_trends": sat_trend,
            "projected_growth_30_days": round(projected, 2), "resource_utilization_trends": res_trends,
            "scaling_recommendations": scaling, "performance_bottlenecks": bottlenecks,
            "cost_optimization_opportunities": cost_opts, "user_experience_improvements": ux,
            "roi_indicators": roi, "cost_per_user": cost_per_user, "revenue_per_user": revenue_per_user,
            "churn_risk_indicators": churn,
        }
        details = {
            "period": label, "period_start": ff_iso(s), "period_end": ff_iso(e),
            "previous_period_start": ff_iso(s - length), "events": cur.events, "sessions": cur.sessions,
            "conversions": sum(cur.conversions.values()), "conversion_users": self._masked(u["conversion_users"], k),
            "session_duration_seconds": {
                "count": d.count, "mean": _r(d.mean), "p50": _r(d.quantile(0.5)), "p95": _r(d.quantile(0.95)),
                "p99": _r(d.quantile(0.99)), "relative_accuracy": d.error_bound,
            },
            "response_time_ms": {
                "samples": cur.rt.count, "p95": _r(cur.rt.quantile(0.95)), "p99": _r(cur.rt.quantile(0.99)),
                "relative_accuracy": cur.rt.error_bound,
            },
            "system": {kk: _r(v) if isinstance(v, float) else v for kk, v in sysm.items()},
            "satisfaction": {"ratings": ratings_n, "average": _r(rating_avg), "low_rating_share_pct": _r(low_share),
                             "scale_max": scale if ratings_n else None},
            "growth_fit": fit, "growth_fit_days": fit_days, "breakdowns": breakdowns,
            "min_cell_size": k, "suppressed_cells": len(hidden_f) + sum(b["suppressed"] for b in breakdowns.values()),
            "distinct_users_exact": u["exact"], "reasons": reasons,
        }
        return FFBIResult(fields, details)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _masked(n: int, k: int) -> int | None:
        return n if n >= k or n == 0 else None

    def _user_figures(self, s: datetime, e: datetime, length: timedelta) -> dict[str, Any]:
        """Distinct-user figures of the period and the previous one, exact: ORs and popcounts of
        the index's user bitmaps (dense ids over the exact hourly key sets)."""
        cb = self.index.bits(s, e)
        pb = self.index.bits(s - length, s)
        cf = cb.feature_users
        return {
            "exact": True, "active": cb.users.bit_count(), "prev_active": pb.users.bit_count(),
            "feature_users": {f: b.bit_count() for f, b in cf.items()},
            "prev_feature_users": {f: b.bit_count() for f, b in pb.feature_users.items()},
            "feature_lost": {f: (b & ~cf.get(f, 0)).bit_count() for f, b in pb.feature_users.items()},
            "platform_users": {n: b.bit_count() for n, b in cb.platform_users.items()},
            "segment_users": {n: b.bit_count() for n, b in cb.segment_users.items()},
            "type_users": {n: b.bit_count() for n, b in cb.type_users.items()},
            "conversion_users": cb.conversion_users.bit_count(),
        }

    @staticmethod
    def _cells(cells: dict[str, int], counts: dict[str, int] | None, k: int) -> dict[str, Any]:
        hidden = ff_suppressed_cells(cells, k, additive=True)
        rows = {
            name: ({"users": n, "events": counts.get(name, 0)} if counts is not None else {"users": n})
            for name, n in sorted(cells.items()) if name not in hidden
        }
        return {"cells": rows, "suppressed": len(hidden)}

    def _series(self, s: datetime, e: datetime) -> dict[str, list[float | None]]:
        """Per sub-period (hour for <= 1 day, else UTC day): satisfaction avg, resources, p95."""
        groups: list[FFRollupAggregate] = []
        if (e - s) <= timedelta(days=1):
            groups = [a for _hk, a in self.index.hours_in(s, e)]
        else:
            t = s
            while t < e:
                day_start = datetime(t.year, t.month, t.day, tzinfo=UTC)
                nxt = min(day_start + timedelta(days=1), e)
                g = self.index.aggregate(t, nxt, sets=False)
                if g.hours:
                    groups.append(g)
                t = nxt
        out: dict[str, list[float | None]] = {
            "satisfaction": [], "cpu_usage": [], "memory_usage": [], "disk_usage": [], "response_time_p95_ms": [],
        }
        for g in groups:
            n = sum(g.ratings.values())
            out["satisfaction"].append(round(sum(float(r) * c for r, c in g.ratings.items()) / n, 3) if n else None)
            for name, short in (("cpu_usage", "cpu"), ("memory_usage", "memory"), ("disk_usage", "disk")):
                out[name].append(round(g.sys_sum[short] / g.sys_n, 2) if g.sys_n and short in g.sys_sum else None)
            out["response_time_p95_ms"].append(_r(g.rt.quantile(0.95)))
        return out

    def _growth_fit(self, e: datetime) -> tuple[dict[str, float] | None, int]:
        """Fit daily active users of up to 30 complete days before the period end."""
        last_day = datetime(e.year, e.month, e.day, tzinfo=UTC)  # days strictly before e's day are complete
        first = self.index.first_hour
        if first is None:
            return None, 0
        d0 = max(hk_to_dt(first).replace(hour=0), last_day - timedelta(days=30))
        ys: list[float] = []
        t = d0
        while t < last_day:
            ys.append(float(self.index.day_active_users(t.strftime("%Y-%m-%d"))))
            t += timedelta(days=1)
        return linear_fit(ys), len(ys)

    @staticmethod
    def _system(a: FFRollupAggregate) -> dict[str, Any]:
        windows = int(a.sys_sum.get("windows", 0))
        out: dict[str, Any] = {"samples": a.sys_n, "request_windows": windows}
        for short in ("cpu", "memory", "disk", "concurrent_users"):
            if a.sys_n and short in a.sys_sum:
                out[f"{short}_avg"] = a.sys_sum[short] / a.sys_n
                out[f"{short}_peak"] = a.sys_max.get(short)
        if windows and "throughput" in a.sys_sum:
            out["throughput_avg"] = a.sys_sum["throughput"] / windows
            out["throughput_peak"] = a.sys_max.get("throughput")
        out["rt_p95_ms"] = a.rt.quantile(0.95)
        out["rt_p99_ms"] = a.rt.quantile(0.99)
        out["errors"] = a.errors
        return out

    def _rules(self, m: dict[str, Any], abandonment: dict[str, float]) -> tuple[list[str], ...]:
        scaling: list[str] = []
        bottlenecks: list[str] = []
        cost: list[str] = []
        ux: list[str] = []
        churn: list[str] = []
        cpu_avg, cpu_peak = m.get("cpu_avg"), m.get("cpu_peak")
        if cpu_avg is not None and (cpu_avg > CPU_SCALE_AVG or (cpu_peak or 0) > CPU_SCALE_PEAK):
            scaling.append(f"scale out CPU: average {cpu_avg:.1f}% (> {CPU_SCALE_AVG:.0f}%) or peak {cpu_peak:.1f}% (> {CPU_SCALE_PEAK:.0f}%) over {m['samples']} samples")
        mem_avg, mem_peak = m.get("memory_avg"), m.get("memory_peak")
        if mem_avg is not None and (mem_avg > MEM_SCALE_AVG or (mem_peak or 0) > MEM_SCALE_PEAK):
            scaling.append(f"add memory: average {mem_avg:.1f}% (> {MEM_SCALE_AVG:.0f}%) or peak {mem_peak:.1f}% (> {MEM_SCALE_PEAK:.0f}%)")
        fit = m.get("fit")
        if fit is not None and m["projected_growth_pct"] > GROWTH_PLAN_PCT and fit["r2"] >= GROWTH_MIN_R2:
            scaling.append(f"plan capacity: projected 30-day user growth {m['projected_growth_pct']:.1f}% (> {GROWTH_PLAN_PCT:.0f}%), fit R^2 {fit['r2']:.2f} over {int(fit['n'])} days")
        p95 = m.get("rt_p95_ms")
        if p95 is not None and p95 > RT_P95_SLOW_MS:
            bottlenecks.append(f"slow responses: p95 of per-window mean response time {p95:.0f} ms (> {RT_P95_SLOW_MS:.0f} ms) over {m['request_windows']} windows")
        if cpu_peak is not None and cpu_peak > CPU_SCALE_PEAK:
            bottlenecks.append(f"CPU saturation: peak {cpu_peak:.1f}% (> {CPU_SCALE_PEAK:.0f}%)")
        if m["events"] and m["errors"] and m["errors"] / m["events"] * 100.0 > ERROR_SHARE_PCT:
            bottlenecks.append(f"errors: {m['errors']} system errors for {m['events']} user events ({m['errors'] / m['events'] * 100:.1f}% > {ERROR_SHARE_PCT:.0f}%)")
        if cpu_avg is not None and cpu_avg < CPU_IDLE_AVG and (cpu_peak or 0) < CPU_IDLE_PEAK:
            cost.append(f"downsize: CPU average {cpu_avg:.1f}% (< {CPU_IDLE_AVG:.0f}%) and peak {cpu_peak:.1f}% (< {CPU_IDLE_PEAK:.0f}%)")
        hod = m["hour_of_day"]
        if max(hod) > 0:
            peak = max(hod)
            quiet = [h for h, n in enumerate(hod) if n < OFF_PEAK_SHARE * peak]
            if len(quiet) >= 6:
                cost.append(f"schedule batch work / scale in during {len(quiet)} off-peak UTC hours {quiet} (< {OFF_PEAK_SHARE:.0%} of the peak hour's {peak} events)")
        for f, rate in sorted(abandonment.items(), key=lambda x: (-x[1], x[0])):  # ties by name: the same text in every process
            if rate > ABANDON_PCT:
                ux.append(f"review feature '{f}': {rate:.1f}% of its previous-period users did not use it again (> {ABANDON_PCT:.0f}%)")
        low_avg = SATISFACTION_LOW_FRACTION * m["rating_scale"]
        if m["rating_avg"] is not None and m["rating_avg"] < low_avg:
            ux.append(f"improve satisfaction: average rating {m['rating_avg']:.2f} (< {low_avg:g} on a 0-{m['rating_scale']:g} scale)")
        if m["avg_session_min"] and m["avg_session_min"] < SHORT_SESSION_MIN:
            ux.append(f"short sessions: average {m['avg_session_min']:.2f} min (< {SHORT_SESSION_MIN:.0f} min)")
        if m["prev_active_users"] and m["growth_pct"] < CHURN_DROP_PCT:
            churn.append(f"active users fell {m['growth_pct']:.1f}% ({m['prev_active_users']} -> {m['active_users']}, threshold {CHURN_DROP_PCT:.0f}%)")
        if m["active_users"] and m["returning_users"] / m["active_users"] * 100.0 < RETURNING_LOW_PCT and m["prev_active_users"]:
            churn.append(f"few returning users: {m['returning_users']} of {m['active_users']} active ({m['returning_users'] / m['active_users'] * 100:.1f}% < {RETURNING_LOW_PCT:.0f}%)")
        if m["low_rating_share"] is not None and m["low_rating_share"] > LOW_RATING_SHARE:
            churn.append(f"dissatisfied users: {m['low_rating_share']:.1f}% of ratings are <= {LOW_RATING_FRACTION * m['rating_scale']:g} (> {LOW_RATING_SHARE:.0f}%)")
        st = m["sat_trend"]
        sfit = linear_fit(st)
        if sfit is not None and sfit["slope"] < 0 and sfit["r2"] >= GROWTH_MIN_R2:
            churn.append(f"satisfaction declining: slope {sfit['slope']:.3f} per interval over {len(st)} intervals (R^2 {sfit['r2']:.2f})")
        return scaling, bottlenecks, cost, ux, churn

    def _roi(self, active: int, events: int, length: timedelta, reasons: dict[str, str]) -> tuple[dict[str, float], float, float]:
        infra = self.unit_costs.get("infrastructure_cost_per_day_usd")
        per_event = self.unit_costs.get("cost_per_event_usd")
        revenue_pu = self.unit_costs.get("revenue_per_active_user_usd")
        if infra is None and per_event is None and revenue_pu is None:
            reasons["roi_indicators"] = ("no unit costs configured (infrastructure_cost_per_day_usd, "
                                         "cost_per_event_usd, revenue_per_active_user_usd)")
            return {}, 0.0, 0.0
        if not active:
            reasons["roi_indicators"] = "no active users in the period"
            return {}, 0.0, 0.0
        days = length.total_seconds() / 86400.0
        cost = (infra or 0.0) * days + (per_event or 0.0) * events
        roi: dict[str, float] = {"period_days": round(days, 4), "active_users": float(active), "events": float(events)}
        cost_per_user = revenue_per_user = 0.0
        if infra is not None or per_event is not None:
            roi["cost_usd"] = round(cost, 6)
            cost_per_user = round(cost / active, 6)
        else:
            reasons["cost_per_user"] = "no cost configured"
        if revenue_pu is not None:
            revenue = revenue_pu * active
            roi["revenue_usd"] = round(revenue, 6)
            revenue_per_user = round(revenue_pu, 6)
            if cost > 0:
                roi["roi_percent"] = round((revenue - cost) / cost * 100.0, 4)
        else:
            reasons["revenue_per_user"] = "revenue_per_active_user_usd not configured"
        return roi, cost_per_user, revenue_per_user
