"""Small-cell protection for BI output: suppress cells covering fewer than ``k`` users.

Primary suppression hides every cell with fewer than ``k`` users. Complementary suppression then
hides further cells (smallest first) until the hidden cells together cover at least ``k`` users and
number at least two (or every cell is hidden), so ``total - sum(visible)`` can never reveal a single
small cell nor a group smaller than ``k``.
"""

from __future__ import annotations

DEFAULT_MIN_CELL_SIZE = 5


def ff_validate_min_cell_size(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"min_cell_size: expected int, got {type(k).__name__}")
    if k < 1:
        raise ValueError(f"min_cell_size: must be >= 1, got {k}")
    return k


def ff_suppressed_cells(cells: dict[str, int], k: int) -> set[str]:
    """Names of the cells to hide (primary plus complementary suppression)."""
    ff_validate_min_cell_size(k)
    hidden = {name for name, users in cells.items() if users < k}
    if not hidden:
        return hidden
    visible = sorted((users, name) for name, users in cells.items() if name not in hidden)
    while visible and (len(hidden) < 2 or sum(cells[n] for n in hidden) < k):
        _users, name = visible.pop(0)
        hidden.add(name)
    return hidden
