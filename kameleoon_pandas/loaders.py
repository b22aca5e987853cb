"""``read_*``: the Data API into typed DataFrames (schemas in ``frames/schemas.py``).

Every loader checks its input before any request (a ``ValidationError`` names the bad value),
fans its requests out concurrently on the client (at most 100 keys a call, capped in-flight
requests, retries), shows one progress bar counting requests, and shapes the answers with the
pure code of ``frames``: the counters and the feeds are gathered as each answer arrives
(``CountersColumns``, ``FeedColumns``), so the shaping overlaps the requests still in flight,
and each column is cast once at the end. Empty input or an empty answer gives an empty frame
with the declared columns and dtypes.

``backend`` / ``dtype_backend`` turn that canonical pandas frame into a polars DataFrame, a
pyarrow Table or pandas with Arrow dtypes (``frames/backends.py``), typed from the same schema.

All options are keyword-only; ``client``, ``site_code``, ``progress``, ``dtype_backend`` and
``backend`` mean the same in every loader: their text is written once, in ``_docs.SHARED``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import warnings
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.offsets import BaseOffset

from ._docs import shared_doc
from ._exceptions import KameleoonWarning, ValidationError
from ._progress import progress_bar
from .client import (
    MAX_KEYS_PER_CALL,
    AsyncClient,
    Client,
    chunks,
    gather_all,
    json_array,
    on_request,
    resolve_client,
    validate_keys,
    validate_kinds,
    validate_previous_visits,
)
from .frames.backends import Backend, DtypeBackend, Frame, check_backend, to_backend
from .frames.feeds import FeedColumns
from .frames.maps import RecordColumns, maps_columns
from .frames.products import CountersColumns, product_data_columns
from .frames.schemas import (
    FEED_NESTED,
    MAP_KEYS,
    PRODUCT_COUNTERS,
    PRODUCT_NESTED,
    VISITOR_FEED,
    empty_frame,
)

__all__ = [
    "read_maps",
    "read_product_counters",
    "read_product_data",
    "read_visitor_feeds",
    "time_windows",
]

TimeLike = str | dt.datetime | dt.date | pd.Timestamp | np.datetime64
#: More windows than this in one call is almost surely a wrong ``freq``.
MAX_WINDOWS = 10_000


# -- input checks ------------------------------------------------------------------------------


def _timestamp(value: TimeLike, name: str) -> pd.Timestamp:
    """A UTC Timestamp; naive values are taken as UTC."""
    if isinstance(value, bool | int | float):
        raise ValidationError(
            f"{name} must be a date/time (str, datetime or Timestamp), got {value!r}"
        )
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name}={value!r} is not a date/time: {exc}") from None
    if pd.isna(stamp):
        raise ValidationError(f"{name} is missing (NaT)")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _ms(stamp: pd.Timestamp) -> int:
    return int(stamp.value // 1_000_000)  # .value is nanoseconds whatever the unit


def time_windows(
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    freq: str | pd.DateOffset | dt.timedelta | None = None,
    *,
    align: bool = True,
    now: pd.Timestamp | None = None,
) -> list[tuple[int, int]]:
    """``[start, end)`` as ``(start_ms, end_ms)`` windows, split by ``freq``.

    Aligned (the default), windows are cut on the frequency's own grid in UTC: a fixed step on
    its multiples since the epoch (``"1h"`` on whole hours, ``"15min"`` on quarter hours,
    ``"1D"`` at midnight), weeks (``"W"``) on Mondays at midnight, other anchored frequencies
    (``"MS"``) on their anchor days at midnight. A ``start`` or ``end`` given by the caller stays
    as given (the first and last windows may be shorter); the defaults (``end`` now, ``start``
    24 hours before ``end``) are widened to whole windows. ``align=False`` cuts every step from
    ``start`` instead. Naive times are UTC.
    """
    now = pd.Timestamp.now(tz="UTC") if now is None else now
    end_ts = _timestamp(end, "end") if end is not None else now
    start_ts = _timestamp(start, "start") if start is not None else end_ts - pd.Timedelta(hours=24)
    if start_ts >= end_ts:
        raise ValidationError(f"start ({start_ts}) must be before end ({end_ts})")
    if freq is None:
        return _one_window(start_ts, end_ts)
    try:
        offset = pd.tseries.frequencies.to_offset(freq)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"freq={freq!r} is not a pandas frequency: {exc}") from None
    if offset.n <= 0:
        raise ValidationError(f"freq={freq!r} must be a positive step, such as '1h' or '1D'")
    too_many = ValidationError(
        f"freq={freq!r} splits {start_ts} .. {end_ts} into more than {MAX_WINDOWS} windows"
    )
    # A fixed step is counted before any mark is made: "1ms" over a year would be 31e9 marks.
    if isinstance(offset, pd.offsets.Tick):
        step = pd.Timedelta(offset)
        if (end_ts - start_ts) / step > MAX_WINDOWS + 1:
            raise too_many
        if align:
            if start is None:
                start_ts = start_ts.floor(step)
            if end is None:
                end_ts = end_ts.ceil(step)
            return _cut(start_ts, end_ts, _grid(start_ts, end_ts, step), too_many)
    elif align:
        if start is None:  # back to the last anchor at or before the default start
            earlier = _anchor_marks(
                start_ts.normalize() - offset - pd.Timedelta(days=1), start_ts, offset, freq
            )
            start_ts = earlier[-1] if len(earlier) else start_ts.normalize()
        if end is None:  # on to the first anchor after the default end (now)
            later = _anchor_marks(end_ts, end_ts + 2 * offset + pd.Timedelta(days=2), offset, freq)
            later = later[later > end_ts]
            end_ts = later[0] if len(later) else end_ts
        marks = _anchor_marks(start_ts, end_ts, offset, freq)
        return _cut(start_ts, end_ts, marks, too_many)
    try:
        marks = pd.date_range(start_ts, end_ts, freq=offset)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"freq={freq!r} cannot split the window: {exc}") from None
    return _cut(start_ts, end_ts, marks, too_many)


def _one_window(start_ts: pd.Timestamp, end_ts: pd.Timestamp) -> list[tuple[int, int]]:
    begin, finish = _ms(start_ts), _ms(end_ts)
    if begin >= finish:
        raise ValidationError(f"start ({start_ts}) and end ({end_ts}) are within one millisecond")
    return [(begin, finish)]


def _grid(start_ts: pd.Timestamp, end_ts: pd.Timestamp, step: pd.Timedelta) -> pd.DatetimeIndex:
    """The multiples of ``step`` since the epoch inside ``[start, end]`` (UTC)."""
    first = start_ts.ceil(step)
    if first > end_ts:
        return pd.DatetimeIndex([], tz="UTC")
    return pd.date_range(first, end_ts, freq=step)


def _anchor_marks(
    start_ts: pd.Timestamp, end_ts: pd.Timestamp, offset: BaseOffset, freq: object
) -> pd.DatetimeIndex:
    """Midnights of an anchored frequency's days in ``[start, end]``: weeks start on Mondays."""
    try:
        if isinstance(offset, pd.offsets.Week):
            # A week of pandas ends on its anchor day ("W" = W-SUN): it starts the day after,
            # as pandas' own weekly periods do.
            days = pd.date_range(start_ts.normalize() - pd.Timedelta(days=7), end_ts, freq=offset)
            marks = days.normalize() + pd.Timedelta(days=1)
        else:
            marks = pd.date_range(start_ts.normalize(), end_ts, freq=offset).normalize()
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"freq={freq!r} cannot split the window: {exc}") from None
    return marks[(marks >= start_ts) & (marks <= end_ts)]


def _cut(
    start_ts: pd.Timestamp,
    end_ts: pd.Timestamp,
    marks: pd.DatetimeIndex,
    too_many: ValidationError,
) -> list[tuple[int, int]]:
    """``[start, end)`` cut at ``marks``: consecutive ``(start_ms, end_ms)`` windows."""
    if len(marks) > MAX_WINDOWS + 1:
        raise too_many
    begin, finish = _one_window(start_ts, end_ts)[0]
    cuts = (marks.as_unit("ms").asi8 if len(marks) else np.array([], dtype=np.int64)).tolist()
    inner = [t for t in cuts if begin < t < finish]
    return list(itertools.pairwise([begin, *inner, finish]))


def _run_with_bar(
    client: Client,
    work: Callable[[AsyncClient], Coroutine[Any, Any, Any]],
    *,
    total: int,
    desc: str,
    progress: bool | None,
) -> Any:
    """Run ``work(core)`` on the client's loop, one bar step per completed request."""
    with progress_bar(total, desc=desc, progress=progress) as bar:

        def step(n: int) -> None:
            bar.update(n)

        async def counted() -> Any:
            on_request.set(step)  # seen by every task this coroutine starts
            return await work(client.async_client)

        return client.run(counted())


def _warn_missing(missing: list[str], total: int, what: str) -> None:
    if missing:
        warnings.warn(
            f"{len(missing)} of {total} {what} are unknown to the API and were left out",
            KameleoonWarning,
            stacklevel=3,
        )


# -- loaders -----------------------------------------------------------------------------------


@shared_doc
def read_product_counters(
    eans: Iterable[str],
    *,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    freq: str | pd.DateOffset | dt.timedelta | None = None,
    align: bool = True,
    client: Client | None = None,
    site_code: str | None = None,
    progress: bool | None = None,
    dtype_backend: DtypeBackend = "numpy_nullable",
    backend: Backend = "pandas",
) -> pd.DataFrame | Frame:
    """Read views, add-to-cart and bought quantities per EAN and time window.

    The requests (one per window and 100 EANs) run concurrently; the progress bar counts them.

    Parameters
    ----------
    eans : iterable of str
        The products. A single string counts as one EAN; an EAN given twice is asked once.
    start, end : str, datetime, date, pandas.Timestamp or numpy.datetime64, optional
        The time range ``[start, end)``; naive times are UTC. ``end`` defaults to now and
        ``start`` to 24 hours before ``end``.
    freq : str, pandas.DateOffset or datetime.timedelta, optional
        Split the range into consecutive windows, at most 10,000. ``None`` (the default):
        one window.
    align : bool, default True
        Cut the windows on the frequency's grid in UTC: whole hours for ``"1h"``, midnight
        for ``"1D"``, Mondays for ``"W"``, the 1st for ``"MS"``. A ``start`` or ``end`` you
        give stays as given (the first and last windows may then be shorter); the default
        range (the last 24 hours) is widened to whole windows. ``False`` cuts every ``freq``
        from ``start`` instead.
    {client}
    {site_code}
    {progress}
    {dtype_backend}
    {backend}

    Returns
    -------
    pandas.DataFrame, polars.DataFrame or pyarrow.Table
        One row per (ean, window), EANs in input order, then windows in time order; columns
        ``site_code, ean, window_start, window_end, views, add_to_cart_quantity,
        bought_quantity`` (times ``datetime64[ms, UTC]``, counts ``Int64``). No EANs, or none
        known, give an empty frame with the same columns and dtypes.

    Raises
    ------
    ValidationError
        An EAN that is not a non-empty string of at most 100 characters, a time that is
        not one, ``start`` not before ``end``, or a ``freq`` that is not a positive pandas
        frequency or gives more than 10,000 windows; before any request. Also when
        ``client`` is not a :class:`~kameleoon_pandas.Client`.
    ImportError
        When ``backend`` or ``dtype_backend`` needs polars or pyarrow and it is not
        installed; before any request.
    ConfigurationError
        When no site code is given and the client has no default.
    APIError
        When a request still fails after the client's retries (the first such error, a
        subclass naming the cause; the other requests are cancelled).

    Warns
    -----
    KameleoonWarning
        Counting the EANs no answer mentions; they have no rows.

    See Also
    --------
    read_product_data : The products' stored attributes.
    kameleoon_pandas.plots.plot_counters : The counters over time.

    Examples
    --------
    >>> import kameleoon_pandas as kp
    >>> counters = kp.read_product_counters(  # doctest: +SKIP
    ...     ["SKU-1", "SKU-2"], start="2026-11-01", end="2026-11-08", freq="1D"
    ... )
    >>> counters.groupby("ean")["bought_quantity"].sum()  # doctest: +SKIP
    """
    keys = validate_keys(eans, "eans")
    windows = time_windows(start, end, freq, align=align)
    check_backend(backend, dtype_backend)
    client = resolve_client(client)
    site = client.settings.site_code_for(site_code)
    if not keys:
        return to_backend(
            empty_frame(PRODUCT_COUNTERS), backend=backend, dtype_backend=dtype_backend
        )

    async def work(core: AsyncClient) -> CountersColumns:
        columns = CountersColumns(windows=windows, eans=keys, site_code=site)

        # The EANs are checked and each block's JSON array built once, not once per window;
        # each answer goes into the columns as it arrives (a later answer for the same EAN
        # and window wins, as in a merge).
        blocks = [json_array(chunk) for chunk in chunks(keys)]

        async def call(w: int, begin: int, finish: int, block: str) -> None:
            answer = await core._counters_call(block, begin, finish, site)
            if isinstance(answer, dict):
                columns.add(w, answer)  # on the loop, while the other calls are in flight

        await gather_all(
            call(w, begin, finish, block)
            for w, (begin, finish) in enumerate(windows)
            for block in blocks
        )
        return columns

    total = len(windows) * math.ceil(len(keys) / MAX_KEYS_PER_CALL)
    columns = _run_with_bar(client, work, total=total, desc="product counters", progress=progress)
    _warn_missing(columns.missing(), len(keys), "EANs")
    return to_backend(columns.frame(), backend=backend, dtype_backend=dtype_backend)


def _load_records(
    client: Client,
    method: str,
    columns: RecordColumns,
    keys: list[str],
    site: str,
    desc: str,
    progress: bool | None,
) -> RecordColumns:
    """Run a keyed raw method, one call per 100 keys, under one progress bar; each answer goes
    into ``columns`` as it arrives (on the loop, while the other calls are in flight)."""

    async def work(core: AsyncClient) -> RecordColumns:
        fetch = getattr(core, method)

        async def one(chunk: list[str]) -> None:
            columns.add(await fetch(chunk, site_code=site))

        await gather_all(one(chunk) for chunk in chunks(keys))
        return columns

    total = math.ceil(len(keys) / MAX_KEYS_PER_CALL)
    return _run_with_bar(client, work, total=total, desc=desc, progress=progress)


@shared_doc
def read_product_data(
    eans: Iterable[str],
    *,
    client: Client | None = None,
    site_code: str | None = None,
    progress: bool | None = None,
    dtype_backend: DtypeBackend = "numpy_nullable",
    backend: Backend = "pandas",
) -> pd.DataFrame | Frame:
    """Read the stored product attributes, one row per EAN.

    The requests (one per 100 EANs) run concurrently; the progress bar counts them.

    Parameters
    ----------
    eans : iterable of str
        The products. A single string counts as one EAN; an EAN given twice is asked once.
    {client}
    {site_code}
    {progress}
    {dtype_backend}
    {backend}

    Returns
    -------
    pandas.DataFrame, polars.DataFrame or pyarrow.Table
        One row per known EAN, in input order: ``site_code, ean``, then one column per
        declared attribute (``name``, ``price``, ``categories``, ...; always present, with
        their declared dtypes), then any other attribute the answers hold, snake_cased, its
        dtype inferred. Nested values (``categories``) stay Python objects. No EANs, or none
        known, give a frame with the declared columns and no rows.

    Raises
    ------
    ValidationError
        An EAN that is not a non-empty string of at most 100 characters; before any
        request. Also when ``client`` is not a :class:`~kameleoon_pandas.Client`.
    ImportError
        When ``backend`` or ``dtype_backend`` needs polars or pyarrow and it is not
        installed; before any request.
    ConfigurationError
        When no site code is given and the client has no default.
    APIError
        When a request still fails after the client's retries (the first such error, a
        subclass naming the cause; the other requests are cancelled).

    Warns
    -----
    KameleoonWarning
        Counting the EANs unknown to the API; they have no rows.

    See Also
    --------
    read_product_counters : Views, add-to-cart and bought quantities over time.
    push_product_events : ``product_page`` events merge attributes (this frame pushes back).

    Examples
    --------
    >>> import kameleoon_pandas as kp
    >>> products = kp.read_product_data(["SKU-1", "SKU-2"])  # doctest: +SKIP
    >>> products[["ean", "name", "price"]]  # doctest: +SKIP
    """
    keys = validate_keys(eans, "eans")
    check_backend(backend, dtype_backend)
    client = resolve_client(client)
    site = client.settings.site_code_for(site_code)
    columns = product_data_columns(eans=keys, site_code=site)
    if keys:
        _load_records(client, "get_product_data", columns, keys, site, "product data", progress)
    frame, missing = columns.frame()
    _warn_missing(missing, len(keys), "EANs")
    return to_backend(frame, backend=backend, dtype_backend=dtype_backend, nested=PRODUCT_NESTED)


@shared_doc
def read_maps(
    keys: Iterable[str],
    *,
    client: Client | None = None,
    site_code: str | None = None,
    progress: bool | None = None,
    dtype_backend: DtypeBackend = "numpy_nullable",
    backend: Backend = "pandas",
) -> pd.DataFrame | Frame:
    """Read stored maps (``GET /map/maps``), one row per key.

    The requests (one per 100 keys) run concurrently; the progress bar counts them.

    Parameters
    ----------
    keys : iterable of str
        The map keys. A single string counts as one key; a key given twice is asked once.
    {client}
    {site_code}
    {progress}
    {dtype_backend}
    {backend}

    Returns
    -------
    pandas.DataFrame, polars.DataFrame or pyarrow.Table
        One row per known key, in input order: ``site_code, key``, then one column per field
        the maps hold, its dtype inferred; nested values stay Python objects. No keys, or none
        known, give an empty frame with ``site_code, key``.

    Raises
    ------
    ValidationError
        A key that is not a non-empty string of at most 100 characters; before any
        request. Also when ``client`` is not a :class:`~kameleoon_pandas.Client`.
    ImportError
        When ``backend`` or ``dtype_backend`` needs polars or pyarrow and it is not
        installed; before any request.
    ConfigurationError
        When no site code is given and the client has no default.
    APIError
        When a request still fails after the client's retries (the first such error, a
        subclass naming the cause; the other requests are cancelled).

    Warns
    -----
    KameleoonWarning
        Counting the keys unknown to the API; they have no rows.

    See Also
    --------
    push_maps : Merge rows into maps (this frame pushes back).

    Examples
    --------
    >>> import kameleoon_pandas as kp
    >>> kp.read_maps(["crm:42", "crm:43"])  # doctest: +SKIP
    """
    wanted = validate_keys(keys, "keys")
    check_backend(backend, dtype_backend)
    client = resolve_client(client)
    site = client.settings.site_code_for(site_code)
    if not wanted:
        return to_backend(empty_frame(MAP_KEYS), backend=backend, dtype_backend=dtype_backend)

    columns = maps_columns(keys=wanted, site_code=site)
    _load_records(client, "get_maps", columns, wanted, site, "maps", progress)
    frame, missing = columns.frame()
    _warn_missing(missing, len(wanted), "keys")
    # Map fields are open: every nested field is JSON.
    return to_backend(frame, backend=backend, dtype_backend=dtype_backend)


@shared_doc
def read_visitor_feeds(
    visitor_codes: Iterable[str],
    *,
    previous_visits: int = 25,
    current_visit: bool = True,
    kinds: Iterable[str] | None = None,
    by: str = "visitor_code",
    client: Client | None = None,
    site_code: str | None = None,
    progress: bool | None = None,
    dtype_backend: DtypeBackend = "numpy_nullable",
    backend: Backend = "pandas",
) -> pd.DataFrame | Frame:
    """Read visitors' activity feeds (``GET /visit/visitor``), one row per event.

    One request per visitor, run concurrently; the progress bar counts them.

    Parameters
    ----------
    visitor_codes : iterable of str
        The visitors (or, with ``by="mapping_value"``, their cross-device mapping values). A
        single string counts as one; a code given twice is asked once.
    previous_visits : int, default 25
        How many previous visits (0..25) to read besides the current one.
    current_visit : bool, default True
        Read the current visit too.
    kinds : iterable of str, optional
        Only these event kinds: ``page``, ``conversion``, ``custom_data``, ``experiment``,
        ``personalization``, ``geolocation``, ``static_data``. ``None`` (the default): all.
    by : {"visitor_code", "mapping_value"}, default "visitor_code"
        What ``visitor_codes`` holds. ``"mapping_value"`` asks by the cross-device identifier
        and adds a trailing ``mapping_value`` column.
    {client}
    {site_code}
    {progress}
    {dtype_backend}
    {backend}

    Returns
    -------
    pandas.DataFrame, polars.DataFrame or pyarrow.Table
        The long ``VISITOR_FEED`` schema: ``site_code, visitor_code, visit`` (0 = the current
        visit, 1 = the most recent previous one, ...), ``visit_started, visit_last_event, kind,
        time``, then every kind's fields (``goal_id``, ``revenue``, ``href``, ``value``,
        ``count``, ...; missing where a kind has no such field). Custom data gives one row per
        value with its count. Rows come by visitor in input order, then visit, then time. An
        unknown visitor has no rows; no visitors give an empty frame with the same columns and
        dtypes.

    Raises
    ------
    ValidationError
        A code that is not a non-empty string of at most 100 characters,
        ``previous_visits`` not an integer 0..25, an unknown kind, ``current_visit`` not a
        bool, or another ``by``; before any request. Also when ``client`` is not a
        :class:`~kameleoon_pandas.Client`.
    ImportError
        When ``backend`` or ``dtype_backend`` needs polars or pyarrow and it is not
        installed; before any request.
    ConfigurationError
        When no site code is given and the client has no default.
    APIError
        When a request still fails after the client's retries (the first such error, a
        subclass naming the cause; the other requests are cancelled).

    See Also
    --------
    push_events : Push such a frame (back) as visit events.
    kameleoon_pandas.plots.plot_timeline : The events on a time line.

    Examples
    --------
    >>> import kameleoon_pandas as kp
    >>> feed = kp.read_visitor_feeds(  # doctest: +SKIP
    ...     ["8k2j4h6g8f0d2s4a"], previous_visits=3, kinds=["page", "conversion"]
    ... )
    >>> feed[feed["kind"] == "conversion"][["visitor_code", "goal_id", "revenue"]]  # doctest: +SKIP
    """
    if by not in ("visitor_code", "mapping_value"):
        raise ValidationError(f"by must be 'visitor_code' or 'mapping_value', got {by!r}")
    codes = validate_keys(visitor_codes, "visitor_codes")
    previous = validate_previous_visits(previous_visits)
    wanted = validate_kinds(kinds)
    if not isinstance(current_visit, bool):
        raise ValidationError(f"current_visit must be True or False, got {current_visit!r}")
    check_backend(backend, dtype_backend)
    client = resolve_client(client)
    site = client.settings.site_code_for(site_code)
    extra = {"mapping_value": "string"} if by == "mapping_value" else None
    if not codes:
        return to_backend(
            empty_frame(VISITOR_FEED, extra),
            backend=backend,
            dtype_backend=dtype_backend,
            nested=FEED_NESTED,
        )

    async def work(core: AsyncClient) -> FeedColumns:
        columns = FeedColumns(keys=codes, site_code=site, kinds=wanted, by=by)

        async def visitor(index: int, code: str) -> None:
            answer = await core.get_visitor(
                **{by: code},
                previous_visits=previous,
                current_visit=current_visit,
                kinds=wanted,
                site_code=site,
            )
            columns.add(index, answer)  # on the loop, while the other visitors are in flight

        # One request per visitor: a bounded pool of workers, not one task per visitor (the
        # client's own cap still decides how many are in flight; the rest wait in retries).
        await gather_all(
            (visitor(index, code) for index, code in enumerate(codes)),
            limit=4 * core.settings.max_concurrency,
        )
        return columns

    columns = _run_with_bar(client, work, total=len(codes), desc="visitor feeds", progress=progress)
    return to_backend(
        columns.frame(), backend=backend, dtype_backend=dtype_backend, nested=FEED_NESTED
    )
