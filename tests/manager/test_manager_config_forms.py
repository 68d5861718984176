"""The forms of ``config`` the manager accepts (issue 14, point 3), each read back from the store it writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ff_metrics_collection_manager import (
    FFAnalyticsConfigDTO,
    FFAnalyticsManagerConfigDTO,
    FFConfigError,
    FFMetricsCollectionManager,
)


@dataclass
class HostStorage:
    base_path: str = "./host_chat_data"  # the host's own data: never the analytics store


@dataclass
class HostRoot:
    """The spec's shape: a host root config with an ``analytics`` field."""

    storage: HostStorage = field(default_factory=HostStorage)
    environment: str | None = "production"
    analytics: FFAnalyticsConfigDTO = field(default_factory=FFAnalyticsConfigDTO)


async def _events_written(manager: FFMetricsCollectionManager, n: int = 3) -> Path:
    assert await manager.initialize_analytics_system(start_collection=False)
    for i in range(n):
        assert await manager.record_user_analytics(f"u{i}", "s", "feature_usage", {"features": ["search"]})
    await manager.close()
    return manager.analytics_path


def _count(analytics_path: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in (analytics_path / "user_analytics").rglob("*.jsonl"))


async def test_host_root_config_uses_analytics_and_its_environment(tmp_path: Path) -> None:
    root = HostRoot()
    root.analytics.store_base_path = str(tmp_path / "store")
    m = FFMetricsCollectionManager(root)
    assert m.environment == "production" and m.analytics_config is root.analytics
    path = await _events_written(m)
    assert path == tmp_path / "store" / "analytics"
    assert _count(path) == 3


async def test_host_root_without_store_base_path_writes_analytics_data_not_the_hosts_storage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    m = FFMetricsCollectionManager(HostRoot())
    path = await _events_written(m)
    assert path.resolve() == (tmp_path / "analytics_data" / "analytics").resolve()
    assert _count(path) == 3
    assert not (tmp_path / "host_chat_data").exists()


async def test_bare_analytics_config(tmp_path: Path) -> None:
    ac = FFAnalyticsConfigDTO()
    ac.store_base_path = str(tmp_path / "bare")
    m = FFMetricsCollectionManager(ac)
    assert _count(await _events_written(m)) == 3


async def test_library_root_config_uses_storage_base_path(tmp_path: Path) -> None:
    cfg = FFAnalyticsManagerConfigDTO()
    cfg.storage.base_path = str(tmp_path / "lib")
    m = FFMetricsCollectionManager(cfg)
    path = await _events_written(m)
    assert path == tmp_path / "lib" / "analytics" and _count(path) == 3


def test_wrong_types_raise_naming_the_argument() -> None:
    with pytest.raises(TypeError, match=r"^config: expected FFAnalyticsManagerConfigDTO"):
        FFMetricsCollectionManager(object())
    with pytest.raises(TypeError, match=r"^config: .*got dict"):
        FFMetricsCollectionManager({"analytics": {}})
    bad = HostRoot()
    bad.analytics = {"sampling_rate": 1.0}  # type: ignore[assignment]
    with pytest.raises(TypeError, match=r"^config\.analytics: expected FFAnalyticsConfigDTO, got dict"):
        FFMetricsCollectionManager(bad)


def test_invalid_analytics_fields_of_a_host_root_are_named_with_their_path(tmp_path: Path) -> None:
    root = HostRoot()
    root.analytics.store_base_path = str(tmp_path)
    root.analytics.sampling_rate = 1.5
    root.analytics.collection_interval_seconds = -5
    with pytest.raises(FFConfigError) as exc:
        FFMetricsCollectionManager(root)
    text = str(exc.value)
    assert "analytics.sampling_rate" in text and "analytics.collection_interval_seconds" in text
