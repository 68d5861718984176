"""Health registry: failing, timing-out and recovering checks; collectors; scores; overall status."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from ff_utils.ff_analytics_system.ff_health_checks import (
    FFCheckResultDTO,
    FFHealthRegistry,
    assess_overall,
    data_quality_score,
    system_reliability_score,
    thresholds_from,
)


async def test_check_results_fail_timeout_recover() -> None:
    reg = FFHealthRegistry()
    state = {"up": False}

    async def flaky() -> bool:
        return state["up"]

    async def broken() -> None:
        raise ConnectionError("db refused")

    async def slow() -> None:
        await asyncio.sleep(10)

    async def described() -> dict:
        return {"status": "degraded", "reason": "replica lag 12s"}

    reg.register_health_check("flaky", flaky, 1.0)
    reg.register_health_check("broken", broken, 1.0)
    reg.register_health_check("slow", slow, 0.05)
    reg.register_health_check("described", described)
    res = await reg.run_checks()
    assert res["flaky"].status == "unhealthy" and res["flaky"].reason == "check returned False"
    assert res["broken"].status == "unhealthy" and "ConnectionError: db refused" in res["broken"].reason
    assert res["slow"].status == "timeout" and "0.05" in res["slow"].reason
    assert (res["described"].status, res["described"].reason) == ("degraded", "replica lag 12s")
    res = await reg.run_checks()
    assert res["flaky"].consecutive_failures == 2
    state["up"] = True
    res = await reg.run_checks()
    assert res["flaky"].status == "healthy" and res["flaky"].consecutive_failures == 0


async def test_checks_run_concurrently() -> None:
    reg = FFHealthRegistry()

    async def nap() -> None:
        await asyncio.sleep(0.1)

    for i in range(5):
        reg.register_health_check(f"c{i}", nap, 1.0)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await reg.run_checks()
    assert loop.time() - t0 < 0.4


def test_registration_errors() -> None:
    reg = FFHealthRegistry()
    with pytest.raises(ValueError, match="name"):
        reg.register_health_check("Bad Name", lambda: None)
    with pytest.raises(TypeError, match="async_fn"):
        reg.register_health_check("ok", 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout_s"):
        reg.register_health_check("ok", lambda: None, 0)
    with pytest.raises(TypeError, match="fn"):
        reg.register_collector("ok", None)  # type: ignore[arg-type]


async def test_collectors_failures_are_contained() -> None:
    reg = FFHealthRegistry()
    reg.register_collector("good", lambda: {"queue_depth": 4})

    def bad() -> dict:
        raise RuntimeError("sensor gone")

    async def agood() -> dict:
        return {"cache_items": 10}

    reg.register_collector("bad", bad)
    reg.register_collector("wrongtype", lambda: 5)
    reg.register_collector("agood", agood)
    values, errors = await reg.run_collectors()
    assert values == {"good": {"queue_depth": 4}, "agood": {"cache_items": 10}}
    assert errors["bad"] == "RuntimeError: sensor gone"
    assert "expected dict" in errors["wrongtype"]


def test_data_quality_score_formula() -> None:
    assert data_quality_score(SimpleNamespace()) == 1.0
    s = SimpleNamespace(records_written=90, unparseable_lines=5, quarantined_lines=2, records_dropped=3)
    assert data_quality_score(s) == pytest.approx(90 / 100)
    s.write_failures = 10
    assert data_quality_score(s) == pytest.approx(90 / 110, abs=1e-6)


def test_reliability_score_formula() -> None:
    assert system_reliability_score(0, 0, []) == 1.0
    assert system_reliability_score(100, 10, []) == pytest.approx(0.9)
    assert system_reliability_score(100, 10, ["healthy", "degraded", "timeout"]) == pytest.approx(0.9 * 0.5)
    assert system_reliability_score(0, 0, ["unhealthy"]) == 0.0


def test_assess_overall_reasons() -> None:
    th = thresholds_from(SimpleNamespace(cpu_usage_threshold_percent=80.0))
    assert th["cpu_usage_threshold_percent"] == 80.0 and th["disk_usage_threshold_percent"] == 90.0
    status, reasons = assess_overall({}, {"cpu_usage_percent": 10.0}, {"count": 0}, {}, th)
    assert (status, reasons) == ("healthy", [])
    status, reasons = assess_overall(
        {}, {"cpu_usage_percent": 85.0}, {"count": 10, "error_rate_percent": 20.0, "p95": 10.0}, {}, th
    )
    assert status == "degraded"
    assert any("cpu usage 85.0%" in r for r in reasons) and any("error rate 20.00%" in r for r in reasons)
    status, reasons = assess_overall(
        {"db": FFCheckResultDTO("db", "timeout", "timed out after 1s", 1000.0)}, {"disk_usage_percent": 50.0},
        {"count": 0}, {"write_failures": 2}, th,
    )
    assert status == "unhealthy"
    assert "check db timeout: timed out after 1s" in reasons and any("2 failed writes" in r for r in reasons)
