"""Docstring pieces shared by many public functions, written once (pandas' ``@doc`` pattern).

A docstring names a shared piece with a placeholder alone on its line, indented like the
parameters around it: ``{client}``. :func:`shared_doc` fills it in at import time, so Jupyter's
Shift-Tab and the API reference show the whole text.

>>> @shared_doc
... def read(keys, *, client=None):
...     '''Read.
...
...     Parameters
...     ----------
...     keys : list of str
...     {client}
...     '''
"""

from __future__ import annotations

import inspect
import re
import textwrap
from collections.abc import Callable
from typing import TypeVar

__all__ = ["SHARED", "fill", "shared_doc"]

F = TypeVar("F", bound=Callable[..., object])

#: The shared parameter sections, numpydoc style, unindented.
SHARED: dict[str, str] = {
    "client": """\
client : Client, optional
    The client to call through. ``None`` (the default) uses one process-wide client built
    from the ``KAMELEOON_*`` environment variables (see :class:`kameleoon_pandas.Client`).""",
    "site_code": """\
site_code : str, optional
    The Kameleoon project to read from or write to; ``None`` uses the client's default
    site code (``KAMELEOON_SITE_CODE``).""",
    "progress": """\
progress : bool, optional
    Show a progress bar. ``None`` (the default) shows one in a notebook or a terminal and
    none when output is piped; ``True`` or ``False`` force it.""",
    "dry_run": """\
dry_run : bool, default False
    Only validate and encode: nothing is sent, and the report says what would have been
    sent and which rows are invalid. No client is needed.""",
}

_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)\{(?P<name>[a-z_]+)\}[ \t]*$", re.MULTILINE)


def fill(docstring: str, pieces: dict[str, str] | None = None) -> str:
    """``docstring`` with each ``{name}`` line replaced by the shared piece, re-indented."""
    table = SHARED if pieces is None else {**SHARED, **pieces}

    def replace(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in table:
            raise KeyError(f"no shared docstring piece named {name!r}")
        return textwrap.indent(table[name], match["indent"])

    return _PLACEHOLDER.sub(replace, docstring)


def shared_doc(func: F) -> F:
    """Fill the shared pieces into ``func.__doc__`` (see the module docstring)."""
    if func.__doc__:
        func.__doc__ = fill(inspect.cleandoc(func.__doc__))
    return func
