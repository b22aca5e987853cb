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
    """The outcome of one push.

    Attributes
    ----------
    operation, site_code : what was pushed, and where.
    rows : rows in the input.
    valid : rows that passed validation and were encoded.
    sent : rows the server accepted (0 for a dry run).
    invalid : DataFrame ``index, column, reason``: one line per refused cell; nothing was sent
        for those rows.
    failed : the input rows (columns and index labels as given) whose request still failed after
        the client's retries; push it again with the same arguments, or call :meth:`retry`. The
        same index labels give the same nonces, so an event that did arrive is not counted twice.
    failures : DataFrame ``index, reason``: why each failed row failed.
    requests : HTTP requests made by the writer (split 413 halves included; the client's own
        retries are not counted here). ``batches``: bodies built. ``bytes_sent``: body bytes.
    elapsed : seconds. dry_run : True when nothing was sent on purpose.
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
        return len(self.failed)

    @property
    def ok(self) -> bool:
        """True when every row was valid and (unless a dry run) every request succeeded."""
        return self.invalid_rows == 0 and self.failed_rows == 0

    def raise_for_failures(self) -> PushReport:
        """Raise :class:`PushError` unless :attr:`ok`; returns the report so calls can chain."""
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
        """Push the failed rows again with the same writer and arguments; a new report."""
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
