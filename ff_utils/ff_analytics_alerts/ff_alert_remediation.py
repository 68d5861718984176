"""Remediation actions (seed 000 AutomatedRollback, seed 004 healing) bound to alert rules.

An action runs when its rule has fired ``failure_threshold`` times since the last run, and not
more often than ``cooldown_s``. Async actions run as tasks on the loop, sync actions in a worker
thread; each run and its outcome is recorded in the alert log (event ``remediation``).
"""

from __future__ import annotations

import asyncio
import inspect
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ff_utils.ff_analytics_core.ff_clock import FFClock, ff_iso
from ff_utils.ff_analytics_core.ff_logging import get_logger

__all__ = ["FFAlertRemediation", "FFRemediationDTO"]

logger = get_logger(__name__)
_NAME_RE = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")


@dataclass(slots=True)
class FFRemediationDTO:
    """One registered remediation and its counters."""

    name: str
    rule_id: str
    action: Callable[[Any], Any]
    failure_threshold: int
    cooldown_s: float
    fires_since_run: int = 0
    last_run_t: float | None = None
    runs: int = 0
    successes: int = 0
    failures: int = 0
    skipped_cooldown: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "rule_id": self.rule_id, "failure_threshold": self.failure_threshold,
            "cooldown_s": self.cooldown_s, "fires_since_run": self.fires_since_run, "runs": self.runs,
            "successes": self.successes, "failures": self.failures, "skipped_cooldown": self.skipped_cooldown,
        }


class FFAlertRemediation:
    """Registry of remediations; ``on_fire(alert)`` is wired to the engine's fire listener."""

    def __init__(self, clock: FFClock, sink: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.clock = clock
        self._sink = sink
        self._by_rule: dict[str, list[FFRemediationDTO]] = {}
        self.by_name: dict[str, FFRemediationDTO] = {}
        self._tasks: set[asyncio.Task] = set()

    def register(
        self,
        rule_id: str,
        action: Callable[[Any], Any],
        failure_threshold: int = 3,
        cooldown_s: float = 300.0,
        name: str | None = None,
    ) -> FFRemediationDTO:
        """Bind ``action(alert)`` to ``rule_id``; returning False or raising counts as a failure."""
        if not isinstance(rule_id, str) or not _NAME_RE.fullmatch(rule_id):
            raise ValueError(f"rule: must be a rule id [A-Za-z0-9_.:-]{{1,128}}, got {rule_id!r}")
        if not callable(action):
            raise TypeError(f"action: must be callable, got {type(action).__name__}")
        if isinstance(failure_threshold, bool) or not isinstance(failure_threshold, int) or failure_threshold < 1:
            raise ValueError(f"failure_threshold: must be an int >= 1, got {failure_threshold!r}")
        if isinstance(cooldown_s, bool) or not isinstance(cooldown_s, (int, float)) or not 0 <= cooldown_s < math.inf:
            raise ValueError(f"cooldown_s: must be a finite number >= 0, got {cooldown_s!r}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name: expected str or None, got {type(name).__name__}")
        name = name or f"{rule_id}:{getattr(action, '__name__', 'action')}"
        if not _NAME_RE.fullmatch(name):
            raise ValueError(f"name: must match [A-Za-z0-9_.:-]{{1,128}}, got {name!r}")
        if name in self.by_name:
            raise ValueError(f"name: remediation {name!r} is already registered")
        rem = FFRemediationDTO(name, rule_id, action, failure_threshold, float(cooldown_s))
        self.by_name[name] = rem
        self._by_rule.setdefault(rule_id, []).append(rem)
        return rem

    def restore(self, rem: FFRemediationDTO, runs: list[dict[str, Any]], fire_times_by_rule: dict[str, list[float]]) -> None:
        """Rebuild ``rem``'s last run time and fires since then from the alert log."""
        starts = [r["started_t"] for r in runs
                  if r.get("remediation") == rem.name and isinstance(r.get("started_t"), (int, float))]
        rem.last_run_t = max(starts) if starts else None
        rem.runs = len(starts)
        rem.successes = sum(1 for r in runs if r.get("remediation") == rem.name and r.get("outcome") == "success")
        rem.failures = rem.runs - rem.successes
        fires = fire_times_by_rule.get(rem.rule_id, [])
        rem.fires_since_run = sum(1 for t in fires if rem.last_run_t is None or t > rem.last_run_t)

    def on_fire(self, alert: Any) -> None:
        """Count a fire of the alert's rule; start the actions that are due."""
        rems = self._by_rule.get(getattr(alert, "rule_id", ""))
        if not rems:
            return
        t = self.clock.time()
        for rem in rems:
            rem.fires_since_run += 1
            if rem.fires_since_run < rem.failure_threshold:
                continue
            if rem.last_run_t is not None and t - rem.last_run_t < rem.cooldown_s:
                rem.skipped_cooldown += 1
                continue
            rem.fires_since_run = 0
            rem.last_run_t = t
            self._start(rem, alert, t)

    def _start(self, rem: FFRemediationDTO, alert: Any, t: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            task = loop.create_task(self._run(rem, alert, t))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        coro = self._run(rem, alert, t)
        asyncio.run(coro)  # no loop (sync host): run to completion here

    async def _run(self, rem: FFRemediationDTO, alert: Any, t: float) -> None:
        t0 = time.perf_counter()
        error = ""
        try:
            if inspect.iscoroutinefunction(rem.action):
                result = await rem.action(alert)
            else:
                result = await asyncio.to_thread(rem.action, alert)
                if inspect.isawaitable(result):
                    result = await result
            ok = result is not False
            if not ok:
                error = "action returned False"
        except Exception as exc:
            ok = False
            error = f"{type(exc).__name__}: {exc}"[:300]
            logger.warning("remediation %s failed: %s", rem.name, error)
        rem.runs += 1
        if ok:
            rem.successes += 1
        else:
            rem.failures += 1
        if self._sink is not None:
            self._sink({
                "timestamp": ff_iso(self.clock.now()),
                "event": "remediation",
                "alert_id": getattr(alert, "alert_id", ""),
                "rule_id": rem.rule_id,
                "remediation": rem.name,
                "outcome": "success" if ok else "failure",
                "error": error,
                "started_t": t,
                "duration_ms": round((time.perf_counter() - t0) * 1000.0, 3),
            })

    async def drain(self) -> None:
        """Wait for the remediation runs in flight."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def status(self) -> list[dict[str, Any]]:
        return [rem.to_dict() for rem in self.by_name.values()]
