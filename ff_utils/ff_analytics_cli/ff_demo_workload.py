"""``ff-metrics demo``: simulate a chat backend through the public manager API, then build everything.

Each worker process embeds its own ``FFMetricsCollectionManager`` (its own writer id) driven by an
``FFManualClock``: users with diurnal habits open sessions, use features with different adoption,
send messages, rate their sessions; every user action is also a timed request. A latency incident
(one afternoon in the middle of the run) and a growing data volume raise alerts that an on-call
"operator" acknowledges and resolves. One user opts out; one user asks for erasure afterwards.
Then the parent builds BI, the period reports, the regulatory report, the dashboard and a
Prometheus file, checks that every file it names exists and parses, and prints what to open.

Every step runs through ``_step``: a manager method that is missing or raises NotImplementedError is
reported as "skipped" (with the reason) and the demo goes on; any other failure is "failed".
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing as mp
import random
import shutil
import sys
import time
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from ff_utils.ff_analytics_cli.ff_cli_support import load_cli_config, manager_factory
from ff_utils.ff_analytics_cli.ff_demo_report import ff_sum_numeric, ff_verify_output_file
from ff_utils.ff_analytics_core.ff_clock import FFClock, FFManualClock, ff_iso
from ff_utils.ff_analytics_core.ff_logging import get_logger

logger = get_logger(__name__)

DEMO_MARKER = "demo_manifest.json"
TICK_SECONDS = 600
FEATURES = (("chat", 0.97), ("search", 0.62), ("documents", 0.38), ("tools", 0.21), ("voice", 0.07))
PLATFORMS = (("web", 0.6), ("ios", 0.25), ("android", 0.15))
PROFILES = (("power", 0.2, 3.0), ("regular", 0.45, 1.2), ("casual", 0.35, 0.35))  # name, share, sessions/day
INCIDENT_HOURS = (13, 16)  # UTC, on the middle day
LATENCY_RULE = "demo.p95_latency"
DISK_RULE = "demo.volume_growth"
DISK_THRESHOLD = 85.0
P95_THRESHOLD_MS = 1500.0
OPERATOR = "oncall@demo"
HOST_RULE_THRESHOLDS = ("cpu_usage_threshold_percent", "memory_usage_threshold_percent", "disk_usage_threshold_percent")


@dataclass
class FFDemoOptionsDTO:
    """What the demo simulates and where it writes."""

    base_path: str = "analytics_data"
    users: int = 200
    days: int = 7
    workers: int = 2
    seed: int = 42
    start: date | None = None
    progress: bool | None = None
    config_path: str | None = None
    environment: str | None = None
    erase_user: int | None = None  # default: the most active early user
    opt_out_user: int | None = None  # default: the next most active early user
    manager_factory: Any = None  # the manager class (picklable by reference: workers get it too)

    def validate(self) -> None:
        for name, lo, hi in (("users", 1, 1_000_000), ("days", 1, 366), ("workers", 1, 64)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise ValueError(f"--{name}: must be an int in [{lo}, {hi}], got {v!r}")
        if self.start is not None and not isinstance(self.start, date):
            raise TypeError(f"--start: expected a date, got {type(self.start).__name__}")
        if not callable(self.manager_factory):
            raise TypeError("manager_factory: expected the manager class, got None")


def add_demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--users", type=int, default=200, help="simulated users (default 200)")
    p.add_argument("--days", type=int, default=7, help="simulated days (default 7)")
    p.add_argument("--workers", type=int, default=2, help="writer processes (default 2)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--start", help="first simulated day YYYY-MM-DD (default: DAYS days before today, UTC)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--progress", dest="progress", action="store_true", default=None, help="force the progress bar")
    g.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")


def ff_demo_options_from_args(args: argparse.Namespace) -> FFDemoOptionsDTO:
    start = None
    if getattr(args, "start", None):
        try:
            start = date.fromisoformat(args.start)
        except ValueError as exc:
            raise ValueError(f"--start: not a YYYY-MM-DD date: {args.start!r}") from exc
    base = args.base_path
    if not base:  # the configured store (default analytics_data/), like every other command
        base = load_cli_config(args).storage.base_path
    opts = FFDemoOptionsDTO(
        base_path=base, users=args.users, days=args.days, workers=args.workers,
        seed=args.seed, start=start, progress=args.progress, config_path=args.config, environment=args.env,
        manager_factory=manager_factory(args),
    )
    opts.validate()
    return opts


# ---------------------------------------------------------------------------------------- model
@dataclass(slots=True)
class _User:
    uid: str
    join_day: int
    sessions_per_day: float
    tz_shift: int
    platform: str
    features: tuple[str, ...]
    segment: str
    rnd: random.Random


def _pick(r: random.Random, table: tuple[tuple[Any, float], ...]) -> Any:
    x = r.random()
    acc = 0.0
    for v, w in table:
        acc += w
        if x < acc:
            return v
    return table[-1][0]


def _make_user(seed: int, u: int, days: int) -> _User:
    r = random.Random(f"{seed}:{u}")
    seg = _pick(r, tuple((name, share) for name, share, _ in PROFILES))
    spd = next(s for name, _, s in PROFILES if name == seg) * r.uniform(0.6, 1.4)
    join = 0 if r.random() < 0.55 else r.randrange(days)  # the rest sign up during the run (growth)
    feats = tuple(f for f, p in FEATURES if r.random() < p) or ("chat",)
    return _User(f"user-{u:05d}", join, spd, r.choice((-5, -5, 0, 1, 1, 2, 8)), _pick(r, PLATFORMS), feats, seg, r)


def _special_users(opts: FFDemoOptionsDTO) -> tuple[int, int]:
    """``(erase, opt_out)`` user numbers: explicit, else the two most active users present from day 1."""
    cands = sorted((u for u in range(min(opts.users, 50))), key=lambda u: (
        -(_make_user(opts.seed, u, opts.days).join_day == 0), -_make_user(opts.seed, u, opts.days).sessions_per_day, u))
    erase = opts.erase_user if opts.erase_user is not None else cands[0]
    rest = [u for u in cands if u != erase] or [erase]
    opt_out = opts.opt_out_user if opts.opt_out_user is not None else rest[0]
    return erase, opt_out


def _diurnal(local_hour: float) -> float:
    """Relative activity by local hour (peak mid-afternoon, trough at night); mean ~1 over a day."""
    return 0.15 + 1.7 * max(0.0, math.sin((local_hour - 7.0) / 16.0 * math.pi)) ** 1.5


def _incident(opts: FFDemoOptionsDTO, t: datetime, start: datetime) -> bool:
    day = (t - start).days
    return day == opts.days // 2 and INCIDENT_HOURS[0] <= t.hour < INCIDENT_HOURS[1]


def _volume_percent(tick: int, total_ticks: int) -> float:
    """The simulated data volume: 62 % growing to ~90 % (crosses the threshold late in the run)."""
    return round(62.0 + 28.0 * (tick / max(1, total_ticks)) ** 1.4, 2)


# ---------------------------------------------------------------------------------------- steps
class _Steps:
    """Runs optional manager calls and records what happened to each (ok / skipped / failed)."""

    def __init__(self) -> None:
        self.log: dict[str, dict[str, Any]] = {}

    def _note(self, name: str, status: str, detail: str = "") -> None:
        cur = self.log.get(name)
        if cur is None:
            cur = self.log[name] = {"status": status, "calls": 0, "not_ok": 0, "detail": detail}
        cur["calls"] += 1
        if status != "ok":
            cur["not_ok"] += 1
            if cur["status"] == "ok":
                cur["status"], cur["detail"] = status, detail

    async def call(self, name: str, m: Any, method: str, *a: Any, **kw: Any) -> Any:
        fn = getattr(m, method, None)
        if fn is None:
            self._note(name, "skipped", f"manager has no {method}() yet")
            return None
        try:
            res = fn(*a, **kw)
            if asyncio.iscoroutine(res):
                res = await res
        except NotImplementedError as exc:
            self._note(name, "skipped", f"{method}: {exc}")
            return None
        except Exception as exc:
            logger.exception("demo step %s (%s) failed", name, method)
            self._note(name, "failed", f"{method}: {type(exc).__name__}: {exc}")
            return None
        self._note(name, "ok")
        return res


def _load_config(opts: FFDemoOptionsDTO) -> Any:
    from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import load_config

    cfg = load_config(opts.config_path, environment=opts.environment)
    cfg.storage.base_path = opts.base_path
    ac = cfg.analytics
    # the demo drives collection itself (manual clock) and keeps every event
    for name, value in (("enable_real_time_metrics", False), ("enable_data_sampling", False)):
        if hasattr(ac, name):
            setattr(ac, name, value)
    # host samples are of the machine running the simulation (busy by design): host resource rules
    # would only report the demo itself, so they are set to 100 % (cannot be exceeded) for the demo
    al = getattr(ac, "alerting_config", None)
    for name in HOST_RULE_THRESHOLDS:
        if al is not None and hasattr(al, name):
            setattr(al, name, 100.0)
    return cfg


def _user_events(u: _User, t0: float, incident: bool) -> list[tuple[float, str, dict[str, Any], float, bool]]:
    """One session: ``(offset_s, event_type, event_data, latency_ms, ok)`` in time order."""
    r = u.rnd
    off = r.uniform(0, TICK_SECONDS - 60)
    out = [(off, "session_start", {"platform": u.platform, "time_to_first_action": r.randint(1, 20)})]
    actions = 0
    for _ in range(r.randint(1, 4)):
        off += r.uniform(10, 90)
        f = r.choice(u.features)
        out.append((off, "feature_usage", {"features": [f], "platform": u.platform}))
        actions += 1
    msgs = r.randint(1, 12)
    off += r.uniform(10, 60)
    out.append((off, "content_interaction", {"messages": msgs, "searches": int("search" in u.features and r.random() < 0.5)}))
    duration = int(sum(r.uniform(20, 70) for _ in range(msgs + actions)))
    out.append((off + 1, "session_end", {"duration": duration, "actions": actions + msgs, "platform": u.platform}))
    if r.random() < 0.35:
        base = 8.2 if not incident else 4.0
        out.append((off + 2, "satisfaction", {"rating": max(0, min(10, round(r.gauss(base, 1.4))))}))
    if r.random() < 0.04:
        out.append((off + 3, "conversion", {"conversion": "upgrade"}))
    res = []
    for o, et, data in out:
        lat = r.lognormvariate(math.log(140.0), 0.45) * (1.0 + 0.5 * _diurnal(12))
        ok = r.random() > 0.001
        if incident:
            lat *= r.uniform(8.0, 16.0)
            ok = r.random() > 0.09
        res.append((min(o, TICK_SECONDS - 1.0), et, data, round(lat, 2), ok))
    res.sort(key=lambda x: x[0])
    return res


async def _simulate(worker: int, opts: FFDemoOptionsDTO, start: datetime, progress: Any) -> dict[str, Any]:
    clock = FFManualClock(start)
    steps = _Steps()
    m = opts.manager_factory(_load_config(opts), clock=clock, writer_id=f"demo-w{worker}")
    await steps.call("initialize", m, "initialize_analytics_system", start_collection=False)
    users = [_make_user(opts.seed, u, opts.days) for u in range(opts.users) if u % opts.workers == worker]
    stats = {"worker": worker, "users": len(users), "events": 0, "events_not_stored": 0, "sessions": 0,
             "requests": 0, "ticks": 0, "alerts_acknowledged": 0, "alerts_resolved": 0}
    ops = worker == 0
    volume = {"pct": _volume_percent(0, 1)}
    if ops:
        await steps.call("alert rules", m, "add_alert_rule", rule_id=LATENCY_RULE, metric="demo_p95_response_time_ms",
                         threshold=P95_THRESHOLD_MS, comparison=">", for_seconds=1200, severity="warning",
                         alert_type="performance", title=f"p95 response time above {P95_THRESHOLD_MS:.0f} ms",
                         recommended_actions=["roll back the last deploy", "check the model backend"])
        await steps.call("alert rules", m, "add_alert_rule", rule_id=DISK_RULE, metric="demo_volume_disk_usage_percent",
                         threshold=DISK_THRESHOLD, comparison=">", severity="error", alert_type="capacity",
                         title=f"chat data volume above {DISK_THRESHOLD:.0f} %",
                         recommended_actions=["run retention cleanup", "grow the volume"])
        await steps.call("register collector", m, "register_collector", "demo_volume",
                         lambda: {"disk_usage_percent": volume["pct"]})
        _erase, opt_out = _special_users(opts)
        if opt_out != _erase and opt_out < opts.users:
            await steps.call("opt-out", m, "set_user_opt_out", f"user-{opt_out:05d}", True)
    total_ticks = opts.days * 86400 // TICK_SECONDS
    fired_at: dict[str, float] = {}
    for tick in range(total_ticks):
        t0 = start + timedelta(seconds=tick * TICK_SECONDS)
        day = tick * TICK_SECONDS // 86400
        incident = _incident(opts, t0, start)
        batch: list[tuple[float, _User, str, dict[str, Any], float, bool]] = []
        active_users = 0
        for u in users:
            if u.join_day > day:
                continue
            p = u.sessions_per_day * _diurnal((t0.hour + t0.minute / 60 + u.tz_shift) % 24) / (86400 / TICK_SECONDS)
            if u.rnd.random() < p:
                active_users += 1
                stats["sessions"] += 1
                for off, et, data, lat, ok in _user_events(u, t0.timestamp(), incident):
                    batch.append((off, u, et, data, lat, ok))
        batch.sort(key=lambda b: b[0])
        base_s = 0.0
        latencies = []
        for off, u, et, data, lat, ok in batch:
            latencies.append(lat)
            if off > base_s:
                clock.advance(off - base_s)
                base_s = off
            stored = await steps.call("record_user_analytics", m, "record_user_analytics", u.uid, f"{u.uid}-{tick}", et, data)
            stats["events"] += 1
            if not stored:
                stats["events_not_stored"] += 1
            await steps.call("record_request", m, "record_request", "chat_api", lat, ok)
            stats["requests"] += 1
        clock.set(t0 + timedelta(seconds=TICK_SECONDS))
        await steps.call("set_active_counts", m, "set_active_counts", active_users, active_users)
        volume["pct"] = _volume_percent(tick, total_ticks)
        if hasattr(m, "run_collection_tick"):
            metrics = await steps.call("collection tick", m, "run_collection_tick")
            if metrics is None and steps.log.get("collection tick", {}).get("status") == "ok":
                cs = getattr(m, "collection_stats", None)
                why = (cs() if callable(cs) else {}).get("last_error", "") if cs else ""
                steps.log["collection tick"]["calls"] -= 1  # re-noted as a failure
                steps._note("collection tick", "failed", f"run_collection_tick returned None (tick failed: {why})")
        else:
            metrics = await steps.call("collection tick", m, "collect_system_metrics")
            if ops and metrics is not None:  # no public tick API: evaluate this tick's rules ourselves
                from ff_utils.ff_analytics_alerts.ff_alert_rules import ff_metric_values

                await steps.call("evaluate alerts", m, "evaluate_alerts", ff_metric_values(metrics))
        stats["ticks"] += 1
        if ops:
            values = {"demo_volume_disk_usage_percent": volume["pct"]}
            if latencies:  # this worker's p95 of the window it just sent (no requests: no evaluation)
                latencies.sort()
                values["demo_p95_response_time_ms"] = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
            await steps.call("evaluate alerts", m, "evaluate_alerts", values)
            await _operator(m, steps, stats, fired_at, clock.now().timestamp(), incident)
        if progress is not None and tick % 6 == 5:
            progress.put((worker, 6))
    await steps.call("flush", m, "aflush")
    ps = getattr(m, "privacy_stats", None)
    stats["privacy"] = ps() if callable(ps) else ps
    await steps.call("close", m, "close")
    stats["steps"] = steps.log
    return stats


async def _operator(m: Any, steps: _Steps, stats: dict[str, Any], fired_at: dict[str, float], now: float,
                    incident: bool) -> None:
    """The on-call: acknowledge after ~20 minutes, resolve the latency alert once the incident is over."""
    active = await steps.call("get_active_alerts", m, "get_active_alerts")
    for a in active or []:
        aid = getattr(a, "alert_id", None) or (a.get("alert_id") if isinstance(a, dict) else None)
        if not aid:
            continue
        fired_at.setdefault(aid, now)
        acked = getattr(a, "acknowledged", None) if not isinstance(a, dict) else a.get("acknowledged")
        rule = getattr(a, "rule_id", "") if not isinstance(a, dict) else a.get("rule_id", "")
        if not acked and now - fired_at[aid] >= 1200:
            if await steps.call("acknowledge_alert", m, "acknowledge_alert", aid, OPERATOR):
                stats["alerts_acknowledged"] += 1
        if rule == LATENCY_RULE and not incident and now - fired_at[aid] >= 3600:
            if await steps.call("resolve_alert", m, "resolve_alert", aid, "latency back to normal after rolling back"):
                stats["alerts_resolved"] += 1


def _worker_entry(worker: int, opts: FFDemoOptionsDTO, start: datetime, progress: Any, results: Any) -> None:
    try:
        res = asyncio.run(_simulate(worker, opts, start, progress))
    except Exception as exc:  # reported by the parent
        logger.exception("demo worker %d failed", worker)
        res = {"worker": worker, "error": f"{type(exc).__name__}: {exc}"}
    results.put(res)


# ---------------------------------------------------------------------------------------- parent
class _Progress:
    """A one-line progress bar on stderr (only on a terminal unless forced)."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = max(1, total)
        self.done = 0
        self.enabled = enabled
        self.t0 = time.monotonic()
        self.last = 0.0

    def add(self, n: int, label: str = "simulating") -> None:
        self.done = min(self.total, self.done + n)
        now = time.monotonic()
        if self.enabled and (now - self.last >= 0.1 or self.done >= self.total):
            self.last = now
            frac = self.done / self.total
            bar = "#" * int(frac * 30)
            sys.stderr.write(f"\r{label} [{bar:<30}] {frac * 100:5.1f}%  {time.monotonic() - self.t0:5.1f}s")
            sys.stderr.flush()

    def stage(self, text: str) -> None:
        if self.enabled:
            sys.stderr.write(f"\r{text:<70}\n")
            sys.stderr.flush()


def _prepare_base(base: Path) -> None:
    """Refuse to write into a store that holds other data; clear a previous demo run."""
    analytics = base / "analytics"
    if (base / DEMO_MARKER).exists():
        shutil.rmtree(analytics, ignore_errors=True)
        for name in ("dashboard.html", "ff_metrics.prom", DEMO_MARKER):
            try:
                (base / name).unlink()
            except FileNotFoundError:
                pass
    elif analytics.exists() and any(analytics.iterdir()):
        raise ValueError(f"--base-path: {base} already holds a store that is not a demo store; "
                         "choose an empty directory for the demo")
    base.mkdir(parents=True, exist_ok=True)
    # mark the store as a demo store before anything is written: an interrupted run can be re-run
    from ff_utils.ff_analytics_core.ff_json_utils import ff_write_json

    ff_write_json(base / DEMO_MARKER, {"status": "running", "note": "ff-metrics demo in progress or interrupted"})


async def _build_outputs(opts: FFDemoOptionsDTO, start: datetime, end: datetime, steps: _Steps) -> dict[str, Any]:
    clock = FFManualClock(end + timedelta(minutes=5))
    m = opts.manager_factory(_load_config(opts), clock=clock, writer_id="demo-main")
    out: dict[str, Any] = {}
    await steps.call("initialize", m, "initialize_analytics_system", start_collection=False)
    erase, opt_out = _special_users(opts)
    out["opted_out_user"] = f"user-{opt_out:05d}" if opt_out != erase else ""
    erase_uid = f"user-{erase:05d}"
    if erase < opts.users:
        before = await steps.call("export_user_data (before erasure)", m, "export_user_data", erase_uid)
        erased = await steps.call("erase_user_data", m, "erase_user_data", erase_uid)
        # erasure removes the user's raw records and rollup keys; the hourly event counts are
        # recomputed from the remaining raw records so BI agrees with the raw data again
        rebuilt = await steps.call("rebuild rollups after erasure", m, "rebuild_rollups", start, end + timedelta(hours=1))
        after = await steps.call("export_user_data (after erasure)", m, "export_user_data", erase_uid)
        if isinstance(erased, dict):  # keep the audit reference, never the erased user's pseudonym
            erased = {k: v for k, v in erased.items() if k != "user_hash"}
        out["erasure"] = {
            "user": erase_uid,
            "records_before": (before or {}).get("total_records") if isinstance(before, dict) else None,
            "result": erased,
            "records_after": (after or {}).get("total_records") if isinstance(after, dict) else None,
            "rollups_rebuilt": {k: v for k, v in rebuilt.items() if k in ("hours", "records_written")}
            if isinstance(rebuilt, dict) else None,
        }
    await steps.call("business intelligence (last day)", m, "generate_business_intelligence", "day")
    bi = await steps.call("business intelligence", m, "generate_business_intelligence", "custom", start=start, end=end)
    if bi is None and steps.log.get("business intelligence", {}).get("status") == "failed":
        bi = await steps.call("business intelligence (week)", m, "generate_business_intelligence", "week")
    if bi is not None:
        d = bi.to_dict() if hasattr(bi, "to_dict") else (bi if isinstance(bi, dict) else {})
        out["bi"] = {k: d.get(k) for k in ("active_users", "new_users", "returning_users", "feature_adoption_rates",
                                            "peak_usage_hours", "average_session_duration_minutes",
                                            "performance_bottlenecks", "scaling_recommendations") if k in d}
    ana = await steps.call("analysis", m, "analyze", "p95_response_time_ms", window=f"{opts.days}d")
    if isinstance(ana, dict):
        found = [f for f in ana.get("findings") or [] if isinstance(f, dict)]
        kinds: dict[str, int] = {}
        for f in found:
            kinds[str(f.get("kind", ""))] = kinds.get(str(f.get("kind", "")), 0) + 1
        out["analysis"] = {"metric": "p95_response_time_ms", "window": ana.get("window", ""),
                           "findings_by_kind": kinds, "top": [str(f.get("message", "")) for f in found[:3]]}
    reports = await steps.call("reports", m, "generate_reports", force=True)
    out["reports"] = list(reports or [])
    reg = await steps.call("regulatory report", m, "generate_regulatory_report")
    if isinstance(reg, dict):
        out["regulatory_report"] = str(m.analytics_path / "compliance" / "regulatory_reports.json")
    active = await steps.call("get_active_alerts", m, "get_active_alerts")
    out["active_alerts"] = [
        {"severity": getattr(a, "severity", ""), "title": getattr(a, "title", ""), "acknowledged": getattr(a, "acknowledged", None)}
        if not isinstance(a, dict) else a for a in (active or [])
    ]
    verify = await steps.call("verify audit log", m, "verify_audit_log")
    if verify is not None:
        out["audit_verification"] = getattr(verify, "kind", None) or (verify.get("kind") if isinstance(verify, dict) else str(verify))
    await steps.call("close", m, "close")
    out["analytics_path"] = str(m.analytics_path)
    out["_store"] = m.store
    out["_clock"] = clock
    return out


def ff_run_demo(opts: FFDemoOptionsDTO) -> dict[str, Any]:
    """Run the whole demo; returns the summary (also written to ``<base>/demo_manifest.json``)."""
    from ff_utils.ff_analytics_core.ff_file_ops import ff_atomic_write
    from ff_utils.ff_analytics_core.ff_json_utils import ff_write_json
    from ff_utils.ff_analytics_exposition.ff_dashboard_data import ff_gather_dashboard_data
    from ff_utils.ff_analytics_exposition.ff_dashboard_render import ff_render_dashboard
    from ff_utils.ff_analytics_exposition.ff_operator_snapshot import ff_operator_snapshot
    from ff_utils.ff_analytics_exposition.ff_prometheus_exposition import (
        ff_families_from_snapshot,
        ff_write_textfile,
    )

    opts.validate()
    t_start = time.monotonic()
    base = Path(opts.base_path)
    _prepare_base(base)
    first = opts.start or (FFClock().now().date() - timedelta(days=opts.days))  # the real date, once
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = start + timedelta(days=opts.days)
    total_ticks = opts.days * 86400 // TICK_SECONDS
    show = sys.stderr.isatty() if opts.progress is None else opts.progress
    bar = _Progress(total_ticks * opts.workers, show)
    ctx = mp.get_context("spawn")
    progress_q, results_q = ctx.Queue(), ctx.Queue()
    procs = [ctx.Process(target=_worker_entry, args=(w, replace(opts, progress=False), start, progress_q, results_q),
                         name=f"ff-demo-w{w}") for w in range(opts.workers)]
    for p in procs:
        p.start()
    results: list[dict[str, Any]] = []
    while len(results) < len(procs):
        while not progress_q.empty():
            _w, n = progress_q.get_nowait()
            bar.add(n)
        try:
            results.append(results_q.get(timeout=0.1))
        except Exception:  # queue.Empty
            if not any(p.is_alive() for p in procs) and results_q.empty():
                break
    for p in procs:
        p.join(timeout=30)
    bar.add(bar.total)
    bar.stage(f"simulated {opts.days} days of {opts.users} users in {time.monotonic() - t_start:.1f}s; building outputs")
    sim_seconds = time.monotonic() - t_start

    steps = _Steps()
    outputs = asyncio.run(_build_outputs(opts, start, end, steps))
    store, clock = outputs.pop("_store"), outputs.pop("_clock")
    data = ff_gather_dashboard_data(store, clock)
    dash = ff_atomic_write(base / "dashboard.html", ff_render_dashboard(data, "FF analytics demo"))
    snap = ff_operator_snapshot(store, clock, data=data)
    prom = ff_write_textfile(base / "ff_metrics.prom", ff_families_from_snapshot(snap))

    worker_steps: dict[str, dict[str, Any]] = {}
    for r in results:
        for name, st in (r.get("steps") or {}).items():
            cur = worker_steps.setdefault(name, dict(st))
            if cur is not st and st["status"] != "ok":
                cur["status"], cur["detail"] = st["status"], st["detail"]
    errors = [r["error"] for r in results if "error" in r]
    if len(results) < len(procs):
        errors.append(f"{len(procs) - len(results)} worker(s) exited without a result")
    files = {"dashboard": dash, "prometheus": prom, "metadata": Path(outputs["analytics_path"]) / "analytics_metadata.json"}
    if outputs.get("regulatory_report"):
        files["regulatory_report"] = Path(outputs["regulatory_report"])
    reports_dir = Path(outputs["analytics_path"]) / "reports"
    report_files = sorted({Path(p) for p in outputs.get("reports", [])}
                          | {p for p in reports_dir.rglob("*") if p.is_file() and not p.name.startswith(".")})
    checked = {k: {"path": str(Path(v).resolve()), "problem": ff_verify_output_file(Path(v))} for k, v in files.items()}
    reports_checked = [{"path": str(p.resolve()), "problem": ff_verify_output_file(p)} for p in report_files]
    summary: dict[str, Any] = {
        "ok": not errors and all(not c["problem"] for c in [*checked.values(), *reports_checked]),
        "base_path": str(base.resolve()),
        "analytics_path": str(Path(outputs["analytics_path"]).resolve()),
        "simulated": {"start": ff_iso(start), "end": ff_iso(end), "users": opts.users, "days": opts.days,
                      "workers": opts.workers, "seed": opts.seed},
        "totals": {k: sum(r.get(k, 0) or 0 for r in results) for k in
                   ("events", "events_not_stored", "sessions", "requests", "ticks", "alerts_acknowledged", "alerts_resolved")},
        "privacy": ff_sum_numeric([r.get("privacy") or {} for r in results]),
        "panels_without_data": {p.key: p.reason for p in data.panels if not p.has_data},
        "files": checked,
        "report_files": reports_checked,
        "reports_dir": str(reports_dir.resolve()),
        "worker_steps": worker_steps,
        "steps": steps.log,
        "errors": errors,
        "seconds": {"simulation": round(sim_seconds, 2), "total": round(time.monotonic() - t_start, 2)},
        **{k: v for k, v in outputs.items() if k not in ("analytics_path", "reports")},
    }
    ff_write_json(base / DEMO_MARKER, summary)
    summary["files"]["manifest"] = {"path": str((base / DEMO_MARKER).resolve()), "problem": ff_verify_output_file(base / DEMO_MARKER)}
    return summary
