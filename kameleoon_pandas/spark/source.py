"""The ``"kameleoon"`` Python data source (PySpark 4): writes push a DataFrame, reads fetch keys.

``spark.dataSource.register`` takes the class; :func:`register` does that. Spark creates the
writer (and the reader) on the driver, pickles it to the tasks, runs :meth:`KameleoonWriter.write`
once per partition (:func:`.tasks.push_partition`) and then :meth:`~KameleoonWriter.commit` or
:meth:`~KameleoonWriter.abort` on the driver with the tasks' commit messages
(:mod:`.report`).
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from collections.abc import Iterator, Sequence

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
from pyspark import TaskContext
from pyspark.sql import SparkSession
from pyspark.sql.datasource import (
    DataSource,
    DataSourceArrowWriter,
    DataSourceReader,
    InputPartition,
    WriterCommitMessage,
)
from pyspark.sql.types import StructType

from .._exceptions import ValidationError
from .options import ReadOptions, WriteOptions, parse_read_options, parse_write_options
from .report import aggregate, save_report
from .schemas import result_schema
from .tasks import fetch, push_partition

__all__ = ["NAME", "KameleoonDataSource", "KameleoonReader", "KameleoonWriter", "register"]

#: The format name: ``df.write.format("kameleoon")``, ``spark.read.format("kameleoon")``.
NAME = "kameleoon"


def _local(path: str | None) -> str | None:
    """A local path made absolute on the driver (executors may run elsewhere); URIs as given."""
    if path is None or "://" in path:
        return path
    return os.path.abspath(os.path.expanduser(path))


def check_write_schema(options: WriteOptions, columns: Sequence[str]) -> None:
    """Refuse, before any task runs, a frame this write cannot read.

    Raises
    ------
    ValidationError
        A ``key``, rename, map-key or visitor-code column the frame lacks; or events without
        ``key``, a ``nonce`` column or ``contentNonces`` (see :func:`push_events`).
    """
    have = set(columns)
    if options.what == "maps":
        if options.key[0] not in have:
            raise ValidationError(f"key={options.key[0]!r}: the frame has no column of that name")
        return
    if options.what == "forget":
        if options.visitor_code not in have:
            raise ValidationError(
                f"visitorCode={options.visitor_code!r}: the frame has no column of that name"
            )
        return
    for name in options.key:
        if name not in have:
            raise ValidationError(f"key={name!r}: the frame has no column of that name")
    for name, source in options.columns.items():
        if source not in have:
            raise ValidationError(f"column.{name}={source!r}: the frame has no column {source!r}")
    nonce = options.columns.get("nonce", "nonce")
    if not options.key and not options.content_nonces and nonce not in have:
        raise ValidationError(
            "events written to the kameleoon data source need option('key', ...) (the columns "
            f"that identify an event) or a {nonce!r} column. Without them a nonce is derived "
            "from the row's content and its rank among identical rows, which is only right when "
            "all identical rows are pushed together: kameleoon_pandas.spark.push_events(df, ...) "
            "arranges that (by visitor, then option('contentNonces', 'true'))"
        )


class KameleoonWriter(DataSourceArrowWriter):
    """Pushes each partition through the pandas writers; adds up the counts on the driver.

    Parameters
    ----------
    options : WriteOptions
        The checked options.
    names : list of str
        The frame's columns.
    """

    def __init__(self, options: WriteOptions, names: list[str]) -> None:
        self.options = options
        self.names = names
        self.write_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}"
        self.started = time.time()

    def write(self, iterator: Iterator[pa.RecordBatch]) -> WriterCommitMessage:
        """Push one partition (on an executor); its :class:`~.report.TaskCounts`."""
        context = TaskContext.get()
        partition = context.partitionId() if context is not None else 0
        attempt = context.attemptNumber() if context is not None else 0
        return push_partition(
            self.options,
            iterator,
            names=self.names,
            partition=partition,
            attempt=attempt,
            write_id=self.write_id,
        )

    def _finish(self, messages: list[WriterCommitMessage | None], status: str) -> None:
        report = aggregate(
            messages,
            operation=self.options.operation(),
            status=status,
            started=self.started,
            invalid_path=self.options.invalid_path,
            dry_run=self.options.dry_run,
            write_id=self.write_id,
        )
        save_report(report, self.options.report_path)

    def commit(self, messages: list[WriterCommitMessage | None]) -> None:
        """Every task finished: the job's report (logged, and written to ``reportPath``)."""
        self._finish(messages, "committed")

    def abort(self, messages: list[WriterCommitMessage | None]) -> None:
        """A task failed for good: what the finished tasks sent (logged and written)."""
        self._finish(messages, "aborted")


class KeysPartition(InputPartition):
    """A read task's keys (its repr only counts them)."""

    def __init__(self, keys: list[str]) -> None:
        super().__init__(None)
        self.keys = keys

    def __repr__(self) -> str:
        return f"KeysPartition({len(self.keys)} keys)"


class KameleoonReader(DataSourceReader):
    """Fetches ``option("keys", ...)`` in ``numPartitions`` tasks with the pandas loaders."""

    def __init__(self, options: ReadOptions, schema: StructType) -> None:
        self.options = options
        self.schema = schema

    def partitions(self) -> Sequence[InputPartition]:
        """Consecutive slices of the keys, one per task (input order within each)."""
        keys = list(dict.fromkeys(self.options.keys))
        n = self.options.partition_count(len(keys))
        size = -(-len(keys) // n) if keys else 1
        parts = [KeysPartition(keys[i : i + size]) for i in range(0, len(keys), size)]
        return parts or [KeysPartition([])]

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        """The loader's rows for the partition's keys, as Arrow batches."""
        assert isinstance(partition, KeysPartition)
        yield from fetch(self.options, partition.keys, self.schema)


class KameleoonDataSource(DataSource):
    """The ``"kameleoon"`` format: see :mod:`kameleoon_pandas.spark` and ``docs/spark.md``."""

    @classmethod
    def name(cls) -> str:
        """``"kameleoon"``."""
        return NAME

    def schema(self) -> StructType:
        """The declared schema of ``option("what", ...)`` (reads without a schema of yours)."""
        options = parse_read_options(self.options)
        return result_schema(options.what, options.by)

    def writer(self, schema: StructType, overwrite: bool) -> KameleoonWriter:
        """The writer of one ``save()`` (on the driver: the options are checked here)."""
        if overwrite:
            raise ValidationError(
                "the kameleoon data source only appends events: use .mode('append')"
            )
        options = parse_write_options(self.options)
        check_write_schema(options, schema.fieldNames())
        options = _with_paths(options)
        return KameleoonWriter(options, schema.fieldNames())

    def reader(self, schema: StructType) -> KameleoonReader:
        """The reader of one load (on the driver: the options are checked here)."""
        return KameleoonReader(parse_read_options(self.options), schema)


def _with_paths(options: WriteOptions) -> WriteOptions:
    return dataclasses.replace(
        options,
        invalid_path=_local(options.invalid_path),
        report_path=_local(options.report_path),
    )


def register(spark: SparkSession) -> None:
    """Register the ``"kameleoon"`` data source with a Spark session.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
        The session (PySpark 4 or later). Registering again is harmless.

    Raises
    ------
    TypeError
        When ``spark`` is not a SparkSession.

    Examples
    --------
    >>> import kameleoon_pandas.spark as kps
    >>> kps.register(spark)  # doctest: +SKIP
    >>> (
    ...     orders.write.format("kameleoon")
    ...     .option("kind", "conversion")
    ...     .option("key", "order_id")
    ...     .option("column.goal_id", "goal")
    ...     .mode("append")
    ...     .save()
    ... )  # doctest: +SKIP
    """
    if not isinstance(spark, SparkSession):
        raise TypeError(f"register takes a SparkSession, got {type(spark).__name__}")
    spark.dataSource.register(KameleoonDataSource)
