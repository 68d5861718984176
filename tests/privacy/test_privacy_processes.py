"""Real processes: opt-out reaches another process within the bound; the user index merges writers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from ff_utils.ff_analytics_core.ff_clock import ff_parse_iso

pytest.importorskip("ff_class_configs.ff_analytics_configs.ff_analytics_manager_config")

ROOT = Path(__file__).resolve().parents[2]

_CHILD = r"""
import asyncio, sys, time
sys.path.insert(0, sys.argv[1])
from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO
from ff_metrics_collection_manager import FFMetricsCollectionManager

base, writer, mode = sys.argv[2], sys.argv[3], sys.argv[4]

async def main():
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = base
    cfg.analytics.enable_real_time_metrics = False
    cfg.analytics.consent_refresh_seconds = 0.2
    async with FFMetricsCollectionManager(cfg, writer_id=writer) as m:
        if mode == "loop":  # record carol every 5 ms until stdin closes
            sys.stdout.write("ready\n"); sys.stdout.flush()
            loop = asyncio.get_running_loop()
            stop = loop.run_in_executor(None, sys.stdin.read)
            while not stop.done():
                await m.record_user_analytics("carol", "s1", "page_view", {})
                await asyncio.sleep(0.005)
        else:  # index: sessions for 50 users
            for i in range(1000):
                await m.record_user_analytics(f"user{i % 50}", f"{writer}-s{i // 250}", "page_view", {})
asyncio.run(main())
"""


def _spawn(base: Path, writer: str, mode: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "FF_ANALYTICS_PSEUDONYM_KEY"}
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(ROOT), str(base), writer, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


async def test_opt_out_reaches_other_process_within_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import (
        FFAnalyticsManagerConfigDTO,
    )
    from ff_metrics_collection_manager import FFMetricsCollectionManager

    monkeypatch.delenv("FF_ANALYTICS_PSEUDONYM_KEY", raising=False)
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(tmp_path)
    cfg.analytics.enable_real_time_metrics = False
    async with FFMetricsCollectionManager(cfg, writer_id="parent") as m:
        await m.record_user_analytics("someone", "s", "page_view", {})  # creates the key first
        child = _spawn(tmp_path, "child", "loop")
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        assert await m.set_user_opt_out("carol", True)
        opted_at = time.time()
        time.sleep(0.6)
        child.communicate("", timeout=30)
        assert child.returncode == 0
        carol = m.privacy.pipeline.pseudonymizer.user_hash("carol")
        stamps = [
            ff_parse_iso(r["timestamp"]).timestamp()
            for s in ("behavior_patterns",)
            for r in m.store.read(s)
            if r["user_hash"] == carol
        ]
    bound = 0.2 + 0.05  # consent_refresh_seconds + one event interval and scheduling slack
    assert any(t < opted_at for t in stamps)  # the child was recording before
    late = [t - opted_at for t in stamps if t > opted_at + bound]
    assert late == [], late


def test_user_index_merges_concurrent_writers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FF_ANALYTICS_PSEUDONYM_KEY", raising=False)
    procs = [_spawn(tmp_path, f"w{i}", "index") for i in range(3)]
    for p in procs:
        p.communicate("", timeout=60)
        assert p.returncode == 0
    lines = [orjson.loads(x) for x in (tmp_path / "privacy_state" / "user_index.jsonl").read_bytes().splitlines()]
    totals: dict[str, list[int]] = {}
    for r in lines:
        t = totals.setdefault(r["h"], [0, 0])
        t[0] += r["ds"]
        t[1] += r["de"]
    assert len(totals) == 50  # the three processes agreed on one key: same pseudonyms
    assert sum(t[1] for t in totals.values()) == 3000
    # each writer runs 4 sequential sessions per user
    assert all(t == [12, 60] for t in totals.values()), list(totals.values())[:3]
    assert len({r["w"] for r in lines}) == 3
