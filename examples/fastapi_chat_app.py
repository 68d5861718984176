"""A small chat API with the FF analytics manager: middleware, health route and user events.

Run:  pip install -e '.[dev]' && python examples/fastapi_chat_app.py   (127.0.0.1:8000)
Try:  curl -X POST localhost:8000/users/alice/sessions/s1/messages -H 'content-type: application/json' \
           -H 'x-user-id: alice' -H 'x-session-id: s1' -d '{"text": "hello"}'
      curl localhost:8000/health
Store: FF_ANALYTICS_BASE_PATH (default analytics_data/); SIGTERM or Ctrl-C flushes and closes it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ff_metrics_collection_manager import FFMetricsCollectionManager, load_config
from ff_utils.ff_analytics_asgi import FFAnalyticsMiddleware, ff_health_report

analytics = FFMetricsCollectionManager(load_config(environment=os.environ.get("FF_ANALYTICS_ENVIRONMENT", "development")))


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await analytics.initialize_analytics_system()  # store tree + metadata; collection per the config
    yield
    await analytics.close()                         # flush and close: nothing buffered is lost


def identify(scope: dict[str, Any]) -> tuple[str, str] | None:
    """Who is calling: the host's own auth decides (here, two headers). Bodies are never read."""
    headers = dict(scope.get("headers") or [])
    user, session = headers.get(b"x-user-id"), headers.get(b"x-session-id")
    return (user.decode(), session.decode()) if user and session else None


app = FastAPI(title="chat", lifespan=lifespan)
app.add_middleware(FFAnalyticsMiddleware, manager=analytics, identify=identify, user_event="api_request")


async def storage_check() -> bool:
    return True  # the host's own check (database, vector store, ...): True, False, or {"status", "reason"}


@app.get("/health")
async def health() -> JSONResponse:
    """200 healthy/degraded, 503 unhealthy; {"status", "version", "checked_at", "reasons", "checks"}."""
    code, body = await ff_health_report(analytics, {"chat_storage": storage_check})
    return JSONResponse(body, status_code=code)


class MessageIn(BaseModel):
    text: str


@app.post("/users/{user_id}/sessions/{session_id}/messages")
async def send_message(user_id: str, session_id: str, message: MessageIn) -> dict[str, Any]:
    # a free-form event: ids and message text never reach a file (pseudonyms; text -> its length)
    await analytics.record_user_analytics(user_id, session_id, "message_sent",
                                          {"message": message.text, "session": session_id, "model": "demo"})
    return {"reply": message.text[::-1], "chars": len(message.text)}


@app.get("/users/{user_id}/sessions/{session_id}")
async def get_session(user_id: str, session_id: str) -> dict[str, Any]:
    await analytics.record_user_analytics(user_id, session_id, "page_view", {"platform": "web"})
    return {"session": "open"}


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")), log_level="warning")
