"""Invalid cells: collected as arrays while a frame is encoded, reported as one frame.

A report's ``invalid`` frame has the columns ``index`` (the row's label), ``column`` and
``reason``, one row per problem, in row order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_INVALID_COLUMNS = ["index", "column", "reason"]


class _Problems:
    """Invalid cells, collected as (row position, column, reason) arrays."""

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, str, str]] = []

    def add(self, positions: np.ndarray, column: str, reason: str) -> None:
        positions = np.asarray(positions, dtype=np.int64)
        if positions.size:
            self._parts.append((positions, column, reason))

    def mark(self) -> int:
        return len(self._parts)

    def rollback(self, mark: int) -> None:
        """Forget what was added since ``mark`` (a slice encoded again in smaller pieces)."""
        del self._parts[mark:]

    def bad_positions(self) -> np.ndarray:
        if not self._parts:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate([p for p, _, _ in self._parts]))

    def frame(self, index: pd.Index) -> pd.DataFrame:
        if not self._parts:
            return empty_invalid()
        pos = np.concatenate([p for p, _, _ in self._parts])
        cols = np.concatenate([np.full(len(p), c, dtype=object) for p, c, _ in self._parts])
        why = np.concatenate([np.full(len(p), r, dtype=object) for p, _, r in self._parts])
        order = np.argsort(pos, kind="stable")
        return pd.DataFrame(
            {
                "index": pd.array(index[pos[order]].to_numpy(dtype=object), dtype=np.object_),
                "column": cols[order],
                "reason": why[order],
            }
        ).reset_index(drop=True)


def empty_invalid() -> pd.DataFrame:
    """The ``invalid`` frame of a report with nothing wrong."""
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in _INVALID_COLUMNS})
