"""Writers: DataFrames into the Data API (DESIGN.md 5): ``push_*`` and ``forget_visitors``.

Every writer validates first (bad rows are reported, never sent, and never stop the good ones),
encodes the frame slice by slice into bodies under the contract's size limits
(``frames.encode``) and hands them to the push engine (``_push``), which posts them
concurrently through the client (its retries, concurrency cap and rate limit apply), splits a
body the server refuses as too large (413) into halves, and returns a
:class:`~kameleoon_pandas.report.PushReport`.

Visit and product events carry nonces derived from the site code, the kind and either the
``key=`` columns or the row's content and rank (never its index label, see
``frames/encode/nonces.py``), so pushing the same events again, from a re-export, a reordered or
filtered frame or ``report.retry()``, does not count one twice. Map writes merge and forgetting
is idempotent, so neither needs nonces. Every column a push neither sends nor uses is named in
one :class:`~kameleoon_pandas.KameleoonWarning`.

Every writer also takes a polars DataFrame, a pyarrow Table (or any frame speaking the Arrow
stream interface, or known to narwhals): it is read into pandas once, at the entry, through Arrow
(``frames/backends.py``), into the dtypes the loaders return, so the same rules apply; its rows
are named by position in the report.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Callable, Hashable, Iterable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import _push
from ._config import check_site_code
from ._docs import shared_doc
from ._exceptions import KameleoonWarning, ValidationError
from .client import resolve_client, validate_ttl_hours
from .frames import encode
from .frames.backends import is_frame, to_pandas, to_pandas_series
from .report import PushReport

if TYPE_CHECKING:
    from .client import Client

__all__ = ["forget_visitors", "push_events", "push_maps", "push_product_events"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _warn_unsent(operation: str, unsent: Sequence[tuple[Any, str | None]]) -> None:
    """One :class:`KameleoonWarning` naming the columns not sent, at the user's call."""
    if not unsent:
        return
    frame: FrameType | None = sys._getframe(0)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(
        f"{operation}: not sent: {encode.describe_unsent(unsent)}",
        KameleoonWarning,
        stacklevel=level,
    )


def _client_and_site(
    client: Client | None, site_code: str | None, dry_run: bool
) -> tuple[Client | None, str]:
    """The client to send through (none for a dry run given a site code) and the site code."""
    if dry_run and site_code is not None and client is None:
        return None, check_site_code(site_code)  # a dry run needs no client
    resolved = resolve_client(client)
    return resolved, resolved.settings.site_code_for(site_code)


# --------------------------------------------------------------------------- events


@shared_doc
def push_events(
    df: pd.DataFrame,
    kind: str | None = None,
    *,
    key: Hashable | Sequence[Hashable] | None = None,
    client: Client | None = None,
    site_code: str | None = None,
    dry_run: bool = False,
    progress: bool | None = None,
    **columns: str,
) -> PushReport:
    """Push visit events (``POST /visit/events``), one event per row.

    Each row is an event of the visitor in its ``visitor_code`` column or, where that cell is
    missing or the column absent, of the cross-device ``mapping_value``. Columns follow the
    visitor-feed schema, so a frame from :func:`~kameleoon_pandas.read_visitor_feeds` pushes
    back as it is; a column no event sends is named in a warning. Every row is validated
    against the Data API's rules before anything is sent: a bad cell refuses its row (listed
    in ``report.invalid``) and never stops the others.

    Parameters
    ----------
    df : pandas.DataFrame, polars.DataFrame or pyarrow.Table
        The events, one per row. The index is not read: its labels only name rows in the
        report (they may repeat; a polars or pyarrow frame's rows are named by position). A
        ``nonce`` column, where it has a value, gives the event's nonce (16 hexadecimal
        digits).
    kind : str, optional
        The kind of every row, and the columns it reads (optional ones in brackets):
        ``conversion``: ``goal_id`` [``revenue``, ``negative``, ``metadata``];
        ``custom_data``: ``custom_data_index``, ``value`` [``count``, ``overwrite``,
        ``mapping_identifier``]; ``page``: ``href`` [``title``, ``referrers_indices``];
        ``experiment``: ``experiment_id``, ``variation_id``; ``personalization``:
        ``personalization_id``, ``variation_id``; ``geolocation``: ``country`` [``region``,
        ``city``, ``postal_code``, ``latitude``, ``longitude``]; ``static_data``: at least one
        of ``visit_number``, ``device_type``, ``browser``, ``browser_version``, ``os``,
        ``time_since_previous_visit``; ``targeting_segment``: ``targeting_segment_id``.
        Case, ``-`` for ``_`` and the wire names (``customData``) are accepted. ``None`` (the
        default) reads each row's kind from a ``kind`` column; a missing or unknown one refuses
        the row.
    key : str or list of str, optional
        The column, or columns, that identify an event, such as ``key="order_id"``: each
        event's nonce is then derived from the site code, the kind and these values only, so
        the same event pushed again from any export, in any row order and with any other
        columns, is stored once. A missing key value refuses its row; rows of one kind that
        share a key are all refused (which of them is right is not guessed). ``None`` derives
        the nonce from the whole row (see Notes).
    {client}
    {site_code}
    {dry_run}
    {progress}
    **columns : str
        Renames: a schema name mapped to the frame's column that holds it, such as
        ``goal_id="goal"``; it wins over a column of the schema name. Only the schema's names
        are accepted (the columns above, ``visitor_code``, ``mapping_value``, ``kind``,
        ``nonce``, ``time``, ``visit``).

    Returns
    -------
    PushReport
        Rows sent, refused as invalid (with index, column and reason) and failed after the
        client's retries (the rows themselves, ready for :meth:`PushReport.retry`).

    Raises
    ------
    ValidationError
        Before anything is sent, when the frame cannot be read as events: not a DataFrame,
        duplicate column names, a rename naming an unknown schema name or a missing column,
        ``key`` naming a missing column, no ``visitor_code`` or ``mapping_value`` column, no
        ``kind`` and no ``kind`` column, an unknown ``kind``, or a column the rows' kinds
        require missing. Also when ``client`` is not a :class:`~kameleoon_pandas.Client`.
    ConfigurationError
        When no site code is given and the client has no default.

    Warns
    -----
    KameleoonWarning
        Once per push (a dry run too), naming every column with a value that no event sends
        and that is not used otherwise (identity, ``kind``, ``nonce``, ``key``, the custom
        data ``value``/``count``/``visit``, a datetime ``time``), with a hint where the name
        suggests one: ``not sent: 'amount' (map it with revenue='amount'), 'purchased_at'
        (the Data API stamps events when it receives them)``.

    See Also
    --------
    push_product_events : Product views, add-to-carts and purchases.
    read_visitor_feeds : The same columns, read back.
    PushReport.raise_for_failures : Raise :class:`~kameleoon_pandas.PushError` unless all went.

    Notes
    -----
    A missing cell leaves its parameter out of the event, except in a required column and in
    ``revenue`` (a lost amount is a data error, never 0), where it refuses the row. Rows of
    kind ``custom_data`` that agree on the visitor, ``custom_data_index``, ``overwrite``,
    ``mapping_identifier``, ``nonce``, ``visit`` and ``time`` (those the frame has) are one
    event, as :func:`~kameleoon_pandas.read_visitor_feeds` splits one into rows; the counts of a
    repeated value are summed. Events go in frame order, or in ``time`` order when ``time`` is
    a datetime column; the time itself is not sent (the server stamps each event when it
    receives it).

    Exactly once rests on the nonces: the Data API drops an event whose ``(siteCode,
    visitorCode, nonce)`` it has already stored. Unless a ``nonce`` column gives it, an event's
    nonce is 16 hexadecimal digits of a 64-bit hash of the site code, the kind and, with
    ``key=``, the key columns' values; without, every column of the row (by name, sent or
    not) and the row's rank among the rows identical in every column. Neither the row's
    position nor its index label enters it, so a re-export pushed again (new rows on top,
    another order, a filter, ``reset_index()``) and :meth:`PushReport.retry` store nothing
    twice. Values count by value: an id read back from a CSV as ``101.0`` (the column had a
    gap) is ``101``; a text is not a number (``"101"`` is not ``101``).

    What breaks it: without ``key=``, changing any value of a row already pushed (a corrected
    amount), or adding, removing or renaming a column of the export, makes every changed row
    a new event, stored again; use ``key=`` for data whose other columns may change. With
    ``key=``, two genuinely different events sharing a key are refused, and an event whose key
    changed is new. Identical rows are told apart by their rank, so pushing a subset of them
    yourself may give one the nonce of another: push the whole frame again (or call
    :meth:`PushReport.retry`).

    Examples
    --------
    >>> import pandas as pd
    >>> import kameleoon_pandas as kp
    >>> orders = pd.DataFrame(
    ...     {
    ...         "order_id": ["A-1", "A-2", "A-3"],
    ...         "visitor_code": ["v1", "v2", ""],
    ...         "goal": [42, 42, 42],
    ...         "amount": [19.9, 5.0, 1.0],
    ...     }
    ... )
    >>> report = kp.push_events(
    ...     orders,
    ...     "conversion",
    ...     key="order_id",
    ...     goal_id="goal",
    ...     revenue="amount",
    ...     site_code="abc",
    ...     dry_run=True,
    ... )
    >>> report.valid, report.invalid_rows
    (2, 1)
    >>> report.invalid
       index        column            reason
    0      2  visitor_code  empty identifier

    The same through the accessor, for real, raising unless every row went:

    >>> orders.kam.push_events(  # doctest: +SKIP
    ...     "conversion", key="order_id", goal_id="goal", revenue="amount"
    ... ).raise_for_failures()
    """
    return _push_planned_events(
        push_events,
        encode.plan_visit_events,
        "post_visit_events",
        df,
        kind,
        key=key,
        client=client,
        site_code=site_code,
        dry_run=dry_run,
        progress=progress,
        columns=columns,
    )


@shared_doc
def push_product_events(
    df: pd.DataFrame,
    kind: str | None = None,
    *,
    key: Hashable | Sequence[Hashable] | None = None,
    client: Client | None = None,
    site_code: str | None = None,
    dry_run: bool = False,
    progress: bool | None = None,
    **columns: str,
) -> PushReport:
    """Push product events (``POST /product/events``), one event per row, by ``ean``.

    Every row is validated against the Data API's rules before anything is sent: a bad cell
    refuses its row (listed in ``report.invalid``) and never stops the others; a column no
    event sends is named in a warning.

    Parameters
    ----------
    df : pandas.DataFrame, polars.DataFrame or pyarrow.Table
        The events, one per row, with an ``ean`` column. The index is not read: its labels
        only name rows in the report (a polars or pyarrow frame's rows by position). A
        ``nonce`` column, where it has a value, gives the event's nonce (16 hexadecimal
        digits).
    kind : str, optional
        The kind of every row: ``product_page`` (a view, which also merges the product's
        attributes: every column but ``ean``, ``kind``, ``nonce``, ``quantity`` and
        ``site_code``, named as :func:`~kameleoon_pandas.read_product_data` names them, such as
        ``name``, ``price``, ``categories``; a missing cell is left out). The contract's
        attributes take the contract's type whatever the column's dtype: ``price``,
        ``old_price``, ``rating`` finite numbers (a text that is no number is refused),
        ``available`` a boolean, ``available_quantity`` an integer (``3.0`` is ``3``),
        ``categories`` a JSON array of ``{"id", "name", "parent"}`` objects, ``tags`` a JSON
        array, the others texts; further columns are sent as their dtype writes them (a time
        as epoch milliseconds). ``add_to_cart`` or
        ``purchase`` (both with an optional ``quantity``, a whole number >= 1; without it the
        server counts 1). Case, ``-`` for ``_``, the wire names (``productBuy``) and ``buy`` are
        accepted. ``None`` (the default) reads each row's kind from a ``kind`` column; a
        missing or unknown one refuses the row.
    key : str or list of str, optional
        The column, or columns, that identify an event (``key="receipt_line"``): the nonce is
        then derived from the site code, the kind and these values only, as for
        :func:`push_events`. A missing key value refuses its row; rows of one kind that share
        a key are all refused. ``None`` derives the nonce from the whole row.
    {client}
    {site_code}
    {dry_run}
    {progress}
    **columns : str
        Renames: a schema name mapped to the frame's column that holds it, such as
        ``ean="sku"``; it wins over a column of the schema name. Any name is accepted, since
        product attributes are open.

    Returns
    -------
    PushReport
        Rows sent, refused as invalid (with index, column and reason) and failed after the
        client's retries (the rows themselves, ready for :meth:`PushReport.retry`).

    Raises
    ------
    ValidationError
        Before anything is sent, when the frame cannot be read as events: not a DataFrame,
        duplicate column names, a rename naming a missing column, ``key`` naming a missing
        column, no ``ean`` column, no ``kind`` and no ``kind`` column, an unknown ``kind``, or
        two columns that would be the same attribute (``image_url`` and ``imageURL``). Also
        when ``client`` is not a :class:`~kameleoon_pandas.Client`.
    ConfigurationError
        When no site code is given and the client has no default.

    Warns
    -----
    KameleoonWarning
        Once per push (a dry run too), naming every column with a value that no event sends
        (``site_code``; for ``add_to_cart``/``purchase`` rows, every attribute column), with
        a hint where the name suggests one (``map it with quantity='qty'``).

    See Also
    --------
    push_events : Visit events (conversions, pages, custom data, ...).
    read_product_counters : What the events add up to, per time window.
    read_product_data : The attributes ``product_page`` events merged.

    Notes
    -----
    Exactly once rests on the nonces, as for :func:`push_events`: the server drops an event
    whose nonce it has already stored (the emulator keys them by site, EAN and nonce). Unless
    a ``nonce`` column gives it, an event's nonce is a 64-bit hash of the site code, the kind
    and the ``key=`` columns' values, or without ``key=`` every column of the row (by name,
    sent or not) and its rank among the rows identical in every column; never the index label
    or the row's position. Pushing the same events again (a re-export, another row order,
    :meth:`PushReport.retry`) stores nothing twice.

    What breaks it: without ``key=``, a changed value of a row already pushed, or a column
    added to or dropped from the export, makes a new event (use ``key=`` when the other
    columns may change); with ``key=``, two genuinely different events sharing a key are
    refused, and an event whose key changed is new. Events go in frame order, or in ``time``
    order when ``time`` is a datetime column; the time itself is not sent.

    Examples
    --------
    >>> import pandas as pd
    >>> import kameleoon_pandas as kp
    >>> sales = pd.DataFrame({"sku": ["SKU-1", "SKU-2"], "quantity": [2, 1]})
    >>> report = kp.push_product_events(sales, "purchase", ean="sku", site_code="abc", dry_run=True)
    >>> report.valid, report.batches
    (2, 1)
    """
    return _push_planned_events(
        push_product_events,
        encode.plan_product_events,
        "post_product_events",
        df,
        kind,
        key=key,
        client=client,
        site_code=site_code,
        dry_run=dry_run,
        progress=progress,
        columns=columns,
    )


def _push_planned_events(
    push: Callable[..., PushReport],
    planner: Callable[..., encode.EventPlan],
    post_name: str,
    df: pd.DataFrame,
    kind: str | None,
    *,
    key: Hashable | Sequence[Hashable] | None,
    client: Client | None,
    site_code: str | None,
    dry_run: bool,
    progress: bool | None,
    columns: dict[str, str],
) -> PushReport:
    """The common body of the two event writers: plan, then send (``push`` re-pushes failures)."""
    started = time.perf_counter()
    df = to_pandas(df, "df")  # a polars / pyarrow frame is read once, here
    client_, site = _client_and_site(client, site_code, dry_run)
    plan = planner(df, kind, site_code=site, columns=columns, key=key)
    operation = push.__name__ + (f"({kind})" if kind else "")
    _warn_unsent(operation, plan.unsent())

    def retry(frame: pd.DataFrame, positions: np.ndarray) -> PushReport:
        # The failed rows go again with the nonces they were sent with (identical rows are
        # told apart by rank, which a subset of them would change): in the ``nonce`` column.
        name = columns.get("nonce", "nonce")
        derived = np.asarray(plan.nonces_of(positions), dtype=object)
        frame = frame.copy()
        if name in frame.columns:
            given = frame[name].to_numpy(dtype=object)
            frame[name] = np.where(frame[name].notna().to_numpy(), given, derived)
        else:
            frame[name] = derived
        return push(
            frame, kind, key=key, client=client_, site_code=site, progress=progress, **columns
        )

    return _push.run_push(
        operation=operation,
        df=df,
        rows=len(df),
        jobs=_push.event_jobs(plan, encode.EVENT_BODY_LIMIT),
        invalid=lambda: (plan.invalid, len(plan.invalid_rows())),
        client=client_,
        site=site,
        post_name=post_name,
        post_kwargs={},
        dry_run=dry_run,
        progress=progress,
        retry=retry,
        started=started,
    )


# --------------------------------------------------------------------------- maps


@shared_doc
def push_maps(
    df: pd.DataFrame,
    key: str = "key",
    ttl_hours: int | None = None,
    *,
    client: Client | None = None,
    site_code: str | None = None,
    dry_run: bool = False,
    progress: bool | None = None,
) -> PushReport:
    """Merge one map per row into the Data API's maps (``POST /map/maps``).

    Every row is validated before anything is sent: a bad cell refuses its row (listed in
    ``report.invalid``) and never stops the others.

    Parameters
    ----------
    df : pandas.DataFrame, polars.DataFrame or pyarrow.Table
        One map per row (a polars or pyarrow frame's rows are named by position in the
        report): the ``key`` column names it, and every other column but ``site_code``
        is a field, named ``str(column)``. Numbers, booleans and strings are sent as they are,
        lists and dicts as JSON, timestamps as milliseconds since the epoch; a missing cell
        (NaN, None, NA, NaT) is left out rather than deleting the field, and a value the Data
        API cannot hold (an infinity, an arbitrary object, JSON nested deeper than 64 levels,
        a lone surrogate) refuses the row.
    key : str, default "key"
        The column of map keys. A key must be present, non-empty, at most 100 characters long
        and unique within the frame (rows sharing a key are all refused); an integer (or an
        integral float: ``101.0``) is its digits, other non-texts are refused.
    ttl_hours : int, optional
        How long (1..8784 hours) the maps live after this write; ``None`` leaves it to the
        server (2208 hours, 92 days).
    {client}
    {site_code}
    {dry_run}
    {progress}

    Returns
    -------
    PushReport
        Rows sent, refused as invalid (with index, column and reason) and failed after the
        client's retries (the rows themselves, ready for :meth:`PushReport.retry`).

    Raises
    ------
    ValidationError
        Before anything is sent: ``df`` is not a DataFrame, has no ``key`` column, has
        duplicate column names or two columns that become the same field name (``1`` and
        ``"1"``), or ``ttl_hours`` is not an integer 1..8784; or ``client`` is not a
        :class:`~kameleoon_pandas.Client`.
    ConfigurationError
        When no site code is given and the client has no default.

    Warns
    -----
    KameleoonWarning
        Once per push (a dry run too) when a ``site_code`` column has values: it is not a
        field, and the site is ``site_code=``.

    See Also
    --------
    read_maps : The stored maps, one row per key.

    Notes
    -----
    The server merges a write into what it stores: each field sent replaces the stored value,
    fields not sent stay. Writing the same rows twice (a re-run, or
    :meth:`PushReport.retry`) therefore leaves the same maps; no nonce is involved. Bodies stay
    under 1 MB and 1,000 keys.

    Examples
    --------
    >>> import pandas as pd
    >>> import kameleoon_pandas as kp
    >>> tiers = pd.DataFrame({"id": ["k1", "k2"], "tier": ["gold", None], "points": [120, 40]})
    >>> kp.push_maps(tiers, key="id", ttl_hours=24, site_code="abc", dry_run=True).valid
    2
    """
    started = time.perf_counter()
    df = to_pandas(df, "df")  # a polars / pyarrow frame is read once, here
    validate_ttl_hours(ttl_hours)
    client_, site = _client_and_site(client, site_code, dry_run)
    keys, records, positions, problems = encode.map_records(df, key)
    unsent = [
        (c, encode.SITE_CODE_HINT)
        for c in df.columns
        if c == "site_code" and c != key and df[c].notna().any()
    ]
    _warn_unsent("push_maps", unsent)
    jobs = _push.map_jobs(keys, records, positions)

    def retry(frame: pd.DataFrame, positions: np.ndarray) -> PushReport:
        return push_maps(frame, key, ttl_hours, client=client_, site_code=site, progress=progress)

    return _push.run_push(
        operation="push_maps",
        df=df,
        rows=len(df),
        jobs=jobs,
        invalid=lambda: (problems.frame(df.index), len(problems.bad_positions())),
        client=client_,
        site=site,
        post_name="post_maps",
        post_kwargs={"ttl_hours": ttl_hours},
        dry_run=dry_run,
        progress=progress,
        retry=retry,
        started=started,
    )


# --------------------------------------------------------------------------- forget


@shared_doc
def forget_visitors(
    codes: Iterable[str] | pd.Series | pd.DataFrame,
    *,
    visitor_code: str = "visitor_code",
    client: Client | None = None,
    site_code: str | None = None,
    dry_run: bool = False,
    progress: bool | None = None,
) -> PushReport:
    """Delete every visit and event stored for these visitors (``POST /visit/forget``).

    Parameters
    ----------
    codes : iterable of str, pandas.Series or pandas.DataFrame
        The visitor codes, or a DataFrame holding them in its ``visitor_code`` column; a polars
        Series or DataFrame, a pyarrow Array or Table are read the same way. A code
        is sent as its text, exactly as written; one that is missing, empty, longer than 100
        characters or holds a line break is refused (listed in ``report.invalid``). A code
        given several times is sent once, and its rows share the outcome.
    visitor_code : str, default "visitor_code"
        The column of a DataFrame ``codes`` that holds the codes.
    {client}
    {site_code}
    {dry_run}
    {progress}

    Returns
    -------
    PushReport
        Codes (rows) sent, refused as invalid and failed after the client's retries.

    Raises
    ------
    ValidationError
        Before anything is sent: ``codes`` is a single string (pass a list) or a DataFrame
        without the ``visitor_code`` column; or ``client`` is not a
        :class:`~kameleoon_pandas.Client`.
    ConfigurationError
        When no site code is given and the client has no default.

    See Also
    --------
    read_visitor_feeds : What is stored for a visitor (empty once forgotten).

    Notes
    -----
    Forgetting a visitor twice is harmless, so pushing again or :meth:`PushReport.retry` needs
    no nonce. Bodies (one code per line) stay under 1 MB.

    Examples
    --------
    >>> import kameleoon_pandas as kp
    >>> report = kp.forget_visitors(["v1", "v2", "v1", ""], site_code="abc", dry_run=True)
    >>> report.rows, report.valid, report.invalid_rows
    (4, 3, 1)
    """
    started = time.perf_counter()
    foreign = to_pandas_series(codes)  # a polars Series, a pyarrow Array
    if foreign is not None:
        codes = foreign
    elif not isinstance(codes, pd.DataFrame | pd.Series | str) and is_frame(codes):
        codes = to_pandas(codes, "codes")
    if isinstance(codes, pd.DataFrame):
        if visitor_code not in codes.columns:
            raise ValidationError(f"missing column {visitor_code!r}")
        series = codes[visitor_code]
    elif isinstance(codes, pd.Series):
        series = codes
    elif isinstance(codes, str):
        raise ValidationError("codes must be an iterable of visitor codes, not one string")
    else:
        series = pd.Series(list(codes), dtype=object)
    frame = series.to_frame(name=visitor_code)
    client_, site = _client_and_site(client, site_code, dry_run)
    problems = encode._Problems()
    values, present = encode.check_identifiers(series, visitor_code, problems)
    n = len(series)
    newline = np.zeros(n, dtype=bool)
    newline[present] = (
        pd.Series(values[present], dtype=object).str.contains("[\r\n]").to_numpy(dtype=bool)
    )
    problems.add(np.flatnonzero(newline), visitor_code, "contains a line break")
    good = np.setdiff1d(np.arange(n), problems.bad_positions())
    # one line per distinct code (in first-seen order); every row with that code rides along
    grouped = pd.Series(good).groupby(values[good], sort=False).agg(list) if len(good) else None
    by_code: dict[str, list[int]] = (
        {str(code): rows for code, rows in grouped.items()} if grouped is not None else {}
    )

    def retry(failed_frame: pd.DataFrame, positions: np.ndarray) -> PushReport:
        return forget_visitors(
            failed_frame,
            visitor_code=visitor_code,
            client=client_,
            site_code=site,
            progress=progress,
        )

    return _push.run_push(
        operation="forget_visitors",
        df=frame,
        rows=n,
        jobs=_push.forget_jobs(list(by_code), by_code),
        invalid=lambda: (problems.frame(frame.index), len(problems.bad_positions())),
        client=client_,
        site=site,
        post_name="post_forget",
        post_kwargs={},
        dry_run=dry_run,
        progress=progress,
        retry=retry,
        started=started,
    )
