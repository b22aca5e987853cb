"""The syntax of ``%kam``: parsers that raise ``UsageError``, ``$variables``, lists and times.

Pure helpers (no shell, no client): the magic in :mod:`.magics` strings them together. Every
mistake in what the user typed is an :class:`IPython.core.error.UsageError`, so that an executed
notebook fails on it; ``--help`` prints the help and raises :class:`HelpShown`, which the magic
turns into "no result".
"""

from __future__ import annotations

import argparse
import datetime as dt
import numbers
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import numpy as np
import pandas as pd
from IPython.core.error import UsageError

__all__ = [
    "HelpShown",
    "MagicParser",
    "body_items",
    "expand_variables",
    "is_list_like",
    "parse_time",
    "split_line",
    "split_literal",
    "to_items",
]


class HelpShown(Exception):
    """``--help`` printed a parser's help: the magic returns without a result."""


class MagicParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` for one subcommand: errors raise ``UsageError``, never exit."""

    def __init__(self, prog: str, description: str, epilog: str | None = None) -> None:
        super().__init__(
            prog=prog,
            description=description,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    def parse_intermixed_args(  # type: ignore[override]
        self, args: Sequence[str], namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        # argparse keeps a copy of the usage for the second pass and %-formats it: the "%" of
        # "%kam" in it must be escaped.
        saved = self.usage
        if saved is None:
            self.usage = self.format_usage().strip().removeprefix("usage: ").replace("%", "%%")
        try:
            return super().parse_intermixed_args(args, namespace)
        finally:
            self.usage = saved

    def error(self, message: str) -> NoReturn:
        usage = self.format_usage().strip()
        raise UsageError(f"{self.prog}: {message}\n{usage}\n(`{self.prog} --help` for more)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if status == 0:
            raise HelpShown  # after --help printed the help
        raise UsageError(message or f"{self.prog}: error")  # pragma: no cover - error() wins


def split_line(line: str) -> list[str]:
    """The magic's line as shell-like tokens (quotes group words)."""
    try:
        return shlex.split(line)
    except ValueError as exc:  # an unclosed quote
        raise UsageError(f"%kam: cannot read the line: {exc}") from None


# -- $variables ---------------------------------------------------------------------------------

_VARIABLE = re.compile(r"^\$(?:(?P<plain>[A-Za-z_]\w*)|\{(?P<braced>[A-Za-z_]\w*)\})$")


def _is_scalar(value: object) -> bool:
    return isinstance(value, str | numbers.Number | dt.date | os.PathLike)


def _as_text(value: object) -> str:
    if isinstance(value, dt.date):  # datetime and pandas.Timestamp too
        return value.isoformat()
    if isinstance(value, os.PathLike):
        return str(os.fspath(value))
    return str(value)


def expand_variables(
    tokens: Sequence[str], namespace: Mapping[str, Any]
) -> tuple[list[str], dict[str, Any]]:
    """Resolve ``$name`` (or ``${name}``) tokens in the user's namespace.

    A scalar value (text, number, date, path) replaces its token by its text, so that it can
    stand wherever text can (``--site $site``, ``--start $since``, ``--previous $n``); any other
    value (a list, a Series, a DataFrame, a client) leaves the token as it is and is returned in
    the second item, keyed by the token, for the argument that takes it.

    Raises
    ------
    UsageError
        For a name that is not defined.
    """
    out: list[str] = []
    objects: dict[str, Any] = {}
    for token in tokens:
        match = _VARIABLE.match(token)
        if match is None:
            out.append(token)
            continue
        name = match["plain"] or match["braced"]
        if name not in namespace:
            raise UsageError(f"%kam: no variable named {name!r} (from {token})")
        value = namespace[name]
        if _is_scalar(value):
            out.append(_as_text(value))
        else:
            objects[token] = value
            out.append(token)
    return out, objects


# -- lists ----------------------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[,\s]+")


def split_literal(text: str) -> list[str]:
    """``"a,b, c"`` or ``"a b c"`` as ``["a", "b", "c"]`` (empty pieces dropped)."""
    return [piece for piece in _SEPARATORS.split(text) if piece]


def body_items(cell: str) -> list[str]:
    """A ``%%kam`` cell body as items, one per line, as pasted from a spreadsheet.

    Blank lines are skipped and each line is stripped; of a tab-separated line only the first
    column is kept.
    """
    items = []
    for line in cell.splitlines():
        first = line.strip().split("\t", 1)[0].strip()
        if first:
            items.append(first)
    return items


_LIST_TYPES = (list, tuple, set, frozenset, pd.Series, pd.Index, pd.DataFrame, np.ndarray)


def is_list_like(value: object) -> bool:
    """Whether a bare name's variable holds a collection of items (not text, not a mapping)."""
    return isinstance(value, _LIST_TYPES)


def to_items(value: object, *, column: str, source: str) -> list[Any]:
    """The items of a variable's value, as the function would iterate them.

    A one-column DataFrame gives its column; a wider one its ``column`` column (``ean``,
    ``visitor_code``, ``key``) when it has one. Text is split like a literal. The items are not
    converted: the function validates them (an integer EAN is its ValidationError).

    Raises
    ------
    UsageError
        For a value that holds no list, or a DataFrame without a column to take.
    """
    if isinstance(value, pd.DataFrame):
        if value.shape[1] == 1:
            return value.iloc[:, 0].tolist()
        if column in value.columns:
            return value[column].tolist()
        raise UsageError(
            f"%kam: {source} is a DataFrame with {value.shape[1]} columns and no {column!r} "
            f"column: pass one column ({source}[[...]] or a Series)"
        )
    if isinstance(value, str):
        return split_literal(value)
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise UsageError(f"%kam: {source} is a {value.ndim}-dimensional array, not a list")
        return value.tolist()
    if isinstance(value, pd.Series | pd.Index):
        return value.tolist()
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    raise UsageError(f"%kam: {source} holds a {type(value).__name__}, not a list of identifiers")


# -- times ----------------------------------------------------------------------------------------

_UNIT_SECONDS = {
    "w": 604_800,
    "week": 604_800,
    "d": 86_400,
    "day": 86_400,
    "h": 3_600,
    "hr": 3_600,
    "hour": 3_600,
    "m": 60,
    "min": 60,
    "minute": 60,
    "s": 1,
    "sec": 1,
    "second": 1,
}
_RELATIVE = re.compile(r"^(?P<sign>[+-]?)\s*(?P<body>(?:\d+(?:\.\d+)?\s*[a-z]+\s*)+?)(?:\s*ago)?$")
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")
_ABSOLUTE = re.compile(r"^\d{4}")

TIME_HELP = (
    "now, today, yesterday, a span back from now (7d, 24h, 90min, 2w, 1h30min) "
    "or an ISO date/time (2026-11-01, 2026-11-01T08:00; UTC unless an offset is given)"
)


def _now() -> pd.Timestamp:
    """The current time in UTC (a function, so that tests can pin it)."""
    return pd.Timestamp.now(tz="UTC")


def _unit(name: str) -> int | None:
    if name in _UNIT_SECONDS:
        return _UNIT_SECONDS[name]
    if name.endswith("s") and name[:-1] in _UNIT_SECONDS and len(name) > 2:
        return _UNIT_SECONDS[name[:-1]]  # days, hours, mins, ...
    return None


def parse_time(text: str, *, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """A ``--start`` / ``--end`` value as a UTC Timestamp.

    Parameters
    ----------
    text : str
        ``now``; ``today`` or ``yesterday`` (midnight UTC); a span back from now, such as
        ``7d``, ``24h``, ``90min``, ``2w``, ``1h30min`` or ``3 days ago`` (``+2h`` is ahead);
        or an ISO date or date-time such as ``2026-11-01`` or ``2026-11-01T08:00:00+02:00``
        (naive ones are UTC, as the loaders take them).
    now : pandas.Timestamp, optional
        The reference of relative values (default: the current time).

    Returns
    -------
    pandas.Timestamp
        Timezone-aware, in UTC.

    Raises
    ------
    ValueError
        For text that is none of those.

    Examples
    --------
    >>> now = pd.Timestamp("2026-11-08 12:00", tz="UTC")
    >>> parse_time("7d", now=now)
    Timestamp('2026-11-01 12:00:00+0000', tz='UTC')
    >>> parse_time("90min", now=now)
    Timestamp('2026-11-08 10:30:00+0000', tz='UTC')
    >>> parse_time("2026-11-01", now=now)
    Timestamp('2026-11-01 00:00:00+0000', tz='UTC')
    """
    now = _now() if now is None else now
    word = text.strip().lower()
    if word == "now":
        return now
    if word == "today":
        return now.floor("D")
    if word == "yesterday":
        return now.floor("D") - pd.Timedelta(days=1)
    match = _RELATIVE.match(word)
    if match is not None:
        seconds = 0.0
        for number, name in _PART.findall(match["body"]):
            unit = _unit(name)
            if unit is None:
                raise ValueError(f"{text!r}: unknown unit {name!r}; use {TIME_HELP}")
            seconds += float(number) * unit
        span = pd.Timedelta(seconds=seconds)
        return now + span if match["sign"] == "+" else now - span
    if _ABSOLUTE.match(word):
        try:
            stamp = pd.Timestamp(text.strip())
        except (TypeError, ValueError):
            pass
        else:
            if not pd.isna(stamp):
                return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    raise ValueError(f"{text!r} is not a time; use {TIME_HELP}")
