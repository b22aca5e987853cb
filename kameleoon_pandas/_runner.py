"""A private event loop in a daemon thread: the engine room of the sync ``Client``.

Running the async core on its own loop, in its own thread, is what lets the sync client work the
same in a plain script, inside an already running loop (a Jupyter cell), from many threads at
once and in a process where ``nest_asyncio`` was applied: the caller's thread only waits on a
``concurrent.futures.Future``; it never runs, nests or patches a loop itself.

The thread is a daemon, so a client that is never closed cannot keep the interpreter alive.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """One event loop running forever in one daemon thread, until :meth:`stop`."""

    def __init__(self, name: str = "kameleoon-pandas-loop") -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._lock = threading.Lock()
        self._stopped = False
        self._thread.start()
        self._ready.wait()

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._ready.set)
        try:
            self._loop.run_forever()
        finally:
            try:
                self._cancel_leftovers()
            finally:
                self._loop.close()

    def _cancel_leftovers(self) -> None:
        tasks = [t for t in asyncio.all_tasks(self._loop) if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    @property
    def running(self) -> bool:
        return not self._stopped and self._thread.is_alive()

    def in_loop_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop; returns a thread-safe future."""
        with self._lock:
            if self._stopped:
                coro.close()
                raise RuntimeError("this client is closed")
            return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result (from any thread but the loop's own)."""
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError(
                "a sync Client method was called from inside the client's own loop; "
                "await the AsyncClient (client.async_client) there instead"
            )
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except BaseException:
            # KeyboardInterrupt in the caller (a notebook's stop button) cancels the work too.
            future.cancel()
            raise

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop and join the thread; idempotent."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            if not self.in_loop_thread():
                self._thread.join(timeout)
