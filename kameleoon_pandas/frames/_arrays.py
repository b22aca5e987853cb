"""Column lists -> typed pandas arrays, without a Python loop per row.

The shaping modules (``feeds``, ``products``, ``maps``) walk the JSON once, appending plain values
to lists; everything after that (placing values, casting to the declared dtype) happens here on
whole arrays.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .schemas import BOOL, FLOAT, INT, OBJ, STR, TIME

__all__ = ["infer_dtype", "missing_array", "object_array", "scatter", "snake_case", "to_dtype"]

_NAT = np.iinfo(np.int64).min


def object_array(values: Sequence[Any]) -> np.ndarray:
    """A 1-D object array of ``values``; nested lists stay Python objects (no broadcasting)."""
    return np.fromiter(values, dtype=object, count=len(values))


def scatter(n: int, rows: Sequence[int] | np.ndarray, values: Sequence[Any]) -> np.ndarray:
    """An object array of length ``n``, ``None`` except ``values`` at positions ``rows``."""
    out = np.full(n, None, dtype=object)
    if len(rows):
        out[np.asarray(rows, dtype=np.intp)] = object_array(values)
    return out


def ms_to_time(values: np.ndarray) -> pd.arrays.DatetimeArray:
    """Epoch milliseconds (ints, None for missing) -> ``datetime64[ms, UTC]``."""
    ints = pd.array(values, dtype="Int64").to_numpy(dtype="int64", na_value=_NAT)
    return pd.array(ints.view("M8[ms]")).tz_localize("UTC")


def to_dtype(values: np.ndarray, dtype: str) -> Any:
    """Cast an object array to a declared dtype (``None`` -> missing).

    A value the dtype cannot hold (a server sending ``"abc"`` as a price) keeps the column as
    Python objects rather than failing the whole load.
    """
    try:
        if dtype == TIME:
            return ms_to_time(values)
        if dtype in (STR, INT, FLOAT):
            # One C pass says whether the column is all texts or all missing (None / NaN):
            # then the result is built directly, as the generic casts below would build it.
            kind = pd.api.types.infer_dtype(values, skipna=True)
            if kind == "empty":
                return _all_missing(len(values), dtype)
            if dtype == STR and kind == "string" and _STR_ON_ARROW:
                return _arrow_texts(values)
        if dtype == STR:
            return pd.Series(values, dtype=object).astype(STR).array
        if dtype == INT:
            return pd.array(values, dtype=INT)
        if dtype == FLOAT:
            return pd.Series(values, dtype=object).astype(FLOAT).to_numpy()
        if dtype == BOOL:
            return pd.array(values, dtype=BOOL)
    except (TypeError, ValueError, OverflowError):
        return values
    return values


#: Whether the declared text dtype is stored in Arrow here (pyarrow installed).
_STR_ON_ARROW = isinstance(pd.array([], dtype=STR), pd.arrays.ArrowStringArray)


def _arrow_texts(values: np.ndarray) -> Any:
    """An object array of texts and missing values as the ``string`` dtype, built by Arrow."""
    import pyarrow as pa

    return pd.array(pa.array(values, type=pa.large_string(), from_pandas=True), dtype=STR)


def missing_array(n: int, dtype: str) -> Any:
    """``to_dtype`` of ``n`` missing values, without looking at them (a declared column that no
    record holds: product data declares 13 attributes, most absent from most catalogues)."""
    if dtype in (STR, INT, FLOAT):
        return _all_missing(n, dtype)
    if dtype == BOOL:
        return pd.arrays.BooleanArray(np.zeros(n, dtype=bool), np.ones(n, dtype=bool))
    return to_dtype(np.full(n, None, dtype=object), dtype)


def _all_missing(n: int, dtype: str) -> Any:
    """What the casts in :func:`to_dtype` make of ``n`` missing (``STR``, ``INT``, ``FLOAT``)."""
    if dtype == FLOAT:
        return np.full(n, np.nan)
    if dtype == INT:
        return pd.arrays.IntegerArray(np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool))
    if dtype == STR and _STR_ON_ARROW:
        import pyarrow as pa

        return pd.array(pa.nulls(n, type=pa.large_string()), dtype=STR)
    return pd.array(np.full(n, None, dtype=object), dtype=STR)  # the text dtype without Arrow


def infer_dtype(values: np.ndarray) -> str:
    """The declared-style dtype for a column of unknown content (attributes, map fields)."""
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind == "string":
        return STR
    if kind == "integer":
        return INT
    if kind in ("floating", "mixed-integer-float"):
        return FLOAT
    if kind == "boolean":
        return BOOL
    return OBJ


_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def snake_case(name: str) -> str:
    """``availableQuantity`` -> ``available_quantity``."""
    return _CAMEL.sub(r"_\1", name).lower()
