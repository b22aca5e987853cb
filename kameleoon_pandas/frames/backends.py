"""Frames of other libraries: the declared schemas mapped to Arrow, Polars and pandas' Arrow dtypes,
and Polars / PyArrow (or any Arrow-speaking) frames read in as pandas.

The loaders build one canonical pandas frame (``dtype_backend="numpy_nullable"``, the dtypes of
``schemas.py``) and :func:`to_backend` turns it into what was asked for: pandas with
``pd.ArrowDtype`` columns (``dtype_backend="pyarrow"``, pandas' own convention), a
``pyarrow.Table`` or a ``polars.DataFrame``. Each declared dtype has one mapping per backend
(:func:`pandas_dtype`, :func:`arrow_type`, :func:`polars_type`); nested ``object`` columns take
the Arrow shape their schema declares (``*_NESTED``): a list of int64, a list of strings, or
JSON text typed as Arrow's canonical ``arrow.json`` extension, so that a frame read back knows
which texts are JSON.

The writers and the experiment read-out take any of these frames: :func:`to_pandas` reads an
object with the Arrow PyCapsule stream interface (``__arrow_c_stream__``: Polars, PyArrow,
DuckDB, ...) straight through Arrow, and anything else narwhals knows with
``narwhals.from_native``, into the pandas dtypes the loaders use (``Int64``, ``string``,
``boolean``, ``float64``, UTC times; lists and dicts as Python objects).

pyarrow and polars are imported only when asked for; a missing one raises an ``ImportError``
naming the extra to install.
"""

from __future__ import annotations

import importlib
import json
from typing import Any, Final, Literal, TypeAlias

import numpy as np
import pandas as pd

from .._exceptions import ValidationError
from .schemas import BOOL, FLOAT, INT, JSON, LIST_INT, LIST_STR, OBJ, STR, TIME, NestedTypes

__all__ = [
    "BACKENDS",
    "DTYPE_BACKENDS",
    "Backend",
    "DtypeBackend",
    "Frame",
    "arrow_type",
    "check_backend",
    "frame_backend",
    "is_frame",
    "pandas_dtype",
    "polars_type",
    "require",
    "to_backend",
    "to_pandas",
    "to_pandas_series",
]

Backend = Literal["pandas", "polars", "pyarrow"]
DtypeBackend = Literal["numpy_nullable", "pyarrow"]
#: A pandas DataFrame, a polars DataFrame or a pyarrow Table (``backend=`` says which).
Frame: TypeAlias = Any

BACKENDS: Final = ("pandas", "polars", "pyarrow")
DTYPE_BACKENDS: Final = ("numpy_nullable", "pyarrow")

#: The optional modules and the extra that installs each.
_EXTRAS: Final = {"pyarrow": "pyarrow", "polars": "polars"}


def require(module: str, why: str) -> Any:
    """Import ``module`` (``"pyarrow"``, ``"polars"``), or an ImportError naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = _EXTRAS.get(module, module)
        raise ImportError(
            f"{why} needs {module}, which is not installed: "
            f"pip install 'kameleoon-pandas[{extra}]' (or pip install {module})"
        ) from exc


def check_backend(backend: object, dtype_backend: object) -> None:
    """Refuse an unknown ``backend`` / ``dtype_backend`` and import what they need, before any
    request (so that a missing library fails at once, not after the load)."""
    if backend not in BACKENDS:
        raise ValidationError(f"backend must be one of {list(BACKENDS)}, got {backend!r}")
    if dtype_backend not in DTYPE_BACKENDS:
        raise ValidationError(
            f"dtype_backend must be one of {list(DTYPE_BACKENDS)}, got {dtype_backend!r}"
        )
    if backend != "pandas" or dtype_backend == "pyarrow":
        require("pyarrow", f"backend={backend!r}, dtype_backend={dtype_backend!r}")
    if backend == "polars":
        require("polars", "backend='polars'")


# -- one mapping per backend ---------------------------------------------------------------------


def _nested(column: str, nested: NestedTypes | None) -> str:
    return (nested or {}).get(column, JSON)


def arrow_type(column: str, dtype: str, nested: NestedTypes | None = None) -> Any:
    """The Arrow type of a column declared (or inferred) as ``dtype``.

    ``object`` columns take their shape from ``nested`` (default JSON): ``list<int64>``,
    ``list<string>``, or ``arrow.json`` (JSON text).
    """
    pa = require("pyarrow", "an Arrow schema")
    simple = {
        TIME: pa.timestamp("ms", tz="UTC"),
        STR: pa.string(),
        INT: pa.int64(),
        FLOAT: pa.float64(),
        BOOL: pa.bool_(),
    }
    if dtype in simple:
        return simple[dtype]
    if dtype != OBJ:
        raise ValueError(f"column {column!r}: no Arrow type for dtype {dtype!r}")
    shape = _nested(column, nested)
    if shape == LIST_INT:
        return pa.list_(pa.int64())
    if shape == LIST_STR:
        return pa.list_(pa.string())
    return pa.json_()


def polars_type(column: str, dtype: str, nested: NestedTypes | None = None) -> Any:
    """The Polars dtype of a column declared (or inferred) as ``dtype`` (as :func:`arrow_type`;
    JSON is the ``arrow.json`` extension over ``String``)."""
    pl = require("polars", "a Polars schema")
    simple = {
        TIME: pl.Datetime("ms", "UTC"),
        STR: pl.String(),
        INT: pl.Int64(),
        FLOAT: pl.Float64(),
        BOOL: pl.Boolean(),
    }
    if dtype in simple:
        return simple[dtype]
    if dtype != OBJ:
        raise ValueError(f"column {column!r}: no Polars dtype for dtype {dtype!r}")
    shape = _nested(column, nested)
    if shape == LIST_INT:
        return pl.List(pl.Int64())
    if shape == LIST_STR:
        return pl.List(pl.String())
    return pl.Extension("arrow.json", pl.String(), "")


def pandas_dtype(
    column: str,
    dtype: str,
    dtype_backend: DtypeBackend = "numpy_nullable",
    nested: NestedTypes | None = None,
) -> Any:
    """The pandas dtype of a column: the declared one, or its ``pd.ArrowDtype`` for
    ``dtype_backend="pyarrow"``."""
    if dtype_backend == "numpy_nullable":
        return pd.api.types.pandas_dtype(dtype)
    return pd.ArrowDtype(arrow_type(column, dtype, nested))


# -- canonical pandas -> the asked backend ---------------------------------------------------


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _arrow_column(series: pd.Series, column: str, nested: NestedTypes | None) -> Any:
    """One pandas column as an Arrow array of its mapped type.

    A nested column whose values do not fit its declared list type (a server sending text
    where indices belong) is sent as JSON text instead of failing the load, as the pandas
    shaping keeps such a column as objects.
    """
    pa = require("pyarrow", "an Arrow column")
    dtype = str(series.dtype)
    try:
        wanted = arrow_type(column, dtype, nested)
    except ValueError:  # a dtype the schemas do not declare: Arrow infers it
        return pa.array(series, from_pandas=True)
    if dtype != OBJ:
        return pa.array(series, type=wanted, from_pandas=True)
    cells = series.to_numpy(dtype=object)
    values = [None if _missing(v) else v for v in cells.tolist()]
    if not isinstance(wanted, pa.JsonType):
        try:
            return pa.array(values, type=wanted)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            pass  # the JSON fallback below
    texts = pa.array([None if v is None else _json_text(v) for v in values], type=pa.string())
    return pa.ExtensionArray.from_storage(pa.json_(), texts)


def to_backend(
    frame: pd.DataFrame,
    *,
    backend: Backend = "pandas",
    dtype_backend: DtypeBackend = "numpy_nullable",
    nested: NestedTypes | None = None,
) -> Frame:
    """The canonical pandas ``frame`` as ``backend`` / ``dtype_backend`` asks.

    ``backend="pandas"`` with ``"numpy_nullable"`` returns ``frame`` itself. Every other
    combination goes through one ``pyarrow.Table`` typed by :func:`arrow_type` (the column's
    own dtype: declared columns have theirs, inferred ones what was inferred).
    """
    check_backend(backend, dtype_backend)
    if backend == "pandas" and dtype_backend == "numpy_nullable":
        return frame
    pa = require("pyarrow", f"backend={backend!r}")
    names = [str(name) for name in frame.columns]
    arrays = [_arrow_column(frame.iloc[:, i], names[i], nested) for i in range(len(names))]
    table = pa.Table.from_arrays(arrays, names=names)
    if backend == "pyarrow":
        return table
    if backend == "polars":
        pl = require("polars", "backend='polars'")
        return pl.from_arrow(table)
    out = table.to_pandas(types_mapper=pd.ArrowDtype)
    out.attrs.update(frame.attrs)
    return out


def frame_backend(obj: object) -> Backend:
    """The backend an input frame belongs to: ``"pandas"``, ``"polars"`` (a polars DataFrame)
    or ``"pyarrow"`` (anything else read through Arrow)."""
    if isinstance(obj, pd.DataFrame):
        return "pandas"
    if type(obj).__module__.split(".")[0] == "polars":
        return "polars"
    return "pyarrow"


# -- any frame -> pandas (the writers' and the read-out's entry) ---------------------------------


def nullable_types(pa: Any, *, strings: bool = True) -> dict[Any, Any]:
    """Arrow type -> pandas' nullable dtype for ints, bools and (with ``strings``) texts; the
    ``types_mapper`` table of ``Table.to_pandas``. Floats and times stay numpy."""
    table = {
        pa.int8(): pd.Int8Dtype(),
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
        pa.uint8(): pd.UInt8Dtype(),
        pa.uint16(): pd.UInt16Dtype(),
        pa.uint32(): pd.UInt32Dtype(),
        pa.uint64(): pd.UInt64Dtype(),
        pa.bool_(): pd.BooleanDtype(),
    }
    if strings:
        table.update({pa.string(): pd.StringDtype(), pa.large_string(): pd.StringDtype()})
    return table


def _is_nested(pa: Any, kind: Any) -> bool:
    return bool(
        pa.types.is_list(kind)
        or pa.types.is_large_list(kind)
        or pa.types.is_fixed_size_list(kind)
        or getattr(pa.types, "is_list_view", lambda _: False)(kind)
        or getattr(pa.types, "is_large_list_view", lambda _: False)(kind)
        or pa.types.is_struct(kind)
        or pa.types.is_map(kind)
    )


def _plain(pa: Any, column: Any) -> tuple[Any, str | None]:
    """(a column pandas converts as such, how to read it back: ``"json"``, ``"objects"`` or
    ``None``). Views and extension types are cast to their plain storage first."""
    kind = column.type
    if isinstance(kind, pa.JsonType):
        return column, "json"
    if isinstance(kind, pa.ExtensionType):
        storage = [chunk.storage for chunk in column.chunks]
        return _plain(pa, pa.chunked_array(storage, kind.storage_type))[0], None
    if getattr(pa.types, "is_string_view", lambda _: False)(kind):
        return column.cast(pa.large_string()), None
    if getattr(pa.types, "is_binary_view", lambda _: False)(kind):
        return column.cast(pa.large_binary()), None
    if _is_nested(pa, kind):
        return column, "objects"
    return column, None


def _arrow_to_pandas(table: Any) -> pd.DataFrame:
    pa = require("pyarrow", "reading an Arrow frame")
    mapper = nullable_types(pa).get
    series: list[pd.Series] = []
    for column in table.columns:
        plain, how = _plain(pa, column)
        if how == "json":
            texts = [t for chunk in plain.chunks for t in chunk.storage.to_pylist()]
            values = [None if t is None else json.loads(t) for t in texts]
            series.append(
                pd.Series(np.fromiter(values, dtype=object, count=len(values)), dtype=object)
            )
        elif how == "objects":
            values = plain.to_pylist()
            series.append(
                pd.Series(np.fromiter(values, dtype=object, count=len(values)), dtype=object)
            )
        else:
            one = pa.table([plain], names=["c"]).to_pandas(types_mapper=mapper)
            series.append(one["c"])
    frame = pd.DataFrame(dict(enumerate(series)), index=pd.RangeIndex(table.num_rows))
    frame.columns = pd.Index(list(table.column_names))
    return frame


def _narwhals_arrow(obj: object) -> Any | None:
    """``obj`` as a pyarrow Table through narwhals, or None when narwhals is absent or does not
    know ``obj``."""
    try:
        nw = importlib.import_module("narwhals")
    except ImportError:
        return None
    native = nw.from_native(obj, eager_only=True, pass_through=True)
    if native is obj:
        return None
    return native.to_arrow()


def _lazy_hint(obj: object) -> str:
    name = type(obj).__name__
    if "Lazy" in name or hasattr(obj, "collect"):
        return f"; a {name} is lazy: collect() it first"
    return ""


def to_pandas(obj: object, what: str = "df") -> pd.DataFrame:
    """Any DataFrame as a pandas DataFrame in the loaders' dtypes.

    A pandas frame comes back as it is (its ``pd.ArrowDtype`` columns, if any, converted). A
    polars DataFrame, a pyarrow Table or RecordBatch, or any object with the Arrow stream
    interface goes through Arrow; other frames narwhals knows through ``narwhals.from_native``.
    Their rows get a ``RangeIndex``: a report names them by position. Arrow's ``arrow.json``
    columns come back as Python objects, lists and structs as lists and dicts.

    Raises
    ------
    ValidationError
        ``obj`` is not a DataFrame of any kind (naming ``what``).
    ImportError
        A polars or pyarrow frame with pyarrow missing.
    """
    if isinstance(obj, pd.DataFrame):
        arrow = [i for i, dtype in enumerate(obj.dtypes) if isinstance(dtype, pd.ArrowDtype)]
        if not arrow:
            return obj
        pa = require("pyarrow", "a pandas frame with pyarrow dtypes")
        table = pa.Table.from_arrays(
            [pa.array(obj.iloc[:, i].array) for i in arrow],
            names=[str(i) for i in range(len(arrow))],
        )
        converted = _arrow_to_pandas(table)
        out = obj.copy(deep=False)
        for j, i in enumerate(arrow):
            out.isetitem(i, converted.iloc[:, j].array)
        return out
    if hasattr(obj, "__arrow_c_stream__"):
        pa = require("pyarrow", f"{what} as a {type(obj).__name__}")
        return _arrow_to_pandas(pa.table(obj))
    table = _narwhals_arrow(obj)
    if table is not None:
        return _arrow_to_pandas(table)
    raise ValidationError(
        f"{what} must be a pandas, polars or pyarrow DataFrame, got "
        f"{type(obj).__name__}{_lazy_hint(obj)}"
    )


def is_frame(obj: object) -> bool:
    """Whether :func:`to_pandas` reads ``obj`` as a frame (without converting it)."""
    if isinstance(obj, pd.DataFrame) or hasattr(obj, "__arrow_c_stream__"):
        return not _is_one_column(obj)
    try:
        nw = importlib.import_module("narwhals")
    except ImportError:
        return False
    return nw.from_native(obj, eager_only=True, pass_through=True) is not obj


def _is_one_column(obj: object) -> bool:
    """A Series-like (polars Series, pyarrow Array / ChunkedArray) also speaks Arrow streams."""
    module = type(obj).__module__.split(".")[0]
    name = type(obj).__name__
    return (module == "polars" and name == "Series") or (
        module == "pyarrow" and ("Array" in name or name.endswith("Scalar"))
    )


def to_pandas_series(obj: object) -> pd.Series | None:
    """A polars Series or a pyarrow Array / ChunkedArray as a pandas Series (loaders' dtypes);
    ``None`` for anything else."""
    if isinstance(obj, pd.Series) or not _is_one_column(obj):
        return None
    pa = require("pyarrow", f"a {type(obj).__name__}")
    column = pa.chunked_array([obj]) if isinstance(obj, pa.Array) else pa.chunked_array(obj)
    frame = _arrow_to_pandas(pa.table([column], names=["values"]))
    name = getattr(obj, "name", None)
    return frame["values"].rename(name if isinstance(name, str) else None)
