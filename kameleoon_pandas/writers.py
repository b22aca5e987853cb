"""Writers: DataFrames into the Data API, exactly once (DESIGN.md 5).

Every writer validates first (bad rows are reported, never sent, and never stop the good ones),
encodes the frame slice by slice into bodies under the contract's size limits
(``frames.encode``), posts them concurrently through the client (its retries, concurrency cap and
rate limit apply), splits a body the server refuses as too large (413) into halves, and returns
a :class:`~kameleoon_pandas.report.PushReport`. Visit and product events carry nonces derived
from the row, so pushing the same frame again, or ``report.retry()``, never counts an event twice.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._config import check_site_code
from ._exceptions import KameleoonError, PayloadTooLargeError, ValidationError
from ._progress import progress_bar
from .client import resolve_client, validate_ttl_hours
from .frames import encode
from .report import PushReport

if TYPE_CHECKING:
    from .client import Client

__all__ = ["forget_visitors", "push_events", "push_maps", "push_product_events"]


# --------------------------------------------------------------------------- jobs


@dataclass
class _Job:
    """One request: its payload, the input rows it carries, and how to halve it on a 413."""

    payload: Any
    rows: np.ndarray
    split: Callable[[], tuple[_Job, _Job]] | None
    size: int


def _event_jobs(plan: encode.EventPlan, limit: int) -> Iterator[_Job]:
    def job(batch: encode.Batch) -> _Job:
        def halves() -> tuple[_Job, _Job]:
            a, b = batch.split()
            return job(a), job(b)

        return _Job(
            batch.body,
            plan.rows_of(batch.events),
            halves if len(batch.events) > 1 else None,
            len(batch.body),
        )

    for batch in plan.batches(limit=limit):
        yield job(batch)


@dataclass
class _Stats:
    requests: int = 0
    bytes_sent: int = 0


async def _send_all(
    jobs: Iterator[_Job],
    post: Callable[[Any], Awaitable[None]],
    *,
    max_inflight: int,
    sent: list[np.ndarray],
    failed: list[tuple[np.ndarray, str]],
    stats: _Stats,
    bar: Any,
) -> None:
    """Post every job, at most ``max_inflight`` at a time; encoding the next ones meanwhile."""

    async def send(job: _Job) -> None:
        stats.requests += 1
        try:
            await post(job.payload)
        except PayloadTooLargeError as exc:
            if job.split is None:
                failed.append((job.rows, f"too large even alone: {exc}"))
                bar.update(len(job.rows))
                return
            first, second = job.split()
            await asyncio.gather(send(first), send(second))
            return
        except KameleoonError as exc:  # after the client's retries: report, keep going
            failed.append((job.rows, str(exc)))
            bar.update(len(job.rows))
            return
        stats.bytes_sent += job.size
        sent.append(job.rows)
        bar.update(len(job.rows))

    pending: set[asyncio.Task[None]] = set()
    try:
        for job in jobs:  # each step may encode a slice: cheap, and it bounds memory
            while len(pending) >= max_inflight:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # send() reports API errors itself: anything else is a bug
            pending.add(asyncio.create_task(send(job)))
            await asyncio.sleep(0)  # let finished responses be handled between slices
        if pending:
            done, pending = await asyncio.wait(pending)
            for task in done:
                task.result()
    finally:
        for task in pending:
            task.cancel()


def _run_push(
    *,
    operation: str,
    df: pd.DataFrame,
    rows: int,
    jobs: Iterable[_Job],
    invalid: Callable[[], tuple[pd.DataFrame, int]],
    client: Client | None,
    site: str,
    post_name: str,
    post_kwargs: dict[str, Any],
    dry_run: bool,
    progress: bool | None,
    retry: Callable[[pd.DataFrame], PushReport],
    started: float,
) -> PushReport:
    sent: list[np.ndarray] = []
    failed: list[tuple[np.ndarray, str]] = []
    stats = _Stats()
    batches = 0
    valid = 0
    with progress_bar(rows, desc=operation, progress=progress, unit="row") as bar:
        if dry_run:
            for job in jobs:
                batches += 1
                valid += len(job.rows)
            bar.update(rows)
        else:
            assert client is not None
            method = getattr(client.async_client, post_name)

            async def post(payload: Any) -> None:
                await method(payload, site_code=site, **post_kwargs)

            def counted() -> Iterator[_Job]:
                nonlocal batches, valid
                for job in jobs:
                    batches += 1
                    valid += len(job.rows)
                    yield job

            # a few bodies beyond the client's cap are encoded ahead; no more: memory stays flat
            max_inflight = client.settings.max_concurrency + 2
            client.run(
                _send_all(
                    counted(),
                    post,
                    max_inflight=max_inflight,
                    sent=sent,
                    failed=failed,
                    stats=stats,
                    bar=bar,
                )
            )
            bar.update(max(0, rows - bar.n))  # the invalid rows
    report_invalid, invalid_count = invalid()
    failed_pos = np.concatenate([p for p, _ in failed]) if failed else np.empty(0, np.int64)
    order = np.argsort(failed_pos, kind="stable")
    reasons = (
        np.concatenate([np.full(len(p), r, dtype=object) for p, r in failed])
        if failed
        else (np.empty(0, dtype=object))
    )
    failed_frame = df.iloc[failed_pos[order]]
    failures = pd.DataFrame(
        {"index": failed_frame.index.to_numpy(dtype=object), "reason": reasons[order]}
    )
    return PushReport(
        operation=operation,
        site_code=site,
        rows=rows,
        valid=valid,
        sent=int(sum(len(p) for p in sent)),
        invalid=report_invalid,
        invalid_count=invalid_count,
        failed=failed_frame,
        failures=failures,
        requests=stats.requests,
        batches=batches,
        bytes_sent=stats.bytes_sent,
        elapsed=time.perf_counter() - started,
        dry_run=dry_run,
        _retry=None if dry_run else retry,
    )


def _client_and_site(
    client: Client | None, site_code: str | None, dry_run: bool
) -> tuple[Client | None, str]:
    if dry_run and site_code is not None and client is None:
        return None, check_site_code(site_code)  # a dry run needs no client
    resolved = resolve_client(client)
    return resolved, resolved.settings.site_code_for(site_code)


# --------------------------------------------------------------------------- public writers


def push_events(
    df: pd.DataFrame,
    kind: str | None = None,
    *,
    client: Client | None = None,
    site_code: str | None = None,
    dry_run: bool = False,
    progress: bool | None = None,
    **columns: str,
) -> PushReport:
    """Push visit events (``POST /visit/events``), one event per row, exactly once.

    ``kind`` names the kind of every row (``conversion``, ``custom_data``, ``page``,
    ``experiment``, ``personalization``, ``geolocation``, ``static_data``,
    ``targeting_segment``); without it a ``kind`` column gives it per row. Columns follow the
    visitor-feed schema (``visitor_code`` or ``mapping_value``, ``goal_id``, ``revenue``,
    ``negative``, ``metadata``, ``href``, ``title``, ``custom_data_index``, ``value``, ``count``,
    ``country``, ``browser`` ...); ``**columns`` maps a schema name to your column
    (``goal_id="goal"``). Other columns are ignored, so a frame from ``read_visitor_feeds``
    pushes back as it is. A ``nonce`` column (16 hex digits) replaces the derived nonces.

    Missing required columns raise :class:`~kameleoon_pandas.ValidationError`; bad cells are
    reported in ``report.invalid`` and their rows skipped. ``dry_run=True`` validates and encodes
    without sending. Returns a :class:`~kameleoon_pandas.report.PushReport`.

    ``client`` (default: one built from the ``KAMELEOON_*`` environment), ``site_code`` (default:
    the client's) and ``progress`` (None: a bar only when output is interactive) as in every
    writer.

    Example::

        report = offline.kam.push_events("conversion", goal_id="goal", revenue="amount")
        report.raise_for_failures()
    """
    return _push_planned_events(
        push_events,
        encode.plan_visit_events,
        "post_visit_events",
        df,
        kind,
        client=client,
        site_code=site_code,
        dry_run=dry_run,
        progress=progress,
        columns=columns,
    )


def push_product_events(
    df: pd.DataFrame,
    kind: str | None = None,
    *,
    client: Client | None = None,
    site_code: str | None = None,
    dry_run: bool = False,
    progress: bool | None = None,
    **columns: str,
) -> PushReport:
    """Push product events (``POST /product/events``) by ``ean``, exactly once.

    ``kind`` (or a ``kind`` column): ``product_page`` (a view that also merges the product's
    attributes: every other column, e.g. ``name``, ``price``, ``categories``; missing cells are
    left out), ``add_to_cart`` or ``purchase`` (with an optional ``quantity``, an integer >= 1).
    ``**columns`` maps a schema name to your column (``ean="sku"``). Returns a ``PushReport``.

    ``client`` (default: one built from the ``KAMELEOON_*`` environment), ``site_code`` (default:
    the client's) and ``progress`` (None: a bar only when output is interactive) as in every
    writer.
    """
    return _push_planned_events(
        push_product_events,
        encode.plan_product_events,
        "post_product_events",
        df,
        kind,
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
    client: Client | None,
    site_code: str | None,
    dry_run: bool,
    progress: bool | None,
    columns: dict[str, str],
) -> PushReport:
    """The common body of the two event writers: plan, then send (``push`` re-pushes failures)."""
    started = time.perf_counter()
    client_, site = _client_and_site(client, site_code, dry_run)
    plan = planner(df, kind, site_code=site, columns=columns)

    def retry(frame: pd.DataFrame) -> PushReport:
        return push(frame, kind, client=client_, site_code=site, progress=progress, **columns)

    return _run_push(
        operation=push.__name__ + (f"({kind})" if kind else ""),
        df=df,
        rows=len(df),
        jobs=_event_jobs(plan, encode.EVENT_BODY_LIMIT),
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
    """Merge one map per row (``POST /map/maps``): the ``key`` column names it, every other
    column is a field. Missing cells (NaN/None/NA) are left out rather than deleting the field;
    lists and dicts are sent as JSON. ``ttl_hours`` (1..8784) sets the expiry (server default 92
    days). Writing a map twice is harmless: maps merge. Returns a ``PushReport``.

    ``client`` (default: one built from the ``KAMELEOON_*`` environment), ``site_code`` (default:
    the client's) and ``progress`` (None: a bar only when output is interactive) as in every
    writer.
    """
    started = time.perf_counter()
    if not isinstance(df, pd.DataFrame):
        raise ValidationError(f"expected a pandas DataFrame, got {type(df).__name__}")
    validate_ttl_hours(ttl_hours)
    client_, site = _client_and_site(client, site_code, dry_run)
    keys, records, positions, problems = encode.map_records(df, key)
    jobs = _map_jobs(keys, records, positions)

    def retry(frame: pd.DataFrame) -> PushReport:
        return push_maps(frame, key, ttl_hours, client=client_, site_code=site, progress=progress)

    return _run_push(
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


_MAX_MAP_KEYS = 1_000  # [chosen] keys per POST /map/maps, besides the 1 MB body limit


def _map_jobs(keys: list[str], records: list[dict], positions: np.ndarray) -> Iterator[_Job]:
    sizes = np.fromiter(
        (
            len(json.dumps({k: r}, separators=(",", ":"), ensure_ascii=False).encode())
            for k, r in zip(keys, records, strict=True)
        ),
        dtype=np.int64,
        count=len(keys),
    )

    def job(lo: int, hi: int) -> _Job:
        def halves() -> tuple[_Job, _Job]:
            mid = (lo + hi) // 2
            return job(lo, mid), job(mid, hi)

        payload = dict(zip(keys[lo:hi], records[lo:hi], strict=True))
        return _Job(
            payload, positions[lo:hi], halves if hi - lo > 1 else None, int(sizes[lo:hi].sum())
        )

    start = 0
    ends = np.cumsum(sizes)
    while start < len(keys):
        base = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, base + encode.SMALL_BODY_LIMIT, side="right"))
        stop = min(max(stop, start + 1), start + _MAX_MAP_KEYS)
        yield job(start, stop)
        start = stop


def forget_visitors(
    codes: Iterable[str] | pd.Series | pd.DataFrame,
    *,
    visitor_code: str = "visitor_code",
    client: Client | None = None,
    site_code: str | None = None,
    dry_run: bool = False,
    progress: bool | None = None,
) -> PushReport:
    """Delete every visit and event of these visitors (``POST /visit/forget``).

    ``codes``: an iterable of visitor codes, a Series, or a DataFrame whose ``visitor_code``
    column holds them. Duplicates are sent once; empty, missing or over-long (> 100 characters)
    codes are reported as invalid. Forgetting twice is harmless. Returns a ``PushReport``.

    ``client`` (default: one built from the ``KAMELEOON_*`` environment), ``site_code`` (default:
    the client's) and ``progress`` (None: a bar only when output is interactive) as in every
    writer.
    """
    started = time.perf_counter()
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
    by_code: dict[str, list[int]] = (
        pd.Series(good).groupby(values[good], sort=False).agg(list).to_dict() if len(good) else {}
    )

    def retry(failed_frame: pd.DataFrame) -> PushReport:
        return forget_visitors(
            failed_frame,
            visitor_code=visitor_code,
            client=client_,
            site_code=site,
            progress=progress,
        )

    return _run_push(
        operation="forget_visitors",
        df=frame,
        rows=n,
        jobs=_forget_jobs(list(by_code), by_code),
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


def _forget_jobs(codes: list[str], by_code: dict[str, list[int]]) -> Iterator[_Job]:
    def job(chunk: list[str]) -> _Job:
        def halves() -> tuple[_Job, _Job]:
            mid = len(chunk) // 2
            return job(chunk[:mid]), job(chunk[mid:])

        rows = np.array([p for code in chunk for p in by_code[code]], dtype=np.int64)
        size = len("\n".join(chunk).encode())
        return _Job(chunk, rows, halves if len(chunk) > 1 else None, size)

    for chunk in encode.chunk_codes(codes):
        yield job(chunk)
