"""Dask writers: each partition pushed by the pandas writer, the reports combined into one.

A push runs in three steps:

1. on the driver, before anything is sent: the options and the frame's structure are checked
   (the pandas writer's own dry run on dask's non-empty stand-in of the partitions, so the
   same :class:`~kameleoon_pandas.ValidationError` names the same missing column), and the
   site code and client are resolved;
2. unless ``shuffle=False``, the rows the push relates to one another are moved into one
   partition (``_colocate``): identical rows (their nonces count them), rows sharing a key and
   the rows of one custom data event;
3. every partition becomes a task that calls the pandas writer (``kp.push_events`` and
   friends: the same validation, encoder, nonces, retries and 413 splits) through the worker's
   own client (``_remote``), every request holding a lease of the cluster-wide cap (``_cap``);
   the partitions' reports are added up into one :class:`~kameleoon_pandas.PushReport`.

Only one kameleoon partition runs at a time in a process: the pandas writers warn (a
``KameleoonWarning`` naming unsent columns), and catching a warning changes process-wide state,
so two threads doing it at once could lose or leak one. A partition's own requests still go
``max_concurrency`` at a time, which is what keeps the Data API busy.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import time
import uuid
import warnings
from collections.abc import Hashable, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

import dask
import numpy as np
import pandas as pd
from dask.dataframe.utils import meta_nonempty

from .. import writers
from .._config import check_site_code
from .._exceptions import KameleoonWarning, ValidationError
from .._progress import progress_bar
from ..client import resolve_client
from ..frames import encode
from ..report import PushReport
from ._colocate import Verb, routes
from ._docs import dask_doc
from ._remote import (
    PARTITION_LOCK,
    RemoteClient,
    client_for,
    distributed_client,
    remote_client,
)

if TYPE_CHECKING:
    import dask.dataframe as dd

    from ..client import Client

__all__ = ["forget_visitors", "push_events", "push_maps", "push_product_events"]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_PLANNERS = {
    "push_events": encode.plan_visit_events,
    "push_product_events": encode.plan_product_events,
}


class _PushJob:
    """One push as every partition task calls it: the pandas writer and its arguments.

    A plain class, not a dataclass: ``dask.delayed`` would unpack a dataclass argument field by
    field into the graph. Its repr shows the verb and site only.
    """

    __slots__ = ("args", "dry_run", "kwargs", "remote", "site", "verb")

    def __init__(
        self,
        verb: Verb,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        site: str,
        remote: RemoteClient | None,
        dry_run: bool,
    ) -> None:
        self.verb, self.args, self.kwargs = verb, args, kwargs
        self.site, self.remote, self.dry_run = site, remote, dry_run

    def __getstate__(self) -> tuple:
        return (self.verb, self.args, self.kwargs, self.site, self.remote, self.dry_run)

    def __setstate__(self, state: tuple) -> None:
        self.verb, self.args, self.kwargs, self.site, self.remote, self.dry_run = state

    def __repr__(self) -> str:
        return f"<kameleoon {self.verb} to {self.site!r}{' (dry run)' if self.dry_run else ''}>"

    def call(self, frame: pd.DataFrame, client: Client | None, *, dry_run: bool) -> PushReport:
        writer = getattr(writers, self.verb)
        report: PushReport = writer(
            frame,
            *self.args,
            client=client,
            site_code=self.site,
            dry_run=dry_run,
            progress=False,
            **self.kwargs,
        )
        return report


# --------------------------------------------------------------------------- on the workers


def _push_partition(part: pd.DataFrame, job: _PushJob) -> tuple[PushReport, list[str]]:
    """Push one partition with the pandas writer; its report (labels as given) and warnings."""
    labels = part.index
    frame = part.reset_index(drop=True)  # report positions, whatever the labels
    client = None if job.dry_run or job.remote is None else client_for(job.remote)
    with PARTITION_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", KameleoonWarning)
        report = job.call(frame, client, dry_run=job.dry_run)
    messages = []
    for w in caught:
        if issubclass(w.category, KameleoonWarning):
            messages.append(str(w.message))
        else:  # anything else goes on as it came
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    positions = report.failed.index.to_numpy(dtype=np.int64)
    failed = part.iloc[positions]
    if len(positions) and job.verb in _PLANNERS:
        failed = _with_nonces(failed, frame, positions, job)
    invalid = report.invalid.copy()
    invalid["index"] = labels.take(invalid["index"].to_numpy(dtype=np.int64)).to_numpy(object)
    failures = report.failures.copy()
    failures["index"] = failed.index.to_numpy(dtype=object)
    report = dataclasses.replace(
        report, invalid=invalid, failed=failed, failures=failures, _retry=None
    )
    return report, messages


def _with_nonces(
    failed: pd.DataFrame, frame: pd.DataFrame, positions: np.ndarray, job: _PushJob
) -> pd.DataFrame:
    """``failed`` with the nonces its events were sent with, as :meth:`PushReport.retry` does.

    Identical rows are told apart by their rank in the partition, which the failed rows alone
    would change: pushed again with these nonces, an event that did arrive is not stored twice.
    """
    columns = {k: v for k, v in job.kwargs.items() if k != "key"}
    plan = _PLANNERS[job.verb](
        frame, job.args[0], site_code=job.site, columns=columns, key=job.kwargs.get("key")
    )
    derived = np.asarray(plan.nonces_of(positions), dtype=object)
    name = columns.get("nonce", "nonce")
    failed = failed.copy()
    if name in failed.columns:
        given = failed[name].to_numpy(dtype=object)
        failed[name] = np.where(failed[name].notna().to_numpy(), given, derived)
    else:
        failed[name] = derived
    return failed


# --------------------------------------------------------------------------- on the driver


def _warn(message: str) -> None:
    """A :class:`KameleoonWarning` at the user's call (the first frame outside the package)."""
    frame: FrameType | None = sys._getframe(0)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, KameleoonWarning, stacklevel=level)


def _check_options(shuffle: bool, max_in_flight: int | None, retries: int) -> None:
    if not isinstance(shuffle, bool):
        raise ValidationError(f"shuffle must be True or False, got {shuffle!r}")
    if max_in_flight is not None and (
        isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or max_in_flight < 1
    ):
        raise ValidationError(f"max_in_flight must be an integer >= 1, got {max_in_flight!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValidationError(f"retries must be an integer >= 0, got {retries!r}")


def _dask_frame(ddf: Any) -> dd.DataFrame:
    import dask.dataframe as dd

    if isinstance(ddf, pd.DataFrame):
        raise ValidationError(
            "expected a Dask DataFrame, got a pandas one: use kp.push_events (or df.kam) for it"
        )
    if not isinstance(ddf, dd.DataFrame):
        raise ValidationError(f"expected a Dask DataFrame, got {type(ddf).__name__}")
    dupes = ddf.columns[ddf.columns.duplicated()].tolist()
    if dupes:
        raise ValidationError(f"duplicate column names: {dupes}")
    return ddf


def _client_and_site(
    client: Client | None, site_code: str | None, dry_run: bool
) -> tuple[Client | None, str]:
    """As the pandas writers: no client for a dry run given a site code."""
    if dry_run and site_code is not None and client is None:
        return None, check_site_code(site_code)
    resolved = resolve_client(client)
    return resolved, resolved.settings.site_code_for(site_code)


def _run(
    verb: Verb,
    ddf: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    route_key: Hashable | Sequence[Hashable] | None,
    client: Client | None,
    site_code: str | None,
    dry_run: bool,
    progress: bool | None,
    shuffle: bool,
    max_in_flight: int | None,
    retries: int,
) -> PushReport:
    started = time.perf_counter()
    _check_options(shuffle, max_in_flight, retries)
    frame = _dask_frame(ddf)
    driver, site = _client_and_site(client, site_code, dry_run)
    # The pandas writer's structure checks, before anything is computed or sent; the columns
    # it names as not sent come from the partitions themselves (below).
    check = _PushJob(verb, args, kwargs, site, None, True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KameleoonWarning)
        check.call(meta_nonempty(frame._meta), None, dry_run=True)
    if shuffle and verb != "forget_visitors" and frame.npartitions > 1:
        route = functools.partial(routes, verb=verb, key=route_key, columns=kwargs)
        on = frame.map_partitions(route, meta=pd.Series(dtype=np.uint64))
        # "tasks": partitions travel as pickled pandas frames; p2p would round-trip them
        # through Arrow, which may change object cells (and so the nonces that hash them).
        frame = frame.shuffle(on=on, shuffle_method="tasks")
    cluster = distributed_client()
    remote = None
    if not dry_run:
        assert driver is not None
        remote = remote_client(driver, max_in_flight=max_in_flight, cluster=cluster)
    job = _PushJob(verb, args, kwargs, site, remote, dry_run)
    outcomes = _compute(frame, job, cluster=cluster, retries=retries, progress=progress)
    for message in dict.fromkeys(m for _, messages in outcomes for m in messages):
        _warn(message)

    def retry(failed: pd.DataFrame) -> PushReport:
        # The failed rows carry their nonces: the pandas writer, on the driver, is enough.
        report: PushReport = getattr(writers, verb)(
            failed, *args, client=driver, site_code=site, progress=progress, **kwargs
        )
        return report

    return _combine(
        [report for report, _ in outcomes],
        site=site,
        dry_run=dry_run,
        elapsed=time.perf_counter() - started,
        retry=None if dry_run else retry,
    )


def _compute(
    frame: dd.DataFrame,
    job: _PushJob,
    *,
    cluster: Any | None,
    retries: int,
    progress: bool | None,
) -> list[tuple[PushReport, list[str]]]:
    """Run one task per partition; on a cluster with ``retries``, a bar counting partitions."""
    name = f"kameleoon-{job.verb.replace('_', '-')}-{uuid.uuid4().hex[:12]}"
    push = dask.delayed(_push_partition, pure=False)
    tasks = [push(part, job, dask_key_name=(name, i)) for i, part in enumerate(frame.to_delayed())]
    with progress_bar(len(tasks), desc=job.verb, progress=progress, unit="partition") as bar:
        if cluster is None:
            results = list(dask.compute(*tasks))
            bar.update(len(tasks))
            return results
        from distributed import as_completed

        futures = cluster.compute(tasks, retries=retries)
        try:
            for _ in as_completed(futures):
                bar.update(1)
            gathered: list[tuple[PushReport, list[str]]] = cluster.gather(futures)
        except BaseException:
            cluster.cancel(futures)
            raise
        return gathered


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    full = [f for f in frames if len(f)]
    if not full:
        return frames[0]
    return full[0] if len(full) == 1 else pd.concat(full)


def _combine(
    reports: list[PushReport],
    *,
    site: str,
    dry_run: bool,
    elapsed: float,
    retry: Any,
) -> PushReport:
    """The partitions' reports added up: counts summed, invalid cells and failed rows joined."""
    invalid = _concat([r.invalid for r in reports]).reset_index(drop=True)
    failures = _concat([r.failures for r in reports]).reset_index(drop=True)
    return PushReport(
        operation=reports[0].operation,
        site_code=site,
        rows=sum(r.rows for r in reports),
        valid=sum(r.valid for r in reports),
        sent=sum(r.sent for r in reports),
        invalid=invalid,
        invalid_count=sum(r.invalid_rows for r in reports),
        failed=_concat([r.failed for r in reports]),
        failures=failures,
        requests=sum(r.requests for r in reports),
        batches=sum(r.batches for r in reports),
        bytes_sent=sum(r.bytes_sent for r in reports),
        elapsed=elapsed,
        dry_run=dry_run,
        _retry=retry,
    )


# --------------------------------------------------------------------------- the verbs


@dask_doc
def push_events(
    ddf: dd.DataFrame,
    kind: str | None = None,
    *,
    key: Hashable | Sequence[Hashable] | None = None,
    client: Client | None = None,
    site_code: str | None = None,
    dry_run: bool = False,
    progress: bool | None = None,
    shuffle: bool = True,
    max_in_flight: int | None = None,
    retries: int = 2,
    **columns: str,
) -> PushReport:
    """Push a Dask DataFrame's rows as visit events (``POST /visit/events``), one per row.

    Every partition is pushed by :func:`kameleoon_pandas.push_events` on a worker (the same
    validation, encoder, nonces, retries and 413 splits), at most ``max_in_flight`` requests
    in flight across the cluster, and the partitions' reports are added up into one.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
        The events, one per row, with the columns :func:`kameleoon_pandas.push_events` reads
        (``visitor_code`` or ``mapping_value``, the kind's fields, optionally ``kind``,
        ``nonce``, ``time``). The index only names rows in the report.
    kind : str, optional
        The kind of every row (``conversion``, ``custom_data``, ``page``, ``experiment``,
        ``personalization``, ``geolocation``, ``static_data``, ``targeting_segment``), as in
        :func:`kameleoon_pandas.push_events`; ``None`` reads a ``kind`` column.
    key : str or list of str, optional
        The column(s) that identify an event, such as ``key="order_id"``: the nonce then comes
        from these values only, so the same event pushed from any export is stored once.
    {dask_client}
    {site_code}
    {dry_run}
    {dask_progress}
    {shuffle}
    {max_in_flight}
    {retries}
    **columns : str
        Renames: a schema name mapped to the frame's column that holds it, such as
        ``goal_id="goal"``.

    Returns
    -------
    PushReport
        All partitions together: rows sent, refused as invalid (index, column, reason) and
        failed after the client's retries (the rows, with the nonces they were sent with,
        ready for :meth:`PushReport.retry`, which sends them from the driver).

    Raises
    ------
    ValidationError
        Before anything is sent: not a Dask DataFrame, duplicate column names, a rename, a
        ``key`` or a required column missing, an unknown ``kind`` (the pandas writer's checks,
        on the frame's structure), or an option out of range.
    ConfigurationError
        When no site code is given and the client has no default.
    KameleoonError
        A partition's task failing for good after ``retries`` (the partitions pushed so far
        stay pushed; pushing again is safe).

    Warns
    -----
    KameleoonWarning
        Once per distinct message of the partitions, naming the columns not sent.

    See Also
    --------
    kameleoon_pandas.push_events : The pandas writer each partition goes through.
    read_visitor_feeds : The same columns, read back as a Dask DataFrame.

    {event_notes}

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> import pandas as pd
    >>> import kameleoon_pandas.dask  # registers ddf.kam
    >>> orders = pd.DataFrame(
    ...     {"order_id": ["A-1", "A-2", "A-3"], "visitor_code": ["v1", "v2", ""], "goal": 42}
    ... )
    >>> ddf = dd.from_pandas(orders, npartitions=2)
    >>> report = ddf.kam.push_events(
    ...     "conversion", key="order_id", goal_id="goal", site_code="abc", dry_run=True
    ... )
    >>> report.rows, report.valid, report.invalid_rows
    (3, 2, 1)
    """
    return _run(
        "push_events",
        ddf,
        (kind,),
        {"key": key, **columns},
        route_key=key,
        client=client,
        site_code=site_code,
        dry_run=dry_run,
        progress=progress,
        shuffle=shuffle,
        max_in_flight=max_in_flight,
        retries=retries,
    )


@dask_doc
def push_product_events(
    ddf: dd.DataFrame,
    kind: str | None = None,
    *,
    key: Hashable | Sequence[Hashable] | None = None,
    client: Client | None = None,
    site_code: str | None = None,
    dry_run: bool = False,
    progress: bool | None = None,
    shuffle: bool = True,
    max_in_flight: int | None = None,
    retries: int = 2,
    **columns: str,
) -> PushReport:
    """Push a Dask DataFrame's rows as product events (``POST /product/events``), by ``ean``.

    Every partition is pushed by :func:`kameleoon_pandas.push_product_events` on a worker,
    at most ``max_in_flight`` requests in flight across the cluster, and the partitions'
    reports are added up into one.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
        The events, one per row, with an ``ean`` column and the columns
        :func:`kameleoon_pandas.push_product_events` reads (``quantity``, attributes).
    kind : str, optional
        ``product_page``, ``add_to_cart`` or ``purchase`` for every row; ``None`` reads a
        ``kind`` column.
    key : str or list of str, optional
        The column(s) that identify an event; see :func:`push_events`.
    {dask_client}
    {site_code}
    {dry_run}
    {dask_progress}
    {shuffle}
    {max_in_flight}
    {retries}
    **columns : str
        Renames: a schema name mapped to the frame's column that holds it.

    Returns
    -------
    PushReport
        All partitions together (see :func:`push_events`).

    Raises
    ------
    ValidationError
        Before anything is sent: not a Dask DataFrame, no ``ean`` column, a missing column the
        kind requires, an unknown ``kind``, or an option out of range.
    ConfigurationError
        When no site code is given and the client has no default.
    KameleoonError
        A partition's task failing for good after ``retries``.

    Warns
    -----
    KameleoonWarning
        Once per distinct message of the partitions, naming the columns not sent.

    See Also
    --------
    kameleoon_pandas.push_product_events : The pandas writer each partition goes through.

    {event_notes}

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> import pandas as pd
    >>> import kameleoon_pandas.dask as kd
    >>> carts = dd.from_pandas(pd.DataFrame({"ean": ["E1", "E2"], "quantity": [1, 3]}), 1)
    >>> kd.push_product_events(carts, "add_to_cart", site_code="abc", dry_run=True).valid
    2
    """
    return _run(
        "push_product_events",
        ddf,
        (kind,),
        {"key": key, **columns},
        route_key=key,
        client=client,
        site_code=site_code,
        dry_run=dry_run,
        progress=progress,
        shuffle=shuffle,
        max_in_flight=max_in_flight,
        retries=retries,
    )


@dask_doc
def push_maps(
    ddf: dd.DataFrame,
    key: str = "key",
    ttl_hours: int | None = None,
    *,
    client: Client | None = None,
    site_code: str | None = None,
    dry_run: bool = False,
    progress: bool | None = None,
    shuffle: bool = True,
    max_in_flight: int | None = None,
    retries: int = 2,
) -> PushReport:
    """Merge one map per row of a Dask DataFrame into the Data API's maps (``POST /map/maps``).

    Every partition is pushed by :func:`kameleoon_pandas.push_maps` on a worker, at most
    ``max_in_flight`` requests in flight across the cluster, and the partitions' reports are
    added up into one.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
        One map per row: the ``key`` column names it, every other column (but ``site_code``)
        is a field.
    key : str, default "key"
        The column of map keys. Rows sharing a key are all refused, as in pandas: the shuffle
        (``shuffle=True``) brings them into one partition.
    ttl_hours : int, optional
        How long (1..8784 hours) the maps live after this write; ``None`` leaves it to the
        server.
    {dask_client}
    {site_code}
    {dry_run}
    {dask_progress}
    {shuffle}
    {max_in_flight}
    {retries}

    Returns
    -------
    PushReport
        All partitions together (see :func:`push_events`).

    Raises
    ------
    ValidationError
        Before anything is sent: not a Dask DataFrame, no ``key`` column, two columns that
        become one field name, ``ttl_hours`` out of range, or an option out of range.
    ConfigurationError
        When no site code is given and the client has no default.
    KameleoonError
        A partition's task failing for good after ``retries``.

    See Also
    --------
    kameleoon_pandas.push_maps : The pandas writer each partition goes through.
    read_maps : The stored maps, as a Dask DataFrame.

    Notes
    -----
    A map write merges into what is stored, so writing the same rows again (a partition run
    twice, :meth:`PushReport.retry`) leaves the same maps.

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> import pandas as pd
    >>> import kameleoon_pandas.dask as kd
    >>> tiers = dd.from_pandas(pd.DataFrame({"key": ["k1", "k2"], "tier": ["gold", "x"]}), 2)
    >>> kd.push_maps(tiers, site_code="abc", dry_run=True).valid
    2
    """
    return _run(
        "push_maps",
        ddf,
        (key, ttl_hours),
        {},
        route_key=key,
        client=client,
        site_code=site_code,
        dry_run=dry_run,
        progress=progress,
        shuffle=shuffle,
        max_in_flight=max_in_flight,
        retries=retries,
    )


@dask_doc
def forget_visitors(
    codes: dd.DataFrame | dd.Series,
    *,
    visitor_code: str = "visitor_code",
    client: Client | None = None,
    site_code: str | None = None,
    dry_run: bool = False,
    progress: bool | None = None,
    max_in_flight: int | None = None,
    retries: int = 2,
) -> PushReport:
    """Delete every visit and event stored for the visitors of a Dask column (``/visit/forget``).

    Every partition is sent by :func:`kameleoon_pandas.forget_visitors` on a worker, at most
    ``max_in_flight`` requests in flight across the cluster, and the partitions' reports are
    added up into one. Nothing is shuffled: forgetting is idempotent.

    Parameters
    ----------
    codes : dask.dataframe.Series or dask.dataframe.DataFrame
        The visitor codes, or a frame holding them in its ``visitor_code`` column.
    visitor_code : str, default "visitor_code"
        The column of a DataFrame ``codes`` that holds the codes (a Series' name is ignored).
    {dask_client}
    {site_code}
    {dry_run}
    {dask_progress}
    {max_in_flight}
    {retries}

    Returns
    -------
    PushReport
        All partitions together: codes (rows) sent, refused as invalid and failed.

    Raises
    ------
    ValidationError
        Before anything is sent: ``codes`` is neither a Dask Series nor a Dask DataFrame, or
        the frame has no ``visitor_code`` column; or an option is out of range.
    ConfigurationError
        When no site code is given and the client has no default.
    KameleoonError
        A partition's task failing for good after ``retries``.

    See Also
    --------
    kameleoon_pandas.forget_visitors : The pandas writer each partition goes through.

    Notes
    -----
    A code given in several partitions is sent once per partition: harmless, as forgetting a
    visitor twice is.

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> import pandas as pd
    >>> import kameleoon_pandas.dask as kd
    >>> codes = dd.from_pandas(pd.Series(["v1", "v2", ""]), npartitions=2)
    >>> kd.forget_visitors(codes, site_code="abc", dry_run=True).invalid_rows
    1
    """
    import dask.dataframe as dd

    if isinstance(codes, dd.Series):
        codes = codes.to_frame(name=visitor_code)
    elif isinstance(codes, pd.Series | pd.DataFrame):
        raise ValidationError(
            "expected a Dask Series or DataFrame, got a pandas one: use kp.forget_visitors"
        )
    elif not isinstance(codes, dd.DataFrame):
        raise ValidationError(
            f"expected a Dask Series or DataFrame of visitor codes, got {type(codes).__name__}"
        )
    return _run(
        "forget_visitors",
        codes,
        (),
        {"visitor_code": visitor_code},
        route_key=None,
        client=client,
        site_code=site_code,
        dry_run=dry_run,
        progress=progress,
        shuffle=False,
        max_in_flight=max_in_flight,
        retries=retries,
    )
