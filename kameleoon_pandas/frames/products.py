"""Product answers -> ``PRODUCT_COUNTERS`` (one row per ean and window) and product data frames.

Pure: no I/O. Unknown EANs are returned as a list so that the loader can warn with their count.
"""

from __future__ import annotations

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

__all__ = ["counters_frame", "product_data_frame"]


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
    row_ean: list[str] = []
    row_window: list[int] = []
    counts: dict[str, list[Any]] = {column: [] for column in COUNTER_FIELDS.values()}
    wires = list(COUNTER_FIELDS.items())
    missing: list[str] = []
    # The one pass over (ean, window) pairs.
    for ean in eans:
        seen = False
        for w, answer in enumerate(answers):
            record = answer.get(ean)
            if not isinstance(record, Mapping):
                continue
            seen = True
            row_ean.append(ean)
            row_window.append(w)
            for wire, column in wires:
                counts[column].append(record.get(wire))
        if not seen:
            missing.append(ean)

    n = len(row_ean)
    if n == 0:
        return empty_frame(PRODUCT_COUNTERS), missing
    bounds = np.asarray(windows, dtype=np.int64).reshape(-1, 2)
    index = np.asarray(row_window, dtype=np.intp)
    columns: dict[str, Any] = {
        "site_code": pd.array([site_code] * n, dtype=STR),
        "ean": pd.array(row_ean, dtype=STR),
        "window_start": ms_to_time(bounds[index, 0]),
        "window_end": ms_to_time(bounds[index, 1]),
    }
    for column in COUNTER_FIELDS.values():
        columns[column] = to_dtype(object_array(counts[column]), INT)
    return pd.DataFrame(columns), missing


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
