"""The small bodies: visitor codes to forget, identifiers checked, maps as JSON records.

:func:`chunk_codes` cuts a list of visitor codes into text bodies under the small-body limit,
:func:`check_identifiers` checks an identifier column (visitor codes, map keys), and
:func:`map_records` turns a frame into the keys and field dicts of ``POST /map/maps``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..._contract import MAX_ID_LENGTH, SMALL_BODY_LIMIT
from ..._exceptions import ValidationError
from .fields import _column_texts, _surrogates
from .problems import _Problems
from .values import SURROGATE_REASON, Bad, has_surrogate, is_missing, json_of


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
    """(values as str, None where missing or refused; present mask) of an identifier column
    (visitor codes, map keys); missing, empty, over-long and non-text cells are added to
    ``problems`` (an integral float is its integer: ``101.0`` is ``"101"``)."""
    texts = _column_texts(series, identifier=True)
    present = texts.present
    bad = np.zeros(len(present), dtype=bool)
    for mask, reason in texts.bad:
        mask = mask & ~bad
        problems.add(np.flatnonzero(mask), column, reason)
        bad |= mask
    lens = texts.lens if texts.lens is not None else np.zeros(len(present), dtype=np.int64)
    problems.add(np.flatnonzero(~present), column, missing)
    problems.add(np.flatnonzero(present & ~bad & (lens == 0)), column, empty)
    problems.add(
        np.flatnonzero(~bad & (lens > MAX_ID_LENGTH)),
        column,
        f"longer than {MAX_ID_LENGTH} characters",
    )
    values = np.asarray(texts.values, dtype=object)
    keep = present & ~bad
    return np.where(keep, values, np.array(None, dtype=object)), keep


def map_records(
    df: pd.DataFrame, key: str
) -> tuple[list[str], list[dict[str, Any]], np.ndarray, _Problems]:
    """(keys, field dicts, row positions, problems) for ``POST /map/maps``; NA cells left out.

    Raises :class:`ValidationError` when the frame has no ``key`` column, or two columns that
    become the same field name (``1`` and ``"1"``).
    """
    problems = _Problems()
    if not isinstance(df, pd.DataFrame):
        raise ValidationError(f"expected a pandas DataFrame, got {type(df).__name__}")
    dupes = df.columns[df.columns.duplicated()].tolist()
    if dupes:
        raise ValidationError(f"duplicate column names: {dupes}")
    if key not in df.columns:
        raise ValidationError(f"missing key column {key!r}")
    fields = [c for c in df.columns if c != key and c != "site_code"]
    named: dict[str, Any] = {}
    for col in fields:
        name = str(col)
        if name in named:
            raise ValidationError(
                f"columns {named[name]!r} and {col!r} would both be the map field {name!r}: "
                "rename or drop one"
            )
        if has_surrogate(name):
            raise ValidationError(f"column {col!r}: the name is not encodable as UTF-8")
        named[name] = col
    keys, present = check_identifiers(
        df[key], key, problems, missing="missing key", empty="empty key"
    )
    n = len(df)
    dup = pd.Series(keys).duplicated(keep=False).to_numpy() & present
    problems.add(np.flatnonzero(dup), key, "duplicate key in the frame")
    records: list[dict[str, Any]] = [{} for _ in range(n)]
    for col in fields:
        s, name = df[col], str(col)
        vals = s.to_numpy(dtype=object)
        dtype = s.dtype
        numeric = pd.api.types.is_integer_dtype(dtype) or pd.api.types.is_float_dtype(dtype)
        if numeric or pd.api.types.is_bool_dtype(dtype):
            # numbers and booleans are JSON as they are, infinities aside: no per-cell check
            notna = s.notna().to_numpy()
            if numeric:
                inf = notna & np.isinf(s.to_numpy(dtype=np.float64, na_value=np.nan))
                problems.add(np.flatnonzero(inf), name, "not JSON-serialisable")
                notna = notna & ~inf
            for i in np.flatnonzero(notna).tolist():
                records[i][name] = _plain(vals[i])
            continue
        if isinstance(dtype, pd.StringDtype):  # texts are JSON as they are, once encodable
            notna = s.notna().to_numpy()
            broken = _surrogates(vals, notna)
            problems.add(np.flatnonzero(broken), name, SURROGATE_REASON)
            for i in np.flatnonzero(notna & ~broken).tolist():
                records[i][name] = vals[i]
            continue
        notna = np.fromiter((not is_missing(v) for v in vals), dtype=bool, count=n)
        for i in np.flatnonzero(notna).tolist():
            v = _plain(vals[i])
            try:
                # a text is a text here (not parsed as JSON); held to the contract's limits
                records[i][name] = json_of(v, parse=False)
            except Bad as exc:
                problems.add(np.array([i]), name, _map_reason(exc.reason))
    bad = problems.bad_positions()
    good = np.setdiff1d(np.arange(n), bad)
    return [keys[i] for i in good], [records[i] for i in good], good, problems


def _map_reason(reason: str) -> str:
    return "not JSON-serialisable" if reason.startswith("not JSON") else reason


def _plain(v: Any) -> Any:
    """numpy/pandas scalars -> plain JSON values."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, pd.Timestamp):
        return int(v.value // 1_000_000)
    return v
