"""Map answers (``GET /map/maps``) -> one row per key: ``site_code, key``, one column per field.

Fields keep their own names, in the order first seen; nested values stay Python objects. Keys the
API did not answer are left out (the loader warns with their count). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ._arrays import infer_dtype, scatter, to_dtype
from .schemas import MAP_KEYS, STR, Schema, empty_frame

__all__ = ["maps_frame", "records_frame"]


def records_frame(
    answer: Mapping[str, Any],
    *,
    keys: Sequence[str],
    key_column: str,
    leading: Schema,
    site_code: str,
    known: Mapping[str, tuple[str, str]] | None = None,
    rename: Any = None,
) -> tuple[pd.DataFrame, list[str]]:
    """One row per key present in ``answer`` (in ``keys`` order) and the keys left out.

    ``known`` maps wire field names to (column, dtype): those columns are always present, in that
    order. Other fields follow, named by ``rename(field)`` (default: unchanged), dtype inferred.
    """
    known = known or {}
    present = [key for key in keys if isinstance(answer.get(key), Mapping)]
    missing = [key for key in keys if not isinstance(answer.get(key), Mapping)]

    # The one pass over records: per field, the rows that have it and their values.
    rows: dict[str, list[int]] = {}
    values: dict[str, list[Any]] = {}
    for index, key in enumerate(present):
        for field, value in answer[key].items():
            if value is not None:
                rows.setdefault(field, []).append(index)
                values.setdefault(field, []).append(value)

    n = len(present)
    columns: dict[str, Any] = {
        "site_code": pd.array([site_code] * n, dtype=STR),
        key_column: pd.array(present, dtype=STR),
    }
    for field, (column, dtype) in known.items():
        columns[column] = to_dtype(scatter(n, rows.get(field, ()), values.get(field, ())), dtype)
    for field in rows:
        if field in known:
            continue
        column = rename(field) if rename else field
        if column in columns:  # a clash with a declared or earlier column: keep the wire name
            column = field
        while column in columns:  # ...and if that is taken too, underscores until it is free
            column += "_"
        raw = scatter(n, rows[field], values[field])
        columns[column] = to_dtype(raw, infer_dtype(raw))
    if n == 0:
        return empty_frame(leading, dict(known.values())), missing
    return pd.DataFrame(columns), missing


def maps_frame(
    answer: Mapping[str, Any], *, keys: Sequence[str], site_code: str
) -> tuple[pd.DataFrame, list[str]]:
    """One row per known key: ``site_code, key``, then one column per field (first seen order)."""
    return records_frame(answer, keys=keys, key_column="key", leading=MAP_KEYS, site_code=site_code)
