"""One field over a slice's rows: a column read, checked and turned into a slot.

Columns are converted as a whole (:func:`_to_object_strings`, :func:`_to_float`,
:func:`_to_bool`); numbers in a numeric column are written directly (:func:`_number_field`);
booleans, enumerations and numbers held as text go through their distinct values, each checked,
rendered and hashed once per plan (:class:`_Factor`); texts and JSON become text slots.
:func:`_encode_field` picks the way and adds every invalid cell to the plan's problems.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from ..._contract import MAX_ID_LENGTH
from .. import bytecols
from .kinds import BROWSERS, DEVICES, OSES, FieldSpec
from .lines import (
    _absent_slot,
    _bool_text,
    _expand,
    _float_text,
    _int_text,
    _json_text,
    _Slot,
    _text_slot,
)
from .nonces import _ABSENT
from .problems import _Problems

#: None as an object array, for ``np.where`` (numpy's stubs take no bare None there).
_NONE = np.array(None, dtype=object)

# --------------------------------------------------------------------------- column conversion


def _to_object_strings(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(values as an object array of str, None where missing; present mask). Read only."""
    present = series.notna().to_numpy()
    values = series.to_numpy(dtype=object)  # the frame's own array when it has one: no copy
    if not present.all():
        values = np.where(present, values, _NONE)
    if not pd.api.types.is_string_dtype(series.dtype) or (
        series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) != "string"
    ):
        values = values.copy()
        idx = np.flatnonzero(present)
        values[idx] = [v if isinstance(v, str) else str(v) for v in values[idx]]
    return values, present


def _text_lengths(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """``len`` of each present value of an object array of str (0 where missing)."""
    m = len(values)
    if present.all():
        return np.fromiter(map(len, values.tolist()), dtype=np.int64, count=m)
    lens = np.zeros(m, dtype=np.int64)
    idx = np.flatnonzero(present)
    lens[idx] = np.fromiter(map(len, values[idx]), dtype=np.int64, count=len(idx))
    return lens


def _all_texts(series: pd.Series) -> tuple[list[str], np.ndarray, str] | None:
    """(values, their lengths, all of them end to end) when every cell is a str, else None."""
    if not (isinstance(series.dtype, pd.StringDtype) or series.dtype == np.dtype(object)):
        return None
    values = series.to_numpy(dtype=object).tolist()
    try:
        joined = "".join(values)  # raises on anything but str: a missing cell, a number
    except TypeError:
        return None
    return values, np.fromiter(map(len, values), dtype=np.int64, count=len(values)), joined


def _to_float(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(float64 values, present mask, convertible mask)."""
    present = series.notna().to_numpy()
    if pd.api.types.is_bool_dtype(series.dtype):
        return np.zeros(len(series)), present, ~present
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        return values, present, np.ones(len(series), dtype=bool)
    coerced = pd.to_numeric(series, errors="coerce")
    values = coerced.to_numpy(dtype=np.float64, na_value=np.nan)
    return values, present, ~(present & np.isnan(values))


def _to_bool(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    present = series.notna().to_numpy()
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=bool, na_value=False), present, np.ones(len(series), bool)
    if pd.api.types.is_numeric_dtype(series.dtype):
        v = series.to_numpy(dtype=np.float64, na_value=np.nan)
        ok = ~present | (v == 0) | (v == 1)
        return v == 1, present, ok
    text = series.astype("string").str.strip().str.lower()
    truthy = text.isin(["true", "1", "yes"]).to_numpy(dtype=bool, na_value=False)
    falsy = text.isin(["false", "0", "no"]).to_numpy(dtype=bool, na_value=False)
    return truthy, present, ~present | truthy | falsy


# --------------------------------------------------------------------------- distinct values


@dataclass
class _Factor:
    """A column through its distinct values, each checked, rendered and hashed once per plan.

    ``codes`` give each frame row its value's position (``len(reason) - 1``, the last entry,
    when the cell is missing); ``table`` holds ``"&wire=text"`` per value as a byte column
    (an all-NUL row for the missing entry and for invalid values: no parameter).
    """

    codes: np.ndarray
    table: np.ndarray
    lens: np.ndarray
    hashes: np.ndarray
    reason: np.ndarray  # int8 per value: 0 when fine, else a position in ``reasons``
    reasons: list[str]


#: Types encoded through their distinct values (the others are mostly distinct texts); numbers
#: in a numeric column are written directly (:func:`_number_field`).
_FACTOR_TYPES = {"int", "count", "float", "bool", "browser", "os", "device"}
_NUMBER_TYPES = {"int", "count", "float"}


def _factorize(series: pd.Series) -> tuple[np.ndarray, pd.Series]:
    if series.dtype == np.dtype(bool):  # no hashing needed
        return series.to_numpy().view(np.int8), pd.Series([False, True])
    try:
        codes, found = series.factorize(use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists, dicts): by their text, which will not convert
        codes, found = series.where(series.isna(), series.astype(str)).factorize()
    uniques = pd.Series(found)
    if isinstance(uniques.dtype, pd.CategoricalDtype):
        uniques = uniques.astype(object)
    return codes, uniques


def _build_factor(spec: FieldSpec, series: pd.Series) -> _Factor:
    codes, u = _factorize(series)
    k = len(u)
    reason = np.zeros(k, dtype=np.int8)
    reasons = [""]

    def flag(mask: np.ndarray, why: str) -> None:
        new = mask & (reason == 0)
        if new.any():
            reasons.append(why)
            reason[new] = len(reasons) - 1

    kind = spec.type
    render: Callable[[Any], str]
    if kind in ("int", "count", "float"):
        values, _, convertible = _to_float(u)
        flag(~convertible, "not a number")
        flag(~np.isfinite(np.where(reason == 0, values, 0.0)), "not a finite number")
        values = np.where(reason == 0, values, 0.0)  # no NaN or inf left to compare
        if kind in ("int", "count"):
            flag(np.floor(values) != values, "not an integer")
            flag(np.abs(values) >= 2**53, "integer out of range")
            if kind == "count":
                flag(values < 1, "must be at least 1")
            render = _int_text
        else:
            render = _float_text
    elif kind == "bool":
        values, _, ok = _to_bool(u)
        flag(~ok, "not a boolean")
        render = _bool_text
    elif kind == "browser":
        names, _ = _to_object_strings(u)
        upper = pd.Series(names, dtype=object).str.upper().str.strip()
        # the feed names the browser; an integer index is accepted as well
        numeric = pd.to_numeric(pd.Series(names, dtype=object), errors="coerce")
        index = upper.map(BROWSERS).fillna(numeric.where(numeric.isin(list(BROWSERS.values()))))
        flag(index.isna().to_numpy(), f"unknown browser (known: {', '.join(BROWSERS)})")
        values, render = index.to_numpy(dtype=np.float64, na_value=0.0), _int_text
    elif kind in ("os", "device"):
        known = OSES if kind == "os" else DEVICES
        names, _ = _to_object_strings(u)
        upper = pd.Series(names, dtype=object).str.upper().str.strip()
        flag(~upper.isin(known).to_numpy(), f"unknown {spec.column} (known: {', '.join(known)})")
        values, render = upper.to_numpy(dtype=object), str
    else:  # pragma: no cover - a spec typo
        raise AssertionError(kind)
    ok = np.flatnonzero(reason == 0)
    texts = [render(v) for v in np.asarray(values)[ok].tolist()]  # once per distinct value
    prefix = f"&{spec.wire}="
    buf, lens = bytecols.utf8_buffer([prefix + t for t in texts])
    table = np.zeros((k + 1, int(lens.max()) if len(lens) else 0), dtype=np.uint8)
    table[ok] = bytecols.pack(buf, lens, table.shape[1])
    all_lens = np.zeros(k + 1, dtype=np.int64)
    all_lens[ok] = lens
    hashes = np.full(k + 1, _ABSENT, dtype=np.uint64)
    if kind in _NUMBER_TYPES:  # a number by its value, however the frame wrote it
        hashes[ok] = bytecols.number_hashes(np.asarray(values, dtype=np.float64)[ok])
    else:
        hashes[ok] = bytecols.hash_texts(texts)
    codes = np.where(codes < 0, k, codes).astype(np.int32 if k < 2**31 - 1 else np.int64)
    return _Factor(codes, table, all_lens, hashes, np.append(reason, np.int8(0)), reasons)


def _plain_numeric(series: pd.Series) -> bool:
    dtype = series.dtype
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _number_field(
    spec: FieldSpec, s: pd.Series, positions: np.ndarray, problems: _Problems
) -> tuple[_Slot, np.ndarray, np.ndarray]:
    """(slot, present, bad) of a numeric column's rows, checked and written row-wise in numpy."""
    values = s.to_numpy(dtype=np.float64, na_value=np.nan)
    present = s.notna().to_numpy()
    bad = np.zeros(len(values), dtype=bool)

    def flag(mask: np.ndarray, reason: str) -> None:
        nonlocal bad
        mask = mask & ~bad
        if mask.any():
            problems.add(positions[mask], spec.column, reason)
            bad |= mask

    flag(present & ~np.isfinite(values), "not a finite number")
    if spec.type in ("int", "count"):
        flag(present & (np.floor(values) != values), "not an integer")
        flag(present & (np.abs(values) >= 2**53), "integer out of range")
        if spec.type == "count":
            flag(present & (values < 1), "must be at least 1")
    ok = present & ~bad
    every = bool(ok.all())
    sub = values if every else values[ok]
    d = 0 if spec.type != "float" else bytecols.decimals(sub)
    if d is not None:
        mat, lens = bytecols.decimal_text(sub, d, point=spec.type == "float")
    else:  # floats that need more digits: through their distinct values and repr
        codes, uniques = pd.factorize(sub.view(np.int64))  # by bits: -0.0 is not 0.0
        texts = [_float_text(v) for v in uniques.view(np.float64).tolist()]
        buf, table_lens = bytecols.utf8_buffer(texts)
        mat = bytecols.pack(buf, table_lens, int(table_lens.max())).take(codes, axis=0)
        lens = table_lens[codes]
    name = f"&{spec.wire}=".encode()
    hashes = bytecols.number_hashes(sub)
    if every:
        return _Slot([name, mat], lens + len(name), hashes), present, bad
    idx = np.flatnonzero(ok)
    m = len(values)
    return (
        _Slot(
            [_expand(name, idx, m), _expand(mat, idx, m)],
            _scatter(lens + len(name), idx, m, 0),
            _scatter(hashes, idx, m, _ABSENT),
        ),
        present,
        bad,
    )


def _scatter(values: np.ndarray, idx: np.ndarray, m: int, fill: Any) -> np.ndarray:
    out = np.full(m, fill, dtype=values.dtype)
    out[idx] = values
    return out


def _factor_field(
    spec: FieldSpec, factor: _Factor, positions: np.ndarray, problems: _Problems
) -> tuple[_Slot, np.ndarray, np.ndarray]:
    """(slot, present, bad) of the rows ``positions`` from the column's distinct values."""
    codes = factor.codes[positions]
    why = factor.reason[codes]
    bad = why > 0
    if bad.any():
        for code in np.unique(why[bad]).tolist():
            problems.add(positions[why == code], spec.column, factor.reasons[code])
    slot = _Slot([factor.table.take(codes, axis=0)], factor.lens[codes], factor.hashes[codes])
    return slot, codes != len(factor.reason) - 1, bad


# --------------------------------------------------------------------------- one field


def _encode_field(
    spec: FieldSpec,
    series: pd.Series | None,
    positions: np.ndarray,
    problems: _Problems,
    factors: dict[tuple[str, str, str], _Factor] | None = None,
) -> tuple[_Slot, np.ndarray, np.ndarray]:
    """The slot of one field over the rows ``positions``; returns (slot, present, valid).

    ``factors`` keeps the columns' distinct values from one slice to the next.
    """
    m = len(positions)
    if series is None:
        present = np.zeros(m, dtype=bool)
        if spec.required:
            problems.add(positions, spec.column, "missing value")
        return _absent_slot(m), present, ~present if spec.required else np.ones(m, bool)
    kind = spec.type
    if kind in _NUMBER_TYPES and _plain_numeric(series):
        slot, present, bad = _number_field(spec, _take(series, positions), positions, problems)
    elif kind in _FACTOR_TYPES:
        key = (spec.column, spec.wire, kind)
        factors = {} if factors is None else factors
        if key not in factors:
            factors[key] = _build_factor(spec, series)
        slot, present, bad = _factor_field(spec, factors[key], positions, problems)
    else:
        s = _take(series, positions)
        bad = np.zeros(m, dtype=bool)

        def flag(mask: np.ndarray, reason: str) -> None:
            nonlocal bad
            if mask.any():
                problems.add(positions[mask], spec.column, reason)
                bad |= mask

        if kind in ("str", "id"):
            values: np.ndarray | list[str]
            lens: np.ndarray | None
            texts = _all_texts(s)
            if texts is not None:  # the usual case: no missing cell, nothing to convert
                values, lens, joined = texts
                present = np.ones(m, dtype=bool)
            else:
                strings, present = _to_object_strings(s)
                values, joined = strings, None
                lens = _text_lengths(strings, present) if kind == "id" else None
            if kind == "id" and lens is not None:  # lens is known for an identifier
                flag(present & (lens == 0), "empty identifier")
                flag(lens > MAX_ID_LENGTH, f"longer than {MAX_ID_LENGTH} characters")
            slot = _text_slot(values, present & ~bad, spec.wire, char_lens=lens, joined=joined)
        elif kind == "json":
            # ``na_value`` takes any object; pandas-stubs only its ``Scalar`` types, not None
            cells = s.to_numpy(dtype=object, na_value=cast(Any, None))
            present = np.array([_present_object(v) for v in cells], dtype=bool)
            json_texts = np.full(m, None, dtype=object)
            # a JSON text per cell: objects have no vector form
            for i in np.flatnonzero(present).tolist():
                try:
                    json_texts[i] = _json_text(_parse_json_cell(cells[i]))
                except (TypeError, ValueError):
                    flag(_one(m, i), "not JSON")
            keep = present & ~bad
            slot = _text_slot(np.where(keep, json_texts, ""), keep, spec.wire, escape=False)
        else:  # pragma: no cover - a spec typo
            raise AssertionError(kind)
    if spec.required:
        missing = ~present & ~bad
        if missing.any():
            problems.add(positions[missing], spec.column, "missing value")
            bad = bad | missing
    elif spec.missing_is_error:
        missing = ~present & ~bad
        if missing.any():
            problems.add(
                positions[missing], spec.column, "missing value (leave the column out, or give 0)"
            )
            bad = bad | missing
    return slot, present & ~bad, ~bad


def _take(series: pd.Series, positions: np.ndarray) -> pd.Series:
    """``series.iloc[positions]``, as a cheap slice when the positions are a contiguous run."""
    m = len(positions)
    if m and positions[-1] - positions[0] == m - 1 and (m < 2 or (np.diff(positions) == 1).all()):
        return series.iloc[int(positions[0]) : int(positions[-1]) + 1]
    return series.iloc[positions]


def _one(m: int, i: int) -> np.ndarray:
    mask = np.zeros(m, dtype=bool)
    mask[i] = True
    return mask


def _present_object(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, float) and math.isnan(v):
        return False
    return v is not pd.NA and v is not pd.NaT


def _parse_json_cell(v: Any) -> Any:
    """A cell of a JSON column: a JSON text is parsed (so it is sent once, not re-quoted)."""
    if isinstance(v, str):
        return json.loads(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError("not finite")
    json.dumps(v, allow_nan=False)  # raises TypeError/ValueError when not serialisable
    return v
