"""Product answers -> ``PRODUCT_COUNTERS`` (one row per ean and window) and product data frames.

Pure: no I/O. Unknown EANs are returned as a list so that the loader can warn with their count.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._arrays import ms_to_time, object_array, snake_case, to_dtype
from .maps import records_frame
from .schemas import (
    COUNTER_FIELDS,
    INT,
    PRODUCT_ATTRIBUTES,
    PRODUCT_COUNTERS,
    PRODUCT_DATA_KEYS,
    STR,
    empty_frame,
)

__all__ = ["CountersColumns", "counters_frame", "product_data_frame"]


class CountersColumns:
    """Counter answers gathered as they arrive, then one ``PRODUCT_COUNTERS`` frame.

    :meth:`add` takes the answer of one window (``{ean: {"v", "atcq", "bq"}}``, any subset of
    the EANs, in any order) and walks it once, column-wise; a loader calls it as each window's
    requests complete, so the walk overlaps the requests still in flight. :meth:`frame` places
    the rows (EANs in input order, then windows in time order) and casts each column once.
    """

    def __init__(
        self, *, windows: Sequence[tuple[int, int]], eans: Sequence[str], site_code: str
    ) -> None:
        self._bounds = np.asarray(windows, dtype=np.int64).reshape(-1, 2)
        self._eans = list(eans)
        self._position = {ean: i for i, ean in enumerate(self._eans)}
        self._site_code = site_code
        # Per answer: the (ean position * windows + window) of each row, and its counts.
        self._cells: list[list[int]] = []
        self._counts: dict[str, list[list[Any]]] = {c: [] for c in COUNTER_FIELDS.values()}

    def add(self, window: int, answer: Mapping[str, Any]) -> None:
        """The answer of window ``window`` (its index in ``windows``)."""
        position = self._position
        width = len(self._bounds)
        pairs = [
            (position[ean], record)
            for ean, record in answer.items()
            if isinstance(record, Mapping) and ean in position
        ]
        self._cells.append([i * width + window for i, _ in pairs])
        for wire, column in COUNTER_FIELDS.items():
            self._counts[column].append([record.get(wire) for _, record in pairs])

    def missing(self) -> list[str]:
        """The EANs no answer mentioned, in input order."""
        width = len(self._bounds)
        seen = np.zeros(len(self._eans), dtype=bool)
        for cells in self._cells:
            seen[np.asarray(cells, dtype=np.intp) // max(width, 1)] = True
        return [ean for ean, known in zip(self._eans, seen.tolist(), strict=True) if not known]

    def frame(self) -> pd.DataFrame:
        """The frame of every answer added (an empty typed frame when none had a row)."""
        cells = np.fromiter(
            itertools.chain.from_iterable(self._cells),
            dtype=np.int64,
            count=sum(map(len, self._cells)),
        )
        n = len(cells)
        if n == 0:
            return empty_frame(PRODUCT_COUNTERS)
        # One row per cell: a later answer for the same (ean, window) wins, as a dict merge.
        cells, last = np.unique(cells[::-1], return_index=True)
        order = n - 1 - last
        width = len(self._bounds)
        ean_index, window_index = np.divmod(cells, width)
        columns: dict[str, Any] = {
            "site_code": pd.array([self._site_code], dtype=STR).take(np.zeros(len(cells), int)),
            "ean": pd.array(self._eans, dtype=STR).take(ean_index),
            "window_start": ms_to_time(self._bounds[window_index, 0]),
            "window_end": ms_to_time(self._bounds[window_index, 1]),
        }
        for column, parts in self._counts.items():
            values = list(itertools.chain.from_iterable(parts))
            columns[column] = _counts(values, order)
        return pd.DataFrame(columns)


def _counts(values: list[Any], order: np.ndarray) -> Any:
    """``values`` (taken in ``order``) as ``Int64``: straight to int64 when every one is an int
    (the usual answer), through the generic cast when some are missing or odd."""
    try:
        ints = np.fromiter(values, dtype=np.int64, count=len(values))
    except (TypeError, ValueError, OverflowError):
        return to_dtype(object_array(values)[order], INT)
    exact = all(type(v) is int for v in values)  # 1.5 or True would pass fromiter
    if not exact:
        return to_dtype(object_array(values)[order], INT)
    return pd.arrays.IntegerArray(ints[order], np.zeros(len(order), dtype=bool))


def counters_frame(
    answers: Sequence[Mapping[str, Any]],
    *,
    windows: Sequence[tuple[int, int]],
    eans: Sequence[str],
    site_code: str,
) -> tuple[pd.DataFrame, list[str]]:
    """Rows for each EAN (input order), then each window (``answers[i]`` is window ``i``).

    Windows are ``(start_ms, end_ms)``. Returns the frame and the EANs no answer mentioned.
    """
    columns = CountersColumns(windows=windows, eans=eans, site_code=site_code)
    for window, answer in enumerate(answers):
        columns.add(window, answer)
    return columns.frame(), columns.missing()


def product_data_frame(
    answer: Mapping[str, Any], *, eans: Sequence[str], site_code: str
) -> tuple[pd.DataFrame, list[str]]:
    """One row per known EAN: ``site_code, ean``, every declared attribute, then the others
    (snake_cased, dtype inferred). Nested values (``categories``) stay Python objects."""
    return records_frame(
        answer,
        keys=eans,
        key_column="ean",
        leading=PRODUCT_DATA_KEYS,
        site_code=site_code,
        known=PRODUCT_ATTRIBUTES,
        rename=snake_case,
    )
