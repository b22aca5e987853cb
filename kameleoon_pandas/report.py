"""``PushReport``: what a writer sent, refused and failed to send (text and notebook views)."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ._exceptions import KameleoonError, PushError

__all__ = ["PushReport"]

_PREVIEW_ROWS = 10


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})


@dataclass(repr=False, eq=False)
class PushReport:
    """What one push sent, refused and failed to send; every writer returns one.

    A report reads as one line of text and, in a notebook, as an HTML table with the invalid
    cells and failed rows folded underneath. It is not a promise of storage: ``sent`` counts
    the rows of requests the server answered with success.

    Attributes
    ----------
    operation : str
        The writer, and the kind when one was given: ``"push_events(conversion)"``.
    site_code : str
        The site code written to.
    rows : int
        Rows in the input.
    valid : int
        Rows that passed validation and were encoded into a body.
    sent : int
        Rows in requests the server accepted (0 for a dry run).
    invalid : pandas.DataFrame
        ``index, column, reason``: one line per refused cell, ``index`` being the row's index
        label. Nothing was sent for those rows.
    failed : pandas.DataFrame
        The input rows (columns and index labels as given) whose request still failed after
        the client's retries. Call :meth:`retry`: they go again with the nonces of the first
        push, so an event that did arrive is not counted twice. Pushing the whole frame again
        is as safe; pushing only these rows yourself is too with ``key=``, or when no two rows
        of the frame were identical (identical rows are told apart by their rank).
    failures : pandas.DataFrame
        ``index, reason``: why each failed row failed (the error after the client's retries).
    requests : int
        HTTP requests the writer made, the halves of a body split after a 413 included; the
        client's own retries are not counted.
    batches : int
        Bodies built from the input (before any split).
    bytes_sent : int
        Body bytes of the accepted requests.
    elapsed : float
        Seconds the call took, validation and encoding included.
    dry_run : bool
        True when nothing was sent on purpose (``dry_run=True``).
    invalid_count : int or None
        Rows refused, as the writer counted them (index labels may repeat); ``None`` counts
        the distinct labels of ``invalid`` instead.
    invalid_rows : int
        Rows refused (a row may have several bad cells).
    failed_rows : int
        Rows in ``failed``.
    ok : bool
        True when no row was refused and none failed.

    See Also
    --------
    kameleoon_pandas.push_events, kameleoon_pandas.push_product_events,
    kameleoon_pandas.push_maps, kameleoon_pandas.forget_visitors : The writers.
    kameleoon_pandas.PushError : Raised by :meth:`raise_for_failures`; carries the report.

    Examples
    --------
    >>> import pandas as pd
    >>> import kameleoon_pandas as kp
    >>> df = pd.DataFrame({"visitor_code": ["v1", ""], "goal_id": [1, 2]})
    >>> report = kp.push_events(df, "conversion", site_code="abc", dry_run=True)
    >>> report.ok, report.valid, report.invalid_rows
    (False, 1, 1)
    >>> report.raise_for_failures()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    kameleoon_pandas.PushError: push_events(conversion) to 'abc': 1 invalid row(s), e.g. index 1 ...
    """

    operation: str
    site_code: str
    rows: int = 0
    valid: int = 0
    sent: int = 0
    invalid: pd.DataFrame = field(default_factory=lambda: _empty(["index", "column", "reason"]))
    failed: pd.DataFrame = field(default_factory=pd.DataFrame)
    failures: pd.DataFrame = field(default_factory=lambda: _empty(["index", "reason"]))
    requests: int = 0
    batches: int = 0
    bytes_sent: int = 0
    elapsed: float = 0.0
    dry_run: bool = False
    invalid_count: int | None = field(default=None, repr=False)  # rows, when labels repeat
    _retry: Callable[[pd.DataFrame], PushReport] | None = field(default=None, repr=False)

    @property
    def invalid_rows(self) -> int:
        """How many input rows were refused (a row may have several bad cells)."""
        if self.invalid_count is not None:
            return self.invalid_count
        return int(self.invalid["index"].nunique()) if len(self.invalid) else 0

    @property
    def failed_rows(self) -> int:
        """How many input rows failed after the client's retries (the rows of ``failed``)."""
        return len(self.failed)

    @property
    def ok(self) -> bool:
        """True when every row was valid and (unless a dry run) every request succeeded."""
        return self.invalid_rows == 0 and self.failed_rows == 0

    def raise_for_failures(self) -> PushReport:
        """Raise unless every row was valid and sent; return the report so calls can chain.

        Returns
        -------
        PushReport
            This report, when :attr:`ok`.

        Raises
        ------
        PushError
            When a row was refused or failed. The message counts them and names the first
            invalid cell and the first failure's reason; ``error.report`` is this report.

        Examples
        --------
        >>> report = df.kam.push_events("conversion").raise_for_failures()  # doctest: +SKIP
        """
        if self.ok:
            return self
        parts = []
        if self.invalid_rows:
            first = self.invalid.iloc[0]
            parts.append(
                f"{self.invalid_rows} invalid row(s), e.g. index {first['index']!r} "
                f"column {first['column']!r}: {first['reason']}"
            )
        if self.failed_rows:
            parts.append(f"{self.failed_rows} row(s) failed: {self.failures['reason'].iloc[0]}")
        raise PushError(f"{self.operation} to {self.site_code!r}: " + "; ".join(parts), self)

    def retry(self) -> PushReport:
        """Push the rows of ``failed`` again with the same writer and arguments.

        Only the frame changes: the writer, client, site code and the writer's other arguments
        (kind, renames, ``key``, ``ttl_hours``, ``progress``) are those of the first push. The
        failed events are sent with the nonces they had the first time (a ``nonce`` column is
        filled in on a copy of :attr:`failed` for it), so one that did arrive is not stored
        twice.

        Returns
        -------
        PushReport
            A new report about the failed rows only (an empty one when nothing failed).

        Raises
        ------
        KameleoonError
            For a dry run's report, or one built by hand: there is nothing to retry with.

        Examples
        --------
        >>> report = orders.kam.push_events("conversion")  # doctest: +SKIP
        >>> if report.failed_rows:  # doctest: +SKIP
        ...     report = report.retry()
        """
        if self._retry is None:
            raise KameleoonError("this report cannot retry (a dry run, or built by hand)")
        if not self.failed_rows:
            return PushReport(self.operation, self.site_code, dry_run=self.dry_run)
        return self._retry(self.failed)

    # -- display ---------------------------------------------------------------------------------

    def _summary(self) -> list[tuple[str, Any]]:
        return [
            ("rows", self.rows),
            ("valid", self.valid),
            ("sent", self.sent),
            ("invalid", self.invalid_rows),
            ("failed", self.failed_rows),
            ("requests", self.requests),
            ("elapsed", f"{self.elapsed:.2f} s"),
        ]

    def __repr__(self) -> str:
        state = "dry run" if self.dry_run else ("ok" if self.ok else "NOT OK")
        body = ", ".join(f"{k}={v}" for k, v in self._summary())
        return f"<PushReport {self.operation} site_code={self.site_code!r} {state}: {body}>"

    __str__ = __repr__

    def _repr_html_(self) -> str:
        state = "dry run" if self.dry_run else ("ok" if self.ok else "not ok")
        colour = "#2e7d32" if self.ok else "#c62828"
        cells = "".join(
            f"<th>{html.escape(k)}</th><td>{html.escape(str(v))}</td>" for k, v in self._summary()
        )
        out = [
            f"<div><b>PushReport</b> {html.escape(self.operation)} &rarr; "
            f"<code>{html.escape(self.site_code)}</code> "
            f"<span style='color:{colour}'>{html.escape(state)}</span>",
            f"<table><tr>{cells}</tr></table>",
        ]
        if len(self.invalid):
            out.append(f"<details><summary>invalid cells ({len(self.invalid)})</summary>")
            out.append(self.invalid.head(_PREVIEW_ROWS).to_html(index=False, escape=True))
            out.append("</details>")
        if len(self.failures):
            out.append(f"<details><summary>failed rows ({self.failed_rows})</summary>")
            out.append(self.failures.head(_PREVIEW_ROWS).to_html(index=False, escape=True))
            out.append("</details>")
        out.append("</div>")
        return "\n".join(out)
