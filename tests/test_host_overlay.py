"""The library inside the flatfile chat backend, both ways a host developer embeds it.

A stand-in host tree (``tests/_host_standin.py``: the host's paths, each module a marker, the host's
import shape) gets this library (a) copied in by ``ff-metrics embed`` and (b) ``pip install``-ed into
a fresh venv while the host runs from its own tree, first on ``sys.path``. Each time: no host file
changes, the host's modules import as before, the host's root config carries ``analytics`` (the line
``embed`` prints), and a manager workload built from that root config writes and reads back its store.
The interpreters are fresh venvs holding only the runtime dependencies (plus, for (b), this project),
so nothing of this checkout leaks in.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests._host_standin import ROOT_CONFIG, add_analytics_to_root_config, build_host, host_paths, snapshot

ROOT = Path(__file__).resolve().parents[1]
SHARED = ("ff_utils", "ff_class_configs", "ff_protocols")
RUNTIME_DEPS = ("psutil", "aiofiles", "orjson")
EVENTS = 48
USERS = 12

# Runs with the host's directory as the working directory (``-c``: the host is sys.path[0]).
WORKLOAD = r"""
import asyncio, json, os, sys
from pathlib import Path

import ff_chat_api  # the host app: its root config imports FFAnalyticsConfigDTO from the library
from ff_class_configs.ff_configuration_manager_config import FFConfigurationManagerConfigDTO
import ff_class_configs, ff_protocols, ff_utils
from ff_utils import ff_atomic_write
from ff_utils.ff_json_utils import ff_append_jsonl
from ff_utils.ff_logging import get_logger
from ff_class_configs.ff_chat_entities_config import current_timestamp
from ff_metrics_collection_manager import FFAnalyticsConfigDTO, FFMetricsCollectionManager
import ff_metrics_collection_manager
import ff_utils.ff_analytics_store.ff_stream_store as stream_store
import ff_class_configs.ff_analytics_configs.ff_analytics_config as analytics_config
import ff_protocols.ff_analytics_protocols as analytics_protocols

store_dir, events, users = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
host_markers = {
    "ff_utils": ff_utils.HOST_MARKER,
    "ff_class_configs": ff_class_configs.HOST_MARKER,
    "ff_protocols": ff_protocols.HOST_MARKER,
    "root_config": sys.modules["ff_class_configs.ff_configuration_manager_config"].HOST_MARKER,
    "ff_json_utils": sys.modules["ff_utils.ff_json_utils"].HOST_MARKER,
    "ff_logging": sys.modules["ff_utils.ff_logging"].HOST_MARKER,
    "ff_chat_api": ff_chat_api.HOST_MARKER,
}
host_calls = {
    "ff_atomic_write": asyncio.run(ff_atomic_write("x", b"", None)),
    "ff_append_jsonl": asyncio.run(ff_append_jsonl("x", {}, None)),
    "get_logger": get_logger("t").name,
    "current_timestamp": current_timestamp(),
}
root = FFConfigurationManagerConfigDTO(environment="test")
assert isinstance(root.analytics, FFAnalyticsConfigDTO), type(root.analytics)
root.analytics.store_base_path = store_dir


async def go():
    manager = FFMetricsCollectionManager(root)
    assert await manager.initialize_analytics_system(start_collection=False)
    for i in range(events):
        ok = await manager.record_user_analytics(f"host-user-{i % users}", f"host-session-{i % 3}",
                                                 "feature_usage", {"features": ["search"]})
        assert ok
    manager.record_request("chat_api", duration_ms=12.5, success=True)
    await manager.aflush()
    bi = await manager.generate_business_intelligence("day")
    await manager.close()
    return manager, bi


manager, bi = asyncio.run(go())
print(json.dumps({
    "host_markers": host_markers,
    "host_calls": host_calls,
    "library_files": {
        "manager": ff_metrics_collection_manager.__file__,
        "stream_store": stream_store.__file__,
        "analytics_config": analytics_config.__file__,
        "analytics_protocols": analytics_protocols.__file__,
    },
    "host_files": {"ff_utils": ff_utils.__file__, "ff_protocols": ff_protocols.__file__},
    "environment": manager.environment,
    "store": str(manager.analytics_path),
    "bi": bi.to_dict() if hasattr(bi, "to_dict") else None,
}))
"""


def _make_venv(path: Path, *packages: str) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    python = path / "bin" / "python"
    r = subprocess.run([str(python), "-m", "pip", "install", "-q", *packages], capture_output=True, text=True,
                       timeout=600)
    if r.returncode != 0:
        pytest.skip(f"cannot install {packages} into a fresh venv here: {r.stderr[-400:]}")
    return python


def _project_copy(dest: Path) -> Path:
    """This checkout's tracked files plus the working tree's (what ``git clone`` would hold)."""
    tracked = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    for rel in tracked:
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "FF_ANALYTICS_", "VIRTUAL_ENV"))}


def _run_workload(python: Path, host: Path, store: Path) -> dict:
    r = subprocess.run([str(python), "-c", WORKLOAD, str(store), str(EVENTS), str(USERS)], cwd=host,
                       capture_output=True, text=True, timeout=300, env=_clean_env())
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def _assert_workload(out: dict, host: Path, store: Path) -> None:
    for name, marker in out["host_markers"].items():
        assert marker.endswith(".py"), (name, marker)
    assert out["host_markers"]["root_config"] == ROOT_CONFIG
    assert out["host_calls"] == {"ff_atomic_write": "host ff_atomic_write", "ff_append_jsonl": "host ff_append_jsonl",
                                 "get_logger": "host.t", "current_timestamp": "host timestamp"}
    assert Path(out["host_files"]["ff_utils"]).resolve() == (host / "ff_utils" / "__init__.py").resolve()
    assert Path(out["host_files"]["ff_protocols"]).resolve() == (host / "ff_protocols" / "__init__.py").resolve()
    assert out["environment"] == "test"
    # read back what the workload wrote: every event, pseudonymized, and BI counting them
    lines = [json.loads(line) for p in sorted(store.rglob("*.jsonl")) if "user_analytics" in p.parts
             for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    events = [r for r in lines if r.get("event_type") == "feature_usage"]
    assert len(events) == EVENTS
    everything = b"".join(p.read_bytes() for p in store.rglob("*") if p.is_file())
    assert b"host-user-" not in everything and b"host-session-" not in everything
    bi = out["bi"]
    assert bi is not None and bi["active_users"] == USERS, bi
    assert {f["feature"]: f["users"] for f in bi["most_used_features"]}.get("search") == USERS, bi


@pytest.fixture(scope="module")
def deps_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the runtime dependencies only (no copy of this project)."""
    return _make_venv(tmp_path_factory.mktemp("venv-deps"), *RUNTIME_DEPS)


def test_no_project_file_sits_at_a_host_path() -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    assert files, "no files listed"
    clash = sorted(set(files) & host_paths())
    assert clash == [], f"project files at host paths: {clash}"
    for rel in files:
        parts = Path(rel).parts
        if parts[0] in SHARED:
            assert len(parts) >= 3 and parts[1].startswith("ff_analytics_"), (
                f"{rel}: library files under {parts[0]}/ must sit in an ff_analytics_* subpackage")
    for shared in SHARED:
        assert not (ROOT / shared / "__init__.py").exists(), f"{shared}/__init__.py belongs to the host"


def test_the_meta_test_fails_on_a_clash() -> None:
    """The clash check above can fail: a host path among project files is reported."""
    clash = sorted({"ff_utils/ff_file_ops.py", "ff_utils/ff_analytics_core/ff_clock.py"} & host_paths())
    assert clash == ["ff_utils/ff_file_ops.py"]


def test_embed_copies_into_the_host_and_changes_no_host_file(tmp_path: Path, deps_python: Path) -> None:
    host = tmp_path / "host"
    before = build_host(host)
    r = subprocess.run([sys.executable, "-m", "ff_metrics_collection_manager", "embed", str(host), "--format",
                        "json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert snapshot(host, before) == before, "a host file changed"
    assert report["conflicts"] == [] and report["config_file"] == ROOT_CONFIG
    assert "ff_metrics_collection_manager.py" in report["files"]
    assert "ff_utils/ff_analytics_store/ff_stream_store.py" in report["files"]
    assert "ff_utils/ff_analytics_core/py.typed" in report["files"]
    assert not set(report["files"]) & set(before)
    for rel in report["files"]:
        assert (host / rel).read_bytes() == (ROOT / rel).read_bytes(), rel
        assert "__pycache__" not in rel
    assert not [p for p in host.rglob("*") if p.name.startswith(".ff-tmp.")]

    # a second embed refuses, lists what exists, and copies nothing
    marker = host / "ff_utils" / "ff_analytics_core" / "ff_clock.py"
    marker.write_text("# the host's local edit\n")
    r2 = subprocess.run([sys.executable, "-m", "ff_metrics_collection_manager", "embed", str(host)], cwd=ROOT,
                        capture_output=True, text=True, timeout=120)
    assert r2.returncode == 1
    assert "refusing to overwrite" in r2.stdout and "ff_utils/ff_analytics_core/ff_clock.py" in r2.stdout
    assert marker.read_text() == "# the host's local edit\n"
    marker.write_bytes((ROOT / "ff_utils/ff_analytics_core/ff_clock.py").read_bytes())

    # the host developer adds the two printed lines to the root config, then runs the host
    import_line, field_line = report["config_lines"]
    add_analytics_to_root_config(host, import_line, field_line)
    store = tmp_path / "store"
    out = _run_workload(deps_python, host, store)
    _assert_workload(out, host, store)
    for name, path in out["library_files"].items():
        assert Path(path).resolve().is_relative_to(host.resolve()), (name, path)


def test_embed_rolls_back_when_a_copy_fails(tmp_path: Path) -> None:
    from ff_utils.ff_analytics_cli.ff_cli_support import FFCliError
    from ff_utils.ff_analytics_cli.ff_embed_commands import ff_embed_copy, ff_embed_plan

    host = tmp_path / "host"
    before = build_host(host)
    plan = ff_embed_plan(host)
    source, target = plan.files[len(plan.files) // 2]
    plan.files[len(plan.files) // 2] = (tmp_path / "no-such-source.py", target)
    with pytest.raises(FFCliError, match="nothing left behind"):
        ff_embed_copy(plan)
    assert snapshot(host, before) == before
    now = {p.relative_to(host).as_posix() for p in host.rglob("*") if p.is_file()}
    assert now == set(before), sorted(now - set(before))[:5]
    assert not (host / "ff_utils" / "ff_analytics_core").exists()


def test_embed_refuses_a_missing_host_dir(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "ff_metrics_collection_manager", "embed", str(tmp_path / "nope")],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "HOST_DIR" in r.stderr


def test_pip_installed_beside_a_host_that_runs_from_its_own_tree(tmp_path: Path) -> None:
    project = _project_copy(tmp_path / "project")
    python = _make_venv(tmp_path / "venv", str(project))
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    for shared in SHARED:
        assert not (Path(site) / shared / "__init__.py").exists(), f"the wheel ships {shared}/__init__.py"
    assert (Path(site) / "ff_utils" / "ff_analytics_core" / "py.typed").is_file()

    host = tmp_path / "host"
    before = build_host(host)
    add_analytics_to_root_config(host, "from ff_metrics_collection_manager import FFAnalyticsConfigDTO",
                                 "analytics: FFAnalyticsConfigDTO = field(default_factory=FFAnalyticsConfigDTO)")
    store = tmp_path / "store"
    out = _run_workload(python, host, store)
    _assert_workload(out, host, store)
    for name, path in out["library_files"].items():
        assert Path(path).resolve().is_relative_to(Path(site).resolve()), (name, path)
    unchanged = {k: v for k, v in before.items() if k != ROOT_CONFIG}
    assert snapshot(host, unchanged) == unchanged
    version = subprocess.run([str(python), "-m", "ff_metrics_collection_manager", "--version"], cwd=host,
                             capture_output=True, text=True, timeout=60, env=_clean_env())
    assert version.returncode == 0 and version.stdout.startswith("ff-metrics "), version.stderr
