"""The bulk JSONL reader (the rebuild's): one record per well-formed line, whatever else a file holds."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from ff_utils.ff_analytics_core import ff_jsonl_reader
from ff_utils.ff_analytics_core.ff_jsonl_reader import FFStoreCorruptionError, ff_iter_jsonl_chunks

GOOD = [{"timestamp": f"2026-11-01T10:{i % 60:02d}:00Z", "user_hash": f"u{i}", "event_type": "page_view"}
        for i in range(200)]


def _lines(recs: list[object]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in recs)


def _parse(path: Path) -> list[object]:
    return [r for chunk in ff_iter_jsonl_chunks(path) for r in chunk]


@pytest.mark.parametrize("chunk_bytes", [64, 1000, 1 << 24])
def test_well_formed_file_parses_whole_and_in_any_chunking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           chunk_bytes: int) -> None:
    monkeypatch.setattr(ff_jsonl_reader, "CHUNK_BYTES", chunk_bytes)
    p = tmp_path / "part.jsonl"
    p.write_bytes(_lines(GOOD))
    assert _parse(p) == GOOD
    gz = tmp_path / "part.jsonl.gz"
    gz.write_bytes(gzip.compress(_lines(GOOD)))
    assert _parse(gz) == GOOD


@pytest.mark.parametrize("chunk_bytes", [64, 1 << 24])
def test_blank_torn_and_hostile_lines_are_skipped_not_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           chunk_bytes: int) -> None:
    monkeypatch.setattr(ff_jsonl_reader, "CHUNK_BYTES", chunk_bytes)
    a, b, c, d = GOOD[:4]
    body = (
        _lines([a])
        + b"\n   \n"  # blank lines
        + orjson.dumps(b) + b"," + orjson.dumps(c) + b"\n"  # two values on one line: not two records
        + b'{"timestamp": "2026-11-01T10:00:00Z", "user_ha\n'  # a torn line in the middle
        + _lines([d, 7])  # a scalar line is a value (the fold skips it)
        + orjson.dumps(GOOD[5])[:-3]  # torn tail without a newline: not a record yet
    )
    p = tmp_path / "part.jsonl"
    p.write_bytes(body)
    assert _parse(p) == [a, d, 7]


def test_two_values_on_one_line_in_an_otherwise_valid_chunk_are_dropped(tmp_path: Path) -> None:
    a, b, c, d = GOOD[:4]
    p = tmp_path / "part.jsonl"  # the whole chunk parses as one array here: the line count must catch it
    p.write_bytes(_lines([a]) + orjson.dumps(b) + b"," + orjson.dumps(c) + b"\n" + _lines([d]))
    assert _parse(p) == [a, d]


def test_truncated_gzip_raises_a_store_error_after_what_could_be_read(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ff_jsonl_reader, "CHUNK_BYTES", 1000)
    whole = gzip.compress(_lines(GOOD * 20))
    gz = tmp_path / "part.jsonl.gz"
    gz.write_bytes(whole[: len(whole) // 2])
    got: list[object] = []
    with pytest.raises(FFStoreCorruptionError, match="part.jsonl.gz"):
        for chunk in ff_iter_jsonl_chunks(gz):
            got.extend(chunk)
    assert got and got == (GOOD * 20)[: len(got)]
