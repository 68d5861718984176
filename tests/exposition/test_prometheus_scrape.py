"""``/metrics`` over real HTTP on 127.0.0.1 (``ff-metrics serve-metrics``) carries the same metric
families, names, labels and values as the textfile (``ff-metrics prometheus``), both parsed with
prometheus_client's parser; the ASGI helper answers the same; the library imports without the extra."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

VOLATILE = {"ff_textfile_generated_timestamp_seconds"}  # the time of generation, per scrape


def _families(text: str) -> dict[str, tuple[str, str, list[tuple[str, tuple, float]]]]:
    out = {}
    for fam in text_string_to_metric_families(text):
        samples = sorted((s.name, tuple(sorted(s.labels.items())), s.value) for s in fam.samples)
        if fam.name in VOLATILE:
            samples = [(n, labels, 0.0) for n, labels, _v in samples]
        out[fam.name] = (fam.type, fam.documentation, samples)
    return out


@pytest.fixture(scope="module")
def demo_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("scrape") / "store"
    p = subprocess.run([sys.executable, "-m", "ff_metrics_collection_manager", "demo", "--base-path", str(base),
                        "--users", "30", "--days", "2", "--workers", "1", "--start", "2026-11-01"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    return base


def test_http_metrics_equal_the_textfile_families(demo_base: Path, tmp_path: Path) -> None:
    prom = tmp_path / "ff.prom"
    p = subprocess.run([sys.executable, "-m", "ff_metrics_collection_manager", "prometheus", "--base-path",
                        str(demo_base), "--out", str(prom)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    srv = subprocess.Popen([sys.executable, "-m", "ff_metrics_collection_manager", "serve-metrics", "--base-path",
                            str(demo_base), "--port", "0", "--duration", "60"],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = srv.stdout.readline()
        assert line.startswith("serving http://127.0.0.1:"), (line, srv.stderr.read() if srv.poll() else "")
        url = line.split()[1]
        with urllib.request.urlopen(url, timeout=60) as resp:
            assert resp.status == 200
            body = resp.read().decode()
    finally:
        srv.terminate()
        srv.wait(timeout=30)
    http, textfile = _families(body), _families(prom.read_text())
    assert len(textfile) >= 5
    assert http == textfile


def test_asgi_app_answers_the_same(demo_base: Path) -> None:
    from ff_utils.ff_analytics_exposition.ff_prometheus_exposition import (
        FFPromFamilyDTO,
        ff_render_exposition,
    )
    from ff_utils.ff_analytics_exposition.ff_prometheus_scrape import ff_make_metrics_asgi_app

    fams = [FFPromFamilyDTO("ff_analytics_x", "an x", "gauge").add(2.5, component="api"),
            FFPromFamilyDTO("ff_analytics_y", "a y", "gauge").add(1)]
    app = ff_make_metrics_asgi_app(lambda: fams)
    sent: list[dict] = []

    async def call() -> None:
        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(msg: dict) -> None:
            sent.append(msg)

        await app({"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": []}, receive, send)

    asyncio.run(call())
    assert sent[0]["status"] == 200
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body").decode()
    assert _families(body) == _families(ff_render_exposition(fams))


def test_library_imports_without_prometheus_client_and_names_the_extra() -> None:
    code = ("import sys; sys.modules['prometheus_client'] = None\n"
            "import ff_metrics_collection_manager\n"
            "from ff_utils.ff_analytics_exposition import ff_prometheus_scrape as s\n"
            "try:\n    s.ff_make_metrics_asgi_app(list)\nexcept ImportError as e:\n    print('ERR', e)\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "ERR" in p.stdout and "ff-analytics-manager[prometheus]" in p.stdout
