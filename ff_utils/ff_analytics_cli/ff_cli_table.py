"""Terminal tables that fit: every line of a table is at most ``width`` columns (default 100).

Columns keep their natural width while the table fits. Otherwise each column gets at least its
longest word (``fixed`` columns and columns of at most 16 characters their whole width) and the spare room is shared in proportion to
what each lacks; a cell wider than its column wraps onto further lines, between words. A table whose columns cannot fit even so is shown as one block per row
(``column  value`` lines). Lists and mappings wrap item by item; a cell that would need more than
``max_lines`` lines ends with ``… (+N more)`` naming how many items are not shown (a plain string
ends with ``…``). Table mode is for reading; ``--format json`` keeps every value.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

TABLE_WIDTH = 100
MAX_CELL_LINES = 6
_GAP = "  "
_INLINE_ITEMS = 8
_SHORT = 16  # columns at most this wide never wrap


def _scalar(value: Any) -> str:
    """One value as a short inline text (nested lists and mappings compacted)."""
    if isinstance(value, Mapping):
        return " ".join(f"{k}={_scalar(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        head = ", ".join(_scalar(v) for v in value[:_INLINE_ITEMS])
        more = f", … (+{len(value) - _INLINE_ITEMS} more)" if len(value) > _INLINE_ITEMS else ""
        return f"[{head}{more}]"
    return str(value)


def _pieces(value: Any) -> list[str]:
    """The items a cell wraps between: one per list element / mapping entry, else the value."""
    if isinstance(value, Mapping):
        return [f"{k}: {_scalar(v)}" for k, v in value.items()] or ["{}"]
    if isinstance(value, (list, tuple)):
        return [_scalar(v) for v in value] or ["[]"]
    return [_scalar(value)]


def ff_cell_text(value: Any) -> str:
    """A cell on one line (its natural width)."""
    return ", ".join(_pieces(value))


def ff_wrap_cell(value: Any, width: int, max_lines: int = MAX_CELL_LINES) -> list[str]:
    """``value`` as lines of at most ``width`` characters, at most ``max_lines`` of them."""
    if width < 1 or max_lines < 1:
        raise ValueError(f"width and max_lines: must be >= 1, got {width} and {max_lines}")
    pieces = _pieces(value)
    lines: list[str] = []
    ends: list[int] = []  # index of the line each piece ends on
    cur = ""
    for i, piece in enumerate(pieces):
        tok = piece + ("," if i < len(pieces) - 1 else "")
        candidate = f"{cur} {tok}" if cur else tok
        if len(candidate) <= width:
            cur = candidate
        else:
            if cur:
                lines.append(cur)
            parts = textwrap.wrap(tok, width, break_long_words=True, break_on_hyphens=False) or [""]
            lines.extend(parts[:-1])
            cur = parts[-1]
        ends.append(len(lines))
    lines.append(cur)
    if len(lines) <= max_lines:
        return lines
    if len(pieces) == 1:
        kept = lines[:max_lines]
        kept[-1] = kept[-1][: width - 1] + "…"
        return kept
    kept = lines[: max_lines - 1]
    shown = sum(1 for end in ends if end < max_lines - 1)
    marker = f"… (+{len(pieces) - shown} more)"
    if len(marker) > width:
        marker = marker[: width - 1] + "…"
    return [*kept, marker]


def _fit_widths(natural: list[int], least: list[int], width: int) -> list[int] | None:
    """Column widths within ``width``: the natural ones when they fit; else each column's least
    width (its longest word) plus a share of the spare room in proportion to what it lacks.
    ``None`` when even the least widths do not fit."""
    avail = width - len(_GAP) * (len(natural) - 1)
    if sum(natural) <= avail:
        return list(natural)
    if sum(least) > avail:
        return None
    spare = avail - sum(least)
    lack = [n - m for n, m in zip(natural, least, strict=True)]
    total = sum(lack)
    widths = [m + (spare * d) // total for m, d in zip(least, lack, strict=True)]
    for i in sorted(range(len(widths)), key=lambda i: -lack[i]):
        if sum(widths) >= avail:
            break
        if widths[i] < natural[i]:
            widths[i] += 1
    return widths


def format_table(rows: Sequence[Mapping[str, Any]], columns: list[str] | None = None, *,
                 width: int = TABLE_WIDTH, fixed: Iterable[str] = (),
                 max_lines: int = MAX_CELL_LINES) -> str:
    """An aligned text table of ``rows`` fitting ``width`` columns; ``fixed`` columns never wrap."""
    if not rows:
        return "(none)"
    cols = columns or list(rows[0].keys())
    keep = set(fixed)
    values = [[r.get(c, "") for c in cols] for r in rows]
    texts = [[ff_cell_text(v) for v in row] for row in values]
    natural = [max(len(c), *(len(row[i]) for row in texts)) for i, c in enumerate(cols)]
    least = [
        natural[i] if c in keep or natural[i] <= _SHORT else max(len(c), *(len(w) for row in texts for w in row[i].split()), 1)
        for i, c in enumerate(cols)
    ]
    fitted = _fit_widths(natural, least, width)
    if fitted is None:
        return _format_records(cols, values, width, max_lines)
    widths = fitted

    def render(cells: list[list[str]]) -> list[str]:
        height = max(len(c) for c in cells)
        out = []
        for k in range(height):
            parts = [(c[k] if k < len(c) else "").ljust(w) for c, w in zip(cells, widths, strict=True)]
            out.append(_GAP.join(parts).rstrip())
        return out

    out = render([[c if len(c) <= w else c[: w - 1] + "…"] for c, w in zip(cols, widths, strict=True)])
    out.append(_GAP.join("-" * w for w in widths))
    for row in values:
        out += render([ff_wrap_cell(v, w, max_lines) for v, w in zip(row, widths, strict=True)])
    return "\n".join(out)


def _format_records(cols: list[str], values: list[list[Any]], width: int, max_lines: int) -> str:
    """Too many columns for ``width``: one block per row, a ``column  value`` line per column."""
    key = max(len(c) for c in cols)
    out: list[str] = []
    for n, row in enumerate(values):
        if n:
            out.append("")
        for c, v in zip(cols, row, strict=True):
            lines = ff_wrap_cell(v, max(1, width - key - len(_GAP)), max_lines)
            out.append(f"{c.ljust(key)}{_GAP}{lines[0]}".rstrip())
            out += [f"{'':{key}}{_GAP}{line}".rstrip() for line in lines[1:]]
    return "\n".join(out)


def ff_fit_lines(text: str, width: int = TABLE_WIDTH) -> str:
    """``text`` with every line longer than ``width`` wrapped under its own indentation."""
    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        sub = indent + "  " if len(indent) + 2 < width // 2 else indent
        out += textwrap.wrap(line, width, initial_indent="", subsequent_indent=sub,
                             break_long_words=True, break_on_hyphens=False, drop_whitespace=True) or [line[:width]]
    return "\n".join(out)
