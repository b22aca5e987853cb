"""What a Spark write did: each task's :class:`TaskCounts`, the job's :class:`SparkPushReport`.

Every write task returns its counts as its commit message; the driver's ``commit`` (or
``abort``) adds them up into one :class:`SparkPushReport`, logs it on the
``kameleoon_pandas.spark`` logger and writes it as JSON: to ``option("reportPath", ...)`` when
given, and always into :func:`report_dir`, where :func:`last_write_report` finds the newest.
Spark runs ``commit`` in a Python process of its own beside the driver, so the file is how the
report reaches the session that called ``save()``; :func:`kameleoon_pandas.spark.push_events`
and the other helpers read it back and return it.

No credential is ever part of a report: it holds counts, the site code, the operation, the
reasons rows were refused (the writers' messages, scrubbed by the client) and paths.
"""

from __future__ import annotations

import contextlib
import dataclasses
import getpass
import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql.datasource import WriterCommitMessage

from .._exceptions import KameleoonError

__all__ = [
    "SparkPushError",
    "SparkPushReport",
    "TaskCounts",
    "aggregate",
    "last_write_report",
    "read_report",
    "report_dir",
    "save_report",
]

logger = logging.getLogger("kameleoon_pandas.spark")

#: Refusal reasons a report keeps as examples (the rows themselves go to ``invalidPath``).
MAX_EXAMPLES = 10
#: Reports kept in :func:`report_dir` (older ones are removed as new ones are written).
KEEP_REPORTS = 100


@dataclass
class TaskCounts(WriterCommitMessage):
    """One write task's commit message: what its partition gave, and where its bad rows went.

    Attributes
    ----------
    partition, attempt : int
        The task (an attempt number only says which attempt reported; nonces, not attempts,
        keep a retried task from storing anything twice).
    site_code : str
        The site code the task wrote to.
    rows, valid, sent, invalid, failed : int
        Input rows; rows encoded into a body; rows in accepted requests; rows refused as
        invalid; rows whose request still failed after the client's retries.
    requests, batches, bytes_sent : int
        HTTP requests (413 halves included), bodies built, body bytes accepted.
    seconds : float
        The task's time.
    warnings : list of str
        The distinct :class:`~kameleoon_pandas.KameleoonWarning` messages of its pushes.
    examples : list of dict
        The first few refusals (``status``, ``column``, ``reason``).
    invalid_file : str or None
        The Parquet file holding its invalid and failed rows, when ``invalidPath`` was given
        and there were any.
    """

    partition: int = 0
    attempt: int = 0
    site_code: str = ""
    rows: int = 0
    valid: int = 0
    sent: int = 0
    invalid: int = 0
    failed: int = 0
    requests: int = 0
    batches: int = 0
    bytes_sent: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    examples: list[dict[str, str]] = field(default_factory=list)
    invalid_file: str | None = None


class SparkPushError(KameleoonError):
    """A Spark write that did not send every row: refused rows, failed rows or failed tasks.

    Attributes
    ----------
    report : SparkPushReport
        What the write did (``report.status`` is ``"aborted"`` when the job failed).
    """

    def __init__(self, message: str, report: SparkPushReport) -> None:
        super().__init__(message)
        self.report = report


@dataclass
class SparkPushReport:
    """What one Spark write sent, refused and failed to send, added up over its tasks.

    Attributes
    ----------
    operation : str
        The pandas writer each task ran: ``"push_events(conversion)"``.
    status : str
        ``"committed"`` (every task finished) or ``"aborted"`` (a task failed for good: the
        counts are those of the tasks that finished; the failed ones may have sent part of
        their rows, which pushing the same frame again does not store twice).
    site_codes : list of str
        The site codes written to.
    rows, valid, sent, invalid_rows, failed_rows : int
        Summed over the tasks, as in :class:`~kameleoon_pandas.PushReport`.
    requests, batches, bytes_sent : int
        Summed over the tasks.
    tasks : int
        Tasks that reported.
    failed_tasks : int
        Tasks that did not (``"aborted"`` jobs only).
    seconds : float
        From the write's planning to its commit or abort.
    task_seconds : float
        The tasks' time, summed.
    warnings : list of str
        The distinct warnings of the tasks' pushes (columns not sent, ...).
    examples : list of dict
        A few refusals: ``status`` (``invalid`` or ``failed``), ``column``, ``reason``.
    invalid_path : str or None
        ``invalidPath``: read the refused and failed rows back with ``spark.read.parquet``.
    invalid_files : list of str
        The files written there.
    dry_run : bool
        Nothing was sent on purpose.
    write_id : str
        This write's id (its report file and invalid files are named after it).
    """

    operation: str
    status: str = "committed"
    site_codes: list[str] = field(default_factory=list)
    rows: int = 0
    valid: int = 0
    sent: int = 0
    invalid_rows: int = 0
    failed_rows: int = 0
    requests: int = 0
    batches: int = 0
    bytes_sent: int = 0
    tasks: int = 0
    failed_tasks: int = 0
    seconds: float = 0.0
    task_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    examples: list[dict[str, str]] = field(default_factory=list)
    invalid_path: str | None = None
    invalid_files: list[str] = field(default_factory=list)
    dry_run: bool = False
    write_id: str = ""

    @property
    def ok(self) -> bool:
        """True when the job committed and no row was refused or failed."""
        return self.status == "committed" and not self.invalid_rows and not self.failed_rows

    def summary(self) -> str:
        """One line: the operation, the status and the counts."""
        sites = ",".join(self.site_codes) or "?"
        state = "dry run" if self.dry_run else self.status
        return (
            f"{self.operation} to {sites} {state}: rows={self.rows} valid={self.valid} "
            f"sent={self.sent} invalid={self.invalid_rows} failed={self.failed_rows} "
            f"requests={self.requests} tasks={self.tasks}"
            + (f" failed_tasks={self.failed_tasks}" if self.failed_tasks else "")
            + f" in {self.seconds:.2f} s"
        )

    def __repr__(self) -> str:
        return f"<SparkPushReport {self.summary()}>"

    __str__ = __repr__

    def raise_for_failures(self) -> SparkPushReport:
        """Raise unless the job committed and every row was valid and sent.

        Returns
        -------
        SparkPushReport
            This report, when :attr:`ok`.

        Raises
        ------
        SparkPushError
            Naming the counts and the first refusal; ``error.report`` is this report.

        Examples
        --------
        >>> kp.spark.push_events(orders, "conversion", key="order_id").raise_for_failures()
        ... # doctest: +SKIP
        """
        if self.ok:
            return self
        first = self.examples[0] if self.examples else None
        detail = f"; e.g. {first['column']}: {first['reason']}" if first else ""
        where = f" (rows in {self.invalid_path})" if self.invalid_files else ""
        raise SparkPushError(f"{self.summary()}{detail}{where}", self)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values."""
        return dataclasses.asdict(self)


def aggregate(
    messages: Sequence[WriterCommitMessage | None],
    *,
    operation: str,
    status: str,
    started: float,
    invalid_path: str | None,
    dry_run: bool,
    write_id: str,
) -> SparkPushReport:
    """Add up the tasks' :class:`TaskCounts` (``None`` for a task that failed)."""
    counts = [m for m in messages if isinstance(m, TaskCounts)]
    report = SparkPushReport(
        operation=operation,
        status=status,
        invalid_path=invalid_path,
        dry_run=dry_run,
        write_id=write_id,
        failed_tasks=sum(1 for m in messages if m is None),
        tasks=len(counts),
        seconds=max(0.0, time.time() - started),
    )
    for c in sorted(counts, key=lambda m: m.partition):
        report.rows += c.rows
        report.valid += c.valid
        report.sent += c.sent
        report.invalid_rows += c.invalid
        report.failed_rows += c.failed
        report.requests += c.requests
        report.batches += c.batches
        report.bytes_sent += c.bytes_sent
        report.task_seconds += c.seconds
        if c.site_code and c.site_code not in report.site_codes:
            report.site_codes.append(c.site_code)
        report.warnings.extend(w for w in c.warnings if w not in report.warnings)
        room = MAX_EXAMPLES - len(report.examples)
        report.examples.extend(c.examples[: max(room, 0)])
        if c.invalid_file:
            report.invalid_files.append(c.invalid_file)
    return report


# --------------------------------------------------------------------------- files


def report_dir() -> str:
    """The folder every write's report is also written to, beside the driver.

    Spark's ``commit`` runs on the driver's machine, as the driver's user; the newest
    :data:`KEEP_REPORTS` reports are kept there.

    Returns
    -------
    str
        ``<temp dir>/kameleoon-pandas-spark-<user>``.

    Examples
    --------
    >>> import kameleoon_pandas.spark as kps
    >>> "kameleoon-pandas-spark-" in kps.report_dir()
    True
    """
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # pragma: no cover - no user name (some containers)
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return os.path.join(tempfile.gettempdir(), f"kameleoon-pandas-spark-{user}")


def _write_json(path: str, data: dict[str, Any]) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
    os.replace(tmp, path)  # readers never see half a report


def save_report(report: SparkPushReport, report_path: str | None) -> None:
    """Log ``report`` and write it: to ``report_path`` when given, and into :func:`report_dir`."""
    level = logging.INFO if report.ok else logging.WARNING
    logger.log(level, "%s", report.summary())
    data = report.to_dict()
    stamp = f"{time.time():017.6f}"  # sorts by time as text
    folder = report_dir()
    _write_json(os.path.join(folder, f"{stamp}-{report.write_id}.json"), data)
    if report_path:
        _write_json(report_path, data)
    names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
    for name in names[:-KEEP_REPORTS]:
        with contextlib.suppress(OSError):
            os.remove(os.path.join(folder, name))


def read_report(path: str | os.PathLike[str]) -> SparkPushReport:
    """Read a report written by a Spark write (``option("reportPath", path)``).

    Parameters
    ----------
    path : str or path-like
        The report's JSON file.

    Returns
    -------
    SparkPushReport

    Raises
    ------
    FileNotFoundError
        When there is no report there (the write has not committed or aborted yet).

    Examples
    --------
    >>> report = kp.spark.read_report("/tmp/orders-report.json")  # doctest: +SKIP
    """
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    names = {f.name for f in dataclasses.fields(SparkPushReport)}
    return SparkPushReport(**{k: v for k, v in data.items() if k in names})


def last_write_report() -> SparkPushReport | None:
    """The report of the newest ``"kameleoon"`` write on this driver machine, if any.

    Returns
    -------
    SparkPushReport or None
        ``None`` when no write has committed or aborted here yet. With several writes at
        once, "newest" is the last to finish: give each its own ``reportPath`` instead.

    Examples
    --------
    >>> df.write.format("kameleoon").option("key", "order_id").mode("append").save()
    ... # doctest: +SKIP
    >>> kp.spark.last_write_report().sent  # doctest: +SKIP
    """
    folder = report_dir()
    with contextlib.suppress(FileNotFoundError):
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
        for name in reversed(names):
            with contextlib.suppress(FileNotFoundError, json.JSONDecodeError):
                return read_report(os.path.join(folder, name))
    return None
