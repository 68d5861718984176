"""Table output fits 100 columns (long lists wrap or end with a count); ``--format json`` stays complete."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ff_class_configs.ff_analytics_configs.ff_analytics_manager_config import FFAnalyticsManagerConfigDTO
from ff_metrics_collection_manager import FFMetricsCollectionManager
from ff_metrics_collection_manager import main as run_cli
from ff_utils.ff_analytics_cli.ff_cli_table import TABLE_WIDTH, ff_wrap_cell, format_table
from ff_utils.ff_analytics_core.ff_clock import FFManualClock, ff_iso
from tests._bi_events import FFTestBIEvent

FEATURES = [f"feature_with_a_rather_long_name_{i:02d}" for i in range(12)]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fits")
    now = datetime.now(UTC)

    async def setup() -> None:
        cfg = FFAnalyticsManagerConfigDTO()
        cfg.storage.base_path = str(root)
        cfg.analytics.fsync_policy = "never"
        clock = FFManualClock(now - timedelta(days=8))
        m = FFMetricsCollectionManager(cfg, clock=clock, writer_id="fits-test")
        await m.initialize_analytics_system(start_collection=False)
        for d in range(8):
            for u in range(40):
                clock.set(now - timedelta(days=8 - d, minutes=u))
                m.bi.observe_user_event(FFTestBIEvent(ff_iso(clock.now()), f"fits-user-{u}", event_type="feature_usage",
                                                features_used=FEATURES[: 6 + u % 7], platform="web"))
        await m.close()

    asyncio.run(setup())
    return root


def _lines(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


@pytest.mark.parametrize("argv", [
    ["bi", "--period", "week"],
    ["report", "--period", "week"],
    ["report", "--period", "week", "--format", "table"],
])
def test_table_mode_fits_100_columns(store: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli([*argv, "--base-path", str(store), "--force"] if argv[0] == "report" else
                   [*argv, "--base-path", str(store)]) == 0
    out = capsys.readouterr().out
    lines = _lines(out)
    assert len(lines) > 10
    too_long = [line for line in lines if len(line) > TABLE_WIDTH]
    assert not too_long, f"{len(too_long)} lines over {TABLE_WIDTH} columns, e.g. {len(too_long[0])}: {too_long[0][:120]!r}"
    assert not out.lstrip().startswith("{"), "table mode printed JSON"
    assert all(line == line.rstrip() for line in lines), "lines padded with trailing blanks"


def test_bi_table_shows_every_feature_of_the_list(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["bi", "--period", "week", "--base-path", str(store), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    top = [r["feature"] for r in data["most_used_features"]]
    assert len(top) == 10 and set(data["feature_adoption_rates"]) == set(FEATURES)  # json is complete
    assert run_cli(["bi", "--period", "week", "--base-path", str(store)]) == 0
    table = capsys.readouterr().out
    # each listed feature is either shown (wrapped) or counted in a "(+N more)" marker
    shown = [f for f in top if f in table]
    more = [int(m.split("+")[1].split()[0]) for m in table.split("… (")[1:]]
    assert len(shown) + sum(more) >= len(top) and shown


def test_report_json_is_the_complete_file(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["report", "--period", "week", "--format", "json", "--base-path", str(store), "--force"]) == 0
    out = capsys.readouterr()
    path = out.err.strip().split("report: ", 1)[1]
    assert json.loads(out.out) == json.loads(Path(path).read_text())
    assert {r["feature"] for r in json.loads(out.out)["business_intelligence"]["most_used_features"]} <= set(FEATURES)


def test_long_list_ends_with_a_count() -> None:
    items = [f"item-{i:03d}" for i in range(200)]
    lines = ff_wrap_cell(items, 40, max_lines=4)
    assert len(lines) == 4 and all(len(line) <= 40 for line in lines)
    shown = sum(line.count("item-") for line in lines[:-1])
    assert lines[-1] == f"… (+{200 - shown} more)"
    assert ff_wrap_cell("a " * 300, 20, max_lines=2)[-1].endswith("…")
    assert ff_wrap_cell([1, 2, 3], 40) == ["1, 2, 3"]


def test_format_table_shares_width_and_falls_back_to_records() -> None:
    rows = [{"name": "short", "id": "x" * 30, "text": "word " * 60}]
    out = format_table(rows, ["name", "id", "text"], fixed=["id"])
    lines = out.split("\n")
    assert all(len(line) <= TABLE_WIDTH for line in lines) and "x" * 30 in out  # fixed column whole
    assert len(lines) > 3  # the long text wrapped
    wide = [{f"column_{i}": "value_" + "v" * 10 for i in range(12)}]
    rec = format_table(wide)
    assert all(len(line) <= TABLE_WIDTH for line in rec.split("\n"))
    assert rec.split("\n")[0].split() == ["column_0", "value_vvvvvvvvvv"]
    assert format_table([{"a": 1, "b": "two"}]) == "a  b\n-  ---\n1  two"
