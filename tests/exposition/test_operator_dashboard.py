"""Dashboard: panel data computed from the store, self-contained HTML, and a headless Chromium render.

The Chromium tests install the Debian ``chromium`` package when it is missing (skip only with the
reason if that fails), load the file with a fresh profile, and assert: no console messages (CSP
violations and script errors are console messages), every panel has an SVG chart with data points
in the browser's DOM, and no request left the file (Chromium's net log holds no request whose
initiator is the page). Negative controls prove each check can fail. Screenshots go to
``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ff_utils.ff_analytics_core.ff_clock import FFManualClock
from ff_utils.ff_analytics_exposition.ff_dashboard_data import ff_gather_dashboard_data, ff_merge_alerts
from ff_utils.ff_analytics_exposition.ff_dashboard_render import CSP, ff_render_dashboard
from tests._operator_helpers import START, build_synthetic_store, open_store

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
PANELS = ("resources", "response", "errors", "users", "features", "peak_hours", "alerts", "health", "bi")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("dash")
    totals = build_synthetic_store(base)
    return base, totals


def _data(base: Path):
    clock = FFManualClock(START.replace(day=4))
    return ff_gather_dashboard_data(open_store(base, clock), clock)


# ---------------------------------------------------------------------------------------- data
def test_every_panel_has_data_computed_from_the_store(synthetic: tuple[Path, dict]) -> None:
    base, totals = synthetic
    data = _data(base)
    assert [p.key for p in data.panels] == list(PANELS)
    for p in data.panels:
        assert p.has_data, f"{p.key}: {p.reason}"
    # read back the raw records and recompute independently
    store = open_store(base)
    raw = list(store.read("feature_usage"))
    assert len(raw) == totals["user_events"]
    by_day: dict[str, set[str]] = {}
    hod = [0] * 24
    feat_users: dict[str, set[str]] = {}
    for r in raw:
        by_day.setdefault(r["timestamp"][:10], set()).add(r["user_hash"])
        hod[int(r["timestamp"][11:13])] += 1
        for f in r["features_used"]:
            feat_users.setdefault(f, set()).add(r["user_hash"])
    users = data.panel("users")
    active = dict(users.series[0].points)
    assert active == {d: float(len(u)) for d, u in by_day.items()}
    seen: set[str] = set()
    for d in sorted(by_day):
        assert dict(users.series[1].points)[d] == len(by_day[d] - seen)
        seen |= by_day[d]
    assert users.summary["total_users"] == len(seen)
    peak = data.panel("peak_hours")
    assert [v for _, v in peak.series[0].points] == hod
    adoption = dict(data.panel("features").series[0].points)
    assert adoption == {f: round(len(u) / len(seen) * 100, 2) for f, u in feat_users.items()}
    res = data.panel("resources")
    assert {s.name for s in res.series} == {"cpu", "memory", "disk"}
    assert res.summary["cpu_max"] == max(r["cpu_usage_percent"] for r in store.read("resource_usage"))
    bi = data.panel("bi")  # the latest run's records of every BI stream, merged by insight_id
    assert any("slow responses" in i for i in bi.items) and any("scale out CPU" in i for i in bi.items)
    assert [v for _, v in bi.series[0].points] == [7.5, 8.0, 8.25, 6.5]
    errs = data.panel("errors")
    assert errs.summary["max"] == max(r["error_rate_percent"] for r in store.read("error_rates"))


def test_alert_rows_give_acknowledge_and_resolve_times(synthetic: tuple[Path, dict]) -> None:
    data = _data(synthetic[0])
    rows = {a["alert_id"]: a for a in data.panel("alerts").rows}
    assert rows["alert_a"]["ack_seconds"] == 1200.0
    assert rows["alert_a"]["resolve_seconds"] == 7200.0
    assert rows["alert_b"]["resolved"] is None and rows["alert_b"]["severity"] == "critical"


def test_merge_alerts_understands_lifecycle_snapshots_and_reopen() -> None:
    snap = {"alert_id": "a1", "timestamp": "2026-11-01T10:00:00.000000Z", "severity": "warning", "title": "t"}
    events = [
        {"event": "fired", "alert_id": "a1", "timestamp": "2026-11-01T10:00:00.000000Z", "alert": snap},
        {"event": "acknowledged", "alert_id": "a1", "timestamp": "2026-11-01T10:05:00.000000Z",
         "alert": {**snap, "acknowledged_at": "2026-11-01T10:05:00.000000Z"}},
        {"event": "resolved", "alert_id": "a1", "timestamp": "2026-11-01T11:00:00.000000Z",
         "alert": {**snap, "acknowledged_at": "2026-11-01T10:05:00.000000Z", "resolved_at": "2026-11-01T11:00:00.000000Z"}},
    ]
    (row,) = ff_merge_alerts(events)
    assert (row["ack_seconds"], row["resolve_seconds"]) == (300.0, 3600.0)
    reopened = events + [{"event": "reopened", "alert_id": "a1", "timestamp": "2026-11-01T12:00:00.000000Z",
                          "alert": {**snap, "resolved_at": None}}]
    (row,) = ff_merge_alerts(reversed(reopened))  # store order is not time order
    assert row["resolved"] is None and row["ack_seconds"] is None


def test_empty_store_panels_say_no_data_with_a_reason(tmp_path: Path) -> None:
    data = _data(tmp_path)
    html = ff_render_dashboard(data)
    for p in data.panels:
        assert not p.has_data and p.reason
        section = re.search(rf'<section [^>]*data-panel="{p.key}".*?</section>', html, re.S).group(0)
        assert "no data: " in section and "<svg" not in section


def test_html_is_self_contained(synthetic: tuple[Path, dict]) -> None:
    html = ff_render_dashboard(_data(synthetic[0]))
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in html
    assert CSP == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert "<script" not in html.lower()
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", html, re.I)
    assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", html, re.I)
    assert "@import" not in html and "@font-face" not in html
    for key in PANELS:
        section = re.search(rf'<section [^>]*data-panel="{key}".*?</section>', html, re.S).group(0)
        assert '<svg class="chart"' in section and 'class="pt"' in section, key


# ---------------------------------------------------------------------------------------- chromium
def _chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if os.path.exists(path):
        return path
    if os.geteuid() != 0:
        pytest.skip("chromium is not installed and installing it needs root")
    try:
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, capture_output=True, timeout=900)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"chromium is missing and `apt-get install -y chromium` failed: {exc}")
    if not os.path.exists("/usr/bin/chromium"):
        pytest.skip("apt-get install chromium finished but /usr/bin/chromium is missing")
    return "/usr/bin/chromium"


FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def _run_chromium(html_path: Path, tmp: Path, *extra: str) -> tuple[str, str, set[str]]:
    """``(dom, console_lines, page_request_urls)`` of one headless load."""
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    netlog = profile.with_suffix(".netlog.json")
    cmd = [_chromium(), *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
           f"--log-net-log={netlog}", *extra, html_path.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    console = "\n".join(line for line in proc.stderr.splitlines() if ":CONSOLE" in line)
    urls: set[str] = set()
    if netlog.exists():
        text = netlog.read_text(encoding="utf-8", errors="replace").rstrip().rstrip(",")
        if not text.endswith("}"):
            text += "]}"
        for e in json.loads(text).get("events", []):
            p = e.get("params") or {}
            # requests made on behalf of the page carry the file origin; the browser's own
            # background requests have no page initiator
            if "url" in p and ("file://" in str(p.get("network_isolation_key", "")) or p.get("initiator") == "null"):
                urls.add(p["url"])
    return proc.stdout, console, urls


class _PanelParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.panel = ""
        self.depth = 0
        self.found: dict[str, dict[str, int]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section" and a.get("data-panel"):
            self.panel = a["data-panel"] or ""
            self.found[self.panel] = {"svg": 0, "pt": 0, "nodata": 0}
        elif self.panel:
            if tag == "svg" and "chart" in (a.get("class") or ""):
                self.found[self.panel]["svg"] += 1
            if "pt" in (a.get("class") or "").split():
                self.found[self.panel]["pt"] += 1
            if "nodata" in (a.get("class") or ""):
                self.found[self.panel]["nodata"] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.panel = ""


def _panels_in_dom(dom: str) -> dict[str, dict[str, int]]:
    p = _PanelParser()
    p.feed(dom)
    return p.found


def test_negative_controls_prove_the_browser_checks_can_fail(tmp_path: Path) -> None:
    leak = tmp_path / "leak.html"
    leak.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png"></body></html>')
    _dom, _console, urls = _run_chromium(leak, tmp_path, "--dump-dom")
    assert "http://127.0.0.1:9/x.png" in urls
    blocked = tmp_path / "blocked.html"
    blocked.write_text(f'<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="{CSP}"></head>'
                       '<body><img src="http://127.0.0.1:9/y.png"></body></html>')
    _dom, console, urls = _run_chromium(blocked, tmp_path, "--dump-dom")
    assert "Content Security Policy" in console and not urls


def test_dashboard_renders_in_headless_chromium(synthetic: tuple[Path, dict], tmp_path: Path) -> None:
    out = tmp_path / "dashboard.html"
    rc = subprocess.run([sys.executable, "-m", "ff_metrics_collection_manager", "dashboard", "--base-path",
                         str(synthetic[0]), "--out", str(out), "--days", "0"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert rc.returncode == 0, rc.stderr
    dom, console, urls = _run_chromium(out, tmp_path, "--dump-dom")
    assert console == "", console
    assert urls == set(), urls
    panels = _panels_in_dom(dom)
    assert set(panels) == set(PANELS)
    for key, f in panels.items():
        assert f["svg"] >= 1 and f["pt"] >= 2 and f["nodata"] == 0, (key, f)
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height in ((1280, 2700), (390, 5400)):
        shot = ARTIFACTS / f"dashboard-{width}.png"
        shot.unlink(missing_ok=True)
        _dom, console, urls = _run_chromium(out, tmp_path, f"--window-size={width},{height}", f"--screenshot={shot}")
        assert console == "" and urls == set()
        assert shot.exists() and shot.stat().st_size > 20_000
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_dashboard_renders_with_every_panel(tmp_path: Path) -> None:
    base = tmp_path / "demo"
    rc = subprocess.run([sys.executable, "-m", "ff_metrics_collection_manager", "demo", "--base-path", str(base),
                         "--users", "40", "--days", "3", "--workers", "1", "--no-progress", "--start", "2026-11-01"],
                        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rc.returncode == 0, rc.stdout + rc.stderr
    dom, console, urls = _run_chromium(base / "dashboard.html", tmp_path, "--dump-dom")
    assert console == "" and urls == set(), (console, urls)
    panels = _panels_in_dom(dom)
    assert set(panels) == set(PANELS)
    for key, f in panels.items():
        assert f["svg"] >= 1 and f["pt"] >= 2, (key, f)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "demo-dashboard-1280.png"
    shot.unlink(missing_ok=True)
    _run_chromium(base / "dashboard.html", tmp_path, "--window-size=1280,2800", f"--screenshot={shot}")
    assert shot.exists() and shot.stat().st_size > 20_000
