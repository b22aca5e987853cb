"""Nonces: 16 hex digits of a 64-bit hash that never depends on a row's position or label.

The server drops an event whose ``(siteCode, visitorCode, nonce)`` it has already stored
(data-api.md 3.2), so an event pushed twice (a re-run, a retry, a re-export of the same data)
is stored once as long as it gets the same nonce. The nonce of an event of kind ``kind`` for
site ``site`` is ``hex16(mix(h ^ seed))``, ``seed`` being 8 bytes of
``blake2b(site + "\\x1f" + kind)`` and ``h``:

- with ``key=`` columns ``k1, k2, ...``: ``mix(((K * GOLD + v(k1)) * GOLD + v(k2)) ...)``,
  ``K`` = :data:`_KEY_START`. Only those values count: the same order pushed from any export,
  in any row order, with any other columns, gets the same nonce.
- without: ``mix(c + mix(rank ^ RANK))`` where ``c = sum over the frame's columns of
  mix(v(cell) ^ name(column))`` (a sum, so the order of the columns does not matter; ``name``
  is the text hash of ``str(column)``) and ``rank`` is the number of earlier rows (in frame
  order) with the same ``c``: rows identical in every column are told apart by their rank, and
  every column counts, sent or not. Reordering, filtering, prepending or appending rows keeps
  every other row's nonce; changing any value of a row gives it a new one.
- a custom data event made of several rows (:mod:`.plans`): ``mix`` of the sum of its rows'
  ``h`` without ``key=``; the rows' shared key hash with it.

The index label never enters a nonce. A ``nonce`` column (16 hex digits) wins over all this.

``v(x)``, a value's hash, is by value, whatever the column's dtype:

- missing (None, NaN, ``pd.NA``, NaT): :data:`_MISSING`;
- a number that is an integer in the signed 64-bit range (``101``, ``101.0``, ``-0.0``):
  ``mix(int64 ^ INT)``, so an id column read back from a CSV as floats (it had a gap)
  hashes as it did; any other number (``2.5``, ``inf``): ``mix(float64 bits ^ FLOAT)``;
- a boolean: ``mix(0 or 1 ^ BOOL)`` (not a number: ``True`` is not ``1``);
- a text: ``mix(T(UTF-8 bytes) ^ TEXT)``, ``T`` being :func:`..bytecols.hash_matrix`
  (``"101"`` is a text, not the number 101); bytes: ``mix(T(bytes) ^ BYTES)``;
- a time (``datetime64``, ``Timestamp``): ``mix(nanoseconds since the epoch ^ TIME)``, the UTC
  instant for a time with a zone, the wall time for a naive one; a duration: ``mix(ns ^
  DELTA)``;
- a category: its value's hash; anything else (lists, dicts, tuples, other objects):
  ``mix(T(canonical JSON text, keys sorted) ^ OTHER)``, so ``[1, 2]``, ``(1, 2)`` and
  ``np.array([1, 2])`` are one value.

All of it is uint64 arithmetic on arrays (texts hashed slice by slice, objects through their
distinct values); ``mix`` is splitmix64's finaliser; the same on every run and machine.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import bytecols
from .utf8 import Utf8, column_utf8
from .values import factorize

_GOLD = bytecols.GOLD
_mix = bytecols.mix
_NONCE_RE = re.compile(r"[0-9A-Fa-f]{16}")

#: The hash of a missing value.
_MISSING = np.uint64(0x6A09E667F3BCC908)
_INT = np.uint64(0x243F6A8885A308D3)
_FLOAT = np.uint64(0x13198A2E03707344)
_BOOL = np.uint64(0xA4093822299F31D0)
_TEXT = np.uint64(0x082EFA98EC4E6C89)
_BYTES = np.uint64(0x452821E638D01377)
_TIME = np.uint64(0xBE5466CF34E90C6C)
_DELTA = np.uint64(0xC0AC29B7C97C50DD)
_OTHER = np.uint64(0x3F84D5B5B5470917)
_RANK = np.uint64(0x9216D5D98979FB1B)
#: Where a key hash starts.
_KEY_START = np.uint64(0xD1310BA698DFB5AC)
_KEY_BASE = np.uint64(int(_KEY_START) * int(_GOLD) % 2**64)  # KEY_START * GOLD, wrapped

#: Rows hashed at a time for texts and objects: bounds the memory of hashing a long column.
_CHUNK = 65_536


def _seed(site_code: str, kind: str) -> np.uint64:
    digest = hashlib.blake2b(f"{site_code}\x1f{kind}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "big"))


def nonce_hashes(h: np.ndarray, seed: np.uint64 | np.ndarray) -> np.ndarray:
    """The 64 bits of each nonce from the event hashes ``h`` and the site-and-kind seed."""
    return _mix(h, seed)


# --------------------------------------------------------------------------- values


def _salted(h: np.ndarray, salt: np.uint64, in_place: bool = False) -> np.ndarray:
    """``mix(h ^ salt)``; ``in_place`` when ``h`` is a temporary of the caller's."""
    return _mix(h, salt, out=h if in_place else None)


def int_hashes(values: np.ndarray) -> np.ndarray:
    """``v`` of int64 (or uint64) values."""
    return _salted(np.ascontiguousarray(values).view(np.uint64), _INT)


def number_hashes(values: np.ndarray) -> np.ndarray:
    """``v`` of float64 values (integers by their int64 value); NaN is missing."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    n = len(values)
    out = np.empty(n, dtype=np.uint64)
    for a in range(0, n, bytecols.BLOCK):  # a block at a time: the temporaries stay in cache
        v = values[a : a + bytecols.BLOCK]
        finite = np.isfinite(v)
        whole = np.where(finite, v, 0.0)
        integral = finite & (np.floor(whole) == whole) & (np.abs(whole) < 2.0**63)
        as_int = np.where(integral, whole, 0.0).astype(np.int64).view(np.uint64)
        # mix(int64 ^ INT) where integral, mix(float64 bits ^ FLOAT) elsewhere: one mix for both
        o = out[a : a + len(v)]
        np.copyto(o, np.where(integral, as_int ^ _INT, v.view(np.uint64) ^ _FLOAT))
        _mix(o, out=o)
        o[np.isnan(v)] = _MISSING
    return out


def text_hashes(values: Sequence[str]) -> np.ndarray:
    """``v`` of texts, by their UTF-8 bytes (a lone surrogate by its three bytes), by slices."""
    n = len(values)
    out = np.empty(n, dtype=np.uint64)
    for start in range(0, n, _CHUNK):
        part = values[start : start + _CHUNK]
        try:
            h = bytecols.hash_texts(part)
        except UnicodeEncodeError:
            h = bytecols.hash_texts(part, errors="surrogatepass")
        out[start : start + len(part)] = h
    return _salted(out, _TEXT, in_place=True)


def utf8_hashes(texts: Utf8) -> np.ndarray:
    """``v`` of a text column held as UTF-8 bytes (a missing cell: :data:`_MISSING`)."""
    out = _salted(texts.hashes(), _TEXT, in_place=True)
    if not texts.present.all():
        out[~texts.present] = _MISSING
    return out


def _time_ns(values: Any) -> np.ndarray | None:
    """Nanoseconds since the epoch of a datetime-like array (NaT as int64 min), or None when
    a value is out of the nanosecond range."""
    try:
        return pd.DatetimeIndex(values).as_unit("ns").asi8
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        return None


def _canonical_text(v: Any) -> str:
    try:
        return json.dumps(v, sort_keys=True, default=repr, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return repr(v)


def _one_hash(v: Any) -> np.uint64:
    """``v`` of one object (a distinct value of an object column)."""
    if v is None or v is pd.NA or v is pd.NaT:
        return _MISSING
    if isinstance(v, str):
        return np.uint64(text_hashes([v])[0])
    if isinstance(v, (bool, np.bool_)):
        return np.uint64(_salted(np.array([int(v)], dtype=np.uint64), _BOOL)[0])
    if isinstance(v, (int, np.integer)):
        n = int(v)
        if -(2**63) <= n < 2**64:
            return np.uint64(int_hashes(np.array([n % 2**64], dtype=np.uint64))[0])
        return np.uint64(_salted(text_hashes([str(n)]), _INT)[0])
    if isinstance(v, (float, np.floating)):
        return np.uint64(number_hashes(np.array([v], dtype=np.float64))[0])
    if isinstance(v, (bytes, bytearray)):
        raw = bytes(v)
        mat = bytecols.pack(np.frombuffer(raw, dtype=np.uint8), np.array([len(raw)]))
        return np.uint64(_salted(bytecols.hash_matrix(mat, np.array([len(raw)])), _BYTES)[0])
    if isinstance(v, (pd.Timestamp, np.datetime64)):
        ts = pd.Timestamp(v)
        return np.uint64(_salted(np.array([ts.value], dtype=np.int64).view(np.uint64), _TIME)[0])
    if isinstance(v, (pd.Timedelta, np.timedelta64)):
        td = pd.Timedelta(v)
        return np.uint64(_salted(np.array([td.value], dtype=np.int64).view(np.uint64), _DELTA)[0])
    if isinstance(v, np.ndarray):
        v = v.tolist()
    elif isinstance(v, float) and math.isnan(v):  # pragma: no cover - caught above
        return _MISSING
    return np.uint64(_salted(text_hashes([_canonical_text(v)]), _OTHER)[0])


def _object_hashes(values: np.ndarray) -> np.ndarray:
    """``v`` of an object array (missing cells already hashed by the caller or here)."""
    n = len(values)
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    inferred = pd.api.types.infer_dtype(values, skipna=False)
    if inferred == "string":
        return text_hashes(values.tolist())
    if inferred == "boolean":
        return _salted(values.astype(bool).astype(np.uint64), _BOOL)
    if inferred in ("floating", "mixed-integer-float"):
        return number_hashes(values.astype(np.float64))
    if inferred == "integer":
        try:
            return int_hashes(values.astype(np.int64))
        except OverflowError:
            pass
    codes, uniques = factorize(values)  # True is not 1 here
    table = np.fromiter((_one_hash(v) for v in uniques), dtype=np.uint64, count=len(uniques))
    return np.append(table, _MISSING).take(np.where(codes < 0, len(uniques), codes))


def value_hashes(series: pd.Series, texts: Utf8 | None = None) -> np.ndarray:
    """``v`` of every cell of a column (see the module docstring), one uint64 per row.

    ``texts``: the column's :class:`.utf8.Utf8` when the caller has it (the plan keeps those of
    the text columns it sends), so the texts are read once.
    """
    dtype = series.dtype
    n = len(series)
    if texts is None and (dtype == np.dtype(object) or isinstance(dtype, pd.StringDtype)):
        texts = column_utf8(series)  # None unless every present cell is a str
    if texts is not None:
        return utf8_hashes(texts)
    if isinstance(dtype, pd.CategoricalDtype):
        table = value_hashes(pd.Series(np.asarray(dtype.categories, dtype=object)))
        codes = series.cat.codes.to_numpy()
        return np.append(table, _MISSING).take(np.where(codes < 0, len(table), codes))
    if pd.api.types.is_float_dtype(dtype):
        return number_hashes(series.to_numpy(dtype=np.float64, na_value=np.nan))
    present: np.ndarray | None = None  # None: every cell has a value
    if isinstance(dtype, pd.StringDtype):
        try:
            return text_hashes(series.to_numpy(dtype=object).tolist())
        except TypeError:  # a missing cell (no len): the slower way below
            pass
    if not (isinstance(dtype, np.dtype) and dtype.kind in "biu"):  # numpy ints, bools: no gaps
        present = series.notna().to_numpy()
    if pd.api.types.is_bool_dtype(dtype):
        bits = series.to_numpy(dtype=bool, na_value=False).astype(np.uint64)
        out = _salted(bits, _BOOL)
    elif pd.api.types.is_integer_dtype(dtype):
        unsigned = pd.api.types.is_unsigned_integer_dtype(dtype)
        ints = series.to_numpy(dtype=np.uint64 if unsigned else np.int64, na_value=0)
        out = int_hashes(ints)
    elif pd.api.types.is_datetime64_any_dtype(dtype):
        ns = _time_ns(series)
        if ns is None:
            return _object_hashes(series.to_numpy(dtype=object))
        out = _salted(ns.view(np.uint64), _TIME)
    elif pd.api.types.is_timedelta64_dtype(dtype):
        ns = pd.TimedeltaIndex(series).as_unit("ns").asi8
        out = _salted(ns.view(np.uint64), _DELTA)
    else:
        assert present is not None
        values = series.to_numpy(dtype=object)
        if present.all():
            return _object_hashes(values)
        out = np.full(n, _MISSING, dtype=np.uint64)
        idx = np.flatnonzero(present)
        if isinstance(dtype, pd.StringDtype):
            out[idx] = text_hashes(values[idx].tolist())
        else:
            out[idx] = _object_hashes(values[idx])
        return out
    if present is not None and not present.all():
        out[~present] = _MISSING
    return out


# --------------------------------------------------------------------------- rows


def _name_hash(name: Any) -> np.uint64:
    return np.uint64(bytecols.hash_texts([str(name)], errors="surrogatepass")[0])


def repeated(h: np.ndarray) -> np.ndarray | None:
    """Which values of ``h`` occur more than once (a mask), or None when all are distinct.

    By sorting (numpy sorts integers by radix: a few ms for a million), not hashing.
    """
    if len(h) < 2:
        return None
    s = np.sort(h)
    same = s[1:] == s[:-1]
    if not same.any():
        return None
    return np.isin(h, s[1:][same])


def ranks(h: np.ndarray) -> np.ndarray:
    """For each row, how many earlier rows have the same hash (0 for the first of each)."""
    n = len(h)
    if repeated(h) is None:
        return np.zeros(n, dtype=np.int64)
    order = np.argsort(h, kind="stable")  # equal hashes keep their frame order
    sorted_h = h[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_h[1:] != sorted_h[:-1])))
    run = np.repeat(starts, np.diff(np.append(starts, n)))
    out = np.empty(n, dtype=np.int64)
    out[order] = np.arange(n) - run
    return out


def content_hashes(df: pd.DataFrame, texts: Mapping[Any, Utf8] = {}) -> np.ndarray:
    """``h`` of every row without ``key=``: all its cells by column name, and its rank.

    ``texts``: column label -> its :class:`.utf8.Utf8`, for the columns the caller has.
    """
    c = np.zeros(len(df), dtype=np.uint64)
    for i, name in enumerate(df.columns):
        v = value_hashes(df.iloc[:, i], texts.get(name))
        c += _mix(v, _name_hash(name), out=v)  # v is ours: mixed in place
    r = _mix(ranks(c).view(np.uint64), _RANK)
    r += c
    return _mix(r, out=r)


def key_hashes(df: pd.DataFrame, key: Sequence[Any], texts: Mapping[Any, Utf8] = {}) -> np.ndarray:
    """``h`` of every row with ``key=``: the key columns' values, in the order given."""
    h: np.ndarray | None = None
    for name in key:
        v = value_hashes(df[name], texts.get(name))  # ours: added to in place
        if h is None:  # KEY_START * GOLD + v(first)
            v += _KEY_BASE
        else:
            v += h * _GOLD
        h = v
    assert h is not None  # key= names a column at least
    return _mix(h, out=h)


def event_hash(row_hashes: np.ndarray) -> np.uint64:
    """``h`` of an event made of several rows (custom data) without ``key=``."""
    return np.uint64(_mix(np.array([row_hashes.sum(dtype=np.uint64)], dtype=np.uint64))[0])
