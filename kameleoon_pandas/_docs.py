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
    "settings": """\
site_code : str, optional
    The default site code of every call (``KAMELEOON_SITE_CODE``; else the first of
    ``site_codes``).
site_codes : list of str or str, optional
    The site codes offered by pickers and panels (``KAMELEOON_SITE_CODES``, comma-separated;
    else ``[site_code]``).
client_id, client_secret : str, optional
    OAuth2 client credentials (``KAMELEOON_CLIENT_ID``, ``KAMELEOON_CLIENT_SECRET``): both or
    neither. Without them calls go out without a token.
base_url : str, optional
    The Data API (``KAMELEOON_BASE_URL``, default ``https://data.kameleoon.io``). Plain
    ``http://`` is refused except to a loopback address.
token_url : str, optional
    The token endpoint (``KAMELEOON_TOKEN_URL``, default
    ``https://api.kameleoon.com/oauth/token``; for a loopback ``base_url``, that server's
    own ``/oauth/token``, so that credentials never leave the machine by accident).
max_concurrency : int, default 16
    Requests in flight at once.
rate_limit : float, optional
    Requests per second at most (none by default).
timeout : float, default 30.0
    Seconds per attempt.
retry_budget : float, default 60.0
    Total seconds the retries of one call may take; 0 disables retries.
max_retries : int, default 4
    Retries of one call at most (transport errors, 408, 429, 5xx), within ``retry_budget``.
    A refused connection or an unknown host gets at most 2 quick retries, a certificate
    failure none.
cache : bool or path, optional
    Keep successful GET answers on disk (``KAMELEOON_CACHE``: ``1`` or a file path; off by
    default): ``True`` uses ``~/.cache/kameleoon-pandas/http-cache.sqlite``. Entries are
    per client and credentials; errors and writes are never cached. See ``cache_clear()``.
cache_ttl : float, default 3600.0
    Seconds a cached answer is served before it is fetched again.
transport : httpx.AsyncBaseTransport, optional
    Replaces the network (tests pass ``httpx.ASGITransport`` or ``httpx.MockTransport``);
    by default the ``httpx-aiohttp`` transport.""",
    "dtype_backend": """\
dtype_backend : {"numpy_nullable", "pyarrow"}, default "numpy_nullable"
    The dtypes of a pandas result, as in pandas' own readers: ``"numpy_nullable"`` the
    declared ones (``string``, ``Int64``, ``float64``, ``boolean``, ``datetime64[ms, UTC]``;
    nested values as Python lists and dicts), ``"pyarrow"`` their ``pandas.ArrowDtype``
    (needs pyarrow). Only read when ``backend="pandas"``.""",
    "backend": """\
backend : {"pandas", "polars", "pyarrow"}, default "pandas"
    What to return: a ``pandas.DataFrame``, a ``polars.DataFrame`` (needs polars and
    pyarrow: ``pip install 'kameleoon-pandas[polars]'``) or a ``pyarrow.Table`` (``[pyarrow]``),
    with the same columns, typed from the same schema (``Int64`` -> ``int64``, times ->
    ``timestamp[ms, UTC]``; lists of ids or texts -> Arrow lists, other nested values -> JSON
    text typed ``arrow.json``). An unknown name raises ``ValidationError`` and a missing
    library ``ImportError``, both before any request.""",
    "dry_run": """\
dry_run : bool, default False
    Only validate and encode: nothing is sent, and the report says what would have been
    sent and which rows are invalid. Nothing connects; given a ``site_code``, no client is
    built either.""",
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
