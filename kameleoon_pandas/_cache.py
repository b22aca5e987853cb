"""The opt-in cache of Data API answers: hishel over the transport, on a SQLite file.

Only successful ``GET`` answers are stored (hishel's non-RFC mode: 4xx/5xx and every ``POST``
pass straight through), for an explicit TTL, whatever caching headers the server sends, and
whether or not a bearer token rides along. Entries are keyed by the URL *and* a fingerprint of
the client's base URL and credentials, so that two clients with different credentials never
share an answer, even when they share the file. hishel is imported only when a cache is asked
for.

The client looks a GET up (:meth:`CachingTransport.lookup`) before its auth flow runs, so an
answer served from the cache needs no token: a re-run entirely from the cache makes no
request at all, not even to the token endpoint (issue 11).

hishel's SQLite storage talks to the file through anysqlite, which runs each sqlite3 call in a
worker thread. The storage makes about twenty calls for each answer it stores and about six for
each it serves, and the hop to the thread and back cost more than the calls themselves. So the
storage gets ``_cache_sqlite.InlineConnection``, which makes the same calls on the event loop's
thread (``benchmarks/bench_cache.py`` measures both).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from hishel import AsyncSqliteStorage
    from hishel.httpx import AsyncCacheTransport

__all__ = ["CachingTransport", "credential_scope"]

#: The request extension that makes a GET a lookup only: a miss never reaches the network.
_LOOKUP_ONLY = "kameleoon_pandas_lookup_only"


class _CacheMiss(Exception):
    """Internal: a lookup-only request found nothing stored (never escapes this module)."""


class _LookupGate(httpx.AsyncBaseTransport):
    """The transport behind hishel: stops lookup-only requests, passes every other one on.

    hishel consults its storage first and calls the next transport only on a miss, so a miss
    of a lookup-only request ends here, before any connection is made.
    """

    def __init__(self, next_transport: httpx.AsyncBaseTransport) -> None:
        self.next_transport = next_transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.extensions.get(_LOOKUP_ONLY):
            raise _CacheMiss
        return await self.next_transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self.next_transport.aclose()


def credential_scope(base_url: str, client_id: str | None, client_secret: str | None) -> str:
    """A one-way fingerprint of who asks: never the credentials themselves."""
    identity = "\x1f".join((base_url, client_id or "", client_secret or ""))
    return hashlib.sha256(identity.encode()).hexdigest()


class CachingTransport(httpx.AsyncBaseTransport):
    """``next_transport`` behind a hishel cache on ``path``; GET entries live ``ttl`` seconds."""

    def __init__(
        self, next_transport: httpx.AsyncBaseTransport, *, path: str, ttl: float, scope: str
    ) -> None:
        self.path = path
        self.ttl = ttl
        self._scope = scope
        self._next = next_transport
        self._inner = self._new_cache()
        #: GET answers served from the cache / fetched and stored (for tests and reports).
        self.hits = 0
        self.misses = 0

    def _new_cache(self) -> AsyncCacheTransport:
        from hishel import AsyncSqliteStorage
        from hishel.httpx import AsyncCacheTransport

        from ._cache_sqlite import InlineConnection

        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        storage: AsyncSqliteStorage = AsyncSqliteStorage(
            connection=InlineConnection(self.path), database_path=self.path, default_ttl=self.ttl
        )
        return AsyncCacheTransport(_LookupGate(self._next), storage=storage)

    def _keyed(self, request: httpx.Request, **extensions: object) -> None:
        """Give ``request`` its cache key: the URL and who asks, never a credential."""
        identity = f"{self._scope} GET {request.url}"
        key = hashlib.sha256(identity.encode()).hexdigest()
        request.extensions = {**request.extensions, "caching": {"key": key}, **extensions}

    async def lookup(self, request: httpx.Request) -> httpx.Response | None:
        """The stored answer to the GET ``request``, read; None on a miss (nothing is sent).

        Parameters
        ----------
        request : httpx.Request
            A GET as the client builds it, before auth (the key ignores the headers).

        Returns
        -------
        httpx.Response or None
            The answer from the cache (counted in ``hits``), or None when nothing fresh is
            stored; a miss is counted by the request that then goes to the network.
        """
        if request.method != "GET":
            return None
        self._keyed(request, **{_LOOKUP_ONLY: True})
        try:
            response = await self._inner.handle_async_request(request)
        except _CacheMiss:
            return None
        finally:
            request.extensions = {k: v for k, v in request.extensions.items() if k != _LOOKUP_ONLY}
        response.request = request
        await response.aread()
        self.hits += 1
        return response

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            return await self._next.handle_async_request(request)
        self._keyed(request)
        response = await self._inner.handle_async_request(request)
        status = response.extensions.get("caching") or {}  # hishel's CacheStatus (a TypedDict)
        if status.get("from_cache"):
            self.hits += 1
        else:
            self.misses += 1
        return response

    async def clear(self) -> None:
        """Drop every stored answer: the file (and SQLite's side files) goes, a new one follows."""
        await self._inner.config["storage"].close()
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path + suffix)
        self._inner = self._new_cache()

    async def aclose(self) -> None:
        await self._inner.aclose()  # closes the storage and the next transport
