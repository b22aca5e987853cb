"""The push engine of the writers: bodies into jobs, jobs onto the client, outcomes into a report.

The public verbs (:mod:`kameleoon_pandas.writers`) validate and encode; this module does the rest,
the same way for every verb:

- a *job* is one request: its payload, the input row positions it carries, its body size and how
  to cut it in two. :func:`event_jobs`, :func:`map_jobs` and :func:`forget_jobs` cut a verb's
  encoded rows into jobs whose bodies stay under the contract's size limits, lazily, so a frame
  is encoded slice by slice while earlier bodies are in flight;
- :func:`send_all` posts the jobs concurrently on the client's event loop (at most
  ``max_inflight`` at a time and :data:`MAX_INFLIGHT_BYTES` of bodies; the client adds its
  retries, concurrency cap and rate limit),
  halves a job the server refuses as too large (413) and sends both halves, and records the rows
  of a request that still fails after the client's retries instead of raising;
- :func:`run_push` drives one push (or a dry run, which only iterates the jobs) under one
  progress bar counting rows, and assembles the :class:`~kameleoon_pandas.report.PushReport`.
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

from ._exceptions import KameleoonError, PayloadTooLargeError
from ._progress import progress_bar
from .frames import encode
from .report import PushReport

if TYPE_CHECKING:
    from tqdm import tqdm

    from .client import Client

__all__ = [
    "MAX_INFLIGHT_BYTES",
    "MAX_MAP_KEYS",
    "Job",
    "Stats",
    "event_jobs",
    "forget_jobs",
    "map_jobs",
    "run_push",
    "send_all",
]

#: [chosen] Keys per ``POST /map/maps``, besides the 1 MB body limit.
MAX_MAP_KEYS = 1_000

#: [chosen] Body bytes in flight at once (4 full event bodies). A server ingests bodies about
#: as fast one after another as all at once, so more in flight only queues them there: 16 full
#: bodies on one slow writer kept the last ones waiting past the read timeout, and their rows
#: were reported failed although the server stored them. One job is always let through.
MAX_INFLIGHT_BYTES = 4 * encode.EVENT_BODY_LIMIT


# --------------------------------------------------------------------------- jobs


@dataclass
class Job:
    """One request: its payload, the input rows it carries, and how to halve it on a 413."""

    payload: Any
    rows: np.ndarray
    split: Callable[[], tuple[Job, Job]] | None
    size: int


def event_jobs(plan: encode.EventPlan, limit: int) -> Iterator[Job]:
    """One job per body of ``plan`` (visit or product events), each under ``limit`` bytes."""

    def job(batch: encode.Batch) -> Job:
        def halves() -> tuple[Job, Job]:
            a, b = batch.split()
            return job(a), job(b)

        return Job(
            batch.body,
            plan.rows_of(batch.events),
            halves if len(batch.events) > 1 else None,
            len(batch.body),
        )

    for batch in plan.batches(limit=limit):
        yield job(batch)


def map_jobs(keys: list[str], records: list[dict], positions: np.ndarray) -> Iterator[Job]:
    """``{key: record}`` bodies under the small-body limit and :data:`MAX_MAP_KEYS` keys."""
    sizes = np.fromiter(
        (
            len(json.dumps({k: r}, separators=(",", ":"), ensure_ascii=False).encode())
            for k, r in zip(keys, records, strict=True)
        ),
        dtype=np.int64,
        count=len(keys),
    )

    def job(lo: int, hi: int) -> Job:
        def halves() -> tuple[Job, Job]:
            mid = (lo + hi) // 2
            return job(lo, mid), job(mid, hi)

        payload = dict(zip(keys[lo:hi], records[lo:hi], strict=True))
        return Job(
            payload, positions[lo:hi], halves if hi - lo > 1 else None, int(sizes[lo:hi].sum())
        )

    start = 0
    ends = np.cumsum(sizes)
    while start < len(keys):
        base = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, base + encode.SMALL_BODY_LIMIT, side="right"))
        stop = min(max(stop, start + 1), start + MAX_MAP_KEYS)
        yield job(start, stop)
        start = stop


def forget_jobs(codes: list[str], by_code: dict[str, list[int]]) -> Iterator[Job]:
    """Lists of distinct visitor codes (one line each) under the small-body limit.

    ``by_code`` maps each code to the input rows that hold it: they all ride along with it.
    """

    def job(chunk: list[str]) -> Job:
        def halves() -> tuple[Job, Job]:
            mid = len(chunk) // 2
            return job(chunk[:mid]), job(chunk[mid:])

        rows = np.array([p for code in chunk for p in by_code[code]], dtype=np.int64)
        size = len("\n".join(chunk).encode())
        return Job(chunk, rows, halves if len(chunk) > 1 else None, size)

    for chunk in encode.chunk_codes(codes):
        yield job(chunk)


# --------------------------------------------------------------------------- sending


@dataclass
class Stats:
    """What :func:`send_all` counted: requests made (413 halves included) and body bytes sent."""

    requests: int = 0
    bytes_sent: int = 0


async def send_all(
    jobs: Iterator[Job],
    post: Callable[[Any], Awaitable[None]],
    *,
    max_inflight: int,
    max_inflight_bytes: int = MAX_INFLIGHT_BYTES,
    sent: list[np.ndarray],
    failed: list[tuple[np.ndarray, str]],
    stats: Stats,
    bar: tqdm,
) -> None:
    """Post every job, at most ``max_inflight`` at a time; encoding the next ones meanwhile.

    Bodies in flight also stay under ``max_inflight_bytes`` together (a job larger than that
    goes alone). 413 halves ride on their parent's share.

    The rows of each accepted job go to ``sent``; those of a job that fails after the client's
    retries (or is too large even alone) go to ``failed`` with the reason. Only errors that are
    not :class:`~kameleoon_pandas.KameleoonError` (bugs) propagate.
    """

    async def send(job: Job) -> None:
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

    pending: dict[asyncio.Task[None], int] = {}
    try:
        for job in jobs:  # each step may encode a slice: cheap, and it bounds memory
            while pending and (
                len(pending) >= max_inflight
                or sum(pending.values()) + job.size > max_inflight_bytes
            ):
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    del pending[task]
                    task.result()  # send() reports API errors itself: anything else is a bug
            pending[asyncio.create_task(send(job))] = job.size
            await asyncio.sleep(0)  # let finished responses be handled between slices
        if pending:
            done, _ = await asyncio.wait(pending)
            pending.clear()
            for task in done:
                task.result()
    finally:
        for task in pending:
            task.cancel()


def run_push(
    *,
    operation: str,
    df: pd.DataFrame,
    rows: int,
    jobs: Iterable[Job],
    invalid: Callable[[], tuple[pd.DataFrame, int]],
    client: Client | None,
    site: str,
    post_name: str,
    post_kwargs: dict[str, Any],
    dry_run: bool,
    progress: bool | None,
    retry: Callable[[pd.DataFrame, np.ndarray], PushReport],
    started: float,
) -> PushReport:
    """Send ``jobs`` with ``client.async_client.<post_name>`` (or, for a dry run, only count them).

    ``df`` is the frame the job rows are positions of; ``invalid()`` (called once every job has
    been encoded) gives the invalid cells and how many rows they refuse; ``retry`` becomes
    :meth:`PushReport.retry <kameleoon_pandas.report.PushReport.retry>` (not for a dry run):
    it is called with the failed rows and their positions in ``df`` (an event writer sends them
    with the nonces of this push).
    """
    sent: list[np.ndarray] = []
    failed: list[tuple[np.ndarray, str]] = []
    stats = Stats()
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

            def counted() -> Iterator[Job]:
                nonlocal batches, valid
                for job in jobs:
                    batches += 1
                    valid += len(job.rows)
                    yield job

            # a few bodies beyond the client's cap are encoded ahead; no more: memory stays flat
            max_inflight = client.settings.max_concurrency + 2
            client.run(
                send_all(
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
    failed_rows = failed_pos[order]
    failed_frame = df.iloc[failed_rows]
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
        _retry=None if dry_run else (lambda frame: retry(frame, failed_rows)),
    )
