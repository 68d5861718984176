"""The manager's health in the shape a host's health route returns, as a dict or an ASGI endpoint.

``await ff_health_report(manager)`` -> ``(http_status, body)`` with ``body = {"status", "version",
"checked_at", "reasons", "checks": {name: {"status", "reason"}}}``: the manager's components, its
resource thresholds as the ``resources`` check, and the host's own checks (``checks={"db": async_fn}``,
each bounded by ``timeout_seconds``; a check returns True/False, a status string, or a dict with
``status`` and ``reason``; raising or timing out is ``unhealthy`` with the reason). Status is the
worst of all; HTTP 200 for ``healthy`` and ``degraded``, 503 for ``unhealthy``.
``FFHealthEndpoint(manager)`` serves it as JSON (mount it at ``/health`` or call it from a route).
A host check registered with ``manager.register_health_check`` shows up under ``checks`` too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from ff_utils.ff_analytics_core.ff_json_utils import ff_dumps
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_core.ff_names import ff_validate_name

__all__ = ["FFHealthEndpoint", "HEALTH_STATUSES", "ff_health_report"]

logger = get_logger(__name__)

HEALTH_STATUSES = ("healthy", "degraded", "unhealthy")
_RANK = {s: i for i, s in enumerate(HEALTH_STATUSES)}
HostCheck = Callable[[], Awaitable[Any]]


def _worst(a: str, b: str) -> str:
    return a if _RANK.get(a, 2) >= _RANK.get(b, 2) else b


def _as_check(result: Any) -> dict[str, str]:
    if result is True:
        return {"status": "healthy", "reason": ""}
    if result is False or result is None:
        return {"status": "unhealthy", "reason": "check returned False" if result is False else "check returned None"}
    if isinstance(result, str):
        return {"status": result if result in _RANK else "unhealthy",
                "reason": "" if result in _RANK else f"unknown status {result[:40]!r}"}
    if isinstance(result, Mapping):
        status = result.get("status")
        status = status if status in _RANK else "unhealthy"
        return {"status": status, "reason": str(result.get("reason", ""))[:500]}
    return {"status": "unhealthy", "reason": f"check returned {type(result).__name__}"}


async def _run_check(fn: HostCheck, timeout: float) -> dict[str, str]:
    try:
        return _as_check(await asyncio.wait_for(fn(), timeout))
    except TimeoutError:
        return {"status": "unhealthy", "reason": f"timed out after {timeout:g} s"}
    except Exception as exc:  # the host's check failing is a finding, not an error of the route
        return {"status": "unhealthy", "reason": f"{type(exc).__name__}: {str(exc)[:200]}"}


async def ff_health_report(
    manager: Any,
    checks: Mapping[str, HostCheck] | None = None,
    *,
    version: str | None = None,
    timeout_seconds: float = 5.0,
) -> tuple[int, dict[str, Any]]:
    """``(200 | 503, body)``; see the module docstring."""
    host_checks = dict(checks or {})
    for name, fn in host_checks.items():
        ff_validate_name(name, "checks key")
        if not callable(fn):
            raise TypeError(f"checks[{name!r}]: expected an async callable, got {type(fn).__name__}")
    health = await manager.get_system_health()
    status = health.get("status", "unhealthy")
    status = status if status in _RANK else "unhealthy"
    out: dict[str, dict[str, str]] = {}
    for name, comp in (health.get("components") or {}).items():
        out[name] = _as_check(comp)
    resource_reasons = [r for r in health.get("reasons", []) if isinstance(r, str)]
    out["resources"] = {"status": status if resource_reasons else "healthy", "reason": "; ".join(resource_reasons)}
    results = await asyncio.gather(*(_run_check(fn, timeout_seconds) for fn in host_checks.values()))
    for name, res in zip(host_checks, results, strict=True):
        out[name] = res
        status = _worst(status, res["status"])
    for res in out.values():
        status = _worst(status, res["status"])
    body = {
        "status": status,
        "version": version if version is not None else getattr(manager, "version", None),
        "checked_at": health.get("checked_at"),
        "reasons": resource_reasons + [f"{n}: {r['reason'] or r['status']}" for n, r in out.items()
                                       if r["status"] != "healthy" and n != "resources"],
        "checks": out,
    }
    return (503 if status == "unhealthy" else 200), body


class FFHealthEndpoint:
    """An ASGI app answering any HTTP request with :func:`ff_health_report` as JSON."""

    def __init__(self, manager: Any, checks: Mapping[str, HostCheck] | None = None, *, version: str | None = None,
                 timeout_seconds: float = 5.0) -> None:
        if not callable(getattr(manager, "get_system_health", None)):
            raise TypeError(f"manager: expected an analytics manager with get_system_health(), got {type(manager).__name__}")
        self.manager = manager
        self.checks = dict(checks or {})
        for name in self.checks:
            ff_validate_name(name, "checks key")
        self.version = version
        self.timeout_seconds = timeout_seconds

    def add_check(self, name: str, fn: HostCheck) -> None:
        """Register one more host check (``name``: ``^[a-z0-9_]{1,64}$``)."""
        ff_validate_name(name, "name")
        if not callable(fn):
            raise TypeError(f"fn: expected an async callable, got {type(fn).__name__}")
        self.checks[name] = fn

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            return
        try:
            code, body = await ff_health_report(self.manager, self.checks, version=self.version,
                                                timeout_seconds=self.timeout_seconds)
        except Exception as exc:
            logger.exception("health report failed")
            code, body = 503, {"status": "unhealthy", "reasons": [f"health report failed: {type(exc).__name__}"],
                               "checks": {}, "version": self.version}
        payload = ff_dumps(body)
        await send({"type": "http.response.start", "status": code,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                                (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": payload})
