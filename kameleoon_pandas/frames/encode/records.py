"""The small bodies: visitor codes to forget, identifiers checked, maps as JSON records.

:func:`chunk_codes` cuts a list of visitor codes into text bodies under the small-body limit,
:func:`check_identifiers` checks an identifier column (visitor codes, map keys), and
:func:`map_records` turns a frame into the keys and field dicts of ``POST /map/maps``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from ..._contract import MAX_ID_LENGTH, SMALL_BODY_LIMIT
from ..._exceptions import ValidationError
from .fields import _present_object, _text_lengths, _to_object_strings
from .problems import _Problems


def chunk_codes(codes: list[str], limit: int = SMALL_BODY_LIMIT) -> list[list[str]]:
    """Split visitor codes into lists whose text body (a code per line) stays under ``limit``."""
    if not codes:
        return []
    lens = np.fromiter((len(c.encode()) + 1 for c in codes), dtype=np.int64, count=len(codes))
    ends = np.cumsum(lens)
    out, start = [], 0
    while start < len(codes):
        base = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, base + limit, side="right")), start + 1)
        out.append(codes[start:stop])
        start = stop
    return out


def check_identifiers(
    series: pd.Series,
    column: str,
    problems: _Problems,
    *,
    missing: str = "missing value",
    empty: str = "empty identifier",
) -> tuple[np.ndarray, np.ndarray]:
    """(values as str, None where missing; present mask) of an identifier column (visitor
    codes, map keys); missing, empty and over-long cells are added to ``problems``."""
    values, present = _to_object_strings(series)
    lens = _text_lengths(values, present)
    problems.add(np.flatnonzero(~present), column, missing)
    problems.add(np.flatnonzero(present & (lens == 0)), column, empty)
    problems.add(
        np.flatnonzero(lens > MAX_ID_LENGTH), column, f"longer than {MAX_ID_LENGTH} characters"
    )
    return values, present


def map_records(
    df: pd.DataFrame, key: str
) -> tuple[list[str], list[dict[str, Any]], np.ndarray, _Problems]:
    """(keys, field dicts, row positions, problems) for ``POST /map/maps``; NA cells left out."""
    problems = _Problems()
    if key not in df.columns:
        raise ValidationError(f"missing key column {key!r}")
    keys, present = check_identifiers(
        df[key], key, problems, missing="missing key", empty="empty key"
    )
    n = len(df)
    dup = pd.Series(keys).duplicated(keep=False).to_numpy() & present
    problems.add(np.flatnonzero(dup), key, "duplicate key in the frame")
    fields = [c for c in df.columns if c != key and c != "site_code"]
    records: list[dict[str, Any]] = [{} for _ in range(n)]
    for col in fields:
        s, name = df[col], str(col)
        vals = s.to_numpy(dtype=object)
        dtype = s.dtype
        numeric = pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype)
        if numeric or pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.StringDtype):
            # numbers, booleans and strings are JSON as they are, infinities aside: no per-cell
            # json.dumps to find out
            notna = s.notna().to_numpy()
            if numeric:
                inf = notna & np.isinf(s.to_numpy(dtype=np.float64, na_value=np.nan))
                problems.add(np.flatnonzero(inf), name, "not JSON-serialisable")
                notna = notna & ~inf
            for i in np.flatnonzero(notna).tolist():
                records[i][name] = _plain(vals[i])
            continue
        notna = np.array([_present_object(v) for v in vals], dtype=bool)
        for i in np.flatnonzero(notna).tolist():
            v = _plain(vals[i])
            try:
                json.dumps(v, allow_nan=False)
            except (TypeError, ValueError):
                problems.add(np.array([i]), name, "not JSON-serialisable")
                continue
            records[i][name] = v
    bad = problems.bad_positions()
    good = np.setdiff1d(np.arange(n), bad)
    return [keys[i] for i in good], [records[i] for i in good], good, problems


def _plain(v: Any) -> Any:
    """numpy/pandas scalars -> plain JSON values."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, pd.Timestamp):
        return int(v.value // 1_000_000)
    return v
