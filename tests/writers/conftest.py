"""Emulator and client fixtures for the writer tests (real HTTP over loopback)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from kameleoon_pandas.client import Client
from kameleoon_pandas.emulator import serve

_counter = itertools.count()


@pytest.fixture(scope="module")
def srv() -> Iterator:
    # require_auth: every push goes through the token flow, so reports are checked for secrets
    with serve(require_auth=True) as server:
        yield server


@pytest.fixture(scope="module")
def client(srv) -> Iterator[Client]:
    with Client(
        "writersite",
        base_url=srv.url,
        token_url=srv.token_url,
        client_id=srv.client_id,
        client_secret=srv.client_secret,
    ) as c:
        yield c


@pytest.fixture
def site() -> str:
    """A fresh site code per test: tests share one emulator but never each other's data."""
    return f"wsite{next(_counter):04d}"


@pytest.fixture(autouse=True)
def _calm_emulator(request) -> Iterator[None]:
    yield
    if "srv" in request.fixturenames:
        server = request.getfixturevalue("srv")
        server.options.fault_rate = 0.0
        server.options.max_event_body = 3_000_000
        server.options.max_small_body = 1_000_000
