"""The work of one Spark task: push a partition, or fetch the results of a partition of keys.

A write task receives its partition as Arrow record batches, gathers them into chunks of
``rowsPerPush`` rows and hands each chunk, as a pandas frame, to the public pandas writer
(``kp.push_events``, ``push_product_events``, ``push_maps``, ``forget_visitors``): the same
validation, encoder, nonces and push engine (retries, concurrency, 413 splits) as on one
machine. A chunk never ends inside an *owner*'s rows (a visitor's, or an EAN's): identical rows
are then ranked together, as the content-derived nonces need, and a custom data event's value
rows stay one event. The task returns its counts (:class:`~.report.TaskCounts`) and writes its
refused and failed rows to ``invalidPath``.

A read task runs the pandas loader over its keys and hands Spark the frame as Arrow batches of
the declared schema (:mod:`.schemas`).

Nothing here depends on the task's attempt number except the testing aid
(:class:`~.options.Fault`): a retried task sends the same events with the same nonces, and the
Data API stores each once.
"""

from __future__ import annotations

import os
import time
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]
from pyarrow import fs as pafs  # type: ignore[import-untyped, unused-ignore]
from pyspark.sql.types import StructType

from .. import loaders, writers
from .._exceptions import KameleoonError, KameleoonWarning
from ..client import Client
from ..frames.backends import nullable_types
from ..frames.schemas import PRODUCT_ATTRIBUTES
from ..report import PushReport
from .options import ReadOptions, WriteOptions
from .report import MAX_EXAMPLES, TaskCounts
from .schemas import MAP_FIELDS, OTHER_ATTRIBUTES, frame_to_batch

__all__ = ["TaskFailed", "fetch", "fetch_batches", "push_partition"]

#: Rows per Arrow batch handed back to Spark by a read.
BATCH_ROWS = 65_536
#: The columns a row refused or failed gets in ``invalidPath``.
STATUS, COLUMN, REASON = "kameleoon_status", "kameleoon_column", "kameleoon_reason"

# Texts stay Python objects here: the encoder reads them as they come.
_NULLABLE = nullable_types(pa, strings=False)


class TaskFailed(KameleoonError):
    """A write task stopped half-way; the message says what it had sent by then.

    Spark retries the task: the rows it had sent go again with the same nonces, so the Data
    API stores none of them twice.
    """


class InjectedFault(KameleoonError):
    """The testing aid's failure (``option("testFault", ...)``)."""


# --------------------------------------------------------------------------- Arrow -> pandas


def to_pandas(table: pa.Table) -> pd.DataFrame:
    """A chunk as the frame the pandas writers read: integers and flags nullable (no float
    round trip for an id with gaps), decimals as doubles, maps as dicts."""
    for i, f in enumerate(table.schema):
        if pa.types.is_decimal(f.type):
            table = table.set_column(i, f.name, pc.cast(table.column(i), pa.float64()))
    return table.to_pandas(types_mapper=_NULLABLE.get, maps_as_pydicts="strict")


def _run_starts(table: pa.Table, owner: list[str]) -> np.ndarray:
    """The positions (> 0) where a new owner's run of rows starts (nulls equal each other)."""
    n = table.num_rows
    if n < 2:
        return np.empty(0, dtype=np.int64)
    differs: Any = None
    for name in owner:
        column = table.column(name)
        before, after = column.slice(0, n - 1), column.slice(1)
        both_null = pc.and_(pc.is_null(before), pc.is_null(after))
        d = pc.and_(pc.fill_null(pc.not_equal(before, after), True), pc.invert(both_null))
        differs = d if differs is None else pc.or_(differs, d)
    mask = np.asarray(differs.to_numpy(zero_copy_only=False), dtype=bool)
    return np.flatnonzero(mask) + 1


def _cut(table: pa.Table, size: int, owner: list[str]) -> int | None:
    """How many leading rows make the next chunk: at most ``size`` where an owner's run allows,
    never ending inside a run; ``None`` to wait for more rows (the last run may go on)."""
    if not owner:
        return size
    starts = _run_starts(table, owner)
    within = starts[starts <= size]
    if len(within):
        return int(within[-1])
    return int(starts[0]) if len(starts) else None  # one owner longer than size: all of it


def chunks(batches: Iterator[pa.RecordBatch], size: int, owner: list[str]) -> Iterator[pa.Table]:
    """Tables of about ``size`` rows, never splitting an owner's run of consecutive rows
    between two of them (a run longer than ``size`` is one chunk)."""
    pending: list[pa.RecordBatch] = []
    n = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        n += batch.num_rows
        while n > size:  # more than a chunk: a run boundary within it is known
            table = pa.Table.from_batches(pending)
            cut = _cut(table, size, owner)
            if cut is None:
                break
            yield table.slice(0, cut)
            rest = table.slice(cut)
            pending, n = rest.to_batches(), rest.num_rows
    if n:
        table = pa.Table.from_batches(pending)
        while table.num_rows > size:
            cut = _cut(table, size, owner) or table.num_rows
            yield table.slice(0, cut)
            table = table.slice(cut)
        if table.num_rows:
            yield table


# --------------------------------------------------------------------------- writes


def _client(options: WriteOptions | ReadOptions) -> Client:
    return Client(**options.client.client_kwargs())


def _push(
    options: WriteOptions, frame: pd.DataFrame, client: Client | None, site: str
) -> PushReport:
    common: dict[str, Any] = {
        "client": client,
        "site_code": site,
        "dry_run": options.dry_run,
        "progress": False,
    }
    renames: dict[str, Any] = dict(options.columns)
    key: Any = None
    if options.key:
        key = options.key[0] if len(options.key) == 1 else list(options.key)
    if options.what == "visitEvents":
        return writers.push_events(frame, options.kind, key=key, **common, **renames)
    if options.what == "productEvents":
        return writers.push_product_events(frame, options.kind, key=key, **common, **renames)
    if options.what == "maps":
        return writers.push_maps(frame, options.key[0], options.ttl_hours, **common)
    return writers.forget_visitors(frame, visitor_code=options.visitor_code, **common)


def _refusals(report: PushReport) -> pd.DataFrame:
    """``position, status, column, reason``: one line per refused or failed row."""
    parts = []
    if len(report.invalid):
        invalid = report.invalid.groupby("index", sort=True).agg(
            column=("column", lambda c: ", ".join(map(str, dict.fromkeys(c)))),
            reason=("reason", lambda r: "; ".join(map(str, dict.fromkeys(r)))),
        )
        parts.append(
            pd.DataFrame(
                {
                    "position": invalid.index.to_numpy(dtype=np.int64),
                    "status": "invalid",
                    "column": invalid["column"].to_numpy(dtype=object),
                    "reason": invalid["reason"].to_numpy(dtype=object),
                }
            )
        )
    if len(report.failures):
        parts.append(
            pd.DataFrame(
                {
                    "position": report.failures["index"].to_numpy(dtype=np.int64),
                    "status": "failed",
                    "column": "",
                    "reason": report.failures["reason"].to_numpy(dtype=object),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["position", "status", "column", "reason"])
    return pd.concat(parts, ignore_index=True)


def _free(name: str, taken: list[str]) -> str:
    while name in taken:
        name += "_"
    return name


def _with_reasons(table: pa.Table, refusals: pd.DataFrame) -> pa.Table:
    rows = table.take(pa.array(refusals["position"].to_numpy(dtype=np.int64)))
    names = list(table.column_names)
    for column, values in ((STATUS, "status"), (COLUMN, "column"), (REASON, "reason")):
        name = _free(column, names)
        names.append(name)
        rows = rows.append_column(name, pa.array(refusals[values].astype(str).tolist()))
    return rows


def _write_invalid(path: str, write_id: str, partition: int, tables: list[pa.Table]) -> str:
    """One Parquet file of this task's refused and failed rows under ``path``; its name.

    Written under a hidden name, then moved: a retried task replaces its earlier attempt's file
    (the name is the write's and the partition's), and readers never see half a file.
    """
    filesystem, root = pafs.FileSystem.from_uri(path if "://" in path else os.path.abspath(path))
    filesystem.create_dir(root, recursive=True)
    name = f"{write_id}-part-{partition:05d}.parquet"
    tmp = f"{root}/.{name}.{uuid.uuid4().hex}.tmp"
    pq.write_table(
        pa.concat_tables(tables, promote_options="permissive"), tmp, filesystem=filesystem
    )
    filesystem.move(tmp, f"{root}/{name}")
    return f"{path.rstrip('/')}/{name}"


def _missing_nonces(options: WriteOptions, frame: pd.DataFrame) -> np.ndarray:
    """Rows refused before the push: without ``key`` or content nonces, a row needs a nonce."""
    if not options.events or options.key or options.content_nonces:
        return np.zeros(len(frame), dtype=bool)
    name = options.columns.get("nonce", "nonce")
    return frame[name].isna().to_numpy(dtype=bool)


def push_partition(
    options: WriteOptions,
    batches: Iterator[pa.RecordBatch],
    *,
    names: list[str],
    partition: int,
    attempt: int,
    write_id: str,
) -> TaskCounts:
    """Push one partition (``names``: its columns) with the pandas writer, chunk by chunk.

    Returns its counts, the task's commit message.

    Raises
    ------
    TaskFailed
        Anything that stops the task half-way (a frame the writer refuses as a whole, no site
        code, the testing aid), saying what had been sent.
    """
    started = time.perf_counter()
    counts = TaskCounts(partition=partition, attempt=attempt)
    bad: list[pa.Table] = []
    client: Client | None = None
    try:
        dry = options.dry_run and options.client.site_code is not None
        client = None if dry else _client(options)
        site = (
            options.client.site_code
            if client is None
            else client.settings.site_code_for(options.client.site_code)
        )
        assert site is not None
        counts.site_code = site
        for table in chunks(batches, options.rows_per_push, options.owner_columns(names)):
            frame = to_pandas(table)
            refused = _missing_nonces(options, frame)
            if refused.any():
                name = options.columns.get("nonce", "nonce")
                why = pd.DataFrame(
                    {
                        "position": np.flatnonzero(refused),
                        "status": "invalid",
                        "column": name,
                        "reason": "missing nonce (without key=, every row needs one)",
                    }
                )
                counts.invalid += int(refused.sum())
                _examples(counts, why)
                if options.invalid_path:
                    bad.append(_with_reasons(table, why))
                frame = frame.iloc[np.flatnonzero(~refused)]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", KameleoonWarning)
                report = _push(options, frame, client, site)
            _keep_warnings(counts, caught)
            _add(counts, report, refused_before=int(refused.sum()))
            refusals = _refusals(report)
            if len(refusals):
                _examples(counts, refusals)
                if options.invalid_path:
                    bad.append(_with_reasons(table, refusals))
            fault = options.fault
            if fault is not None and fault.hits(partition, attempt, counts.requests):
                raise InjectedFault(f"testFault: attempt {attempt} fails on purpose")
        if bad and options.invalid_path:
            counts.invalid_file = _write_invalid(options.invalid_path, write_id, partition, bad)
    except Exception as exc:
        raise TaskFailed(
            f"kameleoon write task (partition {partition}, attempt {attempt}) stopped after "
            f"sending {counts.sent} rows in {counts.requests} requests: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    finally:
        if client is not None:
            client.close()
    counts.seconds = time.perf_counter() - started
    return counts


def _add(counts: TaskCounts, report: PushReport, refused_before: int) -> None:
    counts.rows += report.rows + refused_before
    counts.valid += report.valid
    counts.sent += report.sent
    counts.invalid += report.invalid_rows
    counts.failed += report.failed_rows
    counts.requests += report.requests
    counts.batches += report.batches
    counts.bytes_sent += report.bytes_sent


def _examples(counts: TaskCounts, refusals: pd.DataFrame) -> None:
    room = MAX_EXAMPLES - len(counts.examples)
    for row in refusals.head(max(room, 0)).itertuples(index=False):
        counts.examples.append(
            {"status": str(row.status), "column": str(row.column), "reason": str(row.reason)}
        )


def _keep_warnings(counts: TaskCounts, caught: list[warnings.WarningMessage]) -> None:
    for w in caught:
        if issubclass(w.category, KameleoonWarning):
            text = str(w.message)
            if text not in counts.warnings:
                counts.warnings.append(text)
        else:  # not ours to swallow
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


# --------------------------------------------------------------------------- reads


def _resolved_site(options: ReadOptions, client: Client) -> str:
    return client.settings.site_code_for(options.client.site_code)


def fetch(options: ReadOptions, keys: list[str], schema: StructType) -> Iterator[pa.RecordBatch]:
    """The loader's result for ``keys``, as Arrow batches of ``schema``."""
    if not keys:
        return
    with _client(options) as client:
        site = _resolved_site(options, client)
        common: dict[str, Any] = {"client": client, "site_code": site, "progress": False}
        with warnings.catch_warnings():
            # unknown keys simply have no rows; the warning would go to an executor's log
            warnings.simplefilter("ignore", KameleoonWarning)
            if options.what == "visitorFeeds":
                frame = loaders.read_visitor_feeds(keys, **common, **options.loader)
            elif options.what == "productCounters":
                frame = loaders.read_product_counters(keys, **common, **options.loader)
            elif options.what == "productData":
                frame = loaders.read_product_data(keys, **common)
            else:
                frame = loaders.read_maps(keys, **common)
    rest, known = None, None
    if options.what == "productData":
        rest, known = OTHER_ATTRIBUTES, {"site_code", "ean"}
        known |= {column for column, _ in PRODUCT_ATTRIBUTES.values()}
    elif options.what == "maps":
        rest, known = MAP_FIELDS, {"site_code", "key"}
    batch = frame_to_batch(frame, schema, rest=rest, known=known)
    for start in range(0, batch.num_rows, BATCH_ROWS):
        yield batch.slice(start, BATCH_ROWS)


def fetch_batches(
    options: ReadOptions, schema: StructType, batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` over a frame of keys (its first column): the results of its keys."""
    keys: list[str] = []
    for batch in batches:
        keys.extend(v for v in batch.column(0).to_pylist())
    yield from fetch(options, keys, schema)
