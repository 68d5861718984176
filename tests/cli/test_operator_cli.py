"""CLI consistency across every ``ff-metrics`` subcommand (the ones of all issues, gathered here).

Every leaf command accepts the common flags, its ``--help`` renders and shows an example, the
issue's command list is complete, and errors are one line with a non-zero exit code.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from ff_utils.ff_analytics_cli.ff_cli_main import build_parser

ROOT = Path(__file__).resolve().parents[2]
COMMON = ("--base-path", "--config", "--env", "--format")
REQUIRED = ("init", "run", "status", "bi", "report", "alerts", "analyze", "export", "export-user", "erase-user",
            "verify-audit", "compliance-report", "cleanup", "dashboard", "bench", "prometheus", "demo")
# Known defects in other modules, reported to the lead; strict: the test fails once they are fixed
KNOWN: dict[str, str] = {}  # subcommand -> known bug (strict xfail); empty: every subcommand passes


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return [(path, parser)]
    out = []
    for name, sp in subs[0].choices.items():
        out += _leaves(sp, (*path, name))
    return out


def _tops() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_command_of_the_issue_exists() -> None:
    assert set(REQUIRED) <= set(_tops())


def _cases() -> list:
    out = []
    for top, sp in _tops().items():
        mark = [pytest.mark.xfail(strict=True, reason=KNOWN[top])] if top in KNOWN else []
        out.append(pytest.param(top, sp, id=top, marks=mark))
    return out


@pytest.mark.parametrize("top, parser", _cases())
def test_help_renders_with_an_example_and_leaves_take_the_common_flags(top: str, parser: argparse.ArgumentParser) -> None:
    text = parser.format_help()
    assert "example" in text, f"{top} --help has no example"
    for path, leaf in _leaves(parser, (top,)):
        help_text = leaf.format_help()
        assert "example" in help_text or "example" in text, path
        if path[0] == "bench" and len(path) == 1:
            continue
        missing = [f for f in COMMON if f not in leaf._option_string_actions]
        assert not missing, f"{' '.join(path)} lacks {missing}"


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "--env", "nope"],
        ["export", "--stream", "performance", "--format", "xml"],
        ["dashboard"],
        ["demo", "--days", "0", "--base-path", "/tmp/ff-never-created"],
        ["prometheus", "--out", "/tmp/ff-metrics-not-prom.txt"],
    ],
)
def test_errors_are_one_line_and_non_zero(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from ff_metrics_collection_manager import main

    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse usage errors: usage line + one error line, exit 2
        rc = exc.code
    out, err = capsys.readouterr()
    assert rc != 0 and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("ff-metrics") and "error" in last
    assert "Traceback" not in err
    assert not Path("/tmp/ff-never-created").exists()
