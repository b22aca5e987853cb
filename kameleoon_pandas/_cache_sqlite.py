"""anysqlite's connection and cursor, with each sqlite3 call made on the calling thread.

anysqlite runs every call in a worker thread. hishel's SQLite storage makes about twenty of them
for each answer it stores and about six for each it serves, and the hop to the thread and back
cost more than the calls. Made here instead, reading 3,000 feeds into a new cache took 0.21x the
time and reading them back 0.18x (``benchmarks/bench_cache.py``). Imported by ``_cache`` with
hishel, only when a cache is asked for.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import anyio
import anysqlite

__all__ = ["InlineConnection", "InlineCursor"]


class InlineCursor(anysqlite.Cursor):
    """anysqlite's cursor, each call made on the calling thread (see :class:`InlineConnection`)."""

    async def close(self) -> None:
        self._real_cursor.close()

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        return InlineCursor(self._real_cursor.execute(sql, parameters), self._limiter)

    async def executemany(self, sql: str, seq: Any) -> InlineCursor:
        return InlineCursor(self._real_cursor.executemany(sql, seq), self._limiter)

    async def executescript(self, sql_script: str) -> InlineCursor:
        return InlineCursor(self._real_cursor.executescript(sql_script), self._limiter)

    async def fetchone(self) -> Any:
        return self._real_cursor.fetchone()

    async def fetchmany(self, size: int | None = 1) -> Any:
        return self._real_cursor.fetchmany(size)

    async def fetchall(self) -> Any:
        return self._real_cursor.fetchall()


class InlineConnection(anysqlite.Connection):
    """anysqlite's connection to ``path``, opened at first use; calls run on the calling thread.

    hishel's statements are short ones on a local file in autocommit, each well under a
    millisecond, so the client's event loop is held up for less than a network answer takes.
    Opened as anysqlite opens it (``check_same_thread=False``): the client is made on the
    caller's thread, the calls come from its loop's.
    """

    def __init__(self, path: str) -> None:
        # No super().__init__: it wants an open connection, kept as ``_real_connection``, which
        # only anysqlite's own methods use, and every one of them is overridden below.
        self._path = path
        self._opened: sqlite3.Connection | None = None
        # anysqlite's thread limiter, which no call here uses (each is made inline)
        self._limiter = anyio.CapacityLimiter(1)

    def _connection(self) -> sqlite3.Connection:
        if self._opened is None:
            # autocommit, as hishel asks of the connections it opens itself
            self._opened = sqlite3.connect(
                self._path, isolation_level=None, check_same_thread=False
            )
        return self._opened

    async def close(self) -> None:
        if self._opened is not None:
            self._opened.close()

    async def commit(self) -> None:
        self._connection().commit()

    async def rollback(self) -> None:
        self._connection().rollback()

    async def cursor(self) -> InlineCursor:
        return InlineCursor(self._connection().cursor(), self._limiter)

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        return InlineCursor(self._connection().execute(sql, parameters), self._limiter)

    async def executemany(self, sql: str, seq: Any) -> InlineCursor:
        return InlineCursor(self._connection().executemany(sql, seq), self._limiter)

    async def executescript(self, sql_script: str) -> InlineCursor:
        return InlineCursor(self._connection().executescript(sql_script), self._limiter)
