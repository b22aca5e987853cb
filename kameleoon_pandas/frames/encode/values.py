"""One value at a time: checked against the contract and put in its canonical form.

The encoder works on whole columns; these functions are what it applies to each *distinct*
value of a column that holds Python objects or texts (numbers written as text, a mix of types)
and to each cell of a JSON column, where no vector form exists. Each returns the value in the
form it goes on the wire, or raises :class:`Bad` with the reason the row is refused.

The contract's limits (data-api.md 1, 3.2, 3.4; ``kameleoon_pandas._contract``): integers are
signed 64-bit, numbers are finite, JSON nests at most :data:`MAX_JSON_DEPTH` levels, texts are
encodable as UTF-8 (no lone surrogate).
"""

from __future__ import annotations

import decimal
import json
import math
import numbers
import re
from typing import Any

import numpy as np
import pandas as pd

from ..._contract import INT64_MAX, INT64_MIN, MAX_JSON_DEPTH

#: Why a text is refused when it holds a lone surrogate (a JSON ``\\ud800`` escape, bad decoding).
SURROGATE_REASON = "a lone surrogate (U+D800 to U+DFFF): not encodable as UTF-8"
SURROGATE = re.compile("[\ud800-\udfff]")
NOT_FINITE = "not a finite number"
OUT_OF_RANGE = "integer out of range (signed 64 bits)"

_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_FLOAT_TEXT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_FLOAT_MAX = 1.7976931348623157e308
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class Bad(ValueError):
    """A value the contract refuses; ``reason`` says why (it becomes the report's reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def is_missing(v: Any) -> bool:
    """None, NaN, ``pd.NA`` and ``NaT``: a cell with nothing in it."""
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    if isinstance(v, (float, np.floating)):
        return bool(np.isnan(v))
    return isinstance(v, (np.datetime64, np.timedelta64)) and bool(np.isnat(v))


def has_surrogate(text: str) -> bool:
    return not text.isascii() and SURROGATE.search(text) is not None


# --------------------------------------------------------------------------- numbers


def _int64(n: int) -> int:
    if INT64_MIN <= n <= INT64_MAX:
        return n
    raise Bad(OUT_OF_RANGE)


def number_of(v: Any, integer: bool) -> int | float:
    """A number (``integer``: an int64; else a finite float) from a number or its text.

    An integral float is an integer (``101.0`` is ``101``); a text must be a decimal number
    (``"42"``, ``"-1.5e3"``; not ``"nan"``, ``"1_000"`` or ``"0x10"``); a boolean is no number.
    """
    x: float
    if isinstance(v, (bool, np.bool_)):
        raise Bad("not a number")
    if isinstance(v, (int, np.integer)):
        n = int(v)
        if integer:
            return _int64(n)
        if abs(n) > _FLOAT_MAX:
            raise Bad(NOT_FINITE)
        return float(n)
    if isinstance(v, (float, np.floating)):
        x = float(v)
    elif isinstance(v, str):
        text = v.strip()
        if _INT_TEXT.fullmatch(text):
            if len(text) > 400:  # far beyond any float, and int() refuses 4300 digits
                raise Bad(OUT_OF_RANGE if integer else NOT_FINITE)
            return number_of(int(text), integer)
        if not _FLOAT_TEXT.fullmatch(text):
            raise Bad("not a number")
        x = float(text)
    elif isinstance(v, numbers.Real):  # Decimal is no Real, but a number all the same
        x = float(v)
    elif isinstance(v, decimal.Decimal):
        if not v.is_finite():
            raise Bad(NOT_FINITE)
        if integer and v == v.to_integral_value():
            return _int64(int(v))
        x = float(v)
    else:  # bytes (which float() would read), containers, times, any other object
        raise Bad("not a number")
    if not math.isfinite(x):
        raise Bad(NOT_FINITE)
    if not integer:
        return x
    if not x.is_integer():
        raise Bad("not an integer")
    if not -(2.0**63) <= x < 2.0**63:
        raise Bad(OUT_OF_RANGE)
    return int(x)


def bool_of(v: Any) -> bool:
    """``True``/``False``, 1/0, or the texts true/false, 1/0, yes/no (any case)."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float, np.integer, np.floating)) and v in (0, 1):
        return bool(v == 1)
    if isinstance(v, str):
        text = v.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise Bad("not a boolean")


def float_text(value: float) -> str:
    """``repr`` of a float (the shortest text that reads back as the same number)."""
    return repr(float(value))


# --------------------------------------------------------------------------- texts


def text_of(v: Any, identifier: bool) -> str:
    """A text cell's text: a str as it is, an integer (or integral float) as its digits.

    A non-integral float is refused as an identifier and written as ``repr`` in a text; a
    boolean, bytes, a container or any other object is refused (its ``str`` would be Python's,
    not the data's).
    """
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        raise Bad("not a text (a boolean)")
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        x = float(v)
        if not math.isfinite(x):
            raise Bad(NOT_FINITE)
        if x.is_integer():
            return str(int(x))
        if identifier:
            raise Bad("not an identifier (a number with a fraction)")
        return float_text(x)
    raise Bad(f"not a text ({type(v).__name__})")


# --------------------------------------------------------------------------- JSON


def _refuse_constant(name: str) -> Any:
    raise Bad(f"not JSON ({name} is not a JSON number)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise Bad(f"not JSON the server takes ({text[:20]} is {NOT_FINITE})")
    return value


_STRICT = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def _clean(v: Any, depth: int) -> Any:
    """``v`` as plain JSON data (lists, dicts with str keys, str, int, float, bool, None)."""
    if v is None or v is pd.NA:
        return None
    if isinstance(v, str):
        if has_surrogate(v):
            raise Bad(f"a JSON text with {SURROGATE_REASON}")
        return str(v)
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(v):
            raise Bad(f"a JSON number that is {NOT_FINITE}")
        return float(v)
    if isinstance(v, (list, tuple, dict, np.ndarray)):
        if depth >= MAX_JSON_DEPTH:
            raise Bad(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(v, dict):
            out: dict[str, Any] = {}
            for key, inner in v.items():
                if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
                    key = str(int(key))
                elif not isinstance(key, str):
                    raise Bad(f"a JSON object key that is not a text ({type(key).__name__})")
                elif has_surrogate(key):
                    raise Bad(f"a JSON object key with {SURROGATE_REASON}")
                if key in out:
                    raise Bad(f"a JSON object with the key {key[:40]!r} twice")
                out[key] = _clean(inner, depth + 1)
            return out
        items = v.tolist() if isinstance(v, np.ndarray) else v
        return [_clean(inner, depth + 1) for inner in items]
    raise Bad(f"not JSON ({type(v).__name__})")


def json_of(v: Any, parse: bool = True) -> Any:
    """A JSON cell as plain JSON data: a text is parsed (so it is sent once, not re-quoted;
    with ``parse=False`` it is a JSON string), anything else taken as it is; then held to the
    contract's limits."""
    if parse and isinstance(v, str):
        try:
            v = _STRICT.decode(v)
        except RecursionError:
            raise Bad(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
        except json.JSONDecodeError:
            raise Bad("not JSON") from None
    return _clean(v, 0)


def json_text(value: Any) -> str:
    """Compact JSON of plain JSON data (from :func:`json_of`), non-ASCII kept as it is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


_CATEGORY_KEYS = frozenset({"id", "name", "parent"})


def shaped_json(v: Any, shape: str) -> str:
    """The JSON text of a cell of a JSON field of the given shape (see :mod:`.kinds`).

    ``any``: any JSON value; ``object``: an object (``metadata``); ``array``: an array
    (``tags``); ``int_array``: an array of int64 (``referrersIndices``, integral floats
    allowed); ``categories``: an array of ``{"id", "name", "parent"}`` objects.
    """
    data = json_of(v)
    if shape == "object":
        if not isinstance(data, dict):
            raise Bad("not a JSON object")
    elif shape == "array":
        if not isinstance(data, list):
            raise Bad("not a JSON array")
    elif shape == "int_array":
        if not isinstance(data, list):
            raise Bad("not a JSON array of integers")
        try:
            data = [
                number_of(x, True)
                if isinstance(x, (int, float)) and not isinstance(x, bool)
                else _no(x)
                for x in data
            ]
        except Bad as exc:
            raise Bad(f"not a JSON array of integers ({exc.reason})") from None
    elif shape == "categories" and (
        not isinstance(data, list)
        or not all(isinstance(x, dict) and x.keys() == _CATEGORY_KEYS for x in data)
    ):
        raise Bad('not a JSON array of {"id", "name", "parent"} objects')
    return json_text(data)


def _no(x: Any) -> int:
    raise Bad(f"{type(x).__name__} is not an integer")


# --------------------------------------------------------------------------- distinct values

_BOOLS = (bool, np.bool_)


def factorize(values: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """``pd.factorize`` of an object array (codes, -1 for a missing cell; the distinct values),
    except that ``True`` is not ``1`` nor ``False`` ``0`` (Python's ``==`` says they are), and
    unhashable cells (lists, dicts) are told apart by their ``repr``."""
    n = len(values)
    flags = np.fromiter((isinstance(v, _BOOLS) for v in values.tolist()), dtype=bool, count=n)
    if not flags.any() or flags.all():
        return _factorize_plain(values)
    codes = np.empty(n, dtype=np.int64)
    a_codes, a_uniques = _factorize_plain(values[~flags])
    b_codes, b_uniques = _factorize_plain(values[flags])
    codes[~flags] = a_codes
    codes[flags] = b_codes + len(a_uniques)  # booleans are never missing
    return codes, a_uniques + b_uniques


def _factorize_plain(values: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    try:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        return codes.astype(np.int64), np.asarray(uniques, dtype=object).tolist()
    except TypeError:  # unhashable cells: by their text (the object itself kept)
        seen: dict[Any, int] = {}
        table: list[Any] = []
        out = np.empty(len(values), dtype=np.int64)
        for i, v in enumerate(values.tolist()):
            if not isinstance(v, (list, dict, np.ndarray, set)) and is_missing(v):
                out[i] = -1
                continue
            try:
                key: Any = ("h", v) if v.__hash__ is not None else ("r", repr(v))
                code = seen.setdefault(key, len(table))
            except TypeError:  # a tuple holding a list
                code = seen.setdefault(("r", repr(v)), len(table))
            if code == len(table):
                table.append(v)
            out[i] = code
        return out, table
