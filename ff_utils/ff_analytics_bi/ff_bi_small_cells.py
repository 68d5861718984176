"""Small-cell protection for BI output: no published figure reveals a cell of fewer than ``k`` users.

Primary suppression hides every cell with fewer than ``k`` users; it applies to every group.

Complementary suppression applies only to *additive* groups, whose cells partition a total that is
published beside them (events per platform or per event type sum to the period's event count;
user segments partition the active users). There ``total - sum(visible)`` would give a hidden cell
away, so further cells are hidden (smallest first) until the hidden cells number at least two and
together cover at least ``k`` users (or every cell is hidden). A non-additive group, such as users
per feature (a user uses several features), has no such total, so a large cell stays visible
beside a hidden small one.
"""

from __future__ import annotations

DEFAULT_MIN_CELL_SIZE = 5


def ff_validate_min_cell_size(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise TypeError(f"min_cell_size: expected int, got {type(k).__name__}")
    if k < 1:
        raise ValueError(f"min_cell_size: must be >= 1, got {k}")
    return k


def ff_suppressed_cells(cells: dict[str, int], k: int, *, additive: bool) -> set[str]:
    """Names of the cells to hide: primary suppression, plus complementary when ``additive``."""
    ff_validate_min_cell_size(k)
    if not isinstance(additive, bool):
        raise TypeError(f"additive: expected bool, got {type(additive).__name__}")
    hidden = {name for name, users in cells.items() if users < k}
    if not hidden or not additive:
        return hidden
    visible = sorted((users, name) for name, users in cells.items() if name not in hidden)
    while visible and (len(hidden) < 2 or sum(cells[n] for n in hidden) < k):
        _users, name = visible.pop(0)
        hidden.add(name)
    return hidden
