"""``kp.spark.push_*``: a Spark DataFrame through the ``"kameleoon"`` format, the report back.

Each helper checks its arguments on the driver, arranges the frame where the nonces need it,
runs ``df.write.format("kameleoon")...save()`` and returns the job's
:class:`~.report.SparkPushReport` (it re-emits the tasks' warnings, such as the columns not
sent, as :class:`~kameleoon_pandas.KameleoonWarning`).

Why arrange: without ``key=``, an event's nonce is a hash of the row's content and its rank among
identical rows (``frames/encode/nonces.py``). Two identical rows in two partitions would each be
ranked 0 there, get one nonce and be stored once: an event lost. The helpers therefore
repartition the frame by owner (``visitor_code`` and ``mapping_value``; ``ean`` for product
events) and sort each partition by it: all identical rows (they have one owner) are then in one
task, consecutive, and a task never splits an owner's rows between two pushes. The nonces come
out exactly as ``kp.push_events(df.toPandas(), ...)`` gives them, so a frame pushed once from
pandas and once from Spark is stored once. The same arrangement keeps the value rows of a
custom data event together; with ``key=`` and no custom data, no shuffle is needed.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import uuid
import warnings
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

from pyspark.sql import DataFrame

from .._exceptions import KameleoonWarning, ValidationError
from ..client import Client
from .options import CLIENT_OPTION_NAMES, parse_write_options
from .report import SparkPushError, SparkPushReport, read_report
from .source import NAME, check_write_schema, register

__all__ = [
    "client_options",
    "forget_visitors",
    "push_events",
    "push_maps",
    "push_product_events",
]

_SPARK_SHARED = """\
site_code : str, optional
    The site code; ``None`` leaves it to ``client``, else to ``KAMELEOON_SITE_CODE`` on the
    executors.
client : kameleoon_pandas.Client, optional
    Whose settings (URLs, credentials, concurrency, retries, site code) every task's own client
    copies. ``None``: each executor's ``KAMELEOON_*`` environment.
options : dict of str, optional
    Further options of the format (``{"maxConcurrency": "8", "rowsPerPush": "100000"}``),
    which win over the above. See ``docs/spark.md``.
invalid_path : str, optional
    A folder (local path or URI) where each task writes its refused and failed rows as Parquet,
    the input columns plus ``kameleoon_status``, ``kameleoon_column``, ``kameleoon_reason``.
dry_run : bool, default False
    Validate and encode only; nothing is sent."""


def _doc(func: Any) -> Any:
    func.__doc__ = func.__doc__.replace("    {spark_shared}", _indent(_SPARK_SHARED))
    return func


def _indent(text: str) -> str:
    return "\n".join(("    " + line) if line else line for line in text.splitlines())


def client_options(client: Client | None) -> dict[str, str]:
    """The format options that give a task's client the settings of ``client``.

    Parameters
    ----------
    client : kameleoon_pandas.Client or None
        ``None`` gives no options (the executors' environment decides).

    Returns
    -------
    dict of str to str
        ``siteCode``, ``baseUrl``, ``tokenUrl``, ``clientId``, ``clientSecret``, ... (the secret
        is an option value like any other: the data source's plans and Spark's event log do not
        carry option values, and this package never prints one).

    Raises
    ------
    ValidationError
        When ``client`` is not a :class:`kameleoon_pandas.Client`.

    Examples
    --------
    >>> import kameleoon_pandas as kp
    >>> import kameleoon_pandas.spark as kps
    >>> with kp.Client(site_code="abc", base_url="http://127.0.0.1:8000") as c:
    ...     kps.client_options(c)["baseUrl"]
    'http://127.0.0.1:8000'
    """
    if client is None:
        return {}
    if not isinstance(client, Client):
        raise ValidationError(f"client must be a kp.Client, got {type(client).__name__}")
    s = client.settings
    values: dict[str, Any] = {
        "base_url": s.base_url,
        "token_url": s.token_url,
        "client_id": s.client_id,
        "client_secret": s.client_secret,
        "max_concurrency": s.max_concurrency,
        "rate_limit": s.rate_limit,
        "timeout": s.timeout,
        "retry_budget": s.retry_budget,
        "max_retries": s.max_retries,
    }
    out = {CLIENT_OPTION_NAMES[k]: str(v) for k, v in values.items() if v is not None}
    if s.site_code:
        out["siteCode"] = s.site_code
    return out


def _check_frame(df: Any) -> DataFrame:
    if not isinstance(df, DataFrame):
        raise ValidationError(f"expected a Spark DataFrame, got {type(df).__name__}")
    return df


def _is_custom_data(kind: str | None) -> bool:
    return kind is None or str(kind).replace("-", "_").lower() in ("custom_data", "customdata")


def _arranged(df: DataFrame, owner: list[str], num_partitions: int | None) -> DataFrame:
    """``df`` partitioned and sorted by ``owner``: each owner's rows in one task, together."""
    shuffled = df.repartition(num_partitions, *owner) if num_partitions else df.repartition(*owner)
    return shuffled.sortWithinPartitions(*owner)


def _save(df: DataFrame, given: dict[str, str], what_rows: str) -> SparkPushReport:
    """Write ``df`` with the format and these options; the job's report."""
    register(df.sparkSession)
    mine = {k.lower(): k for k in given}.get("reportpath")
    kept = given.pop(mine) if mine else None  # the caller's own report file stays
    folder = tempfile.mkdtemp(prefix="kameleoon-spark-")
    path = kept or os.path.join(folder, f"report-{uuid.uuid4().hex}.json")
    with contextlib.suppress(OSError):
        os.remove(path)  # an earlier write's report must not pass for this one's
    try:
        try:
            df.write.format(NAME).options(**given, reportPath=path).mode("append").save()
        except Exception as exc:
            if not os.path.exists(path):
                raise
            report = read_report(path)
            raise SparkPushError(
                f"{report.summary()}: a task failed for good ({_first_line(exc)}); the tasks "
                f"that finished sent {report.sent} {what_rows}, and pushing the same frame "
                "again stores nothing twice",
                report,
            ) from exc
        report = read_report(path)
    finally:
        if not kept:
            with contextlib.suppress(OSError):
                os.remove(path)
        with contextlib.suppress(OSError):
            os.rmdir(folder)
    for text in report.warnings:
        warnings.warn(text, KameleoonWarning, stacklevel=3)
    return report


def _first_line(exc: BaseException) -> str:
    """Our task's own message out of Spark's long error, else its first line."""
    text = str(exc)
    for line in text.splitlines():
        if "kameleoon write task" in line:
            return line.strip()[:500]
    return (text.strip().splitlines() or [type(exc).__name__])[0][:500]


def _options(
    what: str,
    *,
    site_code: str | None,
    client: Client | None,
    options: Mapping[str, Any] | None,
    invalid_path: str | None,
    dry_run: bool,
) -> dict[str, str]:
    out = {"what": what, **client_options(client)}
    if site_code is not None:
        out["siteCode"] = site_code
    if invalid_path is not None:
        out["invalidPath"] = os.fspath(invalid_path)
    if dry_run:
        out["dryRun"] = "true"
    out.update({str(k): str(v) for k, v in (options or {}).items() if v is not None})
    return out


def _key_option(key: Hashable | Sequence[Hashable] | None) -> str | None:
    if key is None:
        return None
    labels = list(key) if isinstance(key, (list, tuple)) else [key]
    if not labels:
        raise ValidationError("key= names no column: give a column name or a list of them")
    return json.dumps([str(label) for label in labels])


def _push_events(
    what: str,
    df: DataFrame,
    kind: str | None,
    key: Hashable | Sequence[Hashable] | None,
    owner_names: list[str],
    num_partitions: int | None,
    given: dict[str, str],
    columns: dict[str, str],
) -> SparkPushReport:
    df = _check_frame(df)
    if kind is not None:
        given["kind"] = str(kind)
    key_text = _key_option(key)
    if key_text is not None:
        given["key"] = key_text
    for name, source in columns.items():
        given[f"column.{name}"] = str(source)
    arrange = key is None or (what == "visitEvents" and _is_custom_data(kind))
    owner = [c for c in (columns.get(n, n) for n in owner_names) if c in df.columns]
    if arrange:
        if not owner:
            raise ValidationError(
                f"the frame has no {' or '.join(repr(n) for n in owner_names)} column "
                "(rename with ...=column)"
            )
        df = _arranged(df, owner, num_partitions)
        if key is None:
            given["contentNonces"] = "true"
    elif num_partitions:
        df = df.repartition(num_partitions)
    check_write_schema(parse_write_options(given), df.columns)
    return _save(df, given, "rows")


@_doc
def push_events(
    df: DataFrame,
    kind: str | None = None,
    *,
    key: Hashable | Sequence[Hashable] | None = None,
    site_code: str | None = None,
    client: Client | None = None,
    options: Mapping[str, Any] | None = None,
    invalid_path: str | None = None,
    dry_run: bool = False,
    num_partitions: int | None = None,
    **columns: str,
) -> SparkPushReport:
    """Push a Spark DataFrame of visit events: each task runs :func:`kameleoon_pandas.push_events`.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        The events, one per row, with the columns :func:`kameleoon_pandas.push_events` reads
        (``visitor_code`` or ``mapping_value``, the kind's fields, optionally ``kind`` and
        ``nonce``).
    kind : str, optional
        The kind of every row (``"conversion"``, ...); ``None`` reads a ``kind`` column.
    key : str or list of str, optional
        The columns that identify an event: nonces from their values only, and no shuffle
        (unless custom data may be present). ``None`` derives each nonce from the row's content
        and its rank among identical rows, for which the frame is repartitioned and sorted by
        visitor first (see Notes).
    {spark_shared}
    num_partitions : int, optional
        Tasks for the push (a repartition); ``None`` keeps Spark's choice.
    **columns : str
        Renames, as for :func:`kameleoon_pandas.push_events`: ``goal_id="goal"``.

    Returns
    -------
    SparkPushReport
        Rows sent, refused and failed, requests, tasks; ``raise_for_failures()`` raises unless
        all went.

    Raises
    ------
    ValidationError
        Before any task: not a Spark DataFrame, a ``key`` or rename naming a missing column,
        an unknown option, no visitor column.
    SparkPushError
        When a task failed for good (after Spark's retries); ``error.report`` says what the
        tasks that finished sent.

    Warns
    -----
    KameleoonWarning
        The tasks' warnings, once each (columns not sent, ...).

    See Also
    --------
    kameleoon_pandas.push_events : The same on a pandas frame.
    register : The format itself, for ``df.write.format("kameleoon")``.

    Notes
    -----
    Exactly once rests on the nonces, never on Spark's task attempts: a task that dies
    half-way is retried and sends its events again with the same nonces, and the Data API
    drops those it already has. Without ``key=`` the frame is repartitioned by
    ``visitor_code``/``mapping_value`` and sorted within partitions, so that identical rows are
    ranked together (otherwise two identical rows in two partitions would share a nonce and be
    stored once); the nonces are then those :func:`kameleoon_pandas.push_events` gives the whole
    frame. With ``key=``, rows sharing a key in different partitions are not detected (the
    pandas writer refuses them within a partition): the Data API keeps the first.

    Examples
    --------
    >>> import kameleoon_pandas.spark as kps
    >>> report = kps.push_events(  # doctest: +SKIP
    ...     orders, "conversion", key="order_id", goal_id="goal", revenue="amount"
    ... )
    >>> report.raise_for_failures().sent  # doctest: +SKIP
    """
    given = _options(
        "visitEvents",
        site_code=site_code,
        client=client,
        options=options,
        invalid_path=invalid_path,
        dry_run=dry_run,
    )
    return _push_events(
        "visitEvents",
        df,
        kind,
        key,
        ["visitor_code", "mapping_value"],
        num_partitions,
        given,
        columns,
    )


@_doc
def push_product_events(
    df: DataFrame,
    kind: str | None = None,
    *,
    key: Hashable | Sequence[Hashable] | None = None,
    site_code: str | None = None,
    client: Client | None = None,
    options: Mapping[str, Any] | None = None,
    invalid_path: str | None = None,
    dry_run: bool = False,
    num_partitions: int | None = None,
    **columns: str,
) -> SparkPushReport:
    """Push a Spark DataFrame of product events (each task: ``kp.push_product_events``).

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        The events, one per row, with an ``ean`` column.
    kind : str, optional
        ``product_page``, ``add_to_cart`` or ``purchase``; ``None`` reads a ``kind`` column.
    key : str or list of str, optional
        The columns that identify an event; ``None`` derives nonces from the rows' content
        (the frame is then repartitioned and sorted by ``ean`` first).
    {spark_shared}
    num_partitions : int, optional
        Tasks for the push (a repartition); ``None`` keeps Spark's choice.
    **columns : str
        Renames: ``ean="sku"``.

    Returns
    -------
    SparkPushReport

    Raises
    ------
    ValidationError
        Before any task, as for :func:`push_events`.
    SparkPushError
        When a task failed for good.

    See Also
    --------
    kameleoon_pandas.push_product_events : The same on a pandas frame.

    Examples
    --------
    >>> kps.push_product_events(sales, "purchase", ean="sku")  # doctest: +SKIP
    """
    given = _options(
        "productEvents",
        site_code=site_code,
        client=client,
        options=options,
        invalid_path=invalid_path,
        dry_run=dry_run,
    )
    return _push_events("productEvents", df, kind, key, ["ean"], num_partitions, given, columns)


@_doc
def push_maps(
    df: DataFrame,
    key: str = "key",
    ttl_hours: int | None = None,
    *,
    site_code: str | None = None,
    client: Client | None = None,
    options: Mapping[str, Any] | None = None,
    invalid_path: str | None = None,
    dry_run: bool = False,
) -> SparkPushReport:
    """Merge one map per row of a Spark DataFrame, through :func:`kameleoon_pandas.push_maps`.

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        One map per row: ``key`` names it, every other column but ``site_code`` is a field.
    key : str, default "key"
        The column of map keys.
    ttl_hours : int, optional
        How long (1..8784 hours) the maps live after this write.
    {spark_shared}

    Returns
    -------
    SparkPushReport

    Raises
    ------
    ValidationError
        Before any task: not a Spark DataFrame, no ``key`` column, a bad ``ttl_hours``.
    SparkPushError
        When a task failed for good.

    See Also
    --------
    kameleoon_pandas.push_maps : The same on a pandas frame.

    Notes
    -----
    Map writes merge, so a retried task writes the same fields again, harmlessly. Two rows
    sharing a key in one task are both refused (as in pandas); in two tasks, both merge.

    Examples
    --------
    >>> kps.push_maps(tiers, key="customer_id", ttl_hours=720)  # doctest: +SKIP
    """
    df = _check_frame(df)
    given = _options(
        "maps",
        site_code=site_code,
        client=client,
        options=options,
        invalid_path=invalid_path,
        dry_run=dry_run,
    )
    given["key"] = key
    if ttl_hours is not None:
        if isinstance(ttl_hours, bool) or not isinstance(ttl_hours, int):
            raise ValidationError(f"ttl_hours must be an integer 1..8784, got {ttl_hours!r}")
        given["ttlHours"] = str(ttl_hours)
    check_write_schema(parse_write_options(given), df.columns)
    return _save(df, given, "maps")


@_doc
def forget_visitors(
    df: DataFrame,
    *,
    visitor_code: str = "visitor_code",
    site_code: str | None = None,
    client: Client | None = None,
    options: Mapping[str, Any] | None = None,
    invalid_path: str | None = None,
    dry_run: bool = False,
) -> SparkPushReport:
    """Forget the visitors of a Spark DataFrame's column (each task: ``kp.forget_visitors``).

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        A frame with the visitor codes in its ``visitor_code`` column (other columns are
        ignored).
    visitor_code : str, default "visitor_code"
        The column of visitor codes.
    {spark_shared}

    Returns
    -------
    SparkPushReport

    Raises
    ------
    ValidationError
        Before any task: not a Spark DataFrame, no such column.
    SparkPushError
        When a task failed for good.

    See Also
    --------
    kameleoon_pandas.forget_visitors : The same on a pandas frame.

    Examples
    --------
    >>> kps.forget_visitors(spark.table("gdpr_requests"), visitor_code="code")  # doctest: +SKIP
    """
    df = _check_frame(df)
    given = _options(
        "forget",
        site_code=site_code,
        client=client,
        options=options,
        invalid_path=invalid_path,
        dry_run=dry_run,
    )
    given["visitorCode"] = visitor_code
    check_write_schema(parse_write_options(given), df.columns)
    return _save(df, given, "visitor codes")
