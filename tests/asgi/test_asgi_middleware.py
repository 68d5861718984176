"""FFAnalyticsMiddleware on a real FastAPI app under uvicorn on 127.0.0.1, driven by a real HTTP client.

Every figure is read back from the store after the server stopped (the app's lifespan closes the
manager): per-route-template counts equal the requests sent, 4xx/5xx and exceptions count as
failures, the exception reaches the app's handler as the same object, a streaming response is
timed to its last byte, websockets are counted, and no raw path segment appears anywhere.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

fastapi = pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

from fastapi import FastAPI, HTTPException, WebSocket  # noqa: E402
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse  # noqa: E402

from ff_metrics_collection_manager import FFMetricsCollectionManager, load_config  # noqa: E402
from ff_utils.ff_analytics_asgi import FFAnalyticsMiddleware, FFHealthEndpoint  # noqa: E402
from ff_utils.ff_analytics_asgi.ff_asgi_components import FFComponentNamer, ff_component_from_template  # noqa: E402
from tests.asgi._asgi_server import FFTestServer  # noqa: E402

SECRET_USERS = ["alice-7f3a", "bob-91c2", "carol-55d0"]
SECRET_SESSIONS = ["sess-a1b2c3", "sess-d4e5f6"]


class Boom(RuntimeError):
    pass


def build_app(base: Path, seen: list[BaseException]) -> tuple[FastAPI, Any]:
    cfg = load_config(environment="test")
    cfg.storage.base_path = str(base)
    manager = FFMetricsCollectionManager(cfg)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # noqa: ANN202
        await manager.initialize_analytics_system(start_collection=False)
        yield
        await manager.close()

    app = FastAPI(lifespan=lifespan)

    def identify(scope: Any) -> tuple[str, str] | None:
        h = dict(scope.get("headers") or [])
        u, s = h.get(b"x-user"), h.get(b"x-session")
        return (u.decode(), s.decode()) if u and s else None

    app.add_middleware(FFAnalyticsMiddleware, manager=manager, identify=identify, user_event="api_request")
    app.add_route("/health", FFHealthEndpoint(manager), methods=["GET"])

    @app.exception_handler(Exception)  # Starlette runs it outside the middleware: the exception passes through
    async def on_boom(request: Any, exc: Exception) -> JSONResponse:
        seen.append(exc)
        return JSONResponse({"error": "boom"}, status_code=500)

    @app.get("/users/{user_id}/sessions/{session_id}")
    async def get_session(user_id: str, session_id: str) -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/missing/{item}")
    async def missing(item: str) -> None:
        raise HTTPException(status_code=404, detail="no such item")

    @app.get("/error5")
    async def error5() -> PlainTextResponse:
        return PlainTextResponse("bad", status_code=503)

    @app.get("/boom/{token}")
    async def boom(token: str) -> None:
        raise Boom(f"exploded for {token}")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks():  # noqa: ANN202
            for i in range(4):
                await asyncio.sleep(0.05)
                yield f"chunk {i}\n"
        return StreamingResponse(chunks(), media_type="text/plain")

    @app.websocket("/ws/{room}")
    async def ws(websocket: WebSocket, room: str) -> None:
        await websocket.accept()
        msg = await websocket.receive_text()
        await websocket.send_text(msg.upper())
        await websocket.close()

    return app, manager


def _records(base: Path, stream: str) -> list[dict[str, Any]]:
    out = []
    for p in sorted(base.rglob("*.jsonl")):
        if p.parent.parent.name == stream:
            out += [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
    return out


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("asgi-store")
    seen: list[BaseException] = []
    app, manager = build_app(base, seen)
    sent: Counter[str] = Counter()
    with FFTestServer(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        for i in range(30):
            u, s = SECRET_USERS[i % 3], SECRET_SESSIONS[i % 2]
            r = client.get(f"/users/{u}/sessions/{s}", headers={"x-user": u, "x-session": s})
            assert r.status_code == 200
            sent["ok"] += 1
        for i in range(7):
            assert client.get(f"/missing/{SECRET_USERS[i % 3]}").status_code == 404
            sent["missing"] += 1
        for _ in range(5):
            assert client.get("/error5").status_code == 503
            sent["error5"] += 1
        for i in range(4):
            # the server re-raises after the handler's response: a fresh connection per request
            r = httpx.get(f"{url}/boom/{SECRET_SESSIONS[i % 2]}", headers={"connection": "close"}, timeout=30)
            assert r.status_code == 500 and r.json() == {"error": "boom"}
            sent["boom"] += 1
        for _ in range(3):
            r = client.get("/stream")
            assert r.text.count("chunk") == 4
            sent["stream"] += 1
        health = client.get("/health")
        from websockets.sync.client import connect

        for i in range(2):
            with connect(url.replace("http", "ws") + f"/ws/{SECRET_USERS[i]}") as ws:
                ws.send("hello")
                assert ws.recv() == "HELLO"
    return {"base": base, "sent": sent, "seen": seen, "health": health, "manager": manager}


def _component_counts(base: Path) -> tuple[Counter[str], Counter[str]]:
    counts: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for rec in _records(base, "error_rates"):
        for name, c in (rec.get("components") or {}).items():
            counts[name] += c["count"]
            errors[name] += c["errors"]
    return counts, errors


def test_counts_per_route_template_equal_requests_sent(served: dict[str, Any]) -> None:
    counts, errors = _component_counts(served["base"])
    sent = served["sent"]
    assert counts["http_get_users_user_id_sessions_session_id"] == sent["ok"] == 30
    assert errors["http_get_users_user_id_sessions_session_id"] == 0
    assert counts["http_get_missing_item"] == errors["http_get_missing_item"] == sent["missing"]
    assert counts["http_get_error5"] == errors["http_get_error5"] == sent["error5"]
    assert counts["http_get_boom_token"] == errors["http_get_boom_token"] == sent["boom"]
    assert counts["http_get_stream"] == sent["stream"] and errors["http_get_stream"] == 0
    assert counts["http_ws_ws_room"] == 2


def test_exceptions_counted_and_reach_the_apps_handler_unchanged(served: dict[str, Any]) -> None:
    seen = served["seen"]
    assert len(seen) == 4 and all(type(e) is Boom for e in seen)
    assert [str(e) for e in seen] == [f"exploded for {SECRET_SESSIONS[i % 2]}" for i in range(4)]
    metrics = [r for r in _records(served["base"], "performance") if r.get("kind") == "metric"]
    assert sum(r["value"] for r in metrics if r["name"] == "http_exceptions") == 4
    assert sum(r["value"] for r in metrics if r["name"] == "websocket_connections") == 2
    gauges = [r for r in metrics if r["name"] == "http_requests_in_flight"]
    assert gauges and max(r["max"] for r in gauges) >= 1 and gauges[-1]["value"] == 0


def test_streaming_response_is_timed_to_its_last_byte(served: dict[str, Any]) -> None:
    reqs = [r for r in _records(served["base"], "performance")
            if r.get("kind") == "request" and r.get("component") == "http_get_stream"]
    assert len(reqs) == 3
    assert all(r["duration_ms"] >= 190.0 for r in reqs), [r["duration_ms"] for r in reqs]


def test_identified_requests_become_pseudonymized_user_events(served: dict[str, Any]) -> None:
    events = [r for r in _records(served["base"], "behavior_patterns") if r.get("event_type") == "api_request"]
    assert len(events) == 30
    assert {e["properties"]["component"] for e in events} == {"http_get_users_user_id_sessions_session_id"}
    assert len({e["user_hash"] for e in events}) == 3


def test_health_route_answers_in_the_hosts_shape(served: dict[str, Any]) -> None:
    r = served["health"]
    assert r.status_code == 200
    body = r.json()
    assert body["status"] in ("healthy", "degraded") and body["version"] == served["manager"].version
    assert "analytics_store" in body["checks"] and set(body["checks"]["analytics_store"]) == {"status", "reason"}


def test_no_raw_path_segment_or_id_in_any_file_or_name(served: dict[str, Any]) -> None:
    base: Path = served["base"]
    needles = [*SECRET_USERS, *SECRET_SESSIONS, "/users/", "/missing/", "/boom/"]
    for p in base.rglob("*"):
        for n in needles:
            assert n not in str(p.relative_to(base)), p
        if p.is_file():
            data = p.read_bytes()
            for n in needles:
                assert n.encode() not in data, (n, p)


def test_component_names_never_come_from_the_raw_path() -> None:
    namer = FFComponentNamer()
    assert namer.component({"type": "http", "method": "GET", "path": "/users/alice/sessions/9"}) == "http_get"
    bad_mapper = FFComponentNamer(lambda scope: scope["path"])
    assert bad_mapper.component({"type": "http", "method": "POST", "path": "/users/alice"}) == "http_post"
    assert bad_mapper.bad_mapper_names == 1
    good = FFComponentNamer(lambda scope: "chat_api")
    assert good.component({"type": "http", "method": "GET", "path": "/x/alice"}) == "chat_api"
    long = ff_component_from_template("GET", "/" + "/".join(f"{{p{i}}}" for i in range(30)))
    assert len(long) <= 64 and long != ff_component_from_template("GET", "/" + "/".join(f"{{q{i}}}" for i in range(30)))
    capped = FFComponentNamer(max_components=1)

    class R:
        def __init__(self, path: str) -> None:
            self.path = path

    assert capped.component({"type": "http", "method": "GET", "route": R("/a")}) == "http_get_a"
    assert capped.component({"type": "http", "method": "GET", "route": R("/b")}) == "http_get"


def test_middleware_refuses_bad_arguments_naming_them() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        pass

    with pytest.raises(TypeError, match="manager"):
        FFAnalyticsMiddleware(app, manager=object())
    with pytest.raises(ValueError, match="user_event"):
        FFAnalyticsMiddleware(app, manager=_Stub(), user_event="Bad Name")
    with pytest.raises(TypeError, match="identify"):
        FFAnalyticsMiddleware(app, manager=_Stub(), identify="nope")  # type: ignore[arg-type]


class _Stub:
    def record_request(self, *a: Any) -> None: ...

    def record_metric(self, *a: Any) -> None: ...
