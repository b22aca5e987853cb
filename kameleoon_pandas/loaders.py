"""``read_*``: the Data API into typed DataFrames (schemas in ``frames/schemas.py``).

Every loader checks its input before any request (a ``ValidationError`` names the bad value),
fans its requests out concurrently on the client (at most 100 keys a call, capped in-flight
requests, retries), shows one progress bar counting requests, and shapes the answers with the
pure functions of ``frames``. Empty input or an empty answer gives an empty frame with the
declared columns and dtypes.

All options are keyword-only; ``client=None`` uses the default client built from the
``KAMELEOON_*`` environment, ``site_code=None`` the client's default, ``progress=None`` a bar
only when output is interactive.
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

from ._exceptions import KameleoonWarning, ValidationError
from ._progress import progress_bar
from .client import (
    MAX_KEYS_PER_CALL,
    AsyncClient,
    Client,
    gather_all,
    on_request,
    resolve_client,
    validate_keys,
    validate_kinds,
    validate_previous_visits,
)
from .frames.feeds import feed_frame
from .frames.maps import maps_frame
from .frames.products import counters_frame, product_data_frame
from .frames.schemas import MAP_KEYS, PRODUCT_COUNTERS, VISITOR_FEED, empty_frame

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
    now: pd.Timestamp | None = None,
) -> list[tuple[int, int]]:
    """``[start, end)`` as ``(start_ms, end_ms)`` windows, split by ``freq``.

    A fixed step (``"1h"``, ``"1D"``) cuts every step from ``start``; an anchored one
    (``"MS"``, ``"W"``) on its anchor days. Defaults: ``end`` now, ``start`` 24 hours before
    ``end``. Naive times are UTC. The last window ends at ``end`` even when shorter than ``freq``.
    """
    now = pd.Timestamp.now(tz="UTC") if now is None else now
    end_ts = _timestamp(end, "end") if end is not None else now
    start_ts = _timestamp(start, "start") if start is not None else end_ts - pd.Timedelta(hours=24)
    if start_ts >= end_ts:
        raise ValidationError(f"start ({start_ts}) must be before end ({end_ts})")
    begin, finish = _ms(start_ts), _ms(end_ts)
    if begin >= finish:
        raise ValidationError(f"start ({start_ts}) and end ({end_ts}) are within one millisecond")
    if freq is None:
        return [(begin, finish)]
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
    if isinstance(offset, pd.offsets.Tick) and (end_ts - start_ts) / offset > MAX_WINDOWS + 1:
        raise too_many
    try:
        marks = pd.date_range(start_ts, end_ts, freq=offset)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"freq={freq!r} cannot split the window: {exc}") from None
    if len(marks) > MAX_WINDOWS + 1:
        raise too_many
    cuts = (marks.as_unit("ms").asi8 if len(marks) else np.array([], dtype=np.int64)).tolist()
    inner = [t for t in cuts if begin < t < finish]
    edges = [begin, *inner, finish]
    return list(itertools.pairwise(edges))


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

        async def counted() -> Any:
            on_request.set(bar.update)  # seen by every task this coroutine starts
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


def read_product_counters(
    eans: Iterable[str],
    *,
    start: TimeLike | None = None,
    end: TimeLike | None = None,
    freq: str | pd.DateOffset | dt.timedelta | None = None,
    client: Client | None = None,
    site_code: str | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Views, add-to-cart and bought quantities per EAN over ``[start, end)``.

    ``start``/``end``: strings, datetimes or Timestamps (naive = UTC); default the last 24 hours.
    ``freq`` (``"1h"``, ``"1D"``, ...) splits the window into consecutive windows fetched
    concurrently. One row per (ean, window), EANs in input order; columns ``site_code, ean,
    window_start, window_end, views, add_to_cart_quantity, bought_quantity``.

    ``client`` (default: one built from the ``KAMELEOON_*`` environment), ``site_code`` (default:
    the client's) and ``progress`` (None: a bar only when output is interactive) as in every
    loader.
    """
    keys = validate_keys(eans, "eans")
    windows = time_windows(start, end, freq)
    client = resolve_client(client)
    site = client.settings.site_code_for(site_code)
    if not keys:
        return empty_frame(PRODUCT_COUNTERS)

    async def work(core: AsyncClient) -> list[dict]:
        return await gather_all(
            core.get_product_counters(keys, time_begin=b, time_end=e, site_code=site)
            for b, e in windows
        )

    total = len(windows) * math.ceil(len(keys) / MAX_KEYS_PER_CALL)
    answers = _run_with_bar(client, work, total=total, desc="product counters", progress=progress)
    frame, missing = counters_frame(answers, windows=windows, eans=keys, site_code=site)
    _warn_missing(missing, len(keys), "EANs")
    return frame


def _fetch_by_keys(
    client: Client, method: str, keys: list[str], site: str, desc: str, progress: bool | None
) -> dict:
    """Run a keyed raw method (split into calls of at most 100 keys) under one progress bar."""

    async def work(core: AsyncClient) -> dict:
        return await getattr(core, method)(keys, site_code=site)

    total = math.ceil(len(keys) / MAX_KEYS_PER_CALL)
    return _run_with_bar(client, work, total=total, desc=desc, progress=progress)


def read_product_data(
    eans: Iterable[str],
    *,
    client: Client | None = None,
    site_code: str | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Stored attributes, one row per EAN: ``site_code, ean``, then one column per attribute.

    Declared attributes (``name``, ``price``, ...) always have a column; others follow,
    snake_cased. Nested values (``categories``) stay Python objects. Unknown EANs are left out
    with a ``KameleoonWarning`` counting them.

    ``client`` (default: one built from the ``KAMELEOON_*`` environment), ``site_code`` (default:
    the client's) and ``progress`` (None: a bar only when output is interactive) as in every
    loader.
    """
    keys = validate_keys(eans, "eans")
    client = resolve_client(client)
    site = client.settings.site_code_for(site_code)
    if not keys:
        frame, _ = product_data_frame({}, eans=[], site_code=site)
        return frame

    answer = _fetch_by_keys(client, "get_product_data", keys, site, "product data", progress)
    frame, missing = product_data_frame(answer, eans=keys, site_code=site)
    _warn_missing(missing, len(keys), "EANs")
    return frame


def read_maps(
    keys: Iterable[str],
    *,
    client: Client | None = None,
    site_code: str | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Stored map data, one row per key: ``site_code, key``, then one column per field.

    Nested values stay Python objects; unknown keys are left out with a ``KameleoonWarning``
    counting them.

    ``client`` (default: one built from the ``KAMELEOON_*`` environment), ``site_code`` (default:
    the client's) and ``progress`` (None: a bar only when output is interactive) as in every
    loader.
    """
    wanted = validate_keys(keys, "keys")
    client = resolve_client(client)
    site = client.settings.site_code_for(site_code)
    if not wanted:
        return empty_frame(MAP_KEYS)

    answer = _fetch_by_keys(client, "get_maps", wanted, site, "maps", progress)
    frame, missing = maps_frame(answer, keys=wanted, site_code=site)
    _warn_missing(missing, len(wanted), "keys")
    return frame


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
) -> pd.DataFrame:
    """Activity feeds, one row per event (the long ``VISITOR_FEED`` schema).

    ``previous_visits`` (0..25) previous visits besides the current one (``current_visit``);
    ``kinds`` limits the event kinds (page, conversion, custom_data, experiment,
    personalization, geolocation, static_data; None = all). ``by="mapping_value"`` asks by the
    cross-device id and adds a ``mapping_value`` column. Custom data gives one row per value
    with its count. Rows: visitors in input order, then visit (0 = current), then time.

    ``client`` (default: one built from the ``KAMELEOON_*`` environment), ``site_code`` (default:
    the client's) and ``progress`` (None: a bar only when output is interactive) as in every
    loader.
    """
    if by not in ("visitor_code", "mapping_value"):
        raise ValidationError(f"by must be 'visitor_code' or 'mapping_value', got {by!r}")
    codes = validate_keys(visitor_codes, "visitor_codes")
    previous = validate_previous_visits(previous_visits)
    wanted = validate_kinds(kinds)
    if not isinstance(current_visit, bool):
        raise ValidationError(f"current_visit must be True or False, got {current_visit!r}")
    client = resolve_client(client)
    site = client.settings.site_code_for(site_code)
    extra = {"mapping_value": "string"} if by == "mapping_value" else None
    if not codes:
        return empty_frame(VISITOR_FEED, extra)

    async def work(core: AsyncClient) -> list[dict]:
        return await gather_all(
            core.get_visitor(
                **{by: code},
                previous_visits=previous,
                current_visit=current_visit,
                kinds=wanted,
                site_code=site,
            )
            for code in codes
        )

    answers = _run_with_bar(client, work, total=len(codes), desc="visitor feeds", progress=progress)
    return feed_frame(answers, keys=codes, site_code=site, kinds=wanted, by=by)
