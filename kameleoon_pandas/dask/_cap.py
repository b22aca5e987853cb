"""One cap on the requests in flight across every worker of a cluster (``distributed.Semaphore``).

Each worker process builds its own :class:`~kameleoon_pandas.Client` (``_remote``), and each
client caps only its own requests (``max_concurrency``): N workers would put N times as many
requests on the Data API as one pandas push does. :class:`CappedTransport` wraps the client's
transport so that every request (retries and token requests included) holds a lease of one
``distributed.Semaphore``, kept by the scheduler, from before it is sent until the answer's
body has been read: however many workers there are, at most ``max_leases`` requests are in
flight.

Asking the scheduler for a lease takes a round trip, and every lease given back wakes every
request waiting for one; per request, that cost as much as the request itself. So a worker
keeps a lease it holds for its next waiting request (:class:`_Leases`) and gives it back only
when none waits, or after :data:`REUSES` requests, so that the other workers get their turn.
The invariant does not change: requests in flight <= leases held <= ``max_leases``.

The semaphore lives on the worker's event loop; the client's requests run on the client's own
loop thread (``_runner``). A lease is therefore taken and given back by scheduling the
semaphore's coroutines on the worker's loop (``asyncio.run_coroutine_threadsafe``), which is
where ``distributed`` expects them to run.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from distributed import Semaphore

    from .._config import Settings

__all__ = ["REUSES", "CappedTransport", "semaphore_name"]

logger = logging.getLogger("kameleoon_pandas.dask")

#: [chosen] Requests one lease serves on a worker before it goes back to the scheduler.
REUSES = 8


def semaphore_name(settings: Settings, leases: int) -> str:
    """The semaphore's name: one per Data API, client id and cap (no secret in it).

    Pushes and reads of one cluster that talk to the same API with the same credentials and the
    same cap share it, so two of them running at once do not double the load either.
    """
    who = f"{settings.base_url}\x1f{settings.client_id or ''}"
    digest = hashlib.blake2b(who.encode(), digest_size=6).hexdigest()
    return f"kameleoon-pandas-requests-{digest}-{leases}"


class _Leases:
    """The leases one worker holds, handed from a finished request to a waiting one.

    Runs on the client's loop; talks to the semaphore on the worker's loop.
    """

    def __init__(self, semaphore: Semaphore) -> None:
        self._semaphore = semaphore
        loop = semaphore.loop
        if loop is None:  # pragma: no cover - created outside a worker: a programming error
            raise RuntimeError("the request cap's semaphore must be created inside a task")
        self._worker_loop: asyncio.AbstractEventLoop = loop.asyncio_loop
        self._cap: int = semaphore.max_leases
        self._waiting: collections.deque[asyncio.Future[int]] = collections.deque()
        self._asking = 0  # leases asked of the scheduler, not granted yet
        self._held = 0  # leases granted and not given back
        self._client_loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The client's loop, where the grants come back to (that of the first request)."""
        self._client_loop = loop

    async def take(self) -> int:
        """Wait for a lease; returns how many requests it served before this one."""
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        self._ask()
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.put(waiter.result())  # handed over just as we gave up: pass it on
            raise

    def put(self, uses: int) -> None:
        """A request holding a lease (that has now served ``uses + 1``) is done."""
        uses += 1
        if uses < REUSES and self._hand_over(uses):
            return
        self._give_back()
        self._ask()

    def _hand_over(self, uses: int) -> bool:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(uses)
                return True
        return False

    def _ask(self) -> None:
        """Ask the scheduler for as many more leases as requests wait (within the cap)."""
        waiting = sum(not w.done() for w in self._waiting)
        while self._asking < waiting and self._asking + self._held < self._cap:
            self._asking += 1
            future = asyncio.run_coroutine_threadsafe(self._acquire(), self._worker_loop)
            future.add_done_callback(self._granted_threadsafe)

    async def _acquire(self) -> Any:
        return await self._semaphore.acquire()

    def _granted_threadsafe(self, future: concurrent.futures.Future[Any]) -> None:
        # On the worker's loop: come back to the client's loop (or, if it is gone, give back).
        try:
            assert self._client_loop is not None  # bound before the first ask
            self._client_loop.call_soon_threadsafe(self._granted, future)
        except RuntimeError:  # the client's loop is closed: nobody will use the lease
            if not future.cancelled() and future.exception() is None and future.result():
                self._release_on_worker_loop()

    def _granted(self, future: concurrent.futures.Future[Any]) -> None:
        self._asking -= 1
        if future.cancelled() or future.exception() is not None or not future.result():
            logger.warning("a request lease could not be had: %r", future)
            self._fail_waiters(future)
            return
        self._held += 1
        if not self._hand_over(0):
            self._give_back()  # a lease freed meanwhile served the request that asked

    def _fail_waiters(self, future: concurrent.futures.Future[Any]) -> None:
        failure = None if future.cancelled() else future.exception()
        error = failure or RuntimeError("the request cap's semaphore gave no lease")
        if self._asking + self._held == 0:  # nothing else will come: tell the waiters
            while self._waiting:
                waiter = self._waiting.popleft()
                if not waiter.done():
                    waiter.set_exception(error)

    def _give_back(self) -> None:
        self._held -= 1
        self._release_on_worker_loop()

    def _release_on_worker_loop(self) -> None:
        async def release() -> Any:
            return await self._semaphore.release()

        # Not awaited: the lease goes back a moment later, on its own loop.
        future = asyncio.run_coroutine_threadsafe(release(), self._worker_loop)
        future.add_done_callback(_log_failure)


def _log_failure(future: concurrent.futures.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        # The scheduler frees an unreleased lease after its timeout; say why it was late.
        logger.warning("giving back a request lease failed: %r", future.exception())


class CappedTransport(httpx.AsyncBaseTransport):
    """An httpx transport whose every request holds a lease of a ``distributed.Semaphore``.

    Parameters
    ----------
    inner : httpx.AsyncBaseTransport
        The transport that sends (the client's usual ``httpx-aiohttp`` one).
    semaphore : distributed.Semaphore
        Created on the worker (inside a task), so that it is bound to the worker's loop and
        scheduler connection.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, semaphore: Semaphore) -> None:
        self._inner = inner
        self._leases = _Leases(semaphore)
        self._bound = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self._bound:  # a client's requests all run on its one loop
            self._leases.bind(asyncio.get_running_loop())
            self._bound = True
        uses = await self._leases.take()
        done = _Once(lambda: self._leases.put(uses))
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            done()
            raise
        # The lease is held until the body has been read (httpx closes the stream then, or on
        # any error), so "in flight" ends when the server's answer has fully arrived.
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_ReleasingStream(response.stream, done),
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Once:
    """Call ``action`` the first time only."""

    def __init__(self, action: Callable[[], None]) -> None:
        self._action: Callable[[], None] | None = action

    def __call__(self) -> None:
        action, self._action = self._action, None
        if action is not None:
            action()


class _ReleasingStream(httpx.AsyncByteStream):
    """The answer's body, giving the lease back when it is closed."""

    def __init__(self, inner: httpx.AsyncByteStream, done: _Once) -> None:
        self._inner = inner
        self._done = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._done()
