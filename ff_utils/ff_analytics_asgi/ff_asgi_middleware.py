"""Pure ASGI middleware: every HTTP request timed and counted, websockets counted, nothing leaked.

``app.add_middleware(FFAnalyticsMiddleware, manager=analytics)`` (FastAPI/Starlette) or
``app = FFAnalyticsMiddleware(app, manager=analytics)`` (any ASGI app). Per HTTP request:

- ``manager.record_request(component, duration_ms, success)``: ``component`` from the route template
  (:mod:`ff_asgi_components`: never the raw path), ``duration_ms`` from the call to the last body
  byte sent (a streaming response is timed to its end), ``success`` = a status below 400 was sent;
- the ``http_requests_in_flight`` gauge on entry and exit;
- an exception from the app counts as a failed request and in the ``http_exceptions`` counter, then
  propagates unchanged (the same object) to the framework's handlers;
- a websocket connection counts in ``websocket_connections`` and the ``websocket_connections_open``
  gauge, and as one request of its template when it closes.

Who the user is: ``identify(scope) -> (user_id, session_id) | None`` (the host's own auth, e.g. from
``scope["state"]`` or a header it trusts; the middleware never reads bodies). With ``user_event``
set, each identified request also calls ``manager.record_user_analytics(user_id, session_id,
user_event, {"component", "status_code", "duration_ms"})``, pseudonymized like every event. Faults in
the library or in the hooks are logged and never fail the request.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from ff_utils.ff_analytics_asgi.ff_asgi_components import (
    DEFAULT_MAX_COMPONENTS,
    ComponentMapper,
    FFComponentNamer,
)
from ff_utils.ff_analytics_core.ff_logging import get_logger
from ff_utils.ff_analytics_core.ff_names import ff_validate_name

__all__ = ["FFAnalyticsMiddleware", "IN_FLIGHT_METRIC", "EXCEPTIONS_METRIC", "WEBSOCKET_METRIC"]

logger = get_logger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Identify = Callable[[Mapping[str, Any]], "tuple[str, str] | None"]

IN_FLIGHT_METRIC = "http_requests_in_flight"
EXCEPTIONS_METRIC = "http_exceptions"
WEBSOCKET_METRIC = "websocket_connections"
WEBSOCKET_OPEN_METRIC = "websocket_connections_open"


class FFAnalyticsMiddleware:
    """See the module docstring. ``manager`` is an ``FFMetricsCollectionManager`` (or anything with
    ``record_request``, ``record_metric`` and, for ``user_event``, ``record_user_analytics``)."""

    def __init__(
        self,
        app: ASGIApp,
        manager: Any,
        *,
        component_mapper: ComponentMapper | None = None,
        identify: Identify | None = None,
        user_event: str | None = None,
        prefix: str = "http",
        max_components: int = DEFAULT_MAX_COMPONENTS,
    ) -> None:
        if not callable(app):
            raise TypeError(f"app: expected an ASGI callable, got {type(app).__name__}")
        for name in ("record_request", "record_metric"):
            if not callable(getattr(manager, name, None)):
                raise TypeError(f"manager: expected an analytics manager with {name}(), got {type(manager).__name__}")
        if identify is not None and not callable(identify):
            raise TypeError(f"identify: expected a callable(scope) -> (user_id, session_id) | None, got {identify!r}")
        if user_event is not None:
            ff_validate_name(user_event, "user_event")
            if not callable(getattr(manager, "record_user_analytics", None)):
                raise TypeError("manager: user_event needs record_user_analytics()")
        self.app = app
        self.manager = manager
        self.namer = FFComponentNamer(component_mapper, prefix=prefix, max_components=max_components)
        self.identify = identify
        self.user_event = user_event
        self.in_flight = 0
        self.websockets_open = 0
        self.hook_failures = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        else:  # lifespan and anything else pass through untouched
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        state = [0, 0.0]  # status sent, time of the last body byte

        async def send_timed(message: Message) -> None:
            t = message.get("type")
            if t == "http.response.start":
                state[0] = message.get("status", 0)
            await send(message)
            if t == "http.response.body" and not message.get("more_body", False):
                state[1] = time.perf_counter()

        self._gauge(IN_FLIGHT_METRIC, +1)
        raised = False
        try:
            await self.app(scope, receive, send_timed)
        except BaseException:
            raised = True
            self._count(EXCEPTIONS_METRIC)
            raise
        finally:
            end = state[1] or time.perf_counter()
            self._gauge(IN_FLIGHT_METRIC, -1)
            status = state[0]
            component = self.namer.component(scope)
            ok = not raised and 0 < status < 400
            duration_ms = (end - start) * 1000.0
            self._request(component, duration_ms, ok)
            if self.identify is not None and not raised:
                await self._identified(self.identify, scope, component, status, duration_ms)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        self._count(WEBSOCKET_METRIC)
        self.websockets_open += 1
        self._metric(WEBSOCKET_OPEN_METRIC, self.websockets_open)
        raised = False
        try:
            await self.app(scope, receive, send)
        except BaseException:
            raised = True
            self._count(EXCEPTIONS_METRIC)
            raise
        finally:
            self.websockets_open -= 1
            self._metric(WEBSOCKET_OPEN_METRIC, self.websockets_open)
            self._request(self.namer.component(scope), (time.perf_counter() - start) * 1000.0, not raised)

    async def _identified(self, identify: Identify, scope: Scope, component: str, status: int,
                          duration_ms: float) -> None:
        try:
            who = identify(scope)
            if who is None or self.user_event is None:
                return
            user_id, session_id = who
            await self.manager.record_user_analytics(
                user_id, session_id, self.user_event,
                {"component": component, "status_code": int(status), "duration_ms": round(duration_ms, 3)},
            )
        except Exception:  # a hook bug or a rejected id must not fail the (already answered) request
            self.hook_failures += 1
            logger.exception("identify / record_user_analytics failed in the middleware")

    def _request(self, component: str, duration_ms: float, ok: bool) -> None:
        try:
            self.manager.record_request(component, duration_ms, ok)
        except Exception:
            self.hook_failures += 1
            logger.exception("record_request failed in the middleware")

    def _gauge(self, name: str, delta: int) -> None:
        self.in_flight += delta
        self._metric(name, self.in_flight)

    def _count(self, name: str) -> None:
        try:
            self.manager.record_metric(name, 1, "counter")
        except Exception:
            self.hook_failures += 1
            logger.exception("record_metric(%s) failed in the middleware", name)

    def _metric(self, name: str, value: int) -> None:
        try:
            self.manager.record_metric(name, value, "gauge")
        except Exception:
            self.hook_failures += 1
            logger.exception("record_metric(%s) failed in the middleware", name)
