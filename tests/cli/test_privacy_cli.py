"""CLI export-user / erase-user, and the analytics bench runs and reads back."""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest

from ff_utils.ff_analytics_privacy.ff_privacy_pseudonymizer import DEFAULT_KEY_ENV_VAR

pytest.importorskip("ff_class_configs.ff_analytics_configs.ff_analytics_manager_config")

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO  # noqa: E402
from ff_metrics_collection_manager import (
    FFMetricsCollectionManager,  # noqa: E402
    main,  # noqa: E402
)


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEFAULT_KEY_ENV_VAR, raising=False)


def _seed(base: Path) -> None:
    async def go() -> None:
        cfg = FFAnalyticsManagerConfigDTO()
        cfg.storage.base_path = str(base)
        cfg.analytics.enable_real_time_metrics = False
        async with FFMetricsCollectionManager(cfg, writer_id="seed") as m:
            for i in range(30):
                await m.record_user_analytics(("alice", "bob", "carol")[i % 3], f"s{i % 4}", "page_view", {"page": f"/p{i}"})

    asyncio.run(go())


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_export_and_erase_user_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(tmp_path)
    code, out, _err = _run(["export-user", "alice", "--base-path", str(tmp_path), "--format", "json"], capsys)
    assert code == 0
    exp = orjson.loads(out)
    assert exp["total_records"] == 10 and exp["counts"]["behavior_patterns"] == 10
    assert all(r["user_hash"] == exp["user_hash"] for r in exp["records"]["behavior_patterns"])

    target = tmp_path / "alice-export.json"
    code, out, _ = _run(["export-user", "alice", "--base-path", str(tmp_path), "--output", str(target)], capsys)
    assert code == 0 and orjson.loads(target.read_bytes())["total_records"] == 10
    assert (target.stat().st_mode & 0o777) == 0o600

    code, _out, err = _run(["erase-user", "alice", "--base-path", str(tmp_path)], capsys)
    assert code == 2 and "--yes" in err

    code, out, _ = _run(["erase-user", "alice", "--base-path", str(tmp_path), "--yes", "--format", "json"], capsys)
    assert code == 0
    res = orjson.loads(out)
    assert res["records_removed_total"] == 10 and res["outcome"] == "success"

    old_stdin = sys.stdin
    sys.stdin = io.StringIO("alice\n")
    try:
        code, out, _ = _run(["export-user", "-", "--base-path", str(tmp_path), "--format", "json"], capsys)
    finally:
        sys.stdin = old_stdin
    assert code == 0 and orjson.loads(out)["total_records"] == 0
    code, out, _ = _run(["export-user", "bob", "--base-path", str(tmp_path), "--format", "json"], capsys)
    assert orjson.loads(out)["total_records"] == 10  # others untouched


def test_bench_analytics_small(tmp_path: Path) -> None:
    from ff_utils.ff_analytics_bench import ff_analytics_bench as bench

    args = SimpleNamespace(events=3000, users=300, batch=500, fsync_policy="batch", dir=str(tmp_path),
                           manager_factory=FFMetricsCollectionManager)
    res = bench.run(args)
    assert res["read_back_ok"] is True
    assert res["single_stored"] == 3000 + 1 and res["batch_stored"] == 3000
    assert res["single_events_per_s"] > 0 and res["batch_events_per_s"] > 0


def test_export_on_a_store_without_key_fails_clearly_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "empty"
    code, _out, err = _run(["export-user", "alice", "--base-path", str(base)], capsys)
    assert code == 2 and "no pseudonym key" in err and "key_file" in err
    code, _out, err = _run(["erase-user", "alice", "--yes", "--base-path", str(base)], capsys)
    assert code == 2 and "no pseudonym key" in err
    assert not (base / "keys").exists()
