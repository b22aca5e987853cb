"""Helpers of the Dask tests: the dask imports (skipped without dask), a counting emulator and
functions the workers run (imported there by name, so they live in a module, not a test file).

This folder has no ``__init__.py`` on purpose: as a package it would be named ``dask`` and
shadow the real one for every test that comes after it.
"""

from __future__ import annotations

import os

import pytest

if os.environ.get("CI") != "true":  # under CI a missing dask is an error, never a skip
    reason = "dask is not installed: pip install 'kameleoon-pandas[dask]'"
    pytest.importorskip("dask.dataframe", reason=reason)
    pytest.importorskip("distributed", reason=reason)

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import dask
import dask.dataframe as dd
import distributed

from kameleoon_pandas.emulator import EmulatorOptions, EmulatorState, create_app
from kameleoon_pandas.emulator.server import _Server, base_url, bind_socket, uvicorn_config

__all__ = ["CountingServer", "counting_server", "dask", "dd", "distributed", "stored_events"]


# -- an emulator that counts the requests in flight --------------------------------------------


class _Counting:
    """ASGI middleware: requests being handled now, the most at once, and how many by path."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.in_flight = 0
        self.peak = 0
        self.requests: Counter[tuple[str, str]] = Counter()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # uvicorn runs the app on one loop: no lock needed around the counters
        self.requests[scope["method"], scope["path"]] += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


@dataclass
class CountingServer:
    """The emulator over loopback (auth required), with its request counters."""

    url: str
    options: EmulatorOptions
    state: EmulatorState
    counter: _Counting
    settings: dict[str, Any] = field(default_factory=dict)

    def reset(self) -> None:
        self.counter.peak = 0
        self.counter.requests.clear()

    @property
    def peak(self) -> int:
        return self.counter.peak

    def posts(self, path: str) -> int:
        return self.counter.requests["POST", path]


@contextlib.contextmanager
def counting_server(**options: Any) -> Iterator[CountingServer]:
    """Run the emulator app behind :class:`_Counting` on a uvicorn thread (port 0)."""
    state = EmulatorState(":memory:")
    opts = EmulatorOptions(require_auth=True, **options)
    counter = _Counting(create_app(state, opts))
    sock = bind_socket("127.0.0.1", 0)
    server = _Server(uvicorn_config(counter))  # serve()'s server: stop() takes effect at once
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the emulator did not start"
        time.sleep(0.01)
    url = base_url("127.0.0.1", sock.getsockname()[1])
    settings = {
        "base_url": url,
        "token_url": url + "/oauth/token",
        "client_id": opts.client_id,
        "client_secret": opts.client_secret,
    }
    try:
        yield CountingServer(url, opts, state, counter, settings)
    finally:
        server.stop()
        thread.join(timeout=10)
        sock.close()
        state.close()


def stored_events(srv: CountingServer, site: str) -> int:
    """How many visit events the emulator stores for ``site``."""
    conn: sqlite3.Connection = srv.state._conn
    with srv.state._lock:
        row = conn.execute("SELECT count(*) FROM visit_events WHERE site_code=?", (site,))
        return int(row.fetchone()[0])


# -- run on the workers (``client.run``) -------------------------------------------------------

_original: dict[str, Any] = {}


def fail_after_first_post() -> None:
    """On this worker, the first ``post_visit_events`` raises once its body has been stored.

    The error is not a KameleoonError, so the writer does not report it as a failed request:
    the partition's task fails, and ``distributed`` runs it again (``retries``).
    """
    from kameleoon_pandas.client import AsyncClient

    original = _original.setdefault("post_visit_events", AsyncClient.post_visit_events)
    state = {"failed": False}

    async def post_visit_events(self: AsyncClient, body: Any, **kwargs: Any) -> None:
        await original(self, body, **kwargs)
        if not state["failed"]:
            state["failed"] = True
            raise RuntimeError("injected: the task fails after its first request")

    AsyncClient.post_visit_events = post_visit_events  # type: ignore[method-assign]


def restore_posts() -> None:
    from kameleoon_pandas.client import AsyncClient

    if "post_visit_events" in _original:
        AsyncClient.post_visit_events = _original.pop("post_visit_events")  # type: ignore[method-assign]
