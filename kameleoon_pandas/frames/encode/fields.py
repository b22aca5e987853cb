"""One field over a slice's rows: a column read, checked against the contract and made a slot.

Every value the encoder puts in a body is one the server takes (data-api.md 3.2, 3.4), and a
value the server would refuse makes its row invalid before anything is sent:

- identifiers (``visitorCode``, ``mappingValue``, ``ean``): a text of 1 to 100 characters,
  or an integer (an integral float is written as one: ``101.0`` is ``101``); bytes, booleans,
  tuples and numbers with a fraction are refused;
- texts: a str, or a number written as its digits (``repr`` for a fraction); a required text
  (``href``, ``country``) may not be empty; no text may hold a lone surrogate (it has no UTF-8);
- integers: signed 64-bit, from an integer, an integral float or a decimal text; counts >= 1;
- numbers: finite, from a number or a decimal text (``"n/a"`` is refused);
- booleans: ``True``/``False``, 1/0, or the texts true/false, yes/no, 1/0;
- JSON (:func:`.values.shaped_json`): finite numbers, at most 64 levels deep, the field's shape.

Columns are converted as a whole where their dtype allows (:func:`_column_texts`,
:func:`_number_field`); a column of Python objects or texts goes through its distinct values,
each checked and rendered once per plan (:class:`_Factor`); JSON cell by cell (objects have no
vector form). :func:`_encode_field` picks the way and adds every invalid cell to the plan's
problems.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from ..._contract import INT64_MAX, MAX_ID_LENGTH
from .. import bytecols
from .kinds import BROWSERS, DEVICES, OSES, FieldSpec
from .lines import (
    _absent_slot,
    _bool_text,
    _expand,
    _float_text,
    _int_text,
    _prefix,
    _Slot,
    _text_slot,
    _utf8_slot,
)
from .problems import _Problems
from .utf8 import Utf8
from .values import (
    NOT_FINITE,
    OUT_OF_RANGE,
    SURROGATE,
    SURROGATE_REASON,
    Bad,
    bool_of,
    factorize,
    has_surrogate,
    is_missing,
    number_of,
    shaped_json,
    text_of,
)

#: None as an object array, for ``np.where`` (numpy's stubs take no bare None there).
_NONE = np.array(None, dtype=object)
#: Field types that are JSON (a shape for :func:`.values.shaped_json`).
_JSON_TYPES = {"json", "object", "array", "int_array", "categories", "text_or_json"}

# --------------------------------------------------------------------------- texts


@dataclass
class _Texts:
    """A text column converted: each row's text (where present), problems by reason."""

    values: list[str] | np.ndarray
    present: np.ndarray
    bad: list[tuple[np.ndarray, str]] = field(default_factory=list)
    lens: np.ndarray | None = None  # characters per row (0 where not present), when known
    joined: str | None = None  # every value end to end, when every row is a fine text

    def bad_mask(self) -> np.ndarray:
        out = np.zeros(len(self.present), dtype=bool)
        for mask, _ in self.bad:
            out |= mask
        return out


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


def _text_lengths(values: np.ndarray | list[str], present: np.ndarray) -> np.ndarray:
    """``len`` of each present value (0 where missing)."""
    m = len(values)
    if present.all():
        return np.fromiter(map(len, values), dtype=np.int64, count=m)
    lens = np.zeros(m, dtype=np.int64)
    idx = np.flatnonzero(present)
    arr = np.asarray(values, dtype=object)
    lens[idx] = np.fromiter(map(len, arr[idx]), dtype=np.int64, count=len(idx))
    return lens


def _surrogates(values: np.ndarray | list[str], ok: np.ndarray) -> np.ndarray:
    """Which of the ``ok`` rows' texts hold a lone surrogate (a regex scan in C)."""
    idx = np.flatnonzero(ok)
    out = np.zeros(len(ok), dtype=bool)
    if idx.size == 0:
        return out
    texts = np.asarray(values, dtype=object)[idx].tolist()
    joined = "".join(texts)
    if joined.isascii() or SURROGATE.search(joined) is None:
        return out
    out[idx] = pd.Series(texts, dtype=object).str.contains(SURROGATE.pattern, regex=True)
    return out


def _column_texts(series: pd.Series, identifier: bool) -> _Texts:
    """The texts of a column (see the module docstring); read only, no row loop for the usual
    dtypes (strings, integers, floats)."""
    fast = _all_texts(series)
    if fast is not None:  # the usual case: every cell a str
        values, lens, joined = fast
        present = np.ones(len(values), dtype=bool)
        out = _Texts(values, present, lens=lens, joined=joined)
        if not joined.isascii() and SURROGATE.search(joined) is not None:
            out.bad.append((_surrogates(values, present), SURROGATE_REASON))
            out.joined = None
        return out
    dtype = series.dtype
    m = len(series)
    if isinstance(dtype, pd.CategoricalDtype):
        return _column_texts(series.astype(object), identifier)
    present = series.notna().to_numpy()
    texts = np.full(m, None, dtype=object)
    out = _Texts(texts, present)
    if pd.api.types.is_bool_dtype(dtype):
        out.bad.append((present, "not a text (a boolean)"))
    elif pd.api.types.is_integer_dtype(dtype):
        unsigned = pd.api.types.is_unsigned_integer_dtype(dtype)
        ints = series.to_numpy(dtype=np.uint64 if unsigned else np.int64, na_value=0)
        idx = np.flatnonzero(present)
        texts[idx] = ints[idx].astype(str).astype(object)
    elif pd.api.types.is_float_dtype(dtype):
        floats = series.to_numpy(dtype=np.float64, na_value=np.nan)
        safe = np.where(present, floats, 0.0)
        finite = np.isfinite(safe)
        whole = finite & (np.floor(np.where(finite, safe, 0.0)) == safe)
        small = whole & (np.abs(safe) < 2.0**53)
        idx = np.flatnonzero(present & small)
        texts[idx] = safe[idx].astype(np.int64).astype(str).astype(object)
        rest = np.flatnonzero(present & ~small)  # fractions, infinities, huge whole numbers
        if rest.size:
            _convert_objects(texts, rest, safe[rest].astype(object), identifier, out)
    elif dtype == np.dtype(object) or isinstance(dtype, pd.StringDtype):
        cells = series.to_numpy(dtype=object)
        idx = np.flatnonzero(present)
        if pd.api.types.infer_dtype(cells[idx], skipna=False) == "string":
            texts[idx] = cells[idx]
        else:
            _convert_objects(texts, idx, cells[idx], identifier, out)
    else:  # datetimes, durations, periods, ...: no text of their own
        out.bad.append((present, f"not a text ({dtype})"))
    fine = present & ~out.bad_mask()
    out.bad.append((_surrogates(texts, fine), SURROGATE_REASON))
    out.lens = _text_lengths(texts, fine)
    return out


def _convert_objects(
    texts: np.ndarray, idx: np.ndarray, cells: np.ndarray, identifier: bool, out: _Texts
) -> None:
    """``text_of`` for cells ``idx`` (present ones), through their distinct values."""
    codes, table = factorize(cells)  # present cells only: no -1
    converted: list[str | None] = []
    why: list[str] = []
    for v in table:
        try:
            converted.append(text_of(v, identifier))
            why.append("")
        except Bad as exc:
            converted.append(None)
            why.append(exc.reason)
    row_texts = np.asarray([*converted, None], dtype=object)[codes]
    texts[idx] = row_texts
    row_why = np.asarray(why, dtype=object)[codes]
    for reason in set(why) - {""}:
        mask = np.zeros(len(texts), dtype=bool)
        mask[idx[row_why == reason]] = True
        out.bad.append((mask, reason))


# --------------------------------------------------------------------------- booleans


def _to_bool(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(truthy, present, ok) of a boolean column (see :func:`.values.bool_of`)."""
    present = series.notna().to_numpy()
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=bool, na_value=False), present, np.ones(len(series), bool)
    codes, uniques = _factorize(series)
    truthy, ok = [], []
    for v in np.asarray(uniques, dtype=object).tolist():
        try:
            truthy.append(bool_of(v))
            ok.append(True)
        except Bad:
            truthy.append(False)
            ok.append(False)
    codes = np.where(codes < 0, len(truthy), codes)
    return (
        np.asarray([*truthy, False], dtype=bool)[codes],
        present,
        np.asarray([*ok, True], dtype=bool)[codes],
    )


# --------------------------------------------------------------------------- distinct values


@dataclass
class _Factor:
    """A column through its distinct values, each checked and rendered once per plan.

    ``codes`` give each frame row its value's position (``len(reason) - 1``, the last entry,
    when the cell is missing); ``table`` holds ``"&wire=text"`` per value as a byte column
    (an all-NUL row for the missing entry and for invalid values: no parameter).
    """

    codes: np.ndarray
    table: np.ndarray
    lens: np.ndarray
    reason: np.ndarray  # int16 per value: 0 when fine, else a position in ``reasons``
    reasons: list[str]

    @property
    def voids(self) -> np.ndarray:
        """``table`` as one void per value (a row is then taken as a whole, not byte by byte)."""
        width = self.table.shape[1]
        return self.table.view(f"V{width}")[:, 0] if width else self.table


#: Types encoded through their distinct values (the others are mostly distinct texts); numbers
#: in a numeric column are written directly (:func:`_number_field`).
_FACTOR_TYPES = {"int", "count", "float", "bool", "browser", "os", "device"}
_NUMBER_TYPES = {"int", "count", "float"}


def _factorize(series: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(codes, -1 for a missing cell; the distinct values) of a column (see
    :func:`.values.factorize`: ``True`` is not ``1``)."""
    if series.dtype == np.dtype(bool):  # no hashing needed
        return series.to_numpy().view(np.int8).astype(np.int64), pd.Series([False, True])
    if series.dtype == np.dtype(object):
        codes, table = factorize(series.to_numpy())
        return codes, pd.Series(table, dtype=object)
    codes, found = series.factorize(use_na_sentinel=True)
    uniques = pd.Series(found)
    if isinstance(uniques.dtype, pd.CategoricalDtype):
        uniques = uniques.astype(object)
    return codes, uniques


def _converter(spec: FieldSpec) -> Callable[[Any], str]:
    """The check and text of one value of a field of type ``spec.type`` (raises Bad)."""
    kind = spec.type
    if kind in ("int", "count"):

        def integer(v: Any) -> str:
            n = number_of(v, True)
            if kind == "count" and n < 1:
                raise Bad("must be at least 1")
            return _int_text(int(n))

        return integer
    if kind == "float":
        return lambda v: _float_text(number_of(v, False))
    if kind == "bool":
        return lambda v: _bool_text(bool_of(v))
    if kind == "browser":
        unknown = f"unknown browser (known: {', '.join(BROWSERS)})"

        def browser(v: Any) -> str:
            if isinstance(v, str) and v.strip().upper() in BROWSERS:
                return str(BROWSERS[v.strip().upper()])
            try:  # an index is accepted as well
                n = number_of(v, True)
            except Bad:
                raise Bad(unknown) from None
            if n not in BROWSERS.values():
                raise Bad(unknown)
            return str(n)

        return browser
    if kind in ("os", "device"):
        known = OSES if kind == "os" else DEVICES
        unknown = f"unknown {spec.column} (known: {', '.join(known)})"

        def name(v: Any) -> str:
            text = v.strip().upper() if isinstance(v, str) else None
            if text is None or text not in known:
                raise Bad(unknown)
            return text

        return name
    raise AssertionError(kind)  # pragma: no cover - a spec typo


def _build_factor(spec: FieldSpec, series: pd.Series) -> _Factor:
    flags = series.dtype == np.dtype(bool)
    if flags:  # False, True: the column's own bytes are the codes
        codes, u = series.to_numpy().view(np.int8), pd.Series([False, True])
    else:
        codes, u = _factorize(series)
    uniques = np.asarray(u, dtype=object).tolist()
    k = len(uniques)
    convert = _converter(spec)
    reasons = [""]
    reason = np.zeros(k + 1, dtype=np.int16)
    texts: list[str] = []
    ok: list[int] = []
    prefix = _prefix(spec.wire)
    for i, v in enumerate(uniques):  # once per distinct value
        try:
            texts.append(prefix + convert(v))
            ok.append(i)
        except Bad as exc:
            if exc.reason not in reasons:
                reasons.append(exc.reason)
            reason[i] = reasons.index(exc.reason)
    buf, lens = bytecols.utf8_buffer(texts)
    table = np.zeros((k + 1, int(lens.max()) if len(lens) else 0), dtype=np.uint8)
    table[ok] = bytecols.pack(buf, lens, table.shape[1])
    all_lens = np.zeros(k + 1, dtype=np.int64)
    all_lens[ok] = lens
    if not flags:
        codes = np.where(codes < 0, k, codes).astype(np.int32 if k < 2**31 - 1 else np.int64)
    return _Factor(codes, table, all_lens, reason, reasons)


def _plain_numeric(series: pd.Series) -> bool:
    dtype = series.dtype
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _numbers(s: pd.Series | np.ndarray, dtype: type, na_value: Any) -> np.ndarray:
    """The cells of a numeric column (a Series, or a numpy array of a numpy dtype) as
    ``dtype``."""
    if isinstance(s, np.ndarray):
        return s.astype(dtype, copy=False)
    return s.to_numpy(dtype=dtype, na_value=na_value)


def _number_field(
    spec: FieldSpec, s: pd.Series | np.ndarray, positions: np.ndarray, problems: _Problems
) -> tuple[_Slot, np.ndarray, np.ndarray]:
    """(slot, present, bad) of a numeric column's rows, checked and written row-wise in numpy.

    ``s``: the rows' cells, a Series or (for a numpy dtype) a numpy array.
    """
    m = len(s)
    kind = s.dtype.kind if isinstance(s.dtype, np.dtype) else ""
    if kind in "iu" and kind:  # numpy integers: no missing cell
        present = np.ones(m, dtype=bool)
    elif kind == "f":  # numpy floats: NaN is the missing cell
        present = ~np.isnan(np.asarray(s))
    else:
        assert isinstance(s, pd.Series)
        present = s.notna().to_numpy()
    bad = np.zeros(m, dtype=bool)
    integer = spec.type in ("int", "count")

    def flag(mask: np.ndarray, reason: str) -> None:
        nonlocal bad
        mask = mask & ~bad
        if mask.any():
            problems.add(positions[mask], spec.column, reason)
            bad |= mask

    ints: np.ndarray | None = None
    if pd.api.types.is_integer_dtype(s.dtype):
        unsigned = pd.api.types.is_unsigned_integer_dtype(s.dtype)
        raw = _numbers(s, np.uint64 if unsigned else np.int64, 0)
        if unsigned:
            flag(present & (raw > np.uint64(INT64_MAX)), OUT_OF_RANGE)
            raw = np.where(bad, 0, raw).astype(np.int64)
        ints = raw
        # an integer field writes the integers themselves; a number field, as floats
        values = raw if integer else raw.astype(np.float64)
    else:
        values = _numbers(s, np.float64, np.nan)
        flag(present & ~np.isfinite(values), NOT_FINITE)
        if integer:
            safe = np.where(present & ~bad, values, 0.0)
            flag(present & (np.floor(safe) != safe), "not an integer")
            flag(present & ((safe < -(2.0**63)) | (safe >= 2.0**63)), OUT_OF_RANGE)
    if spec.type == "count":
        flag(present & (np.where(bad, 1, values) < 1), "must be at least 1")
    ok = present & ~bad
    if not ok.any():
        return _absent_slot(m), present, bad
    every = bool(ok.all())
    grouped = False  # written by decimal_text's digit groups (NULs may lie between them)
    if integer:
        if ints is None:
            ints = np.where(ok, values, 0.0).astype(np.int64)
        sub_ints = ints if every else ints[ok]
        if not len(sub_ints) or (sub_ints.min() > -(2**53) and sub_ints.max() < 2**53):
            mat, lens = bytecols.decimal_text(sub_ints, 0, point=False)
            grouped = True
        else:  # beyond a float's exact integers: their digits, through the distinct values
            codes, uniques = pd.factorize(sub_ints)
            mat, lens = _distinct_texts([str(int(v)) for v in uniques.tolist()], codes)
    else:
        sub = values if every else values[ok]
        d = bytecols.decimals(sub)
        if d is not None:
            mat, lens = bytecols.decimal_text(sub, d, point=True)
            grouped = True
        else:  # floats that need more digits: through their distinct values and repr
            codes, uniques = pd.factorize(sub.view(np.int64))  # by bits: -0.0 is not 0.0
            mat, lens = _distinct_texts(
                [_float_text(v) for v in uniques.view(np.float64).tolist()], codes
            )
    name = _prefix(spec.wire).encode()
    # a long number's digit groups may have NULs between them; a short one is one word
    packed = mat.ndim == 1 or not grouped
    if every:
        return _Slot([name, mat], lens + len(name), packed), present, bad
    idx = np.flatnonzero(ok)
    return (
        _Slot(
            [_expand(name, idx, m), _expand(mat, idx, m)],
            _scatter(lens + len(name), idx, m, 0),
            packed,
        ),
        present,
        bad,
    )


def _distinct_texts(texts: list[str], codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    buf, table_lens = bytecols.utf8_buffer(texts)
    mat = bytecols.pack(buf, table_lens, int(table_lens.max())).take(codes, axis=0)
    return mat, table_lens[codes]


def _scatter(values: np.ndarray, idx: np.ndarray, m: int, fill: Any) -> np.ndarray:
    out = np.full(m, fill, dtype=values.dtype)
    out[idx] = values
    return out


def _factor_field(
    spec: FieldSpec, factor: _Factor, positions: np.ndarray, problems: _Problems
) -> tuple[_Slot, np.ndarray, np.ndarray]:
    """(slot, present, bad) of the rows ``positions`` from the column's distinct values."""
    m = len(positions)
    if m and positions[-1] - positions[0] == m - 1 and (np.diff(positions) == 1).all():
        codes = factor.codes[int(positions[0]) : int(positions[-1]) + 1]  # a run: a view
    else:
        codes = factor.codes[positions]
    if factor.reason.any():  # some value is refused
        why = factor.reason[codes]
        bad = why > 0
        for code in np.unique(why[bad]).tolist():
            problems.add(positions[why == code], spec.column, factor.reasons[code])
    else:
        bad = np.zeros(m, dtype=bool)
    slot = _Slot([factor.voids.take(codes, axis=0)], factor.lens[codes])
    return slot, codes != len(factor.reason) - 1, bad


def _time_ms(series: pd.Series) -> pd.Series:
    """A datetime column as epoch milliseconds (nullable integers)."""
    present = series.notna().to_numpy()
    ms = pd.DatetimeIndex(series).as_unit("ms").asi8
    out = pd.Series(np.where(present, ms, 0), dtype="Int64")
    out[~present] = pd.NA
    return out


# --------------------------------------------------------------------------- one field


def _encode_field(
    spec: FieldSpec,
    series: pd.Series | None,
    positions: np.ndarray,
    problems: _Problems,
    factors: dict[tuple[str, str, str], _Factor] | None = None,
    texts: Utf8 | None = None,
) -> tuple[_Slot, np.ndarray, np.ndarray]:
    """The slot of one field over the rows ``positions``; returns (slot, present, valid).

    ``factors`` keeps the columns' distinct values from one slice to the next; ``texts`` is
    the whole column as UTF-8 bytes (:mod:`.utf8`) when the plan has it (a text field).
    """
    m = len(positions)
    if series is None:
        present = np.zeros(m, dtype=bool)
        if spec.required:
            problems.add(positions, spec.column, "missing value")
        return _absent_slot(m), present, ~present if spec.required else np.ones(m, bool)
    kind = spec.type
    if kind == "time_ms":
        spec = FieldSpec(spec.column, spec.wire, "int", spec.required, spec.missing_is_error)
        kind = "int"
        series = _time_ms(_take(series, positions))
        positions_in_series = np.arange(m)
    else:
        positions_in_series = positions
    if kind in _NUMBER_TYPES and _plain_numeric(series):
        numbers: pd.Series | np.ndarray = series
        if isinstance(series.dtype, np.dtype) and series.dtype.kind in "iuf":
            numbers = series.to_numpy()  # a view: slicing it costs no pandas call
        slot, present, bad = _number_field(
            spec, _take(numbers, positions_in_series), positions, problems
        )
    elif kind in _FACTOR_TYPES:
        key = (spec.column, spec.wire, kind)
        factors = {} if factors is None else factors
        if key not in factors:
            factors[key] = _build_factor(spec, series)
        slot, present, bad = _factor_field(spec, factors[key], positions, problems)
    else:
        bad = np.zeros(m, dtype=bool)

        def flag(mask: np.ndarray, reason: str) -> None:
            nonlocal bad
            mask = mask & ~bad
            if mask.any():
                problems.add(positions[mask], spec.column, reason)
                bad |= mask

        if kind in ("str", "id"):
            utf8 = None if texts is None else texts.take(positions)
            column: _Texts | None = None
            if utf8 is not None:  # every present cell a str, its bytes at hand
                present = utf8.present
                if utf8.surrogates:
                    flag(present & utf8.surrogate_rows(), SURROGATE_REASON)
                lens = utf8.char_lens()
            else:
                column = _column_texts(_take(series, positions), identifier=kind == "id")
                present = column.present
                for mask, reason in column.bad:
                    flag(mask, reason)
                lens = column.lens if column.lens is not None else np.zeros(m, dtype=np.int64)
            if kind == "id":
                flag(present & (lens == 0), "empty identifier")
                flag(lens > MAX_ID_LENGTH, f"longer than {MAX_ID_LENGTH} characters")
            elif spec.required:
                flag(present & (lens == 0), "missing value (an empty text)")
            if column is None:
                assert utf8 is not None
                slot = _utf8_slot(utf8, present & ~bad, spec.wire)
            else:
                slot = _text_slot(
                    column.values,
                    present & ~bad,
                    spec.wire,
                    char_lens=column.lens,
                    joined=column.joined if not bad.any() else None,
                )
        elif kind in _JSON_TYPES:
            slot, present = _json_field(spec, _take(series, positions), positions, flag)
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


def _json_field(
    spec: FieldSpec,
    s: pd.Series,
    positions: np.ndarray,
    flag: Callable[[np.ndarray, str], None],
) -> tuple[_Slot, np.ndarray]:
    """(slot, present) of a JSON field: each cell checked and written as JSON text (a text of
    an open product attribute as it is)."""
    m = len(s)
    # ``na_value`` takes any object; pandas-stubs only its ``Scalar`` types, not None
    cells = s.to_numpy(dtype=object, na_value=cast(Any, None))
    present = np.fromiter((not is_missing(v) for v in cells), dtype=bool, count=m)
    json_texts = np.full(m, "", dtype=object)
    why: dict[str, list[int]] = {}
    as_text = spec.type == "text_or_json"
    shape = "json" if as_text else spec.type
    for i in np.flatnonzero(present).tolist():  # a JSON text per cell: objects have no vector form
        v = cells[i]
        try:
            if as_text and isinstance(v, str):
                if has_surrogate(v):
                    raise Bad(SURROGATE_REASON)
                json_texts[i] = v
            else:
                json_texts[i] = shaped_json(v, shape)
        except Bad as exc:
            why.setdefault(exc.reason, []).append(i)
    bad = np.zeros(m, dtype=bool)
    for reason, rows in why.items():
        mask = np.zeros(m, dtype=bool)
        mask[rows] = True
        flag(mask, reason)
        bad |= mask
    keep = present & ~bad
    return _text_slot(np.where(keep, json_texts, ""), keep, spec.wire), present


def _take(series: Any, positions: np.ndarray) -> Any:
    """``series.iloc[positions]`` (or of a numpy array, ``[positions]``), as a cheap slice
    when the positions are a contiguous run."""
    m = len(positions)
    rows: Any = positions
    if m and positions[-1] - positions[0] == m - 1 and (m < 2 or (np.diff(positions) == 1).all()):
        rows = slice(int(positions[0]), int(positions[-1]) + 1)
    return series[rows] if isinstance(series, np.ndarray) else series.iloc[rows]


def _present_object(v: Any) -> bool:
    return not is_missing(v)


def _to_object_strings(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(values as an object array of str, None where missing or not a text; present mask).

    For the identifier checks of :mod:`.records` use :func:`_column_texts`; this is the
    plain conversion (no reasons) for grouping keys.
    """
    texts = _column_texts(series, identifier=False)
    values = np.asarray(texts.values, dtype=object)
    return np.where(texts.present, values, _NONE), texts.present


def _int_column(series: pd.Series) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, str]]]:
    """(int64 values, present, problems by reason) of an integer column: exact for integer
    dtypes, integral floats and decimal texts; a reason for every other present cell."""
    m = len(series)
    present = series.notna().to_numpy()
    bad: list[tuple[np.ndarray, str]] = []
    dtype = series.dtype
    if pd.api.types.is_integer_dtype(dtype):
        unsigned = pd.api.types.is_unsigned_integer_dtype(dtype)
        raw = series.to_numpy(dtype=np.uint64 if unsigned else np.int64, na_value=0)
        if unsigned:
            over = present & (raw > np.uint64(INT64_MAX))
            bad.append((over, OUT_OF_RANGE))
            raw = np.where(over, 0, raw).astype(np.int64)
        return raw, present, bad
    if pd.api.types.is_float_dtype(dtype):
        v = series.to_numpy(dtype=np.float64, na_value=np.nan)
        safe = np.where(present & np.isfinite(v), v, 0.0)
        bad.append((present & ~np.isfinite(np.where(present, v, 0.0)), NOT_FINITE))
        bad.append((present & (np.floor(safe) != safe), "not an integer"))
        bad.append((present & ((safe < -(2.0**63)) | (safe >= 2.0**63)), OUT_OF_RANGE))
        ok = np.ones(m, dtype=bool)
        for mask, _ in bad:
            ok &= ~mask
        return np.where(ok, safe, 0.0).astype(np.int64), present, bad
    codes, uniques = _factorize(series)
    table: list[int] = []
    why: list[str] = []
    for v in np.asarray(uniques, dtype=object).tolist():
        try:
            table.append(int(number_of(v, True)))
            why.append("")
        except Bad as exc:
            table.append(0)
            why.append(exc.reason)
    codes = np.where(codes < 0, len(table), codes)
    row_why = np.asarray([*why, ""], dtype=object)[codes]
    for reason in set(why) - {""}:
        bad.append((row_why == reason, reason))
    return np.asarray([*table, 0], dtype=np.int64)[codes], present, bad
