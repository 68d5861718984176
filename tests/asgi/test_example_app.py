"""examples/fastapi_chat_app.py as a host runs it: a real server process, real HTTP load, SIGTERM.

The store is then read back: exact request and event counts, DuckDB agrees, and no raw user id,
session id, message text or request path is in any file or file name.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
duckdb = pytest.importorskip("duckdb")

from tests.asgi._asgi_server import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
USERS = [f"user-{c}-{i:03d}" for i, c in enumerate("qwerty")]
SESSIONS = [f"session-{i}-zx{i * 7}" for i in range(4)]
TEXT = "the launch codes are ultramarine-{}"
POSTS, GETS = 48, 24


def _records(base: Path, category: str) -> list[dict]:
    out = []
    for p in sorted((base / "analytics" / category).rglob("*.jsonl")):
        out += [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
    return out


def test_example_app_under_load_then_sigterm(tmp_path: Path) -> None:
    store = tmp_path / "store"
    port = free_port()
    env = {**os.environ, "PORT": str(port), "FF_ANALYTICS_BASE_PATH": str(store), "FF_ANALYTICS_ENVIRONMENT": "test"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "examples" / "fastapi_chat_app.py")], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "the example app did not start"
            time.sleep(0.1)
        with httpx.Client(base_url=url, timeout=30) as client:
            for i in range(POSTS):
                u, s = USERS[i % len(USERS)], SESSIONS[i % len(SESSIONS)]
                r = client.post(f"/users/{u}/sessions/{s}/messages", json={"text": TEXT.format(i)},
                                headers={"x-user-id": u, "x-session-id": s})
                assert r.status_code == 200 and r.json()["chars"] == len(TEXT.format(i))
            for i in range(GETS):
                u, s = USERS[i % len(USERS)], SESSIONS[i % len(SESSIONS)]
                assert client.get(f"/users/{u}/sessions/{s}", headers={"x-user-id": u, "x-session-id": s}).status_code == 200
            health = client.get("/health").json()
        assert health["checks"]["chat_storage"]["status"] == "healthy"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    # uvicorn shuts down gracefully (lifespan: the manager flushes and closes), then re-raises SIGTERM
    assert proc.returncode in (0, -signal.SIGTERM), err[-2000:]
    assert "Traceback" not in err, err[-2000:]

    users = _records(store, "user_analytics")
    by_type = Counter(r["event_type"] for r in users)
    assert by_type == {"message_sent": POSTS, "page_view": GETS, "api_request": POSTS + GETS}
    sent = [r for r in users if r["event_type"] == "message_sent"]
    assert {r["properties"]["message_length"] for r in sent} == {len(TEXT.format(i)) for i in range(POSTS)}
    assert len({r["user_hash"] for r in users}) == len(USERS)

    counts: Counter[str] = Counter()
    for rec in _records(store, "system_metrics"):
        if rec.get("kind") == "window" and "components" in rec and "request_count" in rec:
            for name, c in rec["components"].items():
                counts[name] += c["count"]
    assert counts["http_post_users_user_id_sessions_session_id_messages"] == POSTS
    assert counts["http_get_users_user_id_sessions_session_id"] == GETS
    assert counts["http_get_health"] >= 2, counts  # the readiness polls and the final check

    glob = str(store / "analytics" / "user_analytics" / "*" / "date=*" / "*.jsonl*")
    n = duckdb.sql(f"SELECT count(*) FROM read_json('{glob}', hive_partitioning=true, union_by_name=true)").fetchall()[0][0]
    assert n == len(users)

    needles = [*USERS, *SESSIONS, "ultramarine", "launch codes", "/users/", "/sessions/"]
    for p in store.rglob("*"):
        rel = str(p.relative_to(store))
        assert not any(n in rel for n in needles), rel
        if p.is_file():
            data = p.read_bytes()
            leaked = [n for n in needles if n.encode() in data]
            assert not leaked, (leaked, rel)


def test_readme_fastapi_section_is_the_example_file() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = (ROOT / "examples" / "fastapi_chat_app.py").read_text(encoding="utf-8")
    assert "### In a FastAPI app" in readme
    assert f"```python\n{example}```" in readme
