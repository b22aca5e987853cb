"""Dask loaders: a key list fanned out over partitions, each read by the pandas loader.

Every ``read_*`` checks its arguments on the driver (the pandas loader's own checks, which also
give the declared empty frame: the result's ``meta``), splits the keys into partitions (whole
calls of 100 keys where the endpoint takes 100) and returns a lazy Dask DataFrame
(``dd.from_map``). Computing it reads each partition on a worker with the pandas loader through
the worker's own client, every request holding a lease of the cluster-wide cap (``_cap``).

A Dask frame's columns are fixed before anything is read, so each partition is brought to the
``meta`` (declared columns and dtypes, missing ones all-missing): product attributes other than
the declared ones are kept only when named in ``attributes=``, map fields only when named in
``fields=`` (or, without it, those of the first partition, read on the driver to learn them).
Unknown keys have no rows and no warning (a warning raised on a worker reaches no one). Each
partition's index starts at 0, as with dask's own readers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from .. import loaders
from .._contract import MAX_KEYS_PER_CALL
from .._exceptions import KameleoonWarning, ValidationError
from ..client import resolve_client, validate_keys
from ..frames.backends import DtypeBackend, check_backend, to_backend
from ..frames.schemas import FEED_NESTED, PRODUCT_NESTED, NestedTypes
from ._docs import dask_doc
from ._remote import PARTITION_LOCK, RemoteClient, client_for, distributed_client, remote_client

if TYPE_CHECKING:
    import dask.dataframe as dd

    from ..client import Client

__all__ = ["read_maps", "read_product_counters", "read_product_data", "read_visitor_feeds"]

#: Default partition sizes: about a thousand requests each.
FEEDS_PER_PARTITION = 1_000
KEYS_PER_PARTITION = 100_000


class _ReadJob:
    """One read as every partition calls it (a plain class: see ``writers._PushJob``)."""

    __slots__ = ("dtype_backend", "kwargs", "loader", "meta", "nested", "remote", "site")

    def __init__(
        self,
        loader: str,
        kwargs: dict[str, Any],
        site: str,
        remote: RemoteClient,
        meta: pd.DataFrame,
        dtype_backend: DtypeBackend = "numpy_nullable",
        nested: NestedTypes | None = None,
    ) -> None:
        self.loader, self.kwargs, self.site, self.remote, self.meta = (
            loader,
            kwargs,
            site,
            remote,
            meta,
        )
        # a plain dict: the schemas' read-only mappings do not pickle with pickle alone
        self.dtype_backend = dtype_backend
        self.nested = None if nested is None else dict(nested)

    # Pickled as a tuple of the slots (in __slots__ order): no __dict__ to carry.
    def __getstate__(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state: tuple) -> None:
        for name, value in zip(self.__slots__, state, strict=True):
            setattr(self, name, value)

    def __repr__(self) -> str:
        return f"<kameleoon {self.loader} from {self.site!r}>"

    def __dask_tokenize__(self) -> tuple[str, str, str, str]:
        return ("kameleoon_pandas.ReadJob", self.loader, self.remote.token, self.dtype_backend)

    def read(self, keys: list[str]) -> pd.DataFrame:
        """The partition of ``keys``: the pandas loader's frame brought to ``meta``, in the
        dtypes ``dtype_backend`` asks (the same mapping as the pandas loaders')."""
        if not keys:
            return self.typed(self.meta.copy())
        client = client_for(self.remote)
        with PARTITION_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore", KameleoonWarning)
            frame = getattr(loaders, self.loader)(
                keys, client=client, site_code=self.site, progress=False, **self.kwargs
            )
        return self.typed(conform(frame, self.meta))

    def typed(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` (in the declared dtypes) in those of ``dtype_backend``."""
        return cast(
            pd.DataFrame, to_backend(frame, dtype_backend=self.dtype_backend, nested=self.nested)
        )


def conform(frame: pd.DataFrame, meta: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with exactly ``meta``'s columns and dtypes (missing ones all-missing)."""
    n = len(frame)
    out: dict[Any, Any] = {}
    for name, dtype in meta.dtypes.items():
        if name in frame.columns:
            column = frame[name]
            try:
                out[name] = column if column.dtype == dtype else column.astype(dtype)
            except (TypeError, ValueError) as exc:
                raise ValidationError(
                    f"column {name!r}: a value does not fit the declared dtype {dtype}: {exc}"
                ) from None
        else:
            out[name] = pd.Series(pd.array([None] * n, dtype=dtype), index=frame.index)
    return pd.DataFrame(out, index=frame.index)


def _read_keys(keys: list[str], job: _ReadJob) -> pd.DataFrame:
    return job.read(keys)


def _read_series(codes: pd.Series, job: _ReadJob) -> pd.DataFrame:
    return job.read(codes.tolist())


def _chunks(keys: list[str], npartitions: int | None, block: int, per: int) -> list[list[str]]:
    """``keys`` in ``npartitions`` runs (default: about ``per`` keys each) of whole blocks."""
    if npartitions is not None and (
        isinstance(npartitions, bool) or not isinstance(npartitions, int) or npartitions < 1
    ):
        raise ValidationError(f"npartitions must be an integer >= 1, got {npartitions!r}")
    if not keys:
        return [[]]
    blocks = math.ceil(len(keys) / block)
    wanted = math.ceil(len(keys) / per) if npartitions is None else npartitions
    groups = np.array_split(np.arange(blocks), min(max(1, wanted), blocks))
    return [keys[g[0] * block : (g[-1] + 1) * block] for g in groups]


def _check_max_in_flight(max_in_flight: int | None) -> None:
    if max_in_flight is not None and (
        isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1
    ):
        raise ValidationError(f"max_in_flight must be an integer >= 1, got {max_in_flight!r}")


def _frame(
    keys: Any,
    what: str,
    *,
    loader: str,
    kwargs: dict[str, Any],
    meta: pd.DataFrame,
    site: str,
    client: Client,
    npartitions: int | None,
    block: int,
    per: int,
    max_in_flight: int | None,
    dtype_backend: DtypeBackend = "numpy_nullable",
    nested: NestedTypes | None = None,
) -> dd.DataFrame:
    """The lazy frame: ``keys`` (a list, or a Dask Series read partition by partition)."""
    import dask
    import dask.dataframe as dd

    remote = remote_client(client, max_in_flight=max_in_flight, cluster=distributed_client())
    job = _ReadJob(loader, kwargs, site, remote, meta, dtype_backend, nested)
    meta = job.typed(meta)  # the result's meta: what every partition is
    label = f"kameleoon-{loader.replace('_', '-')}"
    if isinstance(keys, dd.Series):
        if npartitions is not None:
            _chunks([], npartitions, 1, 1)  # checks it
            keys = keys.repartition(npartitions=npartitions)
        return keys.map_partitions(_read_series, job, meta=meta, enforce_metadata=False)
    chunks = _chunks(validate_keys(keys, what), npartitions, block, per)
    # Without dask's conversion of object columns to Arrow strings: those columns hold lists
    # and dicts (referrers_indices, metadata, categories), and the meta is the declared one.
    with dask.config.set({"dataframe.convert-string": False}):
        return dd.from_map(
            _read_keys, chunks, job=job, meta=meta, label=label, enforce_metadata=False
        )


def _driver(
    client: Client | None,
    site_code: str | None,
    max_in_flight: int | None,
    dtype_backend: DtypeBackend,
) -> Any:
    _check_max_in_flight(max_in_flight)
    check_backend("pandas", dtype_backend)
    driver = resolve_client(client)
    return driver, driver.settings.site_code_for(site_code)


def _declared(extra: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    if extra is None:
        return {}
    if not isinstance(extra, Mapping):
        raise ValidationError(f"{what} must be a mapping of column name to dtype, got {extra!r}")
    out = {}
    for name, dtype in extra.items():
        try:
            out[name] = pd.api.types.pandas_dtype(dtype)
        except TypeError as exc:
            raise ValidationError(f"{what}[{name!r}]: {dtype!r} is not a dtype: {exc}") from None
    return out


# --------------------------------------------------------------------------- the loaders


@dask_doc
def read_visitor_feeds(
    visitor_codes: Iterable[str] | dd.Series,
    *,
    npartitions: int | None = None,
    previous_visits: int = 25,
    current_visit: bool = True,
    kinds: Iterable[str] | None = None,
    by: str = "visitor_code",
    client: Client | None = None,
    site_code: str | None = None,
    max_in_flight: int | None = None,
    dtype_backend: DtypeBackend = "numpy_nullable",
) -> dd.DataFrame:
    """Visitors' activity feeds as a lazy Dask DataFrame, one row per event.

    The visitors are split over ``npartitions``; each partition is read by
    :func:`kameleoon_pandas.read_visitor_feeds` on a worker (one request per visitor).

    Parameters
    ----------
    visitor_codes : iterable of str or dask.dataframe.Series
        The visitors (or, with ``by="mapping_value"``, their mapping values). A list is
        checked now (a code given twice is asked once); a Dask Series is read partition by
        partition as it comes (call ``.drop_duplicates()`` on it first to ask each once).
    npartitions : int, optional
        Partitions of the result; by default one per 1,000 visitors. For a Dask Series, its
        partitions (``repartition`` to this number when given).
    previous_visits : int, default 25
        How many previous visits (0..25) to read besides the current one.
    current_visit : bool, default True
        Read the current visit too.
    kinds : iterable of str, optional
        Only these event kinds; ``None`` (the default): all.
    by : {"visitor_code", "mapping_value"}, default "visitor_code"
        What ``visitor_codes`` holds; ``"mapping_value"`` adds a trailing ``mapping_value``
        column.
    {dask_client}
    {site_code}
    {max_in_flight}
    {dask_dtype_backend}

    Returns
    -------
    dask.dataframe.DataFrame
        Lazy; its ``meta`` is the declared ``VISITOR_FEED`` schema (the columns and dtypes of
        :func:`kameleoon_pandas.read_visitor_feeds`), and so is every partition.

    Raises
    ------
    ValidationError
        Now, before any request: a code that is not a non-empty string of at most 100
        characters (a list), ``previous_visits``, ``kinds``, ``current_visit``, ``by``,
        ``npartitions`` or ``max_in_flight`` out of range.
    ConfigurationError
        When no site code is given and the client has no default.
    APIError
        When the frame is computed and a request still fails after the client's retries.

    See Also
    --------
    kameleoon_pandas.read_visitor_feeds : The pandas loader each partition goes through.
    push_events : Push such a frame (back) as visit events.

    Examples
    --------
    >>> import kameleoon_pandas.dask as kd
    >>> feed = kd.read_visitor_feeds(codes, npartitions=8)  # doctest: +SKIP
    >>> feed[feed["kind"] == "conversion"]["revenue"].sum().compute()  # doctest: +SKIP
    """
    driver, site = _driver(client, site_code, max_in_flight, dtype_backend)
    kwargs: dict[str, Any] = {
        "previous_visits": previous_visits,
        "current_visit": current_visit,
        "kinds": None if kinds is None else list(kinds),
        "by": by,
    }
    # The pandas loader's own checks, and its empty frame: the declared schema.
    meta = loaders.read_visitor_feeds([], client=driver, site_code=site, **kwargs)
    return _frame(
        visitor_codes,
        "visitor_codes",
        loader="read_visitor_feeds",
        kwargs=kwargs,
        meta=meta,
        site=site,
        client=driver,
        npartitions=npartitions,
        block=1,
        per=FEEDS_PER_PARTITION,
        max_in_flight=max_in_flight,
        dtype_backend=dtype_backend,
        nested=FEED_NESTED,
    )


@dask_doc
def read_product_counters(
    eans: Iterable[str] | dd.Series,
    *,
    start: loaders.TimeLike | None = None,
    end: loaders.TimeLike | None = None,
    freq: Any = None,
    align: bool = True,
    npartitions: int | None = None,
    client: Client | None = None,
    site_code: str | None = None,
    max_in_flight: int | None = None,
    dtype_backend: DtypeBackend = "numpy_nullable",
) -> dd.DataFrame:
    """Views, add-to-cart and bought quantities per EAN and window, as a lazy Dask DataFrame.

    The time windows are cut once, now, on the driver (so every partition reads the same
    windows, whatever the time it runs); the EANs are split over ``npartitions``, each read by
    :func:`kameleoon_pandas.read_product_counters` on a worker.

    Parameters
    ----------
    eans : iterable of str or dask.dataframe.Series
        The products (a list is checked now; see :func:`read_visitor_feeds` for a Series).
    start, end : str, datetime, date, pandas.Timestamp or numpy.datetime64, optional
        The time range ``[start, end)``; naive times are UTC; ``end`` defaults to now and
        ``start`` to 24 hours before ``end``.
    freq : str, pandas.DateOffset or datetime.timedelta, optional
        Split the range into consecutive windows, at most 10,000; ``None``: one window.
    align : bool, default True
        Cut the windows on the frequency's grid in UTC (see
        :func:`kameleoon_pandas.read_product_counters`).
    npartitions : int, optional
        Partitions of the result, each a run of whole 100-EAN calls; by default about a
        thousand requests (windows times calls) each.
    {dask_client}
    {site_code}
    {max_in_flight}
    {dask_dtype_backend}

    Returns
    -------
    dask.dataframe.DataFrame
        Lazy; its ``meta`` is the declared ``PRODUCT_COUNTERS`` schema: one row per (ean,
        window), EANs in input order, then windows in time order.

    Raises
    ------
    ValidationError
        Now, before any request: a bad EAN (a list), time, ``freq``, ``npartitions`` or
        ``max_in_flight``.
    ConfigurationError
        When no site code is given and the client has no default.
    APIError
        When the frame is computed and a request still fails after the client's retries.

    See Also
    --------
    kameleoon_pandas.read_product_counters : The pandas loader each partition goes through.

    Examples
    --------
    >>> import kameleoon_pandas.dask as kd
    >>> counters = kd.read_product_counters(eans, freq="1h")  # doctest: +SKIP
    >>> counters.groupby("ean")["bought_quantity"].sum().compute()  # doctest: +SKIP
    """
    driver, site = _driver(client, site_code, max_in_flight, dtype_backend)
    windows = loaders.time_windows(start, end, freq, align=align)
    first = pd.Timestamp(windows[0][0], unit="ms", tz="UTC")
    last = pd.Timestamp(windows[-1][1], unit="ms", tz="UTC")
    # The windows, given as explicit bounds: every partition cuts exactly these.
    kwargs: dict[str, Any] = {"start": first, "end": last, "freq": freq, "align": align}
    if loaders.time_windows(first, last, freq, align=align) != windows:  # pragma: no cover
        raise AssertionError("the time windows do not survive being given explicitly")
    meta = loaders.read_product_counters([], client=driver, site_code=site, **kwargs)
    per = MAX_KEYS_PER_CALL * max(1, FEEDS_PER_PARTITION // len(windows))
    return _frame(
        eans,
        "eans",
        loader="read_product_counters",
        kwargs=kwargs,
        meta=meta,
        site=site,
        client=driver,
        npartitions=npartitions,
        block=MAX_KEYS_PER_CALL,
        per=per,
        max_in_flight=max_in_flight,
        dtype_backend=dtype_backend,
        nested=None,
    )


@dask_doc
def read_product_data(
    eans: Iterable[str] | dd.Series,
    *,
    attributes: Mapping[str, Any] | None = None,
    npartitions: int | None = None,
    client: Client | None = None,
    site_code: str | None = None,
    max_in_flight: int | None = None,
    dtype_backend: DtypeBackend = "numpy_nullable",
) -> dd.DataFrame:
    """The stored product attributes as a lazy Dask DataFrame, one row per EAN.

    The EANs are split over ``npartitions``, each read by
    :func:`kameleoon_pandas.read_product_data` on a worker.

    Parameters
    ----------
    eans : iterable of str or dask.dataframe.Series
        The products (a list is checked now; see :func:`read_visitor_feeds` for a Series).
    attributes : mapping of str to dtype, optional
        Other attribute columns to keep (snake_cased names, as the pandas loader names them)
        and their dtypes, such as ``{"color": "string"}``. A Dask frame's columns are fixed
        before anything is read: attributes neither declared nor named here are left out.
    npartitions : int, optional
        Partitions of the result, each a run of whole 100-EAN calls; by default 100,000 EANs
        each.
    {dask_client}
    {site_code}
    {max_in_flight}
    {dask_dtype_backend}

    Returns
    -------
    dask.dataframe.DataFrame
        Lazy; its ``meta`` is ``site_code, ean``, the declared attributes (``name``,
        ``price``, ``categories``, ...) and ``attributes``, with their dtypes.

    Raises
    ------
    ValidationError
        Now, before any request: a bad EAN (a list), an ``attributes`` entry that is not a
        dtype, ``npartitions`` or ``max_in_flight``.
    ConfigurationError
        When no site code is given and the client has no default.
    APIError
        When the frame is computed and a request still fails after the client's retries.

    See Also
    --------
    kameleoon_pandas.read_product_data : The pandas loader each partition goes through.

    Examples
    --------
    >>> import kameleoon_pandas.dask as kd
    >>> products = kd.read_product_data(eans, attributes={"color": "string"})  # doctest: +SKIP
    """
    driver, site = _driver(client, site_code, max_in_flight, dtype_backend)
    extra = _declared(attributes, "attributes")
    meta = loaders.read_product_data([], client=driver, site_code=site)
    for name, dtype in extra.items():
        if name not in meta.columns:
            meta[name] = pd.Series([], dtype=dtype)
    return _frame(
        eans,
        "eans",
        loader="read_product_data",
        kwargs={},
        meta=meta,
        site=site,
        client=driver,
        npartitions=npartitions,
        block=MAX_KEYS_PER_CALL,
        per=KEYS_PER_PARTITION,
        max_in_flight=max_in_flight,
        dtype_backend=dtype_backend,
        nested=PRODUCT_NESTED,
    )


@dask_doc
def read_maps(
    keys: Iterable[str] | dd.Series,
    *,
    fields: Mapping[str, Any] | None = None,
    npartitions: int | None = None,
    client: Client | None = None,
    site_code: str | None = None,
    max_in_flight: int | None = None,
    dtype_backend: DtypeBackend = "numpy_nullable",
) -> dd.DataFrame:
    """Stored maps as a lazy Dask DataFrame, one row per key.

    The keys are split over ``npartitions``, each read by :func:`kameleoon_pandas.read_maps`
    on a worker.

    Parameters
    ----------
    keys : iterable of str or dask.dataframe.Series
        The map keys (a list is checked now; see :func:`read_visitor_feeds` for a Series).
    fields : mapping of str to dtype, optional
        The field columns and their dtypes, such as ``{"tier": "string", "points":
        "Int64"}``: other fields are left out. ``None`` (the default) reads the first
        partition now, on the driver, and takes its fields and dtypes (a list of keys only;
        a Dask Series needs ``fields``).
    npartitions : int, optional
        Partitions of the result, each a run of whole 100-key calls; by default 100,000 keys
        each.
    {dask_client}
    {site_code}
    {max_in_flight}
    {dask_dtype_backend}

    Returns
    -------
    dask.dataframe.DataFrame
        Lazy; its ``meta`` is ``site_code, key`` and the fields.

    Raises
    ------
    ValidationError
        Now, before any request: a bad key (a list), a ``fields`` entry that is not a dtype,
        no ``fields`` for a Dask Series, ``npartitions`` or ``max_in_flight``; when computed,
        a field value that does not fit its dtype.
    ConfigurationError
        When no site code is given and the client has no default.
    APIError
        When a request still fails after the client's retries (now, for the first partition
        read without ``fields``; else when computed).

    See Also
    --------
    kameleoon_pandas.read_maps : The pandas loader each partition goes through.
    push_maps : Merge a Dask DataFrame's rows into maps.

    Examples
    --------
    >>> import kameleoon_pandas.dask as kd
    >>> tiers = kd.read_maps(keys, fields={"tier": "string"})  # doctest: +SKIP
    """
    import dask.dataframe as dd

    driver, site = _driver(client, site_code, max_in_flight, dtype_backend)
    meta = loaders.read_maps([], client=driver, site_code=site)
    if fields is not None:
        for name, dtype in _declared(fields, "fields").items():
            if name not in meta.columns:
                meta[name] = pd.Series([], dtype=dtype)
    elif isinstance(keys, dd.Series):
        raise ValidationError("read_maps of a Dask Series needs fields= (the columns to read)")
    else:
        keys = validate_keys(keys, "keys")
        chunks = _chunks(keys, npartitions, MAX_KEYS_PER_CALL, KEYS_PER_PARTITION)
        if chunks[0]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", KameleoonWarning)
                first = loaders.read_maps(chunks[0], client=driver, site_code=site)
            meta = first.iloc[:0]
    return _frame(
        keys,
        "keys",
        loader="read_maps",
        kwargs={},
        meta=meta,
        site=site,
        client=driver,
        npartitions=npartitions,
        block=MAX_KEYS_PER_CALL,
        per=KEYS_PER_PARTITION,
        max_in_flight=max_in_flight,
        dtype_backend=dtype_backend,
        nested=None,
    )
