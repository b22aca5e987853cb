"""DataFrame -> wire lines: validation, nonces and size-bounded bodies (pure, vectorised).

Nothing here does I/O. The writers (``kameleoon_pandas.writers``) feed a frame to a ``*Plan``,
iterate its :class:`Batch` es and post their bodies.

How a line is built (data-api.md 3.2 and 3.4)
    ``eventType=conversion&visitorCode=..&goalId=..&revenue=..&negative=..&nonce=..`` (parameter
    order is free). Every field becomes a *byte column* (:mod:`.bytecols`): an ``(m, w)`` uint8
    matrix, one NUL-padded value per row. Strings: one ``str.join`` of the slice's values, its
    bytes percent-encoded in numpy only when some byte needs it, laid into the matrix. Numbers
    in a numeric column: written by digit lookup tables (``repr`` for floats, whole numbers
    for integers; floats that need more than 4 decimals go through their distinct values and
    ``repr``). Booleans, enumerations and numbers held as text: through their distinct values
    (``pd.factorize`` once per plan, each checked and rendered once). The nonce: 16 hex digits
    by lookup. A slice's columns and constants go side by side into one byte matrix (a record
    per line), and a body is a run of its rows with the NUL bytes deleted (``bytes.replace``):
    no Python code runs per row. Percent-encoding leaves only ASCII, so a line's length in
    characters is its length in bytes, which is what the size limits count.

Nonces [chosen]
    16 upper-case hex digits of a 64-bit hash of: the site code and the kind (a blake2b seed),
    the row's index label, and each field's value in order (a field left out counts as
    ``ABSENT``): ``h = mix(mix(label) ^ seed)``, then ``h = h * GOLD + value_hash`` per field,
    and ``mix(h)``. ``mix`` is splitmix64's finaliser. A number's ``value_hash`` is
    ``mix(float64 bits ^ NUMBER_SALT)``, however the frame held it (7, 7.0, "7"); a text's is
    :func:`.bytecols.hash_matrix` of its encoded bytes (64-bit words folded by uint64
    arithmetic). An integer label is hashed by value, any other label by its text. All of it is
    plain uint64 arithmetic on arrays (distinct values hashed once), the same on every run and
    machine. The same row under the same label always gets the same nonce, so the server drops
    the second copy of anything it already stored; equal rows under different labels are
    distinct events, and duplicate index labels are refused. A ``nonce`` column (16 hex
    digits) wins.

Custom data [chosen]
    A visitor feed gives one row per value of ``valuesCountMap``. Rows of one event are put back
    together by (visitor or mapping value, ``custom_data_index``, ``overwrite``,
    ``mapping_identifier``, ``nonce``, and ``visit`` / ``time`` when the frame has them): one line
    per group, counts of a repeated value summed. Without a ``time`` column, every row of a visitor
    and index is one event.

Order [chosen]
    Events go in frame order, or by ``time`` (stable, missing times last) when the frame has a
    ``time`` column, so a feed pushed back keeps each visitor's chronology within a body. The
    server stamps events at receipt; bodies posted concurrently may be stored in any order.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from .._contract import EVENT_BODY_LIMIT, MAX_ID_LENGTH, SMALL_BODY_LIMIT
from .._exceptions import ValidationError
from . import bytecols

__all__ = [
    "EVENT_BODY_LIMIT",
    "MAX_ID_LENGTH",
    "PRODUCT_KINDS",
    "SMALL_BODY_LIMIT",
    "VISIT_KINDS",
    "Batch",
    "EventPlan",
    "FieldSpec",
    "KindSpec",
    "check_identifiers",
    "chunk_codes",
    "map_records",
    "plan_product_events",
    "plan_visit_events",
]

#: Rows encoded at a time: bounds the memory of the encoding to a few MB whatever the frame.
SLICE_ROWS = 65_536

_INVALID_COLUMNS = ["index", "column", "reason"]


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class FieldSpec:
    """One wire parameter read from one column."""

    column: str
    wire: str
    type: str  # int, float, bool, str, id, json, browser, os, device, count
    required: bool = False
    #: a missing cell is refused rather than left out (revenue: a lost amount is a data error)
    missing_is_error: bool = False


@dataclass(frozen=True)
class KindSpec:
    """An event kind: its wire ``eventType`` and fields (the identity field is added per plan)."""

    name: str
    event_type: str
    fields: tuple[FieldSpec, ...]
    at_least_one: bool = False  # static data: any field, but at least one


def _f(
    column: str, wire: str, type_: str, required: bool = False, missing_is_error: bool = False
) -> FieldSpec:
    return FieldSpec(column, wire, type_, required, missing_is_error)


#: Visit event kinds (data-api.md 3.2), keyed by the feed's snake_case ``kind``.
VISIT_KINDS: Mapping[str, KindSpec] = {
    "conversion": KindSpec(
        "conversion",
        "conversion",
        (
            _f("goal_id", "goalId", "int", True),
            _f("revenue", "revenue", "float", missing_is_error=True),
            _f("negative", "negative", "bool"),
            _f("metadata", "metadata", "json"),
        ),
    ),
    "custom_data": KindSpec(
        "custom_data",
        "customData",
        (
            _f("custom_data_index", "index", "int", True),
            # valuesCountMap is built from the grouped value/count rows
            _f("overwrite", "overwrite", "bool"),
            _f("mapping_identifier", "mappingIdentifier", "bool"),
        ),
    ),
    "page": KindSpec(
        "page",
        "page",
        (
            _f("href", "href", "str", True),
            _f("title", "title", "str"),
            _f("referrers_indices", "referrersIndices", "json"),
        ),
    ),
    "experiment": KindSpec(
        "experiment",
        "experiment",
        (_f("experiment_id", "id", "int", True), _f("variation_id", "variationId", "int", True)),
    ),
    "personalization": KindSpec(
        "personalization",
        "personalization",
        (
            _f("personalization_id", "id", "int", True),
            _f("variation_id", "variationId", "int", True),
        ),
    ),
    "geolocation": KindSpec(
        "geolocation",
        "geolocation",
        (
            _f("country", "country", "str", True),
            _f("region", "region", "str"),
            _f("city", "city", "str"),
            _f("postal_code", "postalCode", "str"),
            _f("latitude", "latitude", "float"),
            _f("longitude", "longitude", "float"),
        ),
    ),
    "static_data": KindSpec(
        "static_data",
        "staticData",
        (
            _f("visit_number", "visitNumber", "int"),
            _f("device_type", "deviceType", "device"),
            _f("browser", "browserIndex", "browser"),
            _f("browser_version", "browserVersion", "float"),
            _f("os", "os", "os"),
            _f("time_since_previous_visit", "timeSincePreviousVisit", "int"),
        ),
        at_least_one=True,
    ),
    "targeting_segment": KindSpec(
        "targeting_segment", "targetingSegment", (_f("targeting_segment_id", "id", "int", True),)
    ),
}

#: Product event kinds (data-api.md 3.4). ``product_page`` also sends every other column as an
#: attribute (see :data:`PRODUCT_ATTRIBUTE_WIRE`).
PRODUCT_KINDS: Mapping[str, KindSpec] = {
    "product_page": KindSpec("product_page", "productPage", ()),
    "add_to_cart": KindSpec(
        "add_to_cart", "productAddToCart", (_f("quantity", "quantity", "count"),)
    ),
    "purchase": KindSpec("purchase", "productBuy", (_f("quantity", "quantity", "count"),)),
}

#: Browser names of the feed -> ``browserIndex`` (data-api.md 3.2).
BROWSERS: Mapping[str, int] = {
    "CHROME": 0,
    "INTERNET_EXPLORER": 1,
    "FIREFOX": 2,
    "SAFARI": 3,
    "OPERA": 4,
    "OTHER": 5,
}
OSES = ("WINDOWS", "MAC", "IOS", "LINUX", "ANDROID", "WINDOWS_PHONE")
DEVICES = ("DESKTOP", "PHONE", "TABLET")

#: Columns never sent as product attributes.
_PRODUCT_CONTROL = {"ean", "kind", "nonce", "quantity", "site_code"}


def _alias_table(names: Mapping[str, KindSpec]) -> dict[str, str]:
    table = {}
    for name, spec in names.items():
        table[name] = name
        table[name.replace("_", "")] = name
        table[spec.event_type.lower()] = name
    return table


_VISIT_ALIASES = _alias_table(VISIT_KINDS)
_PRODUCT_ALIASES = _alias_table(PRODUCT_KINDS) | {"productbuy": "purchase", "buy": "purchase"}


# --------------------------------------------------------------------------- problems


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
                "index": pd.array(index[pos[order]].to_numpy(dtype=object), dtype=object),
                "column": cols[order],
                "reason": why[order],
            }
        ).reset_index(drop=True)


def empty_invalid() -> pd.DataFrame:
    """The ``invalid`` frame of a report with nothing wrong."""
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in _INVALID_COLUMNS})


# --------------------------------------------------------------------------- hashing

_GOLD = bytecols.GOLD
_mix = bytecols.mix
_NONCE_RE = re.compile(r"[0-9A-Fa-f]{16}")
#: The hash of an absent field (no parameter on the line).
_ABSENT = np.uint64(0x6A09E667F3BCC908)


def _seed(site_code: str, kind: str) -> np.uint64:
    digest = hashlib.blake2b(f"{site_code}\x1f{kind}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "big"))


def _hash_labels(index: pd.Index) -> np.ndarray:
    """One uint64 per index label: integers by value, anything else by its text."""
    if isinstance(index, pd.MultiIndex):
        h = np.zeros(len(index), dtype=np.uint64)
        for level in range(index.nlevels):
            h = _mix(h * _GOLD + _hash_labels(index.get_level_values(level)))
        return h
    dtype = index.dtype
    if pd.api.types.is_integer_dtype(dtype) and not index.hasnans:
        return _mix(index.to_numpy(dtype=np.int64).view(np.uint64))
    if pd.api.types.is_datetime64_any_dtype(dtype) and not index.hasnans:
        stamps = index.as_unit("ns").asi8 if hasattr(index, "as_unit") else index.asi8
        return _mix(stamps.view(np.uint64) ^ np.uint64(0xD1B54A32D192ED03))
    values = index.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) == "string":
        return bytecols.hash_texts(values.tolist())
    # anything else by its repr, so that 1, 1.0 and "1" stay apart
    return bytecols.hash_texts([repr(v) for v in values.tolist()])


# --------------------------------------------------------------------------- slots

#: Cells (rows x bytes) of one slice's line matrix, beyond which the slice is split: bounds the
#: encoder's memory when a column holds very long texts.
_MAX_CELLS = 16 * 2**20


class _TooWide(Exception):
    """A slice's byte columns would pass :data:`_MAX_CELLS`: encode it in halves."""


def _check_cells(m: int, width: int) -> None:
    if m > 1 and m * width > _MAX_CELLS:
        raise _TooWide


@dataclass
class _Slot:
    """One wire parameter for m rows, as it goes on the line.

    ``parts`` are byte columns (``(m, w)`` uint8, NUL-padded, see :mod:`.bytecols`) or bytes the
    same on every row, in line order: ``b"&goalId="`` and the values, or both in one column.
    ``lens`` are the bytes each row adds; ``hashes`` the hash of each row's encoded value
    (``_ABSENT`` when the parameter is left out), which the nonce folds in.
    """

    parts: list[bytes | np.ndarray]
    lens: np.ndarray
    hashes: np.ndarray


def _absent_slot(m: int) -> _Slot:
    return _Slot([], np.zeros(m, np.int64), np.full(m, _ABSENT, dtype=np.uint64))


def _text_slot(
    values: np.ndarray | list[str],
    present: np.ndarray,
    wire: str,
    escape: bool = True,
    char_lens: np.ndarray | None = None,
    joined: str | None = None,
) -> _Slot:
    """The slot of (mostly distinct) strings: one pass over all their bytes, no row loop.

    ``char_lens`` (each value's ``len``) and ``joined`` (all of them end to end), when the
    caller has them, save a pass.
    """
    name = f"&{wire}=".encode()
    m = len(values)
    every = bool(present.all())
    idx = None if every else np.flatnonzero(present)
    if not every:
        values = np.asarray(values, dtype=object)[idx]
        char_lens = None if char_lens is None else char_lens[idx]
        joined = None
    if not isinstance(values, list):
        values = values.tolist()
    buf, lens = bytecols.utf8_buffer(values, char_lens, joined)
    if escape:
        buf, lens = bytecols.percent_encode(buf, lens)
    longest = int(lens.max()) if len(lens) else 0
    _check_cells(m, len(name) + longest)
    mat = bytecols.pack(buf, lens)
    hashes = bytecols.hash_matrix(mat, lens)
    mat = mat[:, :longest]
    if every:
        return _Slot([name, mat], lens + len(name), hashes)
    full = np.zeros((m, len(name) + longest), dtype=np.uint8)
    full[idx, : len(name)] = np.frombuffer(name, dtype=np.uint8)
    full[idx, len(name) :] = mat
    out_lens = np.zeros(m, dtype=np.int64)
    out_lens[idx] = lens + len(name)
    out_hashes = np.full(m, _ABSENT, dtype=np.uint64)
    out_hashes[idx] = hashes
    return _Slot([full], out_lens, out_hashes)


def _width(part: bytes | np.ndarray) -> int:
    """Bytes per row of a part: a constant, an ``(m, w)`` byte column or an ``(m,)`` void array."""
    if isinstance(part, bytes):
        return len(part)
    return part.dtype.itemsize if part.ndim == 1 else part.shape[1]


def _expand(part: bytes | np.ndarray, rows: np.ndarray, m: int) -> np.ndarray:
    """A part of ``len(rows)`` rows as a byte column of m rows (NUL elsewhere)."""
    if isinstance(part, bytes):
        part = np.frombuffer(part, dtype=np.uint8)
    elif part.ndim == 1:
        part = np.ascontiguousarray(part).view(np.uint8).reshape(len(part), -1)
    out = np.zeros((m, part.shape[-1]), dtype=np.uint8)
    out[rows] = part
    return out


@dataclass
class _Scratch:
    """The last slice's line matrix, kept for the next: same layout, same constants, so only
    the columns that change are written (and no fresh pages are touched)."""

    key: tuple = ()
    rows: np.ndarray | None = None


def _line_matrix(
    parts: list[bytes | np.ndarray], m: int, scratch: _Scratch | None = None
) -> np.ndarray:
    """The ``(m, width)`` byte matrix of lines from their parts in order (NUL = nothing).

    With ``scratch`` the matrix is the scratch's memory, valid until the next call.
    """
    merged: list[bytes | np.ndarray] = []
    for part in parts:
        if isinstance(part, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] += part
        elif _width(part):  # skip what is empty
            merged.append(part)
    widths = [_width(p) for p in merged]
    _check_cells(m, sum(widths))
    # one record of void fields per line: a part is copied as a whole per row, not byte by byte
    layout = np.dtype(
        {
            "names": [f"p{i}" for i in range(len(merged))],
            "formats": [f"V{w}" for w in widths],
            "offsets": np.cumsum([0, *widths[:-1]]).tolist(),
            "itemsize": sum(widths),
        }
    )
    key = (layout, *(p if isinstance(p, bytes) else None for p in merged))
    if scratch is not None and scratch.key == key and len(scratch.rows) >= m:
        out, fresh = scratch.rows[:m], False
    else:
        out, fresh = np.empty(m, dtype=layout), True
        if scratch is not None:
            scratch.key, scratch.rows = key, out
    for i, (part, width) in enumerate(zip(merged, widths, strict=True)):
        if isinstance(part, bytes):
            if fresh:
                out[f"p{i}"] = np.void(part)
        elif part.ndim == 1:
            out[f"p{i}"] = part
        else:
            out[f"p{i}"] = np.ascontiguousarray(part).view(f"V{width}")[:, 0]
    return out.view(np.uint8).reshape(m, sum(widths))


def _float_text(value: float) -> str:
    # "1e+16": a bare "+" would reach the server as a space
    return repr(float(value)).replace("+", "%2B")


def _int_text(value: float) -> str:
    return str(int(value))


def _bool_text(value: float) -> str:
    return "true" if value else "false"


def _json_text(value: Any) -> str:
    return quote(json.dumps(value, separators=(",", ":"), ensure_ascii=False), safe="")


# --------------------------------------------------------------------------- column conversion


def _to_object_strings(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(values as an object array of str, None where missing; present mask). Read only."""
    present = series.notna().to_numpy()
    values = series.to_numpy(dtype=object)  # the frame's own array when it has one: no copy
    if not present.all():
        values = np.where(present, values, None)
    if not pd.api.types.is_string_dtype(series.dtype) or (
        series.dtype == object and pd.api.types.infer_dtype(series, skipna=True) != "string"
    ):
        values = values.copy()
        idx = np.flatnonzero(present)
        values[idx] = [v if isinstance(v, str) else str(v) for v in values[idx]]
    return values, present


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
        codes, uniques = series.factorize(use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists, dicts): by their text, which will not convert
        codes, uniques = series.where(series.isna(), series.astype(str)).factorize()
    uniques = pd.Series(uniques)
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
            texts = _all_texts(s)
            if texts is not None:  # the usual case: no missing cell, nothing to convert
                values, lens, joined = texts
                present = np.ones(m, dtype=bool)
            else:
                (values, present), lens, joined = _to_object_strings(s), None, None
            if kind == "id" and lens is None:
                if present.all():
                    lens = np.fromiter(map(len, values.tolist()), dtype=np.int64, count=m)
                else:
                    lens = np.zeros(m, dtype=np.int64)
                    idx = np.flatnonzero(present)
                    lens[idx] = np.fromiter(map(len, values[idx]), dtype=np.int64, count=len(idx))
            if kind == "id":
                flag(present & (lens == 0), "empty identifier")
                flag(lens > MAX_ID_LENGTH, f"longer than {MAX_ID_LENGTH} characters")
            slot = _text_slot(values, present & ~bad, spec.wire, char_lens=lens, joined=joined)
        elif kind == "json":
            values = s.to_numpy(dtype=object, na_value=None)
            present = np.array([_present_object(v) for v in values], dtype=bool)
            texts = np.full(m, None, dtype=object)
            for i in np.flatnonzero(present):  # a JSON text per cell: objects have no vector form
                try:
                    texts[i] = _json_text(_parse_json_cell(values[i]))
                except (TypeError, ValueError):
                    flag(_one(m, i), "not JSON")
            keep = present & ~bad
            slot = _text_slot(np.where(keep, texts, ""), keep, spec.wire, escape=False)
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


# --------------------------------------------------------------------------- plans


@dataclass
class Batch:
    """One request body and the events it carries."""

    body: bytes
    events: np.ndarray  # event ids (see EventPlan.rows_of)

    def split(self) -> tuple[Batch, Batch]:
        """Two halves by line count (for a 413)."""
        lines = self.body.rstrip(b"\n").split(b"\n")
        half = len(lines) // 2
        return (
            Batch(b"\n".join(lines[:half]), self.events[:half]),
            Batch(b"\n".join(lines[half:]), self.events[half:]),
        )


@dataclass
class EventPlan:
    """A validated, ordered set of events from one frame, encoded slice by slice on demand.

    ``invalid`` (DataFrame: index, column, reason) fills as slices are encoded; after iterating
    :meth:`batches` to the end it holds every problem of the frame.
    """

    frame: pd.DataFrame
    columns: dict[str, pd.Series]
    kinds: dict[str, KindSpec]
    row_kind: np.ndarray  # int8 per row: the position of its kind in ``kinds``, -1 when invalid
    identity: list[FieldSpec]
    site_code: str
    events: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # lead row per event
    members: dict[int, np.ndarray] = field(default_factory=dict)  # lead row -> member rows
    #: lead row -> valuesCountMap text (built once per plan, looked up per slice)
    extra_pieces: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))
    problems: _Problems = field(default_factory=_Problems)
    _factors: dict[tuple[str, str, str], _Factor] = field(default_factory=dict)
    _scratch: _Scratch = field(default_factory=_Scratch)

    def kind_code(self, name: str) -> int:
        return list(self.kinds).index(name)

    def rows_of(self, events: np.ndarray) -> np.ndarray:
        """Row positions carried by the given events (custom data groups expand)."""
        if not self.members:
            return np.asarray(events, dtype=np.int64)
        parts = [self.members.get(int(e), np.array([e])) for e in events]
        return np.concatenate(parts) if parts else np.empty(0, np.int64)

    @property
    def invalid(self) -> pd.DataFrame:
        return self.problems.frame(self.frame.index)

    def invalid_rows(self) -> np.ndarray:
        return self.problems.bad_positions()

    def batches(
        self,
        limit: int = EVENT_BODY_LIMIT,
        slice_rows: int = SLICE_ROWS,
        max_lines: int | None = None,
    ) -> Iterator[Batch]:
        """Bodies of at most ``limit`` bytes (and ``max_lines`` lines), in event order."""
        start, rows = 0, slice_rows
        while start < len(self.events):
            lead = self.events[start : start + rows]
            mark = self.problems.mark()
            try:
                matrix, lens, ok = self._encode_slice(lead)
            except _TooWide:  # very long texts: fewer rows at a time, as often as needed
                self.problems.rollback(mark)
                rows = max(1, len(lead) // 2)
                continue
            start += len(lead)
            # as many rows next time as fit this slice's line width (back up after a long one)
            rows = max(1, min(slice_rows, _MAX_CELLS // max(1, matrix.shape[1])))
            if not ok.all():
                if self.members:  # a refused event refuses every row it was built from
                    for e in lead[~ok].tolist():
                        others = self.members.get(e, np.empty(0, np.int64))
                        others = others[others != e]
                        self.problems.add(others, "value", "another row of this event is invalid")
                matrix, lens, lead = matrix[ok], lens[ok], lead[ok]
            yield from _chunk(matrix, lens, lead, limit, max_lines)

    # -- encoding one slice -----------------------------------------------------------------

    def _encode_slice(self, lead: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m = len(lead)
        codes = self.row_kind[lead]
        specs = list(self.kinds.values())
        if m and (codes == codes[0]).all():  # the usual case: one kind, no copying
            return self._encode_kind(specs[codes[0]], lead, self._scratch)
        parts = []
        for code in np.unique(codes):
            sel = np.flatnonzero(codes == code)
            parts.append((sel, *self._encode_kind(specs[code], lead[sel])))
        width = max(sub.shape[1] for _, sub, _, _ in parts)
        matrix = np.zeros((m, width), dtype=np.uint8)  # NUL after a line's end adds nothing
        lens = np.zeros(m, dtype=np.int64)
        ok = np.ones(m, dtype=bool)
        for sel, sub, sub_lens, sub_ok in parts:
            matrix[sel, : sub.shape[1]] = sub
            lens[sel] = sub_lens
            ok[sel] = sub_ok
        return matrix, lens, ok

    def _attribute_columns(self) -> list[str]:
        return [c for c in self.columns if c not in _PRODUCT_CONTROL]

    def _encode_kind(
        self, spec: KindSpec, rows: np.ndarray, scratch: _Scratch | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The line matrix of ``rows`` (all of kind ``spec``): lengths include the newline.

        With ``scratch`` the matrix is only valid until the next slice is encoded.
        """
        m = len(rows)
        slots: list[_Slot] = []
        ok = np.ones(m, dtype=bool)
        # identity: visitor_code, else mapping_value (visit events) / ean (product events)
        ident, ident_ok = self._identity_slot(rows)
        ok &= ident_ok
        slots.append(ident)
        any_field = np.zeros(m, dtype=bool)
        fields = spec.fields
        if spec.name == "product_page":
            fields = tuple(
                FieldSpec(c, _attribute_wire(c), _attribute_type(self.columns[c]))
                for c in self._attribute_columns()
            )
        for fspec in fields:
            slot, present, valid = _encode_field(
                fspec, self.columns.get(fspec.column), rows, self.problems, self._factors
            )
            slots.append(slot)
            ok &= valid
            any_field |= present
        if spec.at_least_one:
            none = ~any_field & ok
            if none.any():
                names = ", ".join(f.column for f in spec.fields)
                self.problems.add(rows[none], spec.name, f"no field given (one of {names})")
                ok &= ~none
        if spec.name == "custom_data":
            texts = self.extra_pieces.reindex(rows).fillna("")
            texts = texts.to_numpy(dtype=object)
            slots.append(_text_slot(texts, texts != "", "valuesCountMap", escape=False))
        # the nonce: derived from seed, label and every field, unless a nonce column gives it
        h = _mix(_hash_labels(self.frame.index[rows]) ^ _seed(self.site_code, spec.name))
        head = f"eventType={spec.event_type}".encode()
        lens = np.full(m, len(head) + len("&nonce=") + 16 + 1, dtype=np.int64)
        for slot in slots:
            h = h * _GOLD + slot.hashes  # an odd multiplier: each step keeps every bit of h
            lens += slot.lens
        nonces = bytecols.hex16(_mix(h))
        given = self.columns.get("nonce")
        if given is not None:
            ok &= self._given_nonces(_take(given, rows), rows, nonces)
        # Line layout (parameter order is free): eventType first, the nonce last.
        parts = [head, *(p for slot in slots for p in slot.parts), b"&nonce=", nonces, b"\n"]
        return _line_matrix(parts, m, scratch), lens, ok

    def _given_nonces(self, given: pd.Series, rows: np.ndarray, nonces: np.ndarray) -> np.ndarray:
        """Put the ``nonce`` column's values in place of the derived ones; the rows still ok."""
        has = given.notna().to_numpy()
        if not has.any():
            return np.ones(len(rows), dtype=bool)
        text = given.astype("string").str.strip()
        good = text.str.fullmatch(_NONCE_RE.pattern).to_numpy(dtype=bool, na_value=False)
        bad = has & ~good
        self.problems.add(rows[bad], "nonce", "not 16 hexadecimal characters")
        use = np.flatnonzero(has & good)
        if use.size:
            chosen = "".join(text.to_numpy(dtype=object, na_value="")[use].tolist())
            nonces[use] = np.frombuffer(chosen.encode("ascii"), dtype=np.uint8).reshape(-1, 16)
        return ~bad

    def _identity_slot(self, rows: np.ndarray) -> tuple[_Slot, np.ndarray]:
        m = len(rows)
        first, *rest = self.identity
        p, present, valid = _encode_field(
            FieldSpec(first.column, first.wire, "id"),
            self.columns.get(first.column),
            rows,
            self.problems,
        )
        if not rest:
            missing = ~present & valid
            if missing.any():
                self.problems.add(rows[missing], first.column, "missing value")
                valid = valid & ~missing
            return p, valid
        # visitor_code, else mapping_value, row by row
        second = rest[0]
        sub = np.flatnonzero(~present & valid)
        if sub.size == 0:
            return p, valid
        q, q_present, q_valid = _encode_field(
            FieldSpec(second.column, second.wire, "id"),
            self.columns.get(second.column),
            rows[sub],
            self.problems,
        )
        parts = [_expand(c, np.arange(m), m) if isinstance(c, bytes) else c for c in p.parts]
        parts += [_expand(c, sub, m) for c in q.parts]
        lens, hashes = p.lens.copy(), p.hashes.copy()
        lens[sub], hashes[sub] = q.lens, q.hashes
        valid = valid.copy()
        valid[sub] &= q_valid
        missing = np.zeros(m, dtype=bool)
        missing[sub] = ~q_present & q_valid
        if missing.any():
            self.problems.add(
                rows[missing], f"{first.column}/{second.column}", "missing value (neither given)"
            )
            valid &= ~missing
        return _Slot(parts, lens, hashes), valid


def _chunk(
    matrix: np.ndarray, lens: np.ndarray, lead: np.ndarray, limit: int, max_lines: int | None
) -> Iterator[Batch]:
    """Greedy runs of lines under ``limit`` bytes: a body is its rows' bytes less the NULs."""
    n = len(lens)
    if n == 0:
        return
    ends = np.cumsum(lens)
    start = 0
    while start < n:
        base = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, base + limit, side="right"))
        stop = max(stop, start + 1)  # a single over-long line still goes (the server says 413)
        if max_lines:
            stop = min(stop, start + max_lines)
        body = matrix[start:stop].tobytes().replace(b"\0", b"")
        if len(body) != ends[stop - 1] - base:  # pragma: no cover - a NUL in the wire text
            raise AssertionError("a line holds a NUL byte")
        yield Batch(body, lead[start:stop])
        start = stop


def _attribute_wire(column: str) -> str:
    from .schemas import PRODUCT_ATTRIBUTES

    for wire, (col, _) in PRODUCT_ATTRIBUTES.items():
        if col == column:
            return wire
    head, *tail = column.split("_")
    return head + "".join(t[:1].upper() + t[1:] for t in tail)


def _attribute_type(series: pd.Series) -> str:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_string_dtype(dtype) and (
        dtype is not np.dtype(object) or pd.api.types.infer_dtype(series, skipna=True) == "string"
    ):
        return "str"
    return "json"


# --------------------------------------------------------------------------- building plans


def _resolve_columns(
    df: pd.DataFrame, mapping: Mapping[str, str], known: set[str] | None
) -> dict[str, pd.Series]:
    """Schema name -> the frame's column, after ``**columns`` renames."""
    if not isinstance(df, pd.DataFrame):
        raise ValidationError(f"expected a pandas DataFrame, got {type(df).__name__}")
    dupes = df.columns[df.columns.duplicated()].tolist()
    if dupes:
        raise ValidationError(f"duplicate column names: {dupes}")
    for name, source in mapping.items():
        if known is not None and name not in known:
            raise ValidationError(
                f"unknown column parameter {name}={source!r}: expected one of {sorted(known)}"
            )
        if source not in df.columns:
            raise ValidationError(f"{name}={source!r}: the frame has no column {source!r}")
    sources = set(mapping.values())
    out = {str(c): df[c] for c in df.columns if c not in sources}
    for name, source in mapping.items():
        out[name] = df[source]  # the mapping wins over a column of the schema name
    return out


def _row_kinds(
    df: pd.DataFrame,
    kind: str | None,
    columns: dict[str, pd.Series],
    kinds: Mapping[str, KindSpec],
    aliases: Mapping[str, str],
    problems: _Problems,
) -> np.ndarray:
    """int8 per row: the position of the row's kind in ``kinds``; -1 (and a problem) if unknown."""
    names = list(kinds)
    if kind is not None:
        name = aliases.get(str(kind).replace("-", "_").lower())
        if name is None:
            raise ValidationError(f"unknown kind {kind!r}: expected one of {names}")
        return np.full(len(df), names.index(name), dtype=np.int8)
    if "kind" not in columns:
        raise ValidationError(
            f"no kind: pass kind= (one of {names}) or give the frame a 'kind' column"
        )
    codes, uniques = pd.factorize(columns["kind"].astype("string"), use_na_sentinel=True)
    lookup = [
        names.index(aliases[k])
        if (k := str(u).strip().replace("-", "_").lower()) in aliases
        else -1
        for u in uniques.tolist()
    ]
    out = np.append(np.array(lookup, dtype=np.int8), np.int8(-2)).take(codes)
    problems.add(np.flatnonzero(out == -2), "kind", "missing kind")
    problems.add(np.flatnonzero(out == -1), "kind", f"unknown kind (known: {', '.join(names)})")
    out[out < 0] = -1
    return out


def _require_columns(
    columns: dict[str, pd.Series], row_kind: np.ndarray, kinds: Mapping[str, KindSpec]
) -> None:
    missing = []
    specs = list(kinds.values())
    present_kinds = [specs[c].name for c in np.unique(row_kind) if c >= 0]
    for name in present_kinds:
        for f in kinds[name].fields:
            if f.required and f.column not in columns:
                missing.append(f"{f.column!r} (required by {name})")
    if "custom_data" in present_kinds and "value" not in columns:
        missing.append("'value' (required by custom_data)")
    if missing:
        raise ValidationError("missing columns: " + ", ".join(missing))


def _check_index(df: pd.DataFrame, cols: dict[str, pd.Series]) -> None:
    # Nonces derive from the index label: two equal rows under one label would be one event.
    if "nonce" not in cols and df.index.has_duplicates:
        dupes = df.index[df.index.duplicated()].unique()[:5].tolist()
        raise ValidationError(
            f"the index has duplicate labels (e.g. {dupes}): nonces are derived from the label, "
            "so equal rows under one label would count once. Give unique labels (for example "
            "df.reset_index(drop=True), keeping them stable if you push again) or a 'nonce' column"
        )


def plan_visit_events(
    df: pd.DataFrame, kind: str | None = None, *, site_code: str, columns: Mapping[str, str] = {}
) -> EventPlan:
    """Validate the structure of ``df`` and plan its visit events (raises on missing columns)."""
    known = {f.column for spec in VISIT_KINDS.values() for f in spec.fields}
    known |= {"visitor_code", "mapping_value", "kind", "nonce", "value", "count", "time", "visit"}
    cols = _resolve_columns(df, columns, known)
    _check_index(df, cols)
    if "visitor_code" not in cols and "mapping_value" not in cols:
        raise ValidationError("missing columns: 'visitor_code' or 'mapping_value'")
    problems = _Problems()
    row_kind = _row_kinds(df, kind, cols, VISIT_KINDS, _VISIT_ALIASES, problems)
    _require_columns(cols, row_kind, VISIT_KINDS)
    identity = [FieldSpec("visitor_code", "visitorCode", "id", True)]
    if "mapping_value" in cols:
        identity.append(FieldSpec("mapping_value", "mappingValue", "id", True))
    if "visitor_code" not in cols:
        identity = identity[1:]
    plan = EventPlan(df, cols, dict(VISIT_KINDS), row_kind, identity, site_code, problems=problems)
    plan.events = _order(df, cols, row_kind)
    if (row_kind == plan.kind_code("custom_data")).any():
        _group_custom_data(plan)
    return plan


def plan_product_events(
    df: pd.DataFrame, kind: str | None = None, *, site_code: str, columns: Mapping[str, str] = {}
) -> EventPlan:
    """Validate the structure of ``df`` and plan its product events (raises on missing columns)."""
    cols = _resolve_columns(df, columns, None)  # any name: product attributes are open
    _check_index(df, cols)
    if "ean" not in cols:
        raise ValidationError("missing columns: 'ean'")
    problems = _Problems()
    row_kind = _row_kinds(df, kind, cols, PRODUCT_KINDS, _PRODUCT_ALIASES, problems)
    identity = [FieldSpec("ean", "ean", "id", True)]
    plan = EventPlan(
        df, cols, dict(PRODUCT_KINDS), row_kind, identity, site_code, problems=problems
    )
    plan.events = _order(df, cols, row_kind)
    return plan


def _order(df: pd.DataFrame, cols: dict[str, pd.Series], row_kind: np.ndarray) -> np.ndarray:
    valid = np.flatnonzero(row_kind >= 0)
    time = cols.get("time")
    if time is None or not pd.api.types.is_datetime64_any_dtype(time.dtype):
        return valid.astype(np.int64)
    t = time.iloc[valid].to_numpy(dtype="datetime64[ns]")
    order = np.argsort(t, kind="stable")  # NaT sorts last in numpy
    return valid[order].astype(np.int64)


def _group_custom_data(plan: EventPlan) -> None:
    """Put a feed's value rows back into one event per group (see the module docstring)."""
    cols = plan.columns
    rows = plan.events[plan.row_kind[plan.events] == plan.kind_code("custom_data")]
    problems = plan.problems
    values, present = _to_object_strings(cols["value"].iloc[rows])
    if not present.all():
        problems.add(rows[~present], "value", "missing value")
    counts_ok = np.ones(len(rows), dtype=bool)
    if "count" in cols:
        c, c_present, conv = _to_float(cols["count"].iloc[rows])
        bad = c_present & (~conv | ~np.isfinite(c) | (np.floor(c) != c) | (c < 0))
        problems.add(rows[bad], "count", "not a count (a whole number >= 0)")
        counts_ok = ~bad
        counts = np.where(c_present & ~bad, c, 1).astype(np.int64)
    else:
        counts = np.ones(len(rows), dtype=np.int64)
    keep = present & counts_ok
    key_frame = {}
    for name in (
        "visitor_code",
        "mapping_value",
        "custom_data_index",
        "overwrite",
        "mapping_identifier",
        "nonce",
        "visit",
        "time",
    ):
        if name in cols:
            key_frame[name] = cols[name].iloc[rows].astype(object).to_numpy()
    gid = (
        pd.DataFrame(key_frame)
        .groupby(list(key_frame), sort=False, dropna=False)
        .ngroup()
        .to_numpy()
    )
    dropped = []
    members: dict[int, np.ndarray] = {}
    texts: dict[int, str] = {}
    # Events of one value (the usual case) need no grouping: one JSON text per distinct pair.
    single = np.bincount(gid)[gid] == 1
    dropped.extend(rows[single & ~keep].tolist())
    one = np.flatnonzero(single & keep)
    memo: dict[tuple[str, int], str] = {}
    pairs = zip(rows[one].tolist(), values[one].tolist(), counts[one].tolist(), strict=True)
    for lead, v, n in pairs:
        text = memo.get((v, n))
        if text is None:
            text = memo[v, n] = _json_text({v: n})
        texts[lead] = text  # a one-row event has no members entry: rows_of gives the lead
    several = np.flatnonzero(~single)
    order = several[np.argsort(gid[several], kind="stable")]
    bounds = np.flatnonzero(np.diff(gid[order])) + 1
    for group in np.split(order, bounds) if order.size else ():
        lead = int(rows[group[0]])
        good = group[keep[group]]
        if good.size < group.size:
            # one bad value spoils the event: refuse the whole group, nothing goes half-sent
            problems.add(rows[good], "value", "another row of this event is invalid")
            dropped.extend(int(r) for r in rows[group])
            continue
        vmap: dict[str, int] = {}
        for v, n in zip(values[good].tolist(), counts[good].tolist(), strict=True):
            vmap[v] = vmap.get(v, 0) + n
        texts[lead] = _json_text(vmap)
        members[lead] = rows[group]
        dropped.extend(int(r) for r in rows[group[1:]])
    plan.members = members
    plan.extra_pieces = pd.Series(texts, dtype=object)
    if dropped:
        plan.events = plan.events[~np.isin(plan.events, np.array(dropped, dtype=np.int64))]


# --------------------------------------------------------------------------- forget and maps


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
    lens = np.zeros(len(values), dtype=np.int64)
    idx = np.flatnonzero(present)
    lens[idx] = np.fromiter(map(len, values[idx]), dtype=np.int64, count=len(idx))
    problems.add(np.flatnonzero(~present), column, missing)
    problems.add(np.flatnonzero(present & (lens == 0)), column, empty)
    problems.add(
        np.flatnonzero(lens > MAX_ID_LENGTH), column, f"longer than {MAX_ID_LENGTH} characters"
    )
    return values, present


def map_records(df: pd.DataFrame, key: str) -> tuple[list[str], list[dict], np.ndarray, _Problems]:
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
    records: list[dict] = [{} for _ in range(n)]
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
